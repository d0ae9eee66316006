"""The reading of a static inventory is kept in the state dir's cache until one of its files changes; dynamic
inventories (plugins, scripts) are read every time; the cache holds no secret."""

from __future__ import annotations

import os
import stat

import pytest

from orchestrator import inventory as inv_mod
from orchestrator.inventory import load_inventory

INV = """all:
  children:
    windows:
      hosts:
        vm1: {ansible_host: 127.0.0.1, ansible_connection: winrm, ansible_password: Sup3rS3cret!}
    linux:
      hosts:
        lnx1: {ansible_host: 127.0.0.2}
"""


@pytest.fixture
def reads(monkeypatch):
    """Counts how often Ansible's inventory code really reads an inventory."""
    calls = []
    real = inv_mod.read_with_ansible

    def counting(path):
        calls.append(path)
        return real(path)

    monkeypatch.setattr(inv_mod, "read_with_ansible", counting)
    return calls


def test_a_static_inventory_is_read_once_until_a_file_changes(tmp_path, reads):
    path = tmp_path / "inv.yml"
    path.write_text(INV)
    cache = tmp_path / "cache"
    first = load_inventory(path, cache=cache)
    again = load_inventory(path, cache=cache)
    assert len(reads) == 1
    assert again == first and again.hosts["vm1"].platform == "windows" and again.hosts["lnx1"].platform == "linux"

    path.write_text(INV.replace("lnx1", "lnx2"))  # the inventory changed: read again
    assert "lnx2" in load_inventory(path, cache=cache).hosts and len(reads) == 2

    (tmp_path / "group_vars").mkdir()  # a vars file next to it may change a host's platform: read again
    (tmp_path / "group_vars" / "linux.yml").write_text("remediate_platform: azure\n")
    load_inventory(path, cache=cache)
    assert len(reads) == 3
    load_inventory(path, cache=cache)
    assert len(reads) == 3


def test_the_cache_holds_no_secret_and_only_its_owner_reads_it(tmp_path, reads):
    path = tmp_path / "inv.yml"
    path.write_text(INV)
    load_inventory(path, cache=tmp_path / "cache")
    [entry] = list((tmp_path / "cache").iterdir())
    assert "Sup3rS3cret" not in entry.read_text() and "ansible_password" not in entry.read_text()
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "cache").stat().st_mode) == 0o700


def test_dynamic_inventories_are_read_every_time(tmp_path, reads):
    script = tmp_path / "inv.py"
    script.write_text("#!/bin/sh\necho '{\"all\": {\"hosts\": [\"vm9\"]}, \"_meta\": {\"hostvars\": {}}}'\n")
    script.chmod(0o755)
    cache = tmp_path / "cache"
    assert inv_mod._static_files(script) is None
    plugin = tmp_path / "azure_rm.yml"
    plugin.write_text("plugin: azure.azcollection.azure_rm\nauth_source: auto\n")
    assert inv_mod._static_files(plugin) is None
    load_inventory(script, cache=cache)
    load_inventory(script, cache=cache)
    assert len(reads) == 2 and not cache.exists()


def test_a_broken_cache_entry_is_read_again(tmp_path, reads):
    path = tmp_path / "inv.yml"
    path.write_text(INV)
    cache = tmp_path / "cache"
    load_inventory(path, cache=cache)
    [entry] = list(cache.iterdir())
    entry.write_text("{not json")
    assert "vm1" in load_inventory(path, cache=cache).hosts and len(reads) == 2
    os.chmod(cache, 0o500)  # a cache that cannot be written only costs time
    try:
        entry.unlink() if os.access(cache, os.W_OK) else None
        assert "vm1" in load_inventory(path, cache=cache).hosts
    finally:
        os.chmod(cache, 0o700)


def test_new_credentials_or_ports_keep_the_cache_what_we_read_does_not(tmp_path, reads):
    """A regenerated inventory (the lab's, a CMDB export) with new passwords or ports reads the same for us: the
    cache is kept. A change in what we read (a host, a group, ansible_host, the connection, the platform) is not."""
    path = tmp_path / "inv.yml"
    cache = tmp_path / "cache"
    path.write_text(INV)
    first = load_inventory(path, cache=cache)
    path.write_text(INV.replace("Sup3rS3cret!", "0ther!").replace("{ansible_host: 127.0.0.2}",
                                                                   "{ansible_host: 127.0.0.2, ansible_port: 2201}"))
    assert load_inventory(path, cache=cache) == first and len(reads) == 1
    for changed in (INV.replace("127.0.0.2", "127.0.0.3"),                   # ansible_host
                    INV.replace("ansible_connection: winrm", "ansible_connection: psrp"),
                    INV.replace("lnx1: {", "lnx1: {remediate_platform: azure, "),
                    INV.replace("    linux:", "    azure:"),                  # a group
                    INV + "    extra:\n      hosts:\n        lnx1:\n"):      # a membership
        path.write_text(changed)
        load_inventory(path, cache=cache)
    assert len(reads) == 6
    assert load_inventory(path, cache=cache).groups["extra"] == ["lnx1"] and len(reads) == 6


def test_vars_files_count_only_the_variables_we_read(tmp_path, reads):
    path = tmp_path / "inv.yml"
    cache = tmp_path / "cache"
    path.write_text(INV)
    (tmp_path / "group_vars").mkdir()
    gv = tmp_path / "group_vars" / "linux.yml"
    gv.write_text("ansible_user: azureuser\n")
    load_inventory(path, cache=cache)
    gv.write_text("ansible_user: someone\nansible_port: 2222\n")
    load_inventory(path, cache=cache)
    assert len(reads) == 1
    gv.write_text("ansible_user: someone\nremediate_platform: azure\n")
    assert load_inventory(path, cache=cache).hosts["lnx1"].platform == "azure" and len(reads) == 2


def test_files_libyaml_cannot_read_count_whole(tmp_path, reads):
    """An INI inventory, or a vars file with a tag such as !vault: any change to the file reads it again."""
    ini = tmp_path / "hosts.ini"
    cache = tmp_path / "cache"
    ini.write_text("[linux]\nlnx1 ansible_host=127.0.0.2 ansible_port=22\n")
    load_inventory(ini, cache=cache)
    ini.write_text("[linux]\nlnx1 ansible_host=127.0.0.2 ansible_port=23\n")
    load_inventory(ini, cache=cache)
    assert len(reads) == 2
    (tmp_path / "group_vars").mkdir()
    gv = tmp_path / "group_vars" / "linux.yml"
    gv.write_text("ansible_user: azureuser\nsecret: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n")
    assert inv_mod._file_key(gv, vars_file=True).endswith(f":{gv.stat().st_ino}")
