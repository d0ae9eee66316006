"""The registry-based Windows fixes through the real `remediate` command against the simulated Windows hosts:
ExtensionFailedTimeoutVMNetworkUnresponsive (snapshot through the host; USEVSSCOPYBACKUP on SQL Server VMs only) and
ExtensionSnapshotFailedNoSecureNetwork (SchUseStrongCrypto for every installed .NET Framework version).

Tests run in file order on one lab per scenario: dry-run (plan shown, state untouched), apply (fault gone, verified,
only the expected values changed), rerun (no-change), and the ladder (a fault step 1 does not fix goes on to step
2; an exhausted ladder exits 4 with the manual guidance).
"""

from __future__ import annotations

import copy

import pytest

from .conftest import applied, hosts, start_lab, stop_lab

TIMEOUT = "ExtensionFailedTimeoutVMNetworkUnresponsive"
CRYPTO = "ExtensionSnapshotFailedNoSecureNetwork"
PERSISTENT = "HKLM:\\SOFTWARE\\Microsoft\\BcdrAgentPersistentKeys"
AGENT = "HKLM:\\SOFTWARE\\Microsoft\\BcdrAgent"
NET64 = "HKLM:\\SOFTWARE\\Microsoft\\.NETFramework"
NET32 = "HKLM:\\SOFTWARE\\Wow6432Node\\Microsoft\\.NETFramework"
SZ_TRUE = {"type": "string", "data": "True"}


def without_registry(state: dict) -> dict:
    """The rest of the simulated host (services, writers, files, ...): a registry fix must leave it as it was."""
    rest = {k: v for k, v in state.items() if k not in ("registry", "commands_run")}
    rest["services"] = {n: {f: s[f] for f in ("state", "start_mode", "username")} for n, s in rest["services"].items()}
    return rest


@pytest.fixture(scope="module")
def timeout_lab(tmp_path_factory):
    r = start_lab(tmp_path_factory, "snapshot-timeout-registry.yml")
    yield r
    stop_lab(r)


@pytest.fixture(scope="module")
def crypto_lab(tmp_path_factory):
    r = start_lab(tmp_path_factory, "strong-crypto.yml")
    yield r
    stop_lab(r)


@pytest.fixture(scope="module")
def timeout_start(timeout_lab) -> dict:
    return copy.deepcopy(hosts(timeout_lab))


# -- the catalog ------------------------------------------------------------------------------------------------
def test_codes_lists_the_automated_steps(timeout_lab):
    res = timeout_lab("codes", "--json")
    assert res.rc == 0, res.stderr
    rows = {row["code"]: row for row in res.json["codes"]}
    assert (rows[TIMEOUT]["steps"], rows[TIMEOUT]["automated_steps"]) == (4, 2)
    assert (rows[CRYPTO]["steps"], rows[CRYPTO]["automated_steps"]) == (2, 1)
    text = timeout_lab("codes")
    assert text.rc == 0 and "inadequate-vm-resources" in text.stdout and "2/4" in text.stdout


def test_explain_in_french_shows_the_real_steps(timeout_lab):
    res = timeout_lab("explain", TIMEOUT, "--lang", "fr", "--json")
    assert res.rc == 0, res.stderr
    ladder = [(s["id"], s["kind"], s["automated"], s["risk"], s["playbook"]) for s in res.json["ladder"]]
    assert ladder == [
        ("snapshot-through-host", "automated", True, "low", "windows/bcdr_agent_registry.yml"),
        ("sql-server-vss-copy-backup", "automated", True, "low", "windows/bcdr_agent_registry.yml"),
        ("change-backup-schedule", "manual", False, "never", None),
        ("resize-vm", "manual", False, "never", None),
    ]
    step1, step2 = res.json["ladder"][:2]
    assert step1["title"] == "Créer une capture instantanée via l’hôte"  # the French article's step 1
    assert "Uniquement si SQL Server est installé" in step2["changes"]
    assert "définissez la clé de Registre suivante" in step2["guidance"]  # verbatim from the French article
    assert step2["vars"]["bcdr_registry_requires_sql_server"] is True
    crypto = timeout_lab("explain", CRYPTO, "--lang", "fr", "--json")
    assert crypto.rc == 0, crypto.stderr
    assert [(s["id"], s["automated"], s["title"]) for s in crypto.json["ladder"]] == [
        ("schusestrongcrypto", True, "Activer SchUseStrongCrypto pour chaque version de .NET Framework installée"),
        ("check-tls-path", False, "Vérifier les autres versions de .NET et le chemin TLS")]
    assert "dword:00000001" in crypto.json["ladder"][0]["guidance"]
    text = timeout_lab("explain", CRYPTO, "--lang", "fr")
    assert text.rc == 0 and "automated: windows/dotnet_strong_crypto.yml" in text.stdout and "manuel" in text.stdout


# -- ExtensionFailedTimeoutVMNetworkUnresponsive ----------------------------------------------------------------
def test_timeout_dry_run_plans_step_1_and_touches_nothing(timeout_lab, timeout_start):
    res = timeout_lab("--code", TIMEOUT, "--host", "vm1", "--dry-run", "--json")
    assert res.rc == 0, res.stderr
    doc = res.json
    assert doc["status"] == "planned" and doc["plan_id"]
    diagnosis = doc["diagnosis"]["vm1"]
    assert diagnosis["healthy"] is False
    assert [(f["name"], f["problem"]) for f in diagnosis["findings"]] == [
        ("SnapshotMethod", "wrong-data"), ("CalculateSnapshotTimeFromHost", "wrong-type")]
    step = doc["results"]["vm1"]["plan"][0]
    assert (step["id"], step["risk"], step["approval"]) == ("snapshot-through-host", "low", "auto")
    changes = {t["item"]: t["diff"][0] for t in step["would_change"]}
    assert set(changes) == {f"{PERSISTENT}\\SnapshotMethod = firstHostThenGuest",
                            f"{PERSISTENT}\\CalculateSnapshotTimeFromHost = True"}
    calc = changes[f"{PERSISTENT}\\CalculateSnapshotTimeFromHost = True"]
    assert calc["before"][PERSISTENT]["CalculateSnapshotTimeFromHost"]["type"] == "DWord"
    assert calc["after"][PERSISTENT]["CalculateSnapshotTimeFromHost"] == {"type": "String", "value": "True"}
    assert [g["id"] for g in doc["guidance"]] == ["change-backup-schedule", "resize-vm"]
    assert hosts(timeout_lab) == timeout_start  # nothing changed on either host


def test_timeout_step_2_alone_never_sets_usevsscopybackup_without_sql_server(timeout_lab, timeout_start):
    # vm1 has only the SQL Server VSS Writer left over, no database engine: step 2 changes nothing, the fault of
    # step 1 is still there, and the ladder runs out of automated steps
    res = timeout_lab("--code", TIMEOUT, "--host", "vm1", "--step", "2", "--json")
    assert res.rc == 4, res.stderr + res.stdout
    doc = res.json
    assert doc["status"] == "manual"
    assert applied(doc) == [("sql-server-vss-copy-backup", False)]
    assert doc["verification"]["vm1"]["state"] == "unhealthy"
    guidance = doc["guidance"]
    assert [(g["id"], g["step"]) for g in guidance] == [("change-backup-schedule", 3), ("resize-vm", 4)]
    assert "less load" in guidance[0]["guidance"] and "90%" in guidance[1]["guidance"]
    assert hosts(timeout_lab)["vm1"]["registry"] == timeout_start["vm1"]["registry"]


def test_timeout_apply_fixes_vm1_with_step_1_and_nothing_else(timeout_lab, timeout_start):
    res = timeout_lab("--code", TIMEOUT, "--host", "vm1", "--json")
    assert res.rc == 0, res.stderr + res.stdout
    doc = res.json
    assert doc["status"] == "fixed"
    assert doc["verification"]["vm1"]["state"] == "healthy"
    assert applied(doc) == [("snapshot-through-host", True)]
    after = hosts(timeout_lab)["vm1"]
    expected = copy.deepcopy(timeout_start["vm1"]["registry"])
    expected[PERSISTENT]["snapshotmethod"] = {"type": "string", "data": "firstHostThenGuest"}  # name as stored
    expected[PERSISTENT]["CalculateSnapshotTimeFromHost"] = SZ_TRUE
    assert after["registry"] == expected  # SnapshotWithoutThreads, IsCommonProviderInstalled, BcdrAgent untouched
    assert "USEVSSCOPYBACKUP" not in str(after["registry"])
    assert without_registry(after) == without_registry(timeout_start["vm1"])


def test_timeout_sql_server_vm_goes_on_to_step_2(timeout_lab, timeout_start):
    res = timeout_lab("--code", TIMEOUT, "--host", "vm2", "--json")
    assert res.rc == 0, res.stderr + res.stdout
    doc = res.json
    assert doc["status"] == "fixed"
    assert applied(doc) == [("snapshot-through-host", True), ("sql-server-vss-copy-backup", True)]
    verifies = [s["status"] for s in doc["steps"] if s["phase"] == "verify"]
    assert len(verifies) == 2
    assert "SQL Server installed (MSSQL$PROD)" in doc["verification"]["vm2"]["summary"]
    after = hosts(timeout_lab)["vm2"]
    expected = copy.deepcopy(timeout_start["vm2"]["registry"])
    expected[PERSISTENT] = {"SnapshotMethod": {"type": "string", "data": "firstHostThenGuest"},
                            "CalculateSnapshotTimeFromHost": SZ_TRUE}
    expected[AGENT]["USEVSSCOPYBACKUP"] = {"type": "string", "data": "TRUE"}
    assert after["registry"] == expected  # IsProviderInstalled untouched
    assert without_registry(after) == without_registry(timeout_start["vm2"])
    assert after["service_restarts"] == [] and after.get("service_actions", []) == []


def test_timeout_rerun_reports_no_change_on_both_vms(timeout_lab):
    before = hosts(timeout_lab)
    res = timeout_lab("--code", TIMEOUT, "--host", "vm1,vm2", "--json")
    assert res.rc == 0, res.stderr + res.stdout
    doc = res.json
    assert doc["status"] == "no-change"
    assert {h: r["status"] for h, r in doc["results"].items()} == {"vm1": "no-change", "vm2": "no-change"}
    assert applied(doc) == []
    assert hosts(timeout_lab) == before


# -- ExtensionSnapshotFailedNoSecureNetwork ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def crypto_start(crypto_lab) -> dict:
    return copy.deepcopy(hosts(crypto_lab))


def test_crypto_dry_run_plans_the_installed_versions_only(crypto_lab, crypto_start):
    res = crypto_lab("--code", CRYPTO, "--host", "tls1", "--dry-run", "--json")
    assert res.rc == 0, res.stderr
    doc = res.json
    assert doc["status"] == "planned"
    assert [(f["key"], f["problem"]) for f in doc["diagnosis"]["tls1"]["findings"]] == [
        (f"{NET64}\\v2.0.50727", "missing"), (f"{NET64}\\v4.0.30319", "wrong-type"),
        (f"{NET32}\\v4.0.30319", "wrong-data")]
    step = doc["results"]["tls1"]["plan"][0]
    assert step["id"] == "schusestrongcrypto" and step["risk"] == "low"
    assert [t["item"] for t in step["would_change"]] == [
        f"{NET64}\\v2.0.50727\\SchUseStrongCrypto = 1 (REG_DWORD)",
        f"{NET64}\\v4.0.30319\\SchUseStrongCrypto = 1 (REG_DWORD)",
        f"{NET32}\\v4.0.30319\\SchUseStrongCrypto = 1 (REG_DWORD)"]
    assert "v2.0.50727" not in str([t for t in step["would_change"] if NET32 in t["item"]])
    assert hosts(crypto_lab) == crypto_start


def test_crypto_apply_sets_schusestrongcrypto_and_nothing_else(crypto_lab, crypto_start):
    res = crypto_lab("--code", CRYPTO, "--host", "tls1", "--json")
    assert res.rc == 0, res.stderr + res.stdout
    doc = res.json
    assert doc["status"] == "fixed" and doc["verification"]["tls1"]["state"] == "healthy"
    assert applied(doc) == [("schusestrongcrypto", True)]
    after = hosts(crypto_lab)["tls1"]
    expected = copy.deepcopy(crypto_start["tls1"]["registry"])
    for key in (f"{NET64}\\v2.0.50727", f"{NET64}\\v4.0.30319", f"{NET32}\\v4.0.30319"):
        expected[key]["SchUseStrongCrypto"] = {"type": "dword", "data": 1}
    assert after["registry"] == expected  # SystemDefaultTlsVersions and InstallRoot untouched
    assert f"{NET32}\\v2.0.50727" not in after["registry"]  # never created: not installed
    assert without_registry(after) == without_registry(crypto_start["tls1"])


def test_crypto_rerun_reports_no_change(crypto_lab):
    before = hosts(crypto_lab)["tls1"]
    res = crypto_lab("--code", CRYPTO, "--host", "tls1", "--json")
    assert res.rc == 0, res.stderr
    assert res.json["status"] == "no-change" and applied(res.json) == []
    assert hosts(crypto_lab)["tls1"] == before


def test_crypto_without_a_known_dotnet_version_ends_with_the_manual_step(crypto_lab, crypto_start):
    res = crypto_lab("--code", CRYPTO, "--host", "tls2", "--json", "--lang", "fr")
    assert res.rc == 4, res.stderr + res.stdout
    doc = res.json
    assert doc["status"] == "manual"
    assert applied(doc) == [("schusestrongcrypto", False)]
    assert doc["verification"]["tls2"]["diagnosis"]["findings"][0]["problem"] == "no-version-key"
    assert [g["id"] for g in doc["guidance"]] == ["check-tls-path"]
    assert "regedit.exe" in doc["guidance"][0]["guidance"] and "168.63.129.16" in doc["guidance"][0]["guidance"]
    assert hosts(crypto_lab)["tls2"]["registry"] == crypto_start["tls2"]["registry"]
