"""`remediate lab up|down|status`: start the simulated hosts of a scenario and write their inventory.

The lab is for the demo and the tests only; production code paths never import it (only the `lab` subcommand).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import yaml

from orchestrator.errors import UsageError

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
DEFAULT_SCENARIO = SCENARIOS / "default.yml"
PLATFORMS = ("windows", "linux", "azure")  # azure: a VM known only to the control plane (no guest to reach)
GUESTS = ("windows", "linux")


def _backends() -> dict:
    from lab import azure, linux, windows

    return {"windows": windows, "linux": linux, "azure": azure}


def _azure_inventory(hosts: dict[str, dict], hostvars: dict[str, dict]) -> dict[str, dict]:
    """Host vars for `platform: azure` hosts: they run on the control node (their playbooks call ARM only)."""
    import sys

    return {name: {"remediate_platform": "azure", "ansible_connection": "local",
                   "ansible_python_interpreter": sys.executable} | hostvars[name]
            for name, spec in hosts.items() if spec["platform"] == "azure" and name in hostvars}


def load_scenario(path: Path | None, _depth: int = 0) -> dict[str, dict]:
    """A scenario file: `hosts: {name: {platform: windows|linux, ...}}`, optionally `include: [other.yml]`
    (relative to the file; their hosts come first, this file's hosts override them)."""
    path = path or DEFAULT_SCENARIO
    if not path.is_file() and (SCENARIOS / f"{path}").is_file():
        path = SCENARIOS / f"{path}"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read scenario {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"invalid scenario {path}: not valid YAML: {exc}") from exc
    included: dict[str, dict] = {}
    for inc in (data.get("include") or []) if isinstance(data, dict) else []:
        if _depth > 3:
            raise UsageError(f"invalid scenario {path}: field include: nested too deeply")
        included |= load_scenario(path.parent / str(inc), _depth + 1)
    hosts = (data.get("hosts") or {}) if isinstance(data, dict) else None
    if isinstance(hosts, dict):
        hosts = included | hosts
    if not isinstance(hosts, dict) or not hosts:
        raise UsageError(f"invalid scenario {path}: field hosts: expected a mapping of host name -> spec")
    for name, spec in hosts.items():
        if not isinstance(spec, dict) or spec.get("platform") not in PLATFORMS:
            raise UsageError(f"invalid scenario {path}: field hosts.{name}.platform: expected one of "
                             f"{', '.join(PLATFORMS)}")
    return hosts


def up(workdir: Path, scenario: Path | None = None) -> dict:
    """Start every host of the scenario; write workdir/inventory.yml. A lab already up is stopped first."""
    hosts = load_scenario(scenario)
    if workdir.exists():
        down(workdir)
    workdir.mkdir(parents=True, mode=0o700)
    backends = _backends()
    inventory: dict[str, dict] = {"all": {"children": {}}}
    started: list[str] = []
    try:
        for platform in GUESTS:  # a host's `azure:` section is for the ARM endpoint, not for its guest's lab
            group = {n: {k: v for k, v in s.items() if k != "azure"} for n, s in hosts.items()
                     if s["platform"] == platform}
            if not group:
                continue
            hostvars = backends[platform].start(group, workdir / platform)
            started.append(platform)
            inventory["all"]["children"][platform] = {"hosts": hostvars}
        azure_vars = backends["azure"].start(hosts, workdir / "azure")  # hosts with `azure:` or platform azure
        if azure_vars:
            started.append("azure")
            children = inventory["all"]["children"]
            for name, extra in azure_vars.items():
                if hosts[name]["platform"] in GUESTS:
                    children[hosts[name]["platform"]]["hosts"][name].update(extra)
            if any(s["platform"] == "azure" for s in hosts.values()):
                children["azure"] = {"hosts": _azure_inventory(hosts, azure_vars)}
    except Exception:
        for platform in started:
            backends[platform].stop(workdir / platform)
        raise
    path = workdir / "inventory.yml"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("# Written by `remediate lab up`: simulated hosts on loopback. Holds lab-only credentials.\n")
        yaml.safe_dump(inventory, fh, sort_keys=True)
    (workdir / "scenario.json").write_text(json.dumps({"scenario": str(scenario or DEFAULT_SCENARIO),
                                                       "hosts": {n: s["platform"] for n, s in hosts.items()}}))
    return {"inventory": str(path), "hosts": sorted(hosts), "scenario": str(scenario or DEFAULT_SCENARIO)}


def down(workdir: Path) -> None:
    backends = _backends()
    for platform in PLATFORMS:
        if (workdir / platform).exists():
            backends[platform].stop(workdir / platform)
    shutil.rmtree(workdir, ignore_errors=True)


def status(workdir: Path) -> dict:
    meta = workdir / "scenario.json"
    if not meta.exists():
        return {"lab": "down", "hosts": {}}
    info = json.loads(meta.read_text())
    backends = _backends()
    hosts: dict[str, dict] = {}
    for platform in GUESTS:
        if (workdir / platform).exists():
            for name, state in backends[platform].status(workdir / platform).items():
                hosts[name] = {"platform": platform} | state
    if (workdir / "azure").exists():  # the VM as Azure sees it, beside the guest's state
        for name, state in backends["azure"].status(workdir / "azure").items():
            hosts.setdefault(name, {"platform": info["hosts"].get(name, "azure")})["azure"] = state
    return {"lab": "up", "scenario": info["scenario"], "inventory": str(workdir / "inventory.yml"),
            "hosts": hosts}
