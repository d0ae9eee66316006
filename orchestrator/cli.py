"""The `remediate` command line. Exceptions map to exit codes here and only here; tracebacks only with --debug.

The environment (streams, terminal or not, variables) is injected, so tests drive the real command in-process.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from .errors import ExitStatus, RemediateError, UsageError

SUBCOMMANDS = ("codes", "explain", "history", "lab", "serve")


@dataclass
class Environment:
    stdin: IO[str] = field(default_factory=lambda: sys.stdin)
    stdout: IO[str] = field(default_factory=lambda: sys.stdout)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)
    stdin_isatty: bool = field(default_factory=lambda: sys.stdin.isatty() if sys.stdin else False)
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def _main_parser() -> _Parser:
    p = _Parser(prog="remediate", description="Fix Azure VM Backup failures by error code, with Ansible.",
                epilog="Subcommands: codes, explain CODE, history, lab up|down|status. "
                       "Exit codes: 0 ok, 1 failed, 2 usage, 3 unknown code, 4 manual, 5 approval required, "
                       "6 unreachable, 7 skipped by policy.")
    p.add_argument("--code", help="Azure Backup error code (or numeric alias, e.g. 320001)")
    p.add_argument("--host", help="inventory host or group, or a comma list")
    p.add_argument("--inventory", "-i", type=Path, help="Ansible inventory (default: $REMEDIATE_INVENTORY or "
                                                         "the lab's after `remediate lab up`)")
    p.add_argument("--alert", help="alert payload file, or - for stdin")
    p.add_argument("--approve", metavar="PLAN_ID", help="apply exactly an approved dry-run plan")
    p.add_argument("--dry-run", action="store_true", help="check mode with diff; store the plan for approval")
    p.add_argument("--yes", "-y", action="store_true", help="confirm medium/high-risk steps non-interactively")
    p.add_argument("--step", type=int, default=1, help="start the ladder at step N (1-based)")
    p.add_argument("--json", action="store_true", help="one JSON document on stdout; logs on stderr")
    p.add_argument("--lang", choices=("en", "fr"), default="en")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def _sub_parser(name: str) -> _Parser:
    p = _Parser(prog=f"remediate {name}")
    p.add_argument("--json", action="store_true")
    p.add_argument("--debug", action="store_true")
    if name == "explain":
        p.add_argument("code")
        p.add_argument("--lang", choices=("en", "fr"), default="en")
    elif name == "history":
        p.add_argument("--host")
        p.add_argument("--limit", type=int, default=50)
    elif name == "lab":
        p.add_argument("action", choices=("up", "down", "status"))
        p.add_argument("--scenario", type=Path)
    elif name == "serve":
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8080)
    return p


class App:
    def __init__(self, env: Environment) -> None:
        from rich.console import Console

        self.env = env
        self.out = Console(file=env.stdout, highlight=False, soft_wrap=True, width=160)
        self.err = Console(file=env.stderr, highlight=False, soft_wrap=True)

    def emit_json(self, doc: object) -> None:
        self.env.stdout.write(json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n")

    def state(self) -> Path:
        from .paths import state_dir

        return state_dir(self.env.environ)

    # -- catalog commands -----------------------------------------------------------------------------------
    def codes(self, args: argparse.Namespace) -> int:
        from .catalog import load_catalog
        from .render import print_codes

        cat = load_catalog()
        if args.json:
            rows = []
            for code, rb in cat.codes():
                entry = next(e for e in rb.codes if e.code == code)
                views = cat.steps(rb)
                rows.append({"code": code, "aliases": entry.aliases, "runbook": rb.id,
                             "platform": rb.platform.value, "title": rb.title.en,
                             "message": entry.message.en if entry.message else None,
                             "steps": len(views), "automated_steps": sum(1 for v in views if v.automated)})
            self.emit_json({"codes": rows, "count": len(rows)})
        else:
            print_codes(self.out, cat)
        return ExitStatus.OK

    def explain(self, args: argparse.Namespace) -> int:
        from .catalog import load_catalog
        from .render import print_explain

        cat = load_catalog()
        match = cat.lookup(args.code)
        rb = match.runbook
        if args.json:
            steps = []
            for idx, v in enumerate(cat.steps(rb), start=1):
                s = v.step
                steps.append({"step": idx, "id": s.id, "title": s.title.get(args.lang), "kind": s.kind,
                              "automated": v.automated, "pending_playbook": v.pending_playbook,
                              "risk": s.risk.value, "approval": s.approval_rule if s.kind == "automated" else None,
                              "platform": rb.step_platform(s).value, "playbook": s.playbook, "vars": s.vars,
                              "changes": s.changes.get(args.lang) if s.changes else None,
                              "guidance": s.guidance.get(args.lang) if s.guidance else None,
                              "idempotent": s.idempotent})
            entry = next((e for e in rb.codes if e.code == match.code), None)
            self.emit_json({
                "code": match.code, "runbook": rb.id, "lang": args.lang, "title": rb.title.get(args.lang),
                "message": entry.message.get(args.lang) if entry and entry.message else None,
                "codes": [e.code for e in rb.codes], "platform": rb.platform.value,
                "source": rb.source.model_dump(), "cause": rb.cause.get(args.lang),
                "diagnose": {p.value: pb for p, pb in rb.diagnose.items()}, "ladder": steps})
        else:
            print_explain(self.out, cat, rb, match.code, args.lang)
        return ExitStatus.OK

    def history(self, args: argparse.Namespace) -> int:
        from .render import print_history
        from .store import Store

        if args.host:
            from .inventory import HOST_RE

            if not HOST_RE.match(args.host):
                raise UsageError(f"invalid host name {args.host[:80]!r}")
        rows = Store.open(self.state()).history(host=args.host, limit=max(1, min(args.limit, 1000)))
        if args.json:
            self.emit_json({"requests": rows, "count": len(rows)})
        else:
            print_history(self.out, rows)
        return ExitStatus.OK

    def lab(self, args: argparse.Namespace) -> int:
        from lab import manager

        workdir = self.state() / "lab"
        if args.action == "up":
            info = manager.up(workdir, args.scenario)
            if args.json:
                self.emit_json(info)
            else:
                self.err.print(f"lab is up: {', '.join(info['hosts'])}")
                self.out.print(info["inventory"])
            return ExitStatus.OK
        if args.action == "down":
            manager.down(workdir)
            if args.json:
                self.emit_json({"lab": "down"})
            else:
                self.err.print("lab is down")
            return ExitStatus.OK
        self.emit_json(manager.status(workdir))
        return ExitStatus.OK

    # -- remediation ----------------------------------------------------------------------------------------
    def _inventory_path(self, args: argparse.Namespace) -> Path:
        if args.inventory:
            return args.inventory
        if self.env.environ.get("REMEDIATE_INVENTORY"):
            return Path(self.env.environ["REMEDIATE_INVENTORY"])
        lab_inv = self.state() / "lab" / "inventory.yml"
        if lab_inv.exists():
            return lab_inv
        raise UsageError("no inventory: pass --inventory PATH, set REMEDIATE_INVENTORY, or start the lab with "
                         "`remediate lab up`")

    def remediate(self, args: argparse.Namespace) -> int:
        from .catalog import load_catalog, validate_code

        if args.alert or args.approve:
            raise UsageError("--alert and --approve are not available yet in this version; use --code/--host")
        if not args.code or not args.host:
            raise UsageError("remediate: --code and --host are required (or a subcommand: "
                             + ", ".join(SUBCOMMANDS) + ")")
        if args.step < 1:
            raise UsageError("--step must be 1 or more")
        validate_code(args.code)
        cat = load_catalog()
        match = cat.lookup(args.code)
        if args.step > len(match.runbook.ladder):
            raise UsageError(f"--step {args.step}: runbook {match.runbook.id} has {len(match.runbook.ladder)} "
                             "steps")
        from .inventory import load_inventory

        inv = load_inventory(self._inventory_path(args))
        hosts = inv.resolve(args.host)
        rb = match.runbook
        for h in hosts:
            if rb.platform.value not in ("any", h.platform) and not any(
                    rb.step_platform(s).value == h.platform for s in rb.ladder):
                raise UsageError(f"runbook {rb.id} is for {rb.platform.value} hosts; {h.name} is {h.platform}")
        return self._execute(args, cat, match, inv, hosts)

    def _execute(self, args, cat, match, inv, hosts) -> int:  # type: ignore[no-untyped-def]
        from .engine import Engine, Request
        from .render import TerminalUI, print_outcome
        from .store import Store

        state = self.state()
        ui = TerminalUI(self.env.stderr, self.env.stdin, interactive=self.env.stdin_isatty)
        engine = Engine(cat, Store.open(state), state, ui)
        req = Request(runbook=match.runbook, code=match.code, hosts=hosts, inventory=inv, dry_run=args.dry_run,
                      assume_yes=args.yes, start_step=args.step, lang=args.lang,
                      requester=self.env.environ.get("USER") or self.env.environ.get("LOGNAME"))
        outcome = engine.execute(req)
        if args.json:
            self.emit_json(result_document(outcome, req))
        else:
            print_outcome(self.out, outcome, match.runbook, match.code)
        return outcome.exit_code


def result_document(outcome, req) -> dict:  # type: ignore[no-untyped-def]
    """The JSON result of a remediation (DESIGN.md "JSON result")."""
    return {
        "code": req.code,
        "runbook": req.runbook.id,
        "hosts": [h.name for h in req.hosts],
        "mode": "dry-run" if req.dry_run else "apply",
        "status": outcome.status,
        "exit_code": int(outcome.exit_code),
        "request_id": outcome.request_id,
        "plan_id": outcome.plan_id,
        "results": {h.host: {"status": h.status, "message": h.message, "plan": h.plan,
                             "guidance": h.guidance} for h in outcome.hosts},
        "diagnosis": {h.host: h.diagnosis for h in outcome.hosts},
        "steps": outcome.steps,
        "verification": {h.host: h.verification for h in outcome.hosts},
        "guidance": [g | {"host": h.host} for h in outcome.hosts for g in h.guidance],
        "artifacts": outcome.artifacts,
    }


def main(argv: list[str] | None = None, env: Environment | None = None) -> int:
    env = env or Environment()
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    json_mode = "--json" in argv
    try:
        app = App(env)
        if argv and argv[0] in SUBCOMMANDS:
            name = argv[0]
            args = _sub_parser(name).parse_args(argv[1:])
            if name == "serve":
                raise UsageError("remediate serve is not available yet in this version")
            return int(getattr(app, name)(args))
        return int(app.remediate(_main_parser().parse_args(argv)))
    except RemediateError as exc:
        if debug:
            traceback.print_exc(file=env.stderr)
        if json_mode:
            doc = {"status": "error", "exit_code": int(exc.status), "error": exc.message}
            doc |= {k: v for k, v in exc.details.items() if isinstance(v, (str, int, list))}
            env.stdout.write(json.dumps(doc, indent=2) + "\n")
        env.stderr.write(f"remediate: {exc.message}\n")
        return int(exc.status)
    except KeyboardInterrupt:
        env.stderr.write("remediate: interrupted; the running playbook was cancelled\n")
        return 130
    except SystemExit as exc:  # argparse --help
        return int(exc.code or 0)
    except Exception as exc:  # noqa: BLE001 - last resort: one line, traceback only with --debug
        if debug:
            traceback.print_exc(file=env.stderr)
        env.stderr.write(f"remediate: internal error: {type(exc).__name__}: {exc} (use --debug for details)\n")
        return int(ExitStatus.FAILED)


if __name__ == "__main__":
    sys.exit(main())
