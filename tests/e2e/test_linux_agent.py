"""The Azure Linux Agent runbooks and the in-guest extension reset through the real `remediate`, over real SSH,
on lab hosts whose agent is a real SysV service (lab/scenarios/linux-agent.yml):
380008 AzureVmOffline, UserErrorGuestAgentStatusUnavailable, VmNotInDesirableState, ExtensionStuckInDeletionState.
"""

from __future__ import annotations

import pytest

from .linux_lab import host_status, lab_module, root, run

pytestmark = pytest.mark.lab
EXTENSION = "var/lib/waagent/Microsoft.Azure.RecoveryServices.VMSnapshotLinux-"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    yield from lab_module(tmp_path_factory, "linux-agent.yml")


def services(lab, host: str) -> dict[str, str]:
    return host_status(lab, host)["services"]


def test_azure_vm_offline_starts_the_stopped_agent(lab):
    assert services(lab, "agt1") == {"walinuxagent": "stopped"}
    rc, doc = run(lab, "--code", "380008", "--host", "agt1", "--dry-run")
    assert rc == 0 and doc["status"] == "planned"
    [plan] = doc["results"]["agt1"]["plan"]
    assert plan["id"] == "restart-linux-agent" and plan["risk"] == "medium"
    assert [t["action"] for t in plan["would_change"]] == ["ansible.builtin.service"]
    assert services(lab, "agt1") == {"walinuxagent": "stopped"}  # dry-run: still stopped
    rc, doc = run(lab, "--code", "AzureVmOffline", "--host", "agt1")
    assert rc == 5 and doc["status"] == "approval-required"  # medium risk outside a maintenance window
    assert services(lab, "agt1") == {"walinuxagent": "stopped"}
    rc, doc = run(lab, "--code", "AzureVmOffline", "--host", "agt1", "--yes")
    assert rc == 0 and doc["status"] == "fixed", doc
    assert services(lab, "agt1") == {"walinuxagent": "running"}
    assert "Daemon Azure Linux Agent Version" in (root(lab, "agt1") / "var/log/waagent.log").read_text()
    rc, doc = run(lab, "--code", "AzureVmOffline", "--host", "agt1", "--yes")
    assert rc == 0 and doc["status"] == "no-change"


def test_the_service_manager_and_name_follow_the_distribution(lab):
    rc, doc = run(lab, "--code", "AzureVmOffline", "--host", "agt2", "--dry-run")
    assert rc == 0 and doc["status"] == "no-change"
    assert doc["diagnosis"]["agt2"]["agent"]["service"] == "waagent"  # Red Hat family
    assert services(lab, "agt2") == {"waagent": "running"}


def test_guest_agent_config_then_restart(lab):
    conf = root(lab, "agt2") / "etc/waagent.conf"
    before = conf.read_text()
    assert "Extensions.Enabled=n" in before
    rc, doc = run(lab, "--code", "UserErrorGuestAgentStatusUnavailable", "--host", "agt2", "--dry-run")
    assert rc == 0 and doc["status"] == "planned"
    [plan] = doc["results"]["agt2"]["plan"]
    assert plan["id"] == "linux-agent-config" and plan["risk"] == "low"
    lines = [line for t in plan["would_change"] for line in t.get("changes", [])]
    assert "-Extensions.Enabled=n" in lines and "+Extensions.Enabled=y" in lines
    assert conf.read_text() == before
    # low-risk config applies; the restart (medium) then waits for approval: the agent still runs the old config
    rc, doc = run(lab, "--code", "UserErrorGuestAgentStatusUnavailable", "--host", "agt2")
    assert rc == 5 and doc["status"] == "approval-required"
    assert "Extensions.Enabled=y" in conf.read_text() and "Provisioning.Agent=auto" in conf.read_text()
    assert "# Enable extension handling." in conf.read_text()  # other lines and comments kept
    assert [p["id"] for p in doc["results"]["agt2"]["plan"]] == ["restart-linux-agent"]
    log = root(lab, "agt2") / "var/log/waagent.log"
    assert log.read_text().count("Extension handling is") == 1
    rc, doc = run(lab, "--code", "UserErrorGuestAgentStatusUnavailable", "--host", "agt2", "--yes")
    assert rc == 0 and doc["status"] == "fixed", doc
    assert log.read_text().splitlines()[-2].endswith("Extension handling is enabled")  # restarted, new config
    assert services(lab, "agt2") == {"waagent": "running"}
    rc, doc = run(lab, "--code", "UserErrorGuestAgentStatusUnavailable", "--host", "agt2", "--yes")
    assert rc == 0 and doc["status"] == "no-change"


def test_dhcp_disabled_in_the_guest_is_reported(lab):
    rc, doc = run(lab, "--code", "GuestAgentSnapshotTaskStatusError", "--host", "agt5", "--dry-run")
    # the agent runs with the right config: every automated step would change nothing, the plan ends on guidance
    assert rc == 4 and doc["status"] == "manual", doc
    diag = doc["diagnosis"]["agt5"]
    assert [f["check"] for f in diag["findings"]] == ["dhcp"]
    assert diag["dhcp"] == [{"interface": "eth0", "dhcp": False, "file": "/etc/network/interfaces.d/50-cloud-init"}]


def test_missing_agent_ends_on_the_manual_install(lab):
    rc, doc = run(lab, "--code", "AzureVmOffline", "--host", "agt4", "--yes")
    assert rc == 4 and doc["status"] == "manual"
    assert [f["check"] for f in doc["diagnosis"]["agt4"]["findings"]] == ["installed"]
    assert doc["results"]["agt4"]["guidance"][0]["id"] == "install-agent-and-check-flag"
    # nothing installed, nothing started: with --yes the idempotent restart is applied without a check run and
    # changes nothing (it reports the missing agent)
    assert [(s["id"], s["changed"]) for s in doc["steps"] if s["phase"] == "apply"] == [("restart-linux-agent", False)]
    assert services(lab, "agt4") == {}


def test_vm_not_in_desirable_state_starts_the_agent_and_reports_selinux(lab):
    assert not list(root(lab, "agt3").glob(EXTENSION + "*"))
    rc, doc = run(lab, "--code", "VmNotInDesirableState", "--host", "agt3", "--dry-run")
    assert rc == 0
    checks = [f["check"] for f in doc["diagnosis"]["agt3"]["findings"]]
    assert checks == ["service", "extension", "selinux"]
    assert doc["diagnosis"]["agt3"]["selinux"]["mode"] == "Enforcing"
    assert "waagent_t" in doc["diagnosis"]["agt3"]["selinux"]["waagent_denials"][0]
    assert services(lab, "agt3") == {"walinuxagent": "stopped"}
    rc, doc = run(lab, "--code", "UserErrorVmNotInDesirableState", "--host", "agt3", "--yes")
    assert rc == 4 and doc["status"] == "manual"
    assert services(lab, "agt3") == {"walinuxagent": "running"}
    assert [f["check"] for f in doc["verification"]["agt3"]["diagnosis"]["findings"]] == ["extension", "selinux"]
    assert "selinux-exclude-waagent" in [g["id"] for g in doc["results"]["agt3"]["guidance"]]


def test_selinux_without_tools_is_left_to_the_guidance(lab):
    rc, doc = run(lab, "--code", "VmNotInDesirableState", "--host", "agt1", "--dry-run")
    assert rc == 0 and doc["status"] == "no-change"
    assert "no SELinux tools" in doc["diagnosis"]["agt1"]["selinux"]["note"]


def test_extension_reset_in_the_guest(lab):
    folders = sorted(p.name for p in root(lab, "agt6").glob(EXTENSION + "*"))
    assert len(folders) == 2
    rc, doc = run(lab, "--code", "ExtensionStuckInDeletionState", "--host", "agt6", "--step", "2", "--dry-run")
    assert rc == 0 and doc["status"] == "planned"
    [plan] = doc["results"]["agt6"]["plan"]
    assert plan["id"] == "reset-linux-extension" and plan["risk"] == "high"
    assert len(plan["would_change"]) == 2
    assert sorted(p.name for p in root(lab, "agt6").glob(EXTENSION + "*")) == folders
    rc, doc = run(lab, "--code", "ExtensionStuckInDeletionState", "--host", "agt6", "--step", "2", "--yes")
    assert rc == 0 and doc["status"] == "fixed", doc
    assert not list(root(lab, "agt6").glob(EXTENSION + "*"))
    assert (root(lab, "agt6") / "var/lib/waagent").is_dir()  # nothing else removed
    assert services(lab, "agt6") == {"walinuxagent": "running"}
    rc, doc = run(lab, "--code", "ExtensionStuckInDeletionState", "--host", "agt6", "--step", "2", "--yes")
    assert rc == 0 and doc["status"] == "no-change"
