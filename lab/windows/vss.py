"""VSS writers: `vssadmin list writers` rendering (English / French) and how writers react to services."""

from __future__ import annotations

from typing import Any

STATE_WORDS = {
    "en": {
        0: "Unknown",
        1: "Stable",
        2: "Waiting for freeze",
        3: "Waiting for thaw",
        4: "Waiting for post snapshot",
        5: "Waiting for completion",
        "failed": "Failed",
    },
    "fr": {
        0: "Inconnu",
        1: "Stable",
        2: "En attente du gel",
        3: "En attente du dégel",
        4: "En attente de post-instantané",
        5: "En attente d'achèvement",
        "failed": "Échec",
    },
}
LAST_ERRORS_FR = {
    "No error": "Aucune erreur",
    "Timed out": "Délai d'attente dépassé",
    "Retryable error": "Erreur pouvant faire l'objet d'une nouvelle tentative",
    "Non-retryable error": "Erreur ne pouvant pas faire l'objet d'une nouvelle tentative",
    "Inconsistent shadow copy": "Cliché instantané incohérent",
}
LABELS = {
    "en": {
        "header": "vssadmin 1.1 - Volume Shadow Copy Service administrative command-line tool",
        "name": "Writer name: ",
        "id": "   Writer Id: ",
        "instance": "   Writer Instance Id: ",
        "state": "   State: ",
        "error": "   Last error: ",
    },
    "fr": {
        "header": "vssadmin 1.1 - Outil ligne de commande d'administration du service de cliché instantané "
        "de volume",
        "name": "Nom de l'enregistreur : ",
        "id": "   ID de l'enregistreur : ",
        "instance": "   ID de l'instance de l'enregistreur : ",
        "state": "   État : ",
        "error": "   Dernière erreur : ",
    },
}
COPYRIGHT = "(C) Copyright 2001-2013 Microsoft Corp."


def language(state: dict[str, Any]) -> str:
    return "fr" if str(state.get("locale", "en-US")).lower().startswith("fr") else "en"


def state_word(number: int, lang: str) -> str:
    words = STATE_WORDS[lang]
    return str(words.get(number, words["failed"] if number >= 6 else words[0]))


def visible_writers(state: dict[str, Any]) -> list[dict[str, Any]]:
    """Writers whose service is stopped are not listed (their process is gone), except VSS's own writers."""
    services = state["services"]
    shown = []
    for writer in state["vss_writers"]:
        service = services.get(writer.get("service") or "")
        if (
            writer.get("service")
            and writer["service"] != "VSS"
            and (service is None or service["state"] != "running")
        ):
            continue
        shown.append(writer)
    return shown


def list_writers(state: dict[str, Any]) -> str:
    override = state.get("command_outputs", {}).get("vssadmin list writers")
    if override is not None:
        return str(override)
    lang = language(state)
    labels = LABELS[lang]
    lines = [labels["header"], COPYRIGHT, ""]
    for writer in visible_writers(state):
        error = writer["last_error"]
        if lang == "fr":
            error = LAST_ERRORS_FR.get(error, error)
        lines += [
            f"{labels['name']}'{writer['name']}'",
            f"{labels['id']}{{{writer['id']}}}",
            f"{labels['instance']}{{{writer['instance_id']}}}",
            f"{labels['state']}[{writer['state']}] {state_word(writer['state'], lang)}",
            f"{labels['error']}{error}",
            "",
        ]
    return "\r\n".join(lines) + "\r\n"


def on_service_stopped(state: dict[str, Any], service: str) -> None:
    if service.lower() != "vss":
        return
    for writer in state["vss_writers"]:
        if (writer.get("service") or "").lower() == "vss":
            writer["state"] = 7
            writer["last_error"] = "Retryable error"


def on_service_started(state: dict[str, Any], service: str) -> None:
    """A (re)started service brings its writers back to [1] Stable unless the failure is persistent."""
    for writer in state["vss_writers"]:
        if (writer.get("service") or "").lower() != service.lower():
            continue
        if writer.get("persistent") and writer["state"] != 1:
            continue
        writer["state"] = 1
        writer["last_error"] = "No error"
