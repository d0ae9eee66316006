"""The control-plane playbooks pass ansible-lint's production profile, like the guest playbooks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_azure_playbooks_pass_ansible_lint_production() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["ANSIBLE_CONFIG"] = str(ROOT / "ansible.cfg")
    files = sorted(str(p) for p in (ROOT / "playbooks" / "azure").glob("*.yml"))
    assert len(files) >= 7
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-lint"), "--nocolor", "--offline", "--profile",
                           "production", *files, str(ROOT / "playbooks/vars/azure_control_node.yml")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
