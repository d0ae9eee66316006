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
from .version import version

SUBCOMMANDS = ("codes", "explain", "history", "lab", "serve", "plans", "plan")
# When several requests run (an alert group, several hosts), the worst exit code wins, in this order.
EXIT_SEVERITY = [ExitStatus.OK, ExitStatus.SKIPPED, ExitStatus.APPROVAL_REQUIRED, ExitStatus.MANUAL,
                 ExitStatus.UNKNOWN_CODE, ExitStatus.USAGE, ExitStatus.UNREACHABLE, ExitStatus.FAILED]


def worst_exit(codes: list[int]) -> int:
    return int(max(codes, key=lambda c: EXIT_SEVERITY.index(ExitStatus(c)))) if codes else int(ExitStatus.OK)


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
                epilog="Subcommands: codes, explain CODE, history, plans, plan show|reject PLAN_ID, serve, "
                       "lab up|down|status. "
                       "Exit codes: 0 ok, 1 failed, 2 usage, 3 unknown code, 4 manual, 5 approval required, "
                       "6 unreachable, 7 skipped by policy.")
    p.add_argument("--code", help="Azure Backup error code (or numeric alias, e.g. 320001)")
    p.add_argument("--host", help="inventory host or group, or a comma list")
    p.add_argument("--inventory", "-i", type=Path, help="Ansible inventory (default: $REMEDIATE_INVENTORY or "
                                                         "the lab's after `remediate lab up`)")
    p.add_argument("--alert", help="alert payload file (JSON), or - for stdin")
    p.add_argument("--approve", metavar="PLAN_ID", help="apply exactly an approved dry-run plan")
    p.add_argument("--approver", help="who approves (--approve; default $USER)")
    p.add_argument("--policy", type=Path, help="policy file (default: $REMEDIATE_POLICY, else "
                                               "$REMEDIATE_HOME/policy.yml, else built-in defaults)")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    p.add_argument("--dry-run", action="store_true", help="check mode with diff; store the plan for approval")
    p.add_argument("--yes", "-y", action="store_true", help="confirm medium/high-risk steps non-interactively")
    p.add_argument("--step", type=int, default=1, help="start the ladder at step N (1-based)")
    p.add_argument("--verify-backup", action="store_true",
                   help="after the fix, trigger an on-demand backup of the VM and wait for the job (Azure access)")
    p.add_argument("--verify-backup-timeout", type=int, default=1800, metavar="SECONDS")
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
        p.add_argument("--inventory", "-i", type=Path)
        p.add_argument("--policy", type=Path)
        p.add_argument("--workers", type=int, default=2)
        p.add_argument("--auth-file", type=Path, help="tokens and HMAC secrets (default: $REMEDIATE_AUTH_FILE, "
                                                        "else $REMEDIATE_HOME/serve-auth.yml; mode 0600)")
        p.add_argument("--on-interrupted", choices=("report", "retry"), default="report",
                       help="what to do at start-up with requests a killed server left running")
    elif name == "plans":
        p.add_argument("--status", default="pending",
                       choices=("pending", "approved", "applied", "rejected", "refused", "expired", "all"))
        p.add_argument("--limit", type=int, default=100)
    elif name == "plan":
        p.add_argument("action", choices=("show", "reject"))
        p.add_argument("plan_id")
        p.add_argument("--format", choices=("md", "json", "text"), default="text")
        p.add_argument("--approver", help="who rejects (default $USER)")
        p.add_argument("--reason")
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
                              "rollback": s.rollback.get(args.lang) if s.rollback else None,
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

            if not HOST_RE.fullmatch(args.host):
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

    def serve(self, args: argparse.Namespace) -> int:
        from .server import ServerConfig, run
        from .server.config import auth_path, load_auth

        if not 1 <= args.port <= 65535:
            raise UsageError(f"--port {args.port}: expected 1-65535")
        if not 1 <= args.workers <= 64:
            raise UsageError(f"--workers {args.workers}: expected 1-64")
        state = self.state()
        tokens, secrets = load_auth(auth_path(args.auth_file, self.env.environ, state))
        inventory = self._inventory_path(args)
        from .inventory import load_inventory

        load_inventory(inventory)  # refuse to start on an invalid inventory
        config = ServerConfig(state=state, inventory=inventory, policy=self._policy(args), tokens=tokens,
                              hmac_secrets=secrets, workers=args.workers, on_interrupted=args.on_interrupted)
        self.err.print(f"remediate serve on http://{args.host}:{args.port} ({len(tokens)} token(s), "
                       f"{len(secrets)} hmac key(s), {args.workers} worker(s), policy {config.policy.source})")
        run(config, args.host, args.port)
        return ExitStatus.OK

    # -- plans and approvals ---------------------------------------------------------------------------------
    def _actor(self, given: str | None) -> str:
        from .approvals import validate_actor

        return validate_actor(given or self.env.environ.get("USER") or self.env.environ.get("LOGNAME") or "unknown")

    def _policy(self, args: argparse.Namespace):  # type: ignore[no-untyped-def]
        from .policy import load_policy

        return load_policy(getattr(args, "policy", None), self.env.environ, self.state())

    def plans(self, args: argparse.Namespace) -> int:
        from .approvals import plan_summary
        from .render import print_plans
        from .store import Store

        rows = Store.open(self.state()).list_plans(None if args.status == "all" else args.status,
                                                   limit=max(1, min(args.limit, 1000)))
        if args.json:
            self.emit_json({"plans": [plan_summary(r) for r in rows], "count": len(rows)})
        else:
            print_plans(self.out, rows)
        return ExitStatus.OK

    def plan(self, args: argparse.Namespace) -> int:
        from .approvals import change_record, load_plan, plan_summary, reject
        from .catalog import load_catalog
        from .store import Store

        store = Store.open(self.state())
        if args.action == "reject":
            row = reject(store, args.plan_id, by=self._actor(args.approver), reason=args.reason)
            if args.json:
                self.emit_json(plan_summary(row))
            else:
                self.err.print(f"plan {row['id']} rejected by {row['decided_by']}")
            return ExitStatus.OK
        row = load_plan(store, args.plan_id)
        if args.json or args.format == "json":
            self.emit_json(plan_summary(row) | {"plan": row["plan"]})
        elif args.format == "md":
            self.env.stdout.write(change_record(row, load_catalog()))
        else:
            from .render import print_plan

            print_plan(self.out, row)
        return ExitStatus.OK

    def approve(self, args: argparse.Namespace) -> int:
        from . import approvals
        from .catalog import load_catalog
        from .store import Store

        cat = load_catalog()
        store = Store.open(self.state())
        approval = approvals.prepare(store, cat, args.approve, approver=self._actor(args.approver),
                                     policy=self._policy(args), lang=args.lang)
        try:
            outcome = self._engine(store, cat).execute(approval.request)
        except BaseException:
            store.decide_plan(approval.plan["id"], "pending", reason="approval interrupted; still pending",
                              only_if="approved")
            raise
        plan_status = approvals.finish(store, approval, outcome)
        doc = result_document(outcome, approval.request) | {"approved_plan": approval.plan["id"],
                                                             "approved_plan_status": plan_status,
                                                             "approver": approval.request.approver}
        self._emit_outcome(args, outcome, approval.request, doc)
        return outcome.exit_code

    # -- remediation ----------------------------------------------------------------------------------------
    def _inventory_path(self, args: argparse.Namespace) -> Path:
        if getattr(args, "inventory", None):
            return args.inventory
        if self.env.environ.get("REMEDIATE_INVENTORY"):
            return Path(self.env.environ["REMEDIATE_INVENTORY"])
        lab_inv = self.state() / "lab" / "inventory.yml"
        if lab_inv.exists():
            return lab_inv
        raise UsageError("no inventory: pass --inventory PATH, set REMEDIATE_INVENTORY, or start the lab with "
                         "`remediate lab up`")

    def _engine(self, store, cat):  # type: ignore[no-untyped-def]
        from .engine import Engine
        from .render import TerminalUI

        ui = TerminalUI(self.env.stderr, self.env.stdin, interactive=self.env.stdin_isatty)
        return Engine(cat, store, self.state(), ui)

    def remediate(self, args: argparse.Namespace) -> int:
        from .catalog import load_catalog, validate_code

        if args.version:
            self.env.stdout.write(f"remediate {version()}\n")
            return ExitStatus.OK
        given = [name for name, value in (("--code", args.code), ("--alert", args.alert), ("--approve", args.approve))
                 if value]
        if len(given) > 1:
            raise UsageError(f"remediate: {' and '.join(given)} cannot be combined")
        if args.approve:
            if args.host or args.dry_run or args.step != 1:
                raise UsageError("--approve applies exactly the stored plan: --host, --dry-run and --step do not apply")
            return self.approve(args)
        if args.alert:
            if args.host:
                raise UsageError("--alert takes the hosts from the alert: do not pass --host")
            return self.alert(args)
        if not args.code or not args.host:
            raise UsageError("remediate: --code and --host are required (or --alert FILE, --approve PLAN_ID, or a "
                             "subcommand: " + ", ".join(SUBCOMMANDS) + ")")
        if args.step < 1:
            raise UsageError("--step must be 1 or more")
        validate_code(args.code)
        from .ansible_run import prewarm

        prewarm()  # ansible-runner is imported while the catalog, the inventory and the store load
        cat = load_catalog()
        match = cat.lookup(args.code)
        if args.step > len(match.runbook.ladder):
            raise UsageError(f"--step {args.step}: runbook {match.runbook.id} has {len(match.runbook.ladder)} "
                             "steps")
        from .inventory import load_inventory

        inv = load_inventory(self._inventory_path(args), cache=self.state() / "cache")
        hosts = inv.resolve(args.host)
        check_platforms(match.runbook, hosts)
        from .engine import Request
        from .store import Store

        if not 60 <= args.verify_backup_timeout <= 86400:
            raise UsageError("--verify-backup-timeout: expected 60 to 86400 seconds")
        req = Request(runbook=match.runbook, code=match.code, hosts=hosts, inventory=inv, dry_run=args.dry_run,
                      assume_yes=args.yes, start_step=args.step, lang=args.lang, policy=self._policy(args),
                      requester=self.env.environ.get("USER") or self.env.environ.get("LOGNAME"),
                      verify_backup=args.verify_backup, verify_backup_timeout=args.verify_backup_timeout)
        outcome = self._engine(Store.open(self.state()), cat).execute(req)
        self._emit_outcome(args, outcome, req, result_document(outcome, req))
        return outcome.exit_code

    def _emit_outcome(self, args: argparse.Namespace, outcome, req, doc: dict) -> None:  # type: ignore[no-untyped-def]
        from .render import print_outcome

        if args.json:
            self.emit_json(doc)
        else:
            print_outcome(self.out, outcome, req.runbook, req.code)

    def alert(self, args: argparse.Namespace) -> int:
        from .alerts import AlertError, map_hosts, parse, resolve_codes
        from .catalog import load_catalog
        from .engine import Request
        from .inventory import load_inventory
        from .store import Store

        raw = self._read_alert(args.alert)
        cat = load_catalog()
        store = Store.open(self.state())
        requester = "alert"
        try:
            parsed = parse(raw, cat)
        except AlertError as exc:
            store.create_request(source="alert", code=None, runbook=None, hosts=[], mode="apply",
                                 requester=requester, status="rejected", result={"error": exc.message})
            raise
        inv = load_inventory(self._inventory_path(args), cache=self.state() / "cache")
        parsed = map_hosts(resolve_codes(parsed, cat, self.env.environ), inv)
        policy = self._policy(args)
        rows, codes = [], []
        for item in parsed:
            row = {"source": item.source, "alert_id": item.alert_id, "code": item.code, "host": item.host,
                   "vm": item.vm_name or item.resource_id, "status": None, "exit_code": 0}
            if item.status == "resolved":
                rid = store.create_request(source="alert", code=item.code, runbook=None,
                                           hosts=[item.host] if item.host else [], mode="ack", requester=requester,
                                           status="resolved", alert_id=item.alert_id, payload_kind=item.source,
                                           result={"message": "alert resolved: acknowledged, nothing run"})
                row |= {"status": "resolved", "request_id": rid, "message": "alert resolved: acknowledged, nothing run"}
                rows.append(row)
                codes.append(ExitStatus.OK)
                continue
            problem, status = item.problem, int(item.exit_status or ExitStatus.USAGE)
            match = None
            if not problem:
                match = cat.lookup(item.code)
                host = inv.hosts[item.host]
                try:
                    check_platforms(match.runbook, [host])
                except UsageError as exc:
                    problem, status = exc.message, int(ExitStatus.USAGE)
            if problem:
                rid = store.create_request(source="alert", code=item.code, runbook=None,
                                           hosts=[item.host] if item.host else [], mode="apply",
                                           requester=requester, status="rejected", alert_id=item.alert_id,
                                           payload_kind=item.source, result={"error": problem})
                row |= {"status": "rejected", "request_id": rid, "message": problem, "exit_code": status}
                self.err.print(f"remediate: alert {item.alert_id or ''} rejected: {problem}", markup=False)
                rows.append(row)
                codes.append(status)
                continue
            req = Request(runbook=match.runbook, code=match.code, hosts=[inv.hosts[item.host]], inventory=inv,
                          dry_run=args.dry_run, assume_yes=args.yes, lang=args.lang, policy=policy,
                          source="alert", requester=requester, alert_id=item.alert_id, payload_kind=item.source,
                          dedup_key=item.dedup_key(), verify_backup=args.verify_backup,
                          verify_backup_timeout=args.verify_backup_timeout)
            outcome = self._engine(store, cat).execute(req)
            if not args.json:
                from .render import print_outcome

                print_outcome(self.out, outcome, req.runbook, req.code)
            row |= {"status": outcome.status, "exit_code": int(outcome.exit_code), "request_id": outcome.request_id,
                    "plan_id": outcome.plan_id, "result": result_document(outcome, req)}
            rows.append(row)
            codes.append(outcome.exit_code)
        rc = worst_exit([int(c) for c in codes])
        if args.json:
            statuses = [r["status"] for r in rows]
            self.emit_json({"mode": "dry-run" if args.dry_run else "apply", "exit_code": rc,
                            "status": statuses[0] if len(set(statuses)) == 1 else "mixed",
                            "requests": rows, "count": len(rows)})
        return rc

    def _read_alert(self, source: str) -> bytes:
        from .alerts import MAX_PAYLOAD_BYTES

        if source == "-":
            data = self.env.stdin.read(MAX_PAYLOAD_BYTES + 1)
            raw = data.encode("utf-8", errors="surrogateescape") if isinstance(data, str) else data
        else:
            path = Path(source)
            try:
                if path.stat().st_size > MAX_PAYLOAD_BYTES:
                    raise UsageError(f"alert payload {source}: larger than {MAX_PAYLOAD_BYTES} bytes")
                raw = path.read_bytes()
            except OSError as exc:
                raise UsageError(f"cannot read alert payload {source}: {exc.strerror}") from exc
        if len(raw) > MAX_PAYLOAD_BYTES:
            raise UsageError(f"alert payload: larger than {MAX_PAYLOAD_BYTES} bytes")
        return raw


def check_platforms(runbook, hosts) -> None:  # type: ignore[no-untyped-def]
    for h in hosts:
        if not runbook.applies_to(h.platform):
            raise UsageError(f"runbook {runbook.id} is for {runbook.platform.value} hosts; {h.name} is {h.platform}")


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
                             "later_steps": h.later_steps, "guidance": h.guidance} for h in outcome.hosts},
        "diagnosis": {h.host: h.diagnosis for h in outcome.hosts},
        "plan_hash": outcome.plan_hash,
        "decisions": outcome.decisions,
        "steps": outcome.steps,
        "verification": {h.host: h.verification for h in outcome.hosts},
        "backup_verification": {h.host: h.backup for h in outcome.hosts if h.backup},
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
