"""bench.fleet --write-scenario writes the fleet the benchmark runs, `--module-seconds` included."""

from __future__ import annotations

from pathlib import Path

import yaml

from bench.fleet import main


def test_write_scenario_keeps_the_module_seconds(tmp_path: Path) -> None:
    path = tmp_path / "fleet.yml"
    assert main(["--write-scenario", str(path), "--windows", "2", "--linux", "1", "--module-seconds", "2"]) == 0
    text = path.read_text()
    assert "--module-seconds 2`" in text.splitlines()[0]
    hosts = yaml.safe_load(text)["hosts"]
    assert [h.get("faults") for h in hosts.values()] == [{"delay_seconds": 2.0}, {"delay_seconds": 2.0}, None]


def test_write_scenario_without_module_seconds_has_no_fault(tmp_path: Path) -> None:
    path = tmp_path / "fleet.yml"
    assert main(["--write-scenario", str(path), "--windows", "1", "--linux", "1"]) == 0
    assert "module-seconds" not in path.read_text()
    assert all("faults" not in h for h in yaml.safe_load(path.read_text())["hosts"].values())
