"""docs/alerting.md: every example is valid as written. YAML and JSON blocks parse; the policy block is the policy
the code has; the auth file block loads; the Alertmanager receiver authenticates with a bearer token; the HMAC
shell line signs exactly like the server checks; shell blocks pass `bash -n`; the systemd unit passes
`systemd-analyze verify` when the tool is present."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from orchestrator.policy import Policy
from orchestrator.server.auth import sign
from orchestrator.server.config import load_auth

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "alerting.md"
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>\w+)\n(?P<body>.*?)^(?P=indent)```$", re.M | re.S)


def blocks(lang: str) -> list[str]:
    out = []
    for m in FENCE.finditer(DOC.read_text(encoding="utf-8")):
        if m["lang"] == lang:
            indent = len(m["indent"])
            out.append("".join(line[indent:] for line in m["body"].splitlines(keepends=True)))
    return out


def yaml_docs() -> list[object]:
    return [yaml.safe_load(b) for b in blocks("yaml")]


def find(test: Callable[[object], bool]) -> tuple[str, object]:
    """The one YAML block whose parsed value passes `test`: (its text, its value)."""
    found = [(text, doc) for text, doc in zip(blocks("yaml"), yaml_docs(), strict=True) if test(doc)]
    assert len(found) == 1, f"expected one matching block, found {len(found)}"
    return found[0]


def test_readme_links_the_alerting_doc():
    assert "(docs/alerting.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_yaml_and_json_block_parses():
    assert len(blocks("yaml")) == 5
    assert all(d is not None for d in yaml_docs())
    assert [json.loads(b) for b in blocks("json")]


def test_the_policy_block_is_the_documented_defaults():
    _, doc = find(lambda d: isinstance(d, dict) and "auto_risks" in d)
    policy = Policy.model_validate(doc)
    defaults = Policy()
    for field in Policy.model_fields:
        if field not in ("maintenance_windows", "source"):
            assert getattr(policy, field) == getattr(defaults, field), field
    assert [w.describe() for w in policy.maintenance_windows] == ["sat,sun 01:00-05:00 UTC"]


def test_the_auth_file_block_loads(tmp_path):
    path = tmp_path / "serve-auth.yml"
    path.write_text(find(lambda d: isinstance(d, dict) and "tokens" in d)[0])
    path.chmod(0o600)
    tokens, secrets = load_auth(path)
    assert sorted(tokens.values()) == ["alertmanager", "alice"] and list(secrets) == ["logicapp"]


def test_the_alertmanager_receiver_sends_the_bearer_token_and_resolutions():
    _, doc = find(lambda d: isinstance(d, dict) and "receivers" in d)
    [hook] = doc["receivers"][0]["webhook_configs"]
    assert hook["url"].endswith("/alerts") and hook["send_resolved"] is True
    assert hook["http_config"]["authorization"]["type"] == "Bearer"
    assert doc["route"]["receiver"] == doc["receivers"][0]["name"]


def test_the_eda_rulebook_and_its_playbook_call_remediate_alert_stdin():
    [rulebook] = find(lambda d: isinstance(d, list) and "sources" in d[0])[1]
    webhook = rulebook["sources"][0]["ansible.eda.webhook"]
    assert webhook["host"] == "127.0.0.1" and "token" in webhook
    playbook_name = rulebook["rules"][0]["action"]["run_playbook"]["name"]
    [play] = find(lambda d: isinstance(d, list) and "tasks" in d[0])[1]
    [task] = play["tasks"]
    assert task["ansible.builtin.command"]["argv"] == ["remediate", "--alert", "-", "--json"]
    assert "ansible_eda.event.payload" in task["ansible.builtin.command"]["stdin"]
    assert playbook_name.endswith("remediate_alert.yml")


def test_the_shell_blocks_are_valid_bash():
    for block in blocks("bash"):
        res = subprocess.run(["bash", "-n"], input=block, capture_output=True, text=True, check=False)
        assert res.returncode == 0, res.stderr


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_the_documented_hmac_line_signs_like_the_server(tmp_path):
    [line] = [ln.strip() for b in blocks("bash") for ln in b.splitlines() if ln.strip().startswith("sig=")]
    body = b'{"code": "ExtensionFailedVssWriterInBadState", "host": "vm1"}\n'  # a file ends with a newline
    (tmp_path / "alert.json").write_bytes(body)
    script = f"t=1767225600\nSECRET=logicapp-secret-0123456789\n{line}\nprintf 't=%s,v1=%s' \"$t\" \"$sig\"\n"
    res = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert res.stdout == sign(b"logicapp-secret-0123456789", body, 1767225600)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_systemd_unit_verifies(tmp_path):
    [unit] = blocks("ini")
    script = Path(sys.executable).parent / "remediate"
    assert "ExecStart=/opt/azure-backup-remediate/.venv/bin/remediate serve" in unit
    path = tmp_path / "remediate-serve.service"
    path.write_text(unit.replace("/opt/azure-backup-remediate/.venv/bin/remediate", str(script)))
    res = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True, check=False)
    problems = [ln for ln in (res.stdout + res.stderr).splitlines() if path.name in ln]
    assert res.returncode == 0 and not problems, res.stdout + res.stderr
