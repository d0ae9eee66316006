"""The shipped production inventory example parses, maps platforms as documented and holds no secret."""

from __future__ import annotations

import configparser
from pathlib import Path

import yaml

from orchestrator.inventory import load_inventory

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "inventory" / "production.example.yml"


def test_example_parses_with_platforms_from_the_groups() -> None:
    inv = load_inventory(EXAMPLE)
    assert inv.hosts["sqlvm01"].platform == "windows"
    assert inv.hosts["web01"].platform == "linux"
    assert inv.hosts["azure-control"].platform == "azure"
    assert inv.resolve("windows") == [inv.hosts["appvm02"], inv.hosts["sqlvm01"]]


def test_windows_uses_validated_https_and_no_literal_password() -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    win = data["all"]["children"]["windows"]["vars"]
    assert win["ansible_port"] == 5986 and win["ansible_winrm_scheme"] == "https"
    assert win["ansible_winrm_server_cert_validation"] == "validate"
    assert win["ansible_winrm_transport"] in ("ntlm", "kerberos", "credssp")
    assert win["ansible_password"].startswith("{{ lookup('ansible.builtin.env',")
    linux = data["all"]["children"]["linux"]["vars"]
    assert "ansible_password" not in linux and "ansible_become_password" not in linux


def test_ansible_cfg_names_no_missing_inventory_and_checks_host_keys() -> None:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "ansible.cfg")
    inventory = cfg.get("defaults", "inventory", fallback=None)
    assert inventory is None or (ROOT / inventory).exists()
    assert cfg.getboolean("defaults", "host_key_checking", fallback=True) is True


def test_vms_map_to_hosts_by_resource_id_case_insensitively_or_by_name() -> None:
    inv = load_inventory(EXAMPLE)
    rid = ("/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/resourcegroups/RG-SQL/providers/"
           "microsoft.compute/virtualmachines/SQLVM01")
    assert inv.find_vm(resource_id=rid).name == "sqlvm01"
    assert inv.find_vm(name="WEB01").name == "web01"
    assert inv.find_vm(name="nope") is None
    assert inv.find_vm(resource_id=rid.replace("SQLVM01", "other")) is None


def test_a_malformed_resource_id_is_refused(tmp_path) -> None:
    import pytest

    from orchestrator.errors import InventoryError

    bad = tmp_path / "inv.yml"
    bad.write_text("all:\n  hosts:\n    vm1:\n      azure_resource_id: '$(id)'\n")
    with pytest.raises(InventoryError, match="azure_resource_id"):
        load_inventory(bad)


def test_azure_rm_example_uses_only_options_of_the_installed_plugin_and_sets_the_identity() -> None:
    import json
    import subprocess
    import sys

    example = yaml.safe_load((ROOT / "inventory" / "azure_rm.example.yml").read_text())
    assert example["plugin"] == "azure.azcollection.azure_rm"
    assert example["compose"]["azure_resource_id"] == "id"  # the plugin's host var: the VM's ARM id
    doc = subprocess.run([str(Path(sys.executable).parent / "ansible-doc"), "-t", "inventory",
                          "azure.azcollection.azure_rm", "--json"], capture_output=True, text=True, timeout=120,
                         check=True)
    options = json.loads(doc.stdout)["azure.azcollection.azure_rm"]["doc"]["options"]
    assert set(example) - {"plugin"} <= set(options)
    assert not any("secret" in k or "password" in k for k in example)
