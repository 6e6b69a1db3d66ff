"""`csconsole stats [--json]`: the lead dashboard's figures, for a wallboard or a chat bot.

It reads the workspace cache as the last sync left it: keep the console or
`csconsole sync --watch` running, or run `csconsole sync` first. The JSON gives counts,
times in epoch seconds and durations in seconds (csconsole/stats.py says what each figure
counts). Exit codes: 0 printed; 1 the workspace has no cache yet.
"""

from __future__ import annotations

import argparse
import time

from csconsole.cli import CliError, _common, load_workspace


def register(sub: argparse._SubParsersAction) -> None:
    stats = sub.add_parser("stats", help="queue health from the cache: backlog, SLA, per-agent load, approvals")
    _common(stats)
    stats.add_argument("--json", action="store_true", help="print JSON (times in epoch seconds, durations in seconds)")
    stats.set_defaults(handler=cmd_stats)


def cmd_stats(args: argparse.Namespace) -> int:
    from csconsole import stats

    workspace = load_workspace(args)
    if not workspace.db_path.exists():
        raise CliError(f"workspace {workspace.name!r} has no cache yet: run `csconsole sync` first")
    conn = workspace.open_cache()
    try:
        figures = stats.compute(conn, soon_seconds=workspace.config.ui.sla_soon_minutes * 60)
    finally:
        conn.close()
    print(figures.to_json() if args.json else report(figures, workspace.name))
    return 0


def report(s, workspace: str) -> str:
    """The figures as a plain-text page (names and reasons cleaned of terminal escapes)."""
    from csconsole import clock, stats
    from csconsole.text import clean_line

    def counts(figures: dict[str, int]) -> str:
        return " · ".join(f"{name} {n:,}" for name, n in figures.items())

    def median(seconds: float | None) -> str:
        return "—" if seconds is None else clock.duration(int(seconds))

    top = max(*s.created_per_hour, *s.solved_per_hour, 1)
    lines = [
        f"Queue health · {clean_line(workspace, 40)} · {time.strftime('%Y-%m-%d %H:%M', time.localtime(s.at))}",
        f"Backlog          {s.backlog:>6,}  {counts(s.by_status)}",
        f"  by priority            {counts(s.by_priority)}",
        f"  by age                 {counts(s.by_age)}",
        f"SLA breached     {sum(s.sla_breached.values()):>6,}  {counts(s.sla_breached)}",
        f"SLA due in {clock.duration(s.soon_seconds):<5} {sum(s.sla_soon.values()):>6,}  {counts(s.sla_soon)}",
        f"Created, 24 h    {sum(s.created_per_hour):>6,}  {stats.bars(s.created_per_hour, top)}",
        f"Solved, 24 h     {sum(s.solved_per_hour):>6,}  {stats.bars(s.solved_per_hour, top)}",
        f"Median first reply       today {median(s.first_response.today)} · 7 days {median(s.first_response.week)}",
        f"Median resolution        today {median(s.resolution.today)} · 7 days {median(s.resolution.week)}",
        "",
        f"{'Agent':<24} {'Open':>6} {'Solved today':>13} {'First reply today':>18}  Last active",
    ]
    for a in s.agents:
        active = "—" if a.last_active is None else clock.age(s.at - a.last_active) + " ago"
        lines.append(f"{clean_line(a.name, 24):<24} {a.open:>6,} {a.solved_today:>13,} "
                     f"{median(a.first_response_today):>18}  {active}")
    lines.append(f"{'(unassigned)':<24} {s.unassigned:>6,}")
    lines += ["", f"Approvals waiting: {len(s.approvals)}"]
    lines += [f"  {stats.describe_approval(a)} · waiting {clock.age(s.at - a.requested_at)}" for a in s.approvals]
    return "\n".join(lines)
