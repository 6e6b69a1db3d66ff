"""Benchmarks for the lead dashboard (issue 7): recomputing every figure, and keypresses on
the queue side while the dashboard keeps refreshing.

Usage:  .venv/bin/python bench/stats.py --data-dir DIR --workspace NAME [--runs 20]
                                         [--presses 300] [--refresh 0.5] [--days-back N]

Builds nothing: make the workspace first (`csconsole demo --tickets 1000000 -w demo-1m`).
"Now" is frozen at the newest update in the cache plus a minute, so the time windows
(today, 7 days, 24 hours) hold what a console would see right after a sync; --days-back
moves it earlier, which keeps the cache and shrinks the windows.

Opening the cache migrates it to the current schema first (V3 adds the dashboard's
indexes: about ten seconds on a million tickets, once). Keypresses are measured as
bench/ui.py does: a fresh headless child per run, key posted, time to the next frame
Textual produces, 30 ms apart.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r'''
import asyncio, json, os, sys, time
from textual import events
from csconsole import clock, paths, stats
from csconsole.workspace import Workspace
from csconsole.app import CSConsole
from csconsole.widgets.ticket_list import TicketList

mode, presses = sys.argv[1], int(sys.argv[2])
clock.freeze(int(os.environ["BENCH_NOW"]))
rounds = []
real = stats.compute
def timed(*args, **kwargs):
    start = time.perf_counter()
    try:
        return real(*args, **kwargs)
    finally:
        rounds.append((start, time.perf_counter()))
stats.compute = timed
ws = Workspace.load(paths.resolve(None, os.environ["CSCONSOLE_DATA_DIR"]), os.environ["BENCH_WS"])
app = CSConsole(ws, sync=False, start_dashboard=mode == "dashboard")
frames = []
original = app._display
def display(screen, renderable):
    frames.append(time.perf_counter())
    return original(screen, renderable)
app._display = display

async def frame_after(t):
    while not frames or frames[-1] < t:
        await asyncio.sleep(0.0005)
    return next(f for f in frames if f >= t)

async def main():
    async with app.run_test(size=(200, 50)) as pilot:
        deadline = time.perf_counter() + 120
        while True:
            try:
                tl = app.screen.query_one(TicketList)
                if tl.count is not None and tl.current is not None and (mode == "queue" or rounds):
                    break
            except Exception:
                pass
            if time.perf_counter() > deadline:
                raise SystemExit("timeout")
            await asyncio.sleep(0.01)
        moved = []
        app.screen.watch(tl, "cursor", lambda _: moved.append(time.perf_counter()), init=False)
        keys = []
        for n in range(presses):
            await asyncio.sleep(0.03)
            t = time.perf_counter()
            app.post_message(events.Key("j", "j"))
            while len(moved) <= n:
                await asyncio.sleep(0.0005)
            keys.append((t, (await frame_after(moved[n])) - t))
        busy = [any(a <= t <= b for a, b in rounds) for t, _ in keys]
        print("BENCH " + json.dumps({"j_ms": [d * 1000 for _, d in keys], "during_round": busy,
                                     "rounds_ms": [(b - a) * 1000 for a, b in rounds]}))
asyncio.run(main())
'''


def frozen_now(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT max(updated_at) FROM ticket").fetchone()[0]) + 60
    finally:
        conn.close()


def figures(db: Path, now: int, runs: int) -> dict:
    """Every figure, ``runs`` times on one connection; the first run is reported apart."""
    from csconsole import stats
    from csconsole.store.db import connect

    conn = connect(db)
    times = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        result = stats.compute(conn, now=now)
        times.append((time.perf_counter() - started) * 1000)
    day = result.day_start
    windows = {
        "first replies today": conn.execute("SELECT count(*) FROM ticket WHERE first_response_at BETWEEN ? AND ?",
                                            (day, now)).fetchone()[0],
        "first replies 7 days": conn.execute("SELECT count(*) FROM ticket WHERE first_response_at BETWEEN ? AND ?",
                                             (now - 7 * 86400, now)).fetchone()[0],
        "solved today": conn.execute("SELECT count(*) FROM ticket WHERE solved_at BETWEEN ? AND ?", (day, now)).fetchone()[0],
        "solved 7 days": conn.execute("SELECT count(*) FROM ticket WHERE solved_at BETWEEN ? AND ?",
                                      (now - 7 * 86400, now)).fetchone()[0],
        "tickets": conn.execute("SELECT count(*) FROM ticket").fetchone()[0],
    }
    conn.close()
    return {"first": times[0], "warm": times[1:], "windows": windows}


def keys(mode: str, data_dir: Path, workspace: str, now: int, presses: int, refresh: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.toml"
        config.write_text(f"[ui]\ndashboard_refresh = {refresh}\n", encoding="utf-8")
        env = {**os.environ, "TEXTUAL_FPS": "120", "CSCONSOLE_DATA_DIR": str(data_dir), "CSCONSOLE_CONFIG": str(config),
               "BENCH_WS": workspace, "BENCH_NOW": str(now)}
        out = subprocess.run([sys.executable, "-c", CHILD, mode, str(presses)], env=env, capture_output=True, text=True,
                             cwd=ROOT, timeout=900)
    for line in out.stdout.splitlines():
        if line.startswith("BENCH "):
            return json.loads(line[6:])
    raise SystemExit(f"child {mode} failed:\n{out.stderr[-3000:]}")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--workspace", "-w", required=True)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--presses", type=int, default=300)
    parser.add_argument("--refresh", type=float, default=0.5, help="dashboard_refresh for the keypress runs (s)")
    parser.add_argument("--days-back", type=int, default=0, help="freeze 'now' this many days before the newest update")
    args = parser.parse_args()
    data_dir = args.data_dir.resolve()
    db = data_dir / "workspaces" / f"{args.workspace}.sqlite"
    now = frozen_now(db) - args.days_back * 86400
    caches = [("schema V3", data_dir, db)]

    print(f"\nworkspace {args.workspace}, now frozen at {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(now))}\n")
    print(f"{'recompute every figure (ms)':40} {'first':>8} {'median':>8} {'p95':>8} {'max':>8}")
    for label, _, path in caches:
        result = figures(path, now, args.runs)
        warm = result["warm"]
        print(f"{label:40} {result['first']:8.1f} {statistics.median(warm):8.1f} {pct(warm, 0.95):8.1f} {max(warm):8.1f}")
    print("windows: " + ", ".join(f"{k} {v:,}" for k, v in result["windows"].items()))

    print(f"\n{'j keypress to frame (ms), ' + str(args.presses) + ' presses':52} {'median':>7} {'p99':>7} {'max':>7}"
          f"  rounds (median ms)")
    runs = [("queue screen (no dashboard)", "queue", caches[0][1])]
    runs += [(f"dashboard, {label}, refresh {args.refresh:g} s", "dashboard", folder) for label, folder, _ in caches]
    for label, mode, folder in runs:
        result = keys(mode, folder, args.workspace, now, args.presses, args.refresh)
        lat = result["j_ms"]
        busy = [ms for ms, during in zip(lat, result["during_round"]) if during]
        rounds = result["rounds_ms"]
        summary = f"{len(rounds)} ({statistics.median(rounds):.0f})" if rounds else "—"
        print(f"{label:52} {statistics.median(lat):7.1f} {pct(lat, 0.99):7.1f} {max(lat):7.1f}  {summary}")
        if busy:
            print(f"{'  … presses during a round (' + str(len(busy)) + ')':52} {statistics.median(busy):7.1f}"
                  f" {pct(busy, 0.99):7.1f} {max(busy):7.1f}")


if __name__ == "__main__":
    main()
