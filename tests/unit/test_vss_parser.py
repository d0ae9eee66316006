"""The VSS writer parser and restart planner (playbooks/filter_plugins/vss_writers.py), no Ansible run."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.errors import AnsibleFilterError

ROOT = Path(__file__).resolve().parents[2]
_SPEC = importlib.util.spec_from_file_location(
    "vss_writers_filter", ROOT / "playbooks/filter_plugins/vss_writers.py"
)
assert _SPEC and _SPEC.loader
vss = importlib.util.module_from_spec(_SPEC)
sys.modules["vss_writers_filter"] = vss
_SPEC.loader.exec_module(vss)

MAPPING: dict[str, str] = yaml.safe_load((ROOT / "playbooks/vars/vss_writer_services.yml").read_text())[
    "vss_writer_services"
]

ENGLISH = """\
vssadmin 1.1 - Volume Shadow Copy Service administrative command-line tool
(C) Copyright 2001-2013 Microsoft Corp.

Waiting for responses.
These may be delayed if a shadow copy is being prepared.

Writer name: 'System Writer'
   Writer Id: {e8132975-6f93-4464-a53e-1050253ae220}
   Writer Instance Id: {7848396d-00b1-47cd-8ba9-769b7ce402d2}
   State: [1] Stable
   Last error: No error

Writer name: 'SqlServerWriter'
   Writer Id: {a65faa63-5ea8-4ebc-9dbd-a0c4db26912a}
   Writer Instance Id: {de3b2861-77f6-43f8-8619-64dc9ea2fbcf}
   State: [7] Failed
   Last error: Timed out

Writer name: 'ASR Writer'
   Writer Id: {be000cbe-11fe-4426-9c58-531aa6355fc4}
   Writer Instance Id: {1c46ef33-0e0f-4e2a-8a9d-4b7ef6a6f0aa}
   State: [1] Stable
   Last error: No error

Writer name: 'WMI Writer'
   Writer Id: {a6ad56c2-b509-4e6c-bb19-49d8f43532f0}
   Writer Instance Id: {2e4a8d2c-9d4b-4c9b-9f0e-3c1b3b0b7b11}
   State: [9] Failed
   Last error: Retryable error

Writer name: 'Registry Writer'
   Writer Id: {afbab4a2-367d-4d15-a586-71dbb18f8485}
   Writer Instance Id: {5f3f0b8a-0d2e-4b9e-8f84-4f4b83d2f7a1}
   State: [8] Failed
   Last error: Non-retryable error

Writer name: 'Contoso Backup Writer'
   Writer Id: {11111111-2222-3333-4444-555555555555}
   Writer Instance Id: {66666666-7777-8888-9999-000000000000}
   State: [5] Waiting for completion
   Last error: No error

""".replace("\n", "\r\n")

NBSP = "\u00a0"
NNBSP = "\u202f"
FRENCH = f"""\
vssadmin 1.1 - Outil ligne de commande d'administration du service de cliché instantané de volume
(C) Copyright 2001-2013 Microsoft Corp.

Attente des réponses.
Celles-ci peuvent être retardées si un cliché instantané est en cours de préparation.

Nom de l'enregistreur{NBSP}: 'System Writer'
   Id de l'enregistreur{NBSP}: {{e8132975-6f93-4464-a53e-1050253ae220}}
   Id d'instance de l'enregistreur{NBSP}: {{7848396d-00b1-47cd-8ba9-769b7ce402d2}}
   État{NBSP}: [1] Stable
   Dernière erreur{NBSP}: Aucune erreur

Nom de l'enregistreur{NNBSP}: 'SqlServerWriter'
   Id de l'enregistreur{NNBSP}: {{a65faa63-5ea8-4ebc-9dbd-a0c4db26912a}}
   Id d'instance de l'enregistreur{NNBSP}: {{de3b2861-77f6-43f8-8619-64dc9ea2fbcf}}
   État{NNBSP}: [7] Échec
   Dernière erreur{NNBSP}: Délai d'attente dépassé

Nom de l'enregistreur : 'WMI Writer'
   Id de l'enregistreur : {{a6ad56c2-b509-4e6c-bb19-49d8f43532f0}}
   Id d'instance de l'enregistreur : {{2e4a8d2c-9d4b-4c9b-9f0e-3c1b3b0b7b11}}
   État : [9] Échec
   Dernière erreur : Erreur pouvant faire l'objet d'une nouvelle tentative

"""


def block(name: str, state: Any, instance: str, *, error: str = "No error") -> str:
    return (
        f"Writer name: '{name}'\n   Writer Id: {{0b0b0b0b-0000-0000-0000-{instance[-12:]}}}\n"
        f"   Writer Instance Id: {{{instance}}}\n   State: [{state}] Whatever\n   Last error: {error}\n\n"
    )


def header() -> str:
    return (
        "vssadmin 1.1 - Volume Shadow Copy Service administrative command-line tool\n"
        "(C) Copyright 2001-2013 Microsoft Corp.\n\n"
    )


def test_english_output_is_parsed() -> None:
    writers = vss.vss_writers(ENGLISH)
    assert [w["name"] for w in writers] == [
        "System Writer",
        "SqlServerWriter",
        "ASR Writer",
        "WMI Writer",
        "Registry Writer",
        "Contoso Backup Writer",
    ]
    sql = writers[1]
    assert sql == {
        "name": "SqlServerWriter",
        "id": "a65faa63-5ea8-4ebc-9dbd-a0c4db26912a",
        "instance_id": "de3b2861-77f6-43f8-8619-64dc9ea2fbcf",
        "state": 7,
        "state_label": "failed at prepare backup",
        "last_error": "Timed out",
        "stable": False,
    }
    assert writers[0]["stable"] is True and writers[0]["state_label"] == "stable"
    assert writers[0]["last_error"] == "No error"
    assert writers[5]["state"] == 5 and writers[5]["state_label"] == "waiting for completion"
    assert writers[5]["stable"] is False


def test_french_output_is_parsed_like_english() -> None:
    writers = vss.vss_writers(FRENCH)
    assert [(w["name"], w["state"], w["stable"]) for w in writers] == [
        ("System Writer", 1, True),
        ("SqlServerWriter", 7, False),
        ("WMI Writer", 9, False),
    ]
    assert writers[1]["id"] == "a65faa63-5ea8-4ebc-9dbd-a0c4db26912a"
    assert writers[1]["instance_id"] == "de3b2861-77f6-43f8-8619-64dc9ea2fbcf"
    assert writers[1]["last_error"] == "Délai d'attente dépassé"
    assert writers[2]["last_error"] == "Erreur pouvant faire l'objet d'une nouvelle tentative"
    assert writers[0]["last_error"] == "Aucune erreur"
    assert writers[1]["state_label"] == "failed at prepare backup"  # English label from the number


def test_french_output_from_the_lab_renderer_spelling() -> None:
    text = (
        "vssadmin 1.1 - Outil ligne de commande d'administration du service de cliché instantané "
        "de volume\r\n"
        "(C) Copyright 2001-2013 Microsoft Corp.\r\n\r\n"
        "Nom de l'enregistreur : 'SqlServerWriter'\r\n"
        "   ID de l'enregistreur : {a65faa63-5ea8-4ebc-9dbd-a0c4db26912a}\r\n"
        "   ID de l'instance de l'enregistreur : {de3b2861-77f6-43f8-8619-64dc9ea2fbcf}\r\n"
        "   État : [1] Stable\r\n   Dernière erreur : Aucune erreur\r\n\r\n"
    )
    [writer] = vss.vss_writers(text)
    assert (writer["name"], writer["state"], writer["stable"]) == ("SqlServerWriter", 1, True)


@pytest.mark.parametrize("number", range(16))
def test_every_state_number(number: int) -> None:
    [writer] = vss.vss_writers(
        header() + block("Some Writer", number, "aaaaaaaa-0000-0000-0000-000000000001")
    )
    assert writer["state"] == number
    assert writer["state_label"] == vss.VSS_WRITER_STATES[number]
    assert writer["stable"] is (number == 1)
    expected_prefix = {0: "unknown", 1: "stable"}.get(number, "waiting" if number <= 5 else "failed at")
    assert writer["state_label"].startswith(expected_prefix)


def test_state_words_are_ignored() -> None:
    text = header() + block("X Writer", 1, "aaaaaaaa-0000-0000-0000-000000000002").replace(
        "Whatever", "Failed"
    )
    assert vss.vss_writers(text)[0]["stable"] is True


def test_writer_names_keep_their_apostrophes_and_spaces() -> None:
    [writer] = vss.vss_writers(
        header() + block("O'Brien's Writer", 1, "aaaaaaaa-0000-0000-0000-000000000003")
    )
    assert writer["name"] == "O'Brien's Writer"


def test_last_error_keeps_colons_after_the_first() -> None:
    text = header() + block("X Writer", 9, "aaaaaaaa-0000-0000-0000-000000000004", error="0x800423f4: bad: x")
    assert vss.vss_writers(text)[0]["last_error"] == "0x800423f4: bad: x"


def test_stdout_lines_are_accepted() -> None:
    assert vss.vss_writers(ENGLISH.splitlines()) == vss.vss_writers(ENGLISH)


def test_no_writers_case_in_any_language() -> None:
    assert vss.vss_writers(header() + "Waiting for responses.\nThese may be delayed.\n") == []
    assert vss.vss_writers(FRENCH.split("Nom de l'enregistreur")[0]) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no writer block"),
        ("Access is denied.\r\n", "no writer block"),
        (
            header() + "Error: You don't have the correct permissions to run this command.\n",
            "no writer block",
        ),
        (header() + "Erreur : accès refusé.\n", "no writer block"),
        (
            header() + "Writer name: 'X Writer'\n   Writer Id: {a}\n   Writer Instance Id: {b}\n"
            "   State: Stable\n   Last error: No error\n",
            "no [N] state",
        ),
        (
            header() + block("X Writer", 16, "aaaaaaaa-0000-0000-0000-000000000005"),
            "outside VSS_WRITER_STATE",
        ),
        (
            header() + block("X Writer", -1, "aaaaaaaa-0000-0000-0000-000000000006"),
            "outside VSS_WRITER_STATE",
        ),
        (
            header() + "Writer name: 'X Writer'\n   State: [1] Stable\n   Last error: No error\n",
            "instance id",
        ),
        (
            header()
            + block("A Writer", 1, "aaaaaaaa-0000-0000-0000-000000000007")
            + block("B Writer", 7, "AAAAAAAA-0000-0000-0000-000000000007"),
            "appears twice",
        ),
        (None, "expects the text"),
    ],
)
def test_malformed_output_raises_a_clear_error(text: Any, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=re.escape(message)):
        vss.vss_writers(text)


def test_restart_plan_restarts_only_failing_writers_services() -> None:
    plan = vss.vss_restart_plan(vss.vss_writers(ENGLISH), MAPPING)
    # VSS comes last; CryptSvc (System Writer, stable) is absent.
    assert plan["services"] == ["SQLWriter", "Winmgmt", "VSS"]
    assert plan["by_service"] == {
        "SQLWriter": ["SqlServerWriter"],
        "Winmgmt": ["WMI Writer"],
        "VSS": ["Registry Writer"],
    }
    assert plan["unmapped"] == ["Contoso Backup Writer"]
    assert [f["name"] for f in plan["failing"]] == [
        "SqlServerWriter",
        "WMI Writer",
        "Registry Writer",
        "Contoso Backup Writer",
    ]
    assert plan["failing"][3]["service"] is None
    assert [r["label"] for r in plan["restarts"]] == [
        "SQLWriter (SqlServerWriter)",
        "Winmgmt (WMI Writer)",
        "VSS (Registry Writer)",
    ]
    assert plan["shared_with_healthy"] == {"VSS": ["ASR Writer"]}


def test_restart_plan_vss_at_most_once_and_services_deduplicated_case_insensitively() -> None:
    writers = [
        {"name": n, "state": 8}
        for n in (
            "ASR Writer",
            "COM+ REGDB Writer",
            "Registry Writer",
            "Shadow Copy Optimization Writer",
            "Lower Writer",
        )
    ]
    plan = vss.vss_restart_plan(writers, {**MAPPING, "Lower Writer": "vss"})
    assert plan["services"] == ["VSS"]
    assert plan["by_service"]["VSS"] == [
        "ASR Writer",
        "COM+ REGDB Writer",
        "Registry Writer",
        "Shadow Copy Optimization Writer",
        "Lower Writer",
    ]


def test_restart_plan_instance_writers() -> None:
    writers = [{"name": "ADAM Contoso Writer", "state": 9}, {"name": "ADAM  Writer", "state": 9}]
    plan = vss.vss_restart_plan(writers, MAPPING)
    assert plan["services"] == ["ADAM_Contoso"]
    assert plan["by_service"] == {"ADAM_Contoso": ["ADAM Contoso Writer"]}
    assert plan["unmapped"] == ["ADAM  Writer"]  # `$instance` must stand for some text


def test_restart_plan_exact_keys_only() -> None:
    writers = [{"name": "sqlserverwriter", "state": 7}, {"name": "SqlServerWriter ", "state": 7}]
    plan = vss.vss_restart_plan(writers, MAPPING)
    assert plan["services"] == [] and plan["unmapped"] == ["sqlserverwriter", "SqlServerWriter "]


def test_restart_plan_healthy_host_restarts_nothing() -> None:
    writers = vss.vss_writers(header() + block("System Writer", 1, "aaaaaaaa-0000-0000-0000-000000000008"))
    assert vss.vss_restart_plan(writers, MAPPING) == {
        "services": [],
        "by_service": {},
        "unmapped": [],
        "failing": [],
        "restarts": [],
        "shared_with_healthy": {},
    }


def test_restart_plan_rejects_bad_input() -> None:
    with pytest.raises(AnsibleFilterError):
        vss.vss_restart_plan("not writers", MAPPING)
    with pytest.raises(AnsibleFilterError):
        vss.vss_restart_plan([{"state": 1}], MAPPING)
    with pytest.raises(AnsibleFilterError):
        vss.vss_restart_plan([], ["not", "a", "dict"])


def test_mapping_file_covers_the_documented_writers() -> None:
    assert MAPPING["System Writer"] == "CryptSvc"
    assert MAPPING["SqlServerWriter"] == "SQLWriter"
    assert MAPPING["WMI Writer"] == "Winmgmt"
    assert MAPPING["ADAM $instance Writer"] == "ADAM_$instance"
    assert sum(1 for s in MAPPING.values() if s == "VSS") == 4
    assert len(MAPPING) == 30


EVENTS = [
    {
        "TimeCreated": "2026-01-05T02:14:10Z",
        "LogName": "Application",
        "ProviderName": "VSS",
        "Id": 12290,
        "LevelDisplayName": "Warning",
        "Message": "Volume Shadow Copy Service warning: The shadow copy provider "
        "timed out while holding\r\n  writes to the volume being copied.",
    },
    {
        "TimeCreated": "2026-01-05T02:20:00Z",
        "LogName": "Application",
        "ProviderName": "VSS",
        "Id": 8224,
        "LevelDisplayName": "Information",
        "Message": "The VSS service is shutting down due to idle timeout.",
    },
    {
        "TimeCreated": "2026-01-06T02:14:10Z",
        "LogName": "Application",
        "ProviderName": "VSS",
        "Id": 12290,
        "LevelDisplayName": "Avertissement",
        "Message": "le fournisseur de clichés instantanés a dépassé le délai "
        "d'attente lors de la mise en attente des écritures",
    },
]
PATTERNS = [r"timed out while holding writes", r"mise en attente des [ée]critures"]


def test_iops_evidence_matches_english_and_french_messages() -> None:
    evidence = vss.vss_iops_evidence([EVENTS[:2], EVENTS[2]], PATTERNS)
    assert [e["time_created"] for e in evidence] == ["2026-01-05T02:14:10Z", "2026-01-06T02:14:10Z"]
    assert evidence[0]["provider"] == "VSS" and evidence[0]["id"] == 12290
    assert "holding writes to the volume" in evidence[0]["message"]
    assert vss.vss_iops_evidence(None, PATTERNS) == [] and vss.vss_iops_evidence(EVENTS[0], []) == []


def test_diagnosis_contract() -> None:
    writers = vss.vss_writers(ENGLISH)
    plan = vss.vss_restart_plan(writers, MAPPING)
    evidence = vss.vss_iops_evidence(EVENTS, PATTERNS)
    diagnosis = vss.vss_diagnosis(writers, plan, evidence)
    assert diagnosis["healthy"] is False
    assert [(f["writer"], f["service"]) for f in diagnosis["findings"]] == [
        ("SqlServerWriter", "SQLWriter"),
        ("WMI Writer", "Winmgmt"),
        ("Registry Writer", "VSS"),
        ("Contoso Backup Writer", "no known service"),
    ]
    assert "\n" not in diagnosis["summary"]
    assert diagnosis["summary"].startswith("4 of 6 VSS writers not stable: SqlServerWriter [7]")
    assert "2 event(s)" in diagnosis["summary"]
    assert diagnosis["restart_plan"] == plan and diagnosis["iops_evidence"] == evidence
    assert diagnosis["writers"] == writers


def test_diagnosis_healthy_and_empty() -> None:
    writers = vss.vss_writers(header() + block("System Writer", 1, "aaaaaaaa-0000-0000-0000-000000000009"))
    healthy = vss.vss_diagnosis(writers, vss.vss_restart_plan(writers, MAPPING), [])
    assert healthy["healthy"] is True and healthy["findings"] == []
    assert healthy["summary"] == "all 1 VSS writers are stable"
    empty = vss.vss_diagnosis([], vss.vss_restart_plan([], MAPPING), [])
    assert empty["healthy"] is False and "no VSS writer" in empty["summary"]


def test_filter_module_exports() -> None:
    assert set(vss.FilterModule().filters()) == {
        "vss_writers",
        "vss_restart_plan",
        "vss_iops_evidence",
        "vss_diagnosis",
    }


@pytest.mark.parametrize(
    ("label", "quoted"),
    [
        ("Writer name", '"System Writer"'),
        ("Verfassername", "„System Writer“"),
        ("Verfassername", "‚System Writer‘"),
        ("Nom de l’enregistreur", "« System Writer »"),
        ("Nom de l'enregistreur", "«\u00a0System Writer\u00a0»"),
        ("Skrivarnamn", "”System Writer”"),
        ("Writer name", "“System Writer”"),
        ("Nome writer", "‹System Writer›"),
        ("ライター名", "「System Writer」"),
        ("Navn på skriver", "»System Writer«"),
    ],
)
def test_writer_names_quoted_in_other_display_languages(label: str, quoted: str) -> None:
    text = header() + (
        f"{label}: {quoted}\n   Id: {{e8132975-6f93-4464-a53e-1050253ae220}}\n"
        "   Instance Id: {1b2c3d4e-0000-0000-0000-000000000001}\n   [7]\n   : Timed out\n\n"
    ) + block("WMI Writer", 1, "1b2c3d4e-0000-0000-0000-000000000002")
    writers = vss.vss_writers(text)
    assert [(w["name"], w["state"]) for w in writers] == [("System Writer", 7), ("WMI Writer", 1)]


def test_typographic_apostrophe_in_a_label_is_not_a_quote() -> None:
    text = header() + block("SqlServerWriter", 7, "1b2c3d4e-0000-0000-0000-000000000003").replace(
        "Writer name: 'SqlServerWriter'", "Nom de l’enregistreur : ‘SqlServerWriter’")
    assert [w["name"] for w in vss.vss_writers(text)] == ["SqlServerWriter"]


def test_output_without_writer_blocks_is_still_refused_whatever_the_quotes() -> None:
    with pytest.raises(AnsibleFilterError, match="no writer block"):
        vss.vss_writers(header() + "Erreur : « accès refusé ». Code 0x80070005\n")
