"""The command line, in-process with an injected environment: catalog commands, exit codes, clean errors."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from orchestrator.cli import Environment, main


def run(*argv: str, home=None, stdin: str = "", tty: bool = False) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    environ = {"REMEDIATE_HOME": str(home)} if home else {}
    env = Environment(stdin=io.StringIO(stdin), stdout=out, stderr=err, stdin_isatty=tty, environ=environ)
    rc = main(list(argv), env)
    return rc, out.getvalue(), err.getvalue()


def test_codes_json_lists_every_code(tmp_path):
    rc, out, _ = run("codes", "--json", home=tmp_path)
    assert rc == 0
    doc = json.loads(out)
    codes = {row["code"] for row in doc["codes"]}
    assert {"ExtensionFailedVssWriterInBadState", "ResourceNotFound", "AzureVmOffline"} <= codes
    row = next(r for r in doc["codes"] if r["code"] == "AzureVmOffline")
    assert "380008" in row["aliases"]


def test_codes_human_table(tmp_path):
    rc, out, _ = run("codes", home=tmp_path)
    assert rc == 0
    assert "ExtensionFailedVssWriterInBadState" in out


def test_explain_in_french_shows_message_and_three_step_ladder(tmp_path):
    rc, out, _ = run("explain", "ExtensionFailedVssWriterInBadState", "--lang", "fr", home=tmp_path)
    assert rc == 0
    assert "enregistreurs VSS" in out  # the French message
    for risk in ("medium", "low", "never"):
        assert risk in out
    rc, out, _ = run("explain", "ExtensionFailedVssWriterInBadState", "--lang", "fr", "--json", home=tmp_path)
    doc = json.loads(out)
    assert doc["message"].startswith("L’opération de capture instantanée a échoué")
    assert [s["risk"] for s in doc["ladder"]] == ["medium", "low", "never"]
    assert [s["step"] for s in doc["ladder"]] == [1, 2, 3]


def test_explain_by_numeric_alias(tmp_path):
    rc, out, _ = run("explain", "320001", "--json", home=tmp_path)
    assert rc == 0
    assert json.loads(out)["code"] == "ResourceNotFound"


def _code_with_an_unwritten_playbook() -> str:
    """A code whose runbook names a playbook that later work writes (whichever is still unwritten)."""
    from orchestrator.catalog import load_catalog

    catalog = load_catalog()
    for code, runbook in catalog.codes():
        if any(view.pending_playbook for view in catalog.steps(runbook)):
            return code
    pytest.skip("every runbook's playbooks are written")


def test_explain_says_honestly_when_a_playbook_is_not_written(tmp_path):
    # a ladder may name playbooks that later work writes: they must not pass for automated
    code = _code_with_an_unwritten_playbook()
    rc, out, _ = run("explain", code, "--json", home=tmp_path)
    assert rc == 0
    pending = [s for s in json.loads(out)["ladder"] if s["kind"] == "automated" and not s["automated"]]
    assert pending and all(s["pending_playbook"] for s in pending)
    rc, out, _ = run("explain", code, home=tmp_path)
    assert "not yet automated" in out


def test_unknown_code_exit_3(tmp_path):
    rc, out, err = run("explain", "NoSuchErrorCode", home=tmp_path)
    assert rc == 3
    assert "unknown error code" in err
    rc, out, err = run("--code", "ExtensionFailedVssWriterInBadStat", "--host", "vm1", "--json", home=tmp_path)
    assert rc == 3
    doc = json.loads(out)
    assert doc["exit_code"] == 3 and "ExtensionFailedVssWriterInBadState" in doc["suggestions"]


@pytest.mark.parametrize("argv", [
    ["--code", "ExtensionFailedVssWriterInBadState"],  # no host
    ["--host", "vm1"],  # no code
    ["--bogus-flag"],
    ["--code", "Ext;rm -rf /", "--host", "vm1"],
    ["--code", "ExtensionFailedVssWriterInBadState", "--host", "vm1", "--step", "0"],
    ["history", "--host", "vm1;id"],
])
def test_usage_errors_exit_2_without_traceback(tmp_path, argv):
    rc, out, err = run(*argv, home=tmp_path)
    assert rc == 2
    assert "Traceback" not in err and err.startswith("remediate")


def test_no_inventory_is_a_clear_usage_error(tmp_path):
    rc, _, err = run("--code", "ExtensionFailedVssWriterInBadState", "--host", "vm1", home=tmp_path)
    assert rc == 2
    assert "no inventory" in err


def test_history_empty(tmp_path):
    rc, out, _ = run("history", "--json", home=tmp_path)
    assert rc == 0
    assert json.loads(out) == {"requests": [], "count": 0}


def test_catalog_commands_do_not_import_ansible():
    code = ("import sys, io; from orchestrator.cli import main, Environment;"
            "rc = main(['codes', '--json'], Environment(stdout=io.StringIO(), stderr=io.StringIO(),"
            " stdin=io.StringIO(), stdin_isatty=False, environ={'REMEDIATE_HOME': sys.argv[1]}));"
            "rc |= main(['explain', '380008'], Environment(stdout=io.StringIO(), stderr=io.StringIO(),"
            " stdin=io.StringIO(), stdin_isatty=False, environ={'REMEDIATE_HOME': sys.argv[1]}));"
            "assert rc == 0; assert not [m for m in sys.modules if m.startswith(('ansible', 'ansible_runner'))],"
            " 'ansible imported'")
    proc = subprocess.run([sys.executable, "-c", code, "/tmp"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_names_with_a_trailing_newline_are_refused(tmp_path):
    # `$` matches before a final newline: every shape check is a full match
    rc, _, err = run("explain", "ExtensionFailedVssWriterInBadState\n", home=tmp_path)
    assert rc == 2 and "invalid error code" in err
    rc, _, err = run("history", "--host", "vm1\n", home=tmp_path)
    assert rc == 2 and "invalid host name" in err
