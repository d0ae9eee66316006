"""The catalog covers every documented code, validates its files, and finds runbooks by code, alias or message."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from orchestrator.catalog import load_catalog, normalize_text
from orchestrator.errors import CatalogError, UnknownCodeError, UsageError

ROOT = Path(__file__).resolve().parents[2]

# Every code of the French source article (backup-azure-vms-troubleshoot.fr.md) ...
ARTICLE_CODES = [
    "VMRestorePointInternalError", "CopyingVHDsFromBackUpVaultTakingLongTime", "UserErrorVmNotInDesirableState",
    "UserErrorFsFreezeFailed", "ExtensionSnapshotFailedCOM", "ExtensionInstallationFailedCOM",
    "ExtensionInstallationFailedMDTC", "ExtensionFailedVssWriterInBadState", "ExtensionFailedVssServiceInBadState",
    "UserErrorSkuNotAvailable", "UserErrorMarketPlaceVMNotSupported", "ExtensionConfigParsingFailure",
    "ExtensionStuckInDeletionState", "ExtensionFailedSnapshotLimitReachedError",
    "ExtensionFailedTimeoutVMNetworkUnresponsive", "ResourceNotFound", "BCMV2VMNotFound",
    "UserErrorBCMPremiumStorageQuotaError", "AzureVmOffline", "ExtensionSnapshotBitlockerError",
    "VmNotInDesirableState", "ExtensionSnapshotFailedNoSecureNetwork", "ExtensionVCRedistInstallationFailure",
    "UserErrorRequestDisallowedByPolicy", "UserErrorInstantRpNotFound",
]
NUMERIC_ALIASES = {"320001": "ResourceNotFound", "400094": "BCMV2VMNotFound", "380008": "AzureVmOffline"}
# ... and every code of the English facts list (error-messages-en.tsv and the facts table).
ENGLISH_CODES = [
    "UserErrorUnableToOpenMount", "UserErrorMigrationFromTrustedLaunchVMToNonTrustedVMNotAllowed",
    "UserErrorCrossSubscriptionRestoreNotSupportedForOLR",
    "UserErrorCrossSubscriptionRestoreNotSupportedForUnManagedAzureVM",
    "UserErrorCrossSubscriptionRestoreNotSupportedForCRR", "UserErrorCrossSubscriptionRestoreNotSupportedFromSnapshot",
    "UserErrorCrossSubscriptionRestoreInvalidTenant", "UserErrorCrossSubscriptionRestoreInvalidTargetSubscription",
    "UserErrorCrossSubscriptionRestoreNotSupportedForEncryptedAzureVM",
    "UserErrorCrossSubscriptionRestoreNotSupportedForTrustedLaunchAzureVM", "BackUpOperationFailed",
    "BackUpOperationFailedV2", "UserErrorGuestAgentStatusUnavailable", "GuestAgentSnapshotTaskStatusError",
    "UserErrorVmProvisioningStateFailed", "UserErrorRpCollectionLimitReached",
    "UserErrorKeyvaultPermissionsNotConfigured", "ExtensionSnapshotFailedNoNetwork",
    "ExtensionOperationFailedForManagedDisks", "UserErrorUnsupportedDiskSize", "UserErrorBackupOperationInProgress",
    "UserErrorCrpReportedUserError", "UserErrorBcmDatasourceNotPresent",
]


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(ROOT)


def test_every_documented_code_has_a_runbook(catalog):
    known = {code for code, _ in catalog.codes()}
    missing = [c for c in ARTICLE_CODES + ENGLISH_CODES if c not in known]
    assert not missing, f"codes without a runbook: {missing}"


def test_every_code_of_the_english_tsv_is_covered(catalog):
    tsv = ROOT.parent / "shared" / "domain" / "error-messages-en.tsv"
    if not tsv.exists():
        pytest.skip("shared/ not beside the checkout")
    known = {code for code, _ in catalog.codes()}
    codes = {line.split("\t")[0] for line in tsv.read_text().splitlines()[2:] if line and not line.startswith("#")}
    assert sorted(c for c in codes if c and c not in known) == []


@pytest.mark.parametrize(("alias", "code"), sorted(NUMERIC_ALIASES.items()))
def test_numeric_aliases(catalog, alias, code):
    match = catalog.lookup(alias)
    assert match.code == code
    assert match.matched_by == "alias"


def test_lookup_is_case_insensitive(catalog):
    match = catalog.lookup("extensionfailedvsswriterinbadstate")
    assert match.code == "ExtensionFailedVssWriterInBadState"
    assert match.runbook.platform.value == "windows"


def test_unknown_code_suggests_the_closest(catalog):
    with pytest.raises(UnknownCodeError) as err:
        catalog.lookup("ExtensionFailedVssWriterInBadStat")
    assert "ExtensionFailedVssWriterInBadState" in err.value.message


@pytest.mark.parametrize("bad", ["", "a b", "x;rm -rf /", "$(id)", "A" * 200, "../etc/passwd"])
def test_malformed_codes_are_refused(catalog, bad):
    with pytest.raises(UsageError):
        catalog.lookup(bad)


def test_shared_runbooks_group_codes(catalog):
    ids = {catalog.lookup(c).runbook.id for c in ("ExtensionSnapshotFailedCOM", "ExtensionInstallationFailedCOM",
                                                    "ExtensionInstallationFailedMDTC")}
    assert len(ids) == 1


def test_match_by_english_and_french_message(catalog):
    en = catalog.match_message("Snapshot operation failed because VSS writers were in a bad state.")
    fr = catalog.match_message("L’opération de capture instantanée a échoué parce que les enregistreurs VSS "
                               "étaient dans un état incorrect.")
    assert en and en.code == "ExtensionFailedVssWriterInBadState"
    assert fr and fr.code == "ExtensionFailedVssWriterInBadState"
    assert catalog.match_message("something unrelated happened on the VM today") is None


def test_french_apostrophes_are_normalized():
    assert normalize_text("L’opération  a échoué.") == normalize_text("l'opération a échoué")


def test_every_runbook_has_bilingual_titles_and_a_ladder(catalog):
    for rb in catalog.runbooks.values():
        assert rb.title.en and rb.title.fr
        assert rb.ladder
        for entry in rb.codes:
            if entry.message:
                assert entry.message.en and entry.message.fr


def test_vss_runbook_has_the_three_documented_steps(catalog):
    rb = catalog.lookup("ExtensionFailedVssWriterInBadState").runbook
    assert [s.risk.value for s in rb.ladder] == ["medium", "low", "never"]
    assert rb.ladder[1].vars == {"bcdr_registry_values": {"SnapshotWithoutThreads": "True"}}


def _copy_catalog(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "runbooks", tmp_path / "runbooks")
    return tmp_path


def test_invalid_runbook_names_file_and_field(tmp_path):
    root = _copy_catalog(tmp_path)
    victim = root / "runbooks" / "vss-writer-bad-state.yml"
    victim.write_text(victim.read_text().replace("risk: medium", "risk: extreme", 1))
    with pytest.raises(CatalogError) as err:
        load_catalog(root)
    assert "vss-writer-bad-state.yml" in err.value.message
    assert "ladder.0.risk" in err.value.message


def test_runbook_id_must_match_file_name(tmp_path):
    root = _copy_catalog(tmp_path)
    (root / "runbooks" / "vss-writer-bad-state.yml").rename(root / "runbooks" / "renamed.yml")
    with pytest.raises(CatalogError) as err:
        load_catalog(root)
    assert "renamed.yml" in err.value.message and "field id" in err.value.message


def test_a_code_defined_twice_is_an_error(tmp_path):
    root = _copy_catalog(tmp_path)
    src = (root / "runbooks" / "vss-writer-bad-state.yml").read_text()
    (root / "runbooks" / "zz-duplicate.yml").write_text(src.replace("id: vss-writer-bad-state", "id: zz-duplicate"))
    with pytest.raises(CatalogError) as err:
        load_catalog(root)
    assert "ExtensionFailedVssWriterInBadState" in err.value.message


def test_broken_yaml_is_an_error(tmp_path):
    root = _copy_catalog(tmp_path)
    (root / "runbooks" / "broken.yml").write_text("id: [unclosed\n")
    with pytest.raises(CatalogError) as err:
        load_catalog(root)
    assert "broken.yml" in err.value.message


def test_which_hosts_a_runbook_applies_to(catalog):
    vss = catalog.runbooks["vss-writer-bad-state"]
    assert vss.applies_to("windows") and not vss.applies_to("linux")
    stuck = catalog.runbooks["backup-extension-stuck"]  # control plane: runs on the control node for any VM
    assert stuck.applies_to("windows") and stuck.applies_to("linux")
    assert all(stuck.runs_on(step, "linux") for step in stuck.ladder)
    assert stuck.diagnose_for("windows") == stuck.diagnose["azure"]
