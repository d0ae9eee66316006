"""Human output: plan tables, live task lines, summaries. JSON output is built in cli.py."""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:  # types only: `remediate codes` and `explain` never import the engine, its store or Ansible's
    from .ansible_run import PlaybookRun, TaskResult
    from .catalog import Catalog, StepView
    from .engine import Outcome
    from .runbook import Runbook


def _add_row(table: Table, *cells: str) -> None:
    """Cells are plain text: brackets in task names, diffs or guidance are not rich markup."""
    table.add_row(*(escape(str(c)) for c in cells))


_STATUS_STYLE = {"ok": "green", "changed": "yellow", "failed": "red", "skipped": "dim", "unreachable": "red"}


class TerminalUI:
    """Progress on stderr (so --json keeps stdout clean); prompts read the injected stdin."""

    def __init__(self, stderr: IO[str], stdin: IO[str] | None, interactive: bool, quiet: bool = False) -> None:
        self.err = Console(file=stderr, highlight=False, soft_wrap=True)
        self.stdin = stdin
        self.interactive = interactive
        self.quiet = quiet

    def phase(self, host: str, label: str) -> None:
        self.err.print(f"[bold]{host}[/bold] ▸ {escape(label)}")

    def task(self, result: TaskResult) -> None:
        if result.action in ("ansible.builtin.debug", "debug") and result.status == "ok":
            return
        style = _STATUS_STYLE.get(result.status, "")
        item = f" [{result.item}]" if result.item else ""
        line = f"  [{style}]{result.status:>11}[/{style}]  {escape(result.task + item)}"
        if result.msg:
            line += f" — {escape(result.msg.splitlines()[0][:200])}"
        self.err.print(line, markup=True)

    def show_plan(self, host: str, step: StepView, run: PlaybookRun) -> None:
        table = Table(title=f"Plan for {host}: step {step.step.id} (risk {step.step.risk.value}, "
                            f"approval {step.step.approval_rule})", show_lines=True)
        table.add_column("task")
        table.add_column("would change")
        rows = [t for t in run.tasks if t.host == host and t.changed]
        for t in rows:
            _add_row(table, t.task + (f" [{t.item}]" if t.item else ""),
                     "\n".join(t.changes) or "(changed; the module reports no detail)")
        if not rows:
            _add_row(table, "(every task)", "nothing")
        self.err.print(table)
        if not step.step.idempotent:
            self.err.print("[yellow]note: this step is not idempotent: running it again repeats the change[/]")

    def confirm(self, question: str) -> bool | None:
        if not self.interactive or self.stdin is None:
            return None
        self.err.print(f"{question} [y/N] ", end="")
        answer = self.stdin.readline().strip().lower()
        return answer in ("y", "yes", "o", "oui")

    def note(self, text: str) -> None:
        self.err.print(f"[dim]{escape(text)}[/dim]")


def print_outcome(out: Console, outcome: Outcome, runbook: Runbook, code: str | None) -> None:
    table = Table(title=f"{code or runbook.id} — {runbook.title.en}")
    table.add_column("host")
    table.add_column("status")
    table.add_column("details")
    for h in outcome.hosts:
        _add_row(table, h.host, h.status, h.message)
    out.print(table)
    for h in outcome.hosts:
        summary = (h.diagnosis or {}).get("summary")
        verified = h.verification or {}
        if summary:
            out.print(f"[bold]{h.host}[/bold] diagnosis{' (before)' if verified else ''}: {escape(str(summary))}")
        if verified.get("summary"):
            out.print(f"[bold]{h.host}[/bold] verification after {verified.get('step')} ({verified.get('state')}): "
                      f"{escape(str(verified['summary']))}")
    for h in outcome.hosts:
        for later in h.later_steps:
            if later.get("automated"):
                out.print(f"[bold]{h.host}[/bold] then, if needed, step {later['step']} ({later['id']}, risk "
                          f"{later['risk']}): {escape(later.get('changes') or later['title'])}")
        for g in h.guidance:
            out.print(f"[bold]{h.host}[/bold] step {g['step']} ({g['id']}, manual): {escape(g['title'])}\n"
                      f"  {escape(g['guidance'])}")
    for d in outcome.decisions:
        if d["outcome"] in ("skip", "refuse"):
            out.print(f"policy ({d['rule']}): {escape(d['reason'])}")
    if outcome.plan_id:
        out.print(f"plan id: {outcome.plan_id}  (review: remediate plan show {outcome.plan_id} --format md; "
                  f"apply: remediate --approve {outcome.plan_id})")
    out.print(f"request id: {outcome.request_id}")


def print_plans(out: Console, rows: list[dict]) -> None:
    if not rows:
        out.print("no plans")
        return
    table = Table(show_header=True, header_style="bold")
    for col in ("plan", "status", "code", "hosts", "risk", "requester", "expires (UTC)"):
        table.add_column(col)
    for r in rows:
        _add_row(table, r["id"], r["status"], r.get("code") or r["runbook"], ",".join(r["hosts"]),
                 r.get("max_risk") or "-", r.get("requester") or "-", f"{r['expires_at']:%Y-%m-%d %H:%M}")
    out.print(table)


def print_plan(out: Console, row: dict) -> None:
    body = row["plan"]
    out.print(f"[bold]plan {row['id']}[/bold] ({escape(row['status'])}) — {escape(row.get('code') or row['runbook'])}"
              f" on {escape(', '.join(row['hosts']))}; expires {row['expires_at']:%Y-%m-%d %H:%M} UTC")
    for host, data in body.get("hosts", {}).items():
        summary = (data.get("diagnosis") or {}).get("summary") or ""
        out.print(f"[bold]{escape(host)}[/bold]: {escape(summary)}")
        for step in data.get("steps", []):
            out.print(f"  step {step['step']} {escape(step['id'])} (risk {step['risk']}): "
                      f"{escape(step.get('changes') or '')}")
            for task in step.get("would_change", []):
                for line in task.get("changes") or [task["name"]]:
                    out.print(f"    {escape(line)}")


def print_codes(out: Console, catalog: Catalog) -> None:
    table = Table(show_header=True, header_style="bold")
    for col in ("code", "aliases", "platform", "runbook", "automated", "title"):
        table.add_column(col)
    for code, rb in catalog.codes():
        entry = next(e for e in rb.codes if e.code == code)
        views = catalog.steps(rb)
        auto = sum(1 for v in views if v.automated)
        _add_row(table, code, ",".join(entry.aliases), rb.platform.value, rb.id, f"{auto}/{len(views)}", rb.title.en)
    out.print(table)


def print_explain(out: Console, catalog: Catalog, rb: Runbook, code: str | None, lang: str) -> None:
    out.print(f"[bold]{rb.title.get(lang)}[/bold]")
    entry = next((e for e in rb.codes if e.code == code), None)
    codes = ", ".join(e.code + (f" ({', '.join(e.aliases)})" if e.aliases else "") for e in rb.codes)
    out.print(("Codes : " if lang == "fr" else "Codes: ") + (codes or "-"))
    if entry and entry.message:
        out.print(("Message d’erreur : " if lang == "fr" else "Error message: ") + entry.message.get(lang))
    out.print(("Plateforme : " if lang == "fr" else "Platform: ") + rb.platform.value)
    out.print(("Source : " if lang == "fr" else "Source: ") + f"{rb.source.article}#{rb.source.section}")
    out.print(("Cause : " if lang == "fr" else "Cause: ") + rb.cause.get(lang))
    if rb.diagnose:
        out.print(("Diagnostic : " if lang == "fr" else "Diagnose: ")
                  + ", ".join(f"{p.value}: {pb}" for p, pb in rb.diagnose.items()))
    table = Table(show_lines=True)
    for col in ("#", "step", "risk", "approval", "how", "what"):
        table.add_column(col)
    for idx, view in enumerate(catalog.steps(rb), start=1):
        s = view.step
        if view.automated:
            how = f"automated: {s.playbook}"
        elif view.pending_playbook:
            how = (f"manuel — pas encore automatisé ({s.playbook} à écrire)" if lang == "fr"
                   else f"manual — not yet automated ({s.playbook} not written)")
        else:
            how = "manuel" if lang == "fr" else "manual"
        what = s.changes.get(lang) if s.changes else ""
        if s.guidance:
            what = (what + "\n" if what else "") + s.guidance.get(lang)
        approval = s.approval_rule if s.kind == "automated" else "-"
        _add_row(table, str(idx), s.title.get(lang), s.risk.value, approval, how, what)
    out.print(table)


def print_history(out: Console, rows: list[dict]) -> None:
    table = Table()
    for col in ("when (UTC)", "request", "code", "hosts", "mode", "status", "exit", "steps"):
        table.add_column(col)
    for r in rows:
        _add_row(table, f"{r['created_at']:%Y-%m-%d %H:%M:%S}", r["id"][:8], r["code"] or "-",
                      ",".join(r["hosts"] or []), r["mode"], r["status"], str(r["exit_code"]),
                      str(len(r["steps"])))
    out.print(table)
