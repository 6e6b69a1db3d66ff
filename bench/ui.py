"""UI benchmarks for issue 2: start-up, keypress latency, ticket open and memory.

Usage:  .venv/bin/python bench/ui.py --data-dir DIR --workspace NAME [--runs 5]

Builds nothing: make the workspaces first with `csconsole demo --tickets N -w NAME`.
Each figure is measured in a fresh child process (headless, in-process timers) and, for
start-up and memory, in a real terminal under tmux. Prints one table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

CHILD = r'''
import asyncio, json, os, resource, sys, time
T0 = float(os.environ["BENCH_T0"])
from textual import events
from csconsole import paths
from csconsole.workspace import Workspace
from csconsole.app import CSConsole
from csconsole.widgets.ticket_list import TicketList
from csconsole.screens.ticket import TicketScreen

mode = sys.argv[1]
ws = Workspace.load(paths.resolve(None, os.environ["CSCONSOLE_DATA_DIR"]), os.environ["BENCH_WS"])
app = CSConsole(ws, sync=mode == "open-fetch")
frames = []
original = app._display
def display(screen, renderable):
    frames.append(time.perf_counter())
    return original(screen, renderable)
app._display = display
out = {}

async def until(pilot, predicate, timeout=60):
    end = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > end:
            raise SystemExit("timeout")
        await asyncio.sleep(0.001)

async def frame_after(t):
    while not frames or frames[-1] < t:
        await asyncio.sleep(0.0005)
    return next(f for f in frames if f >= t)

async def main():
    async with app.run_test(size=(200, 50)) as pilot:
        tl = None
        def ready():
            nonlocal tl
            try:
                tl = app.screen.query_one(TicketList)
            except Exception:
                return False
            return tl.count is not None and tl.current is not None
        await until(pilot, ready)
        t_rows = time.perf_counter()
        painted = await frame_after(t_rows)
        out["first_queue_s"] = time.time() - (time.perf_counter() - painted) - T0
        if mode == "keys":
            lat = []
            for _ in range(200):
                await asyncio.sleep(0.03)
                t = time.perf_counter()
                app.post_message(events.Key("j", "j"))
                lat.append((await frame_after(t)) - t)
            out["j_ms"] = [x * 1000 for x in lat]
        if mode in ("open", "open-fetch"):
            tid = int(os.environ["BENCH_TICKET"])
            await asyncio.sleep(0.6)  # an agent reads the queue for a moment before opening
            t = time.perf_counter()
            app.open_ticket(tid)
            want = int(os.environ["BENCH_MESSAGES"])
            await until(pilot, lambda: isinstance(app.screen, TicketScreen) and len(app.screen.query(".message")) >= want)
            out["open_ms"] = ((await frame_after(time.perf_counter())) - t) * 1000
            app.pop_screen()
            await asyncio.sleep(0.3)
            t = time.perf_counter()
            app.open_ticket(tid)
            await until(pilot, lambda: isinstance(app.screen, TicketScreen) and app.screen.detail is not None
                        and app.screen.detail.id == tid)
            out["reopen_ms"] = ((await frame_after(time.perf_counter())) - t) * 1000
        out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
asyncio.run(main())
print("BENCH " + json.dumps(out))
'''


def child(mode: str, data_dir: str, workspace: str, extra: dict[str, str] | None = None) -> dict:
    env = {**os.environ, "TEXTUAL_FPS": "120", "CSCONSOLE_DATA_DIR": data_dir, "CSCONSOLE_CONFIG": str(Path(data_dir) / "none.toml"),
           "BENCH_WS": workspace, "BENCH_T0": repr(time.time()), **(extra or {})}
    out = subprocess.run([PYTHON, "-c", CHILD, mode], env=env, capture_output=True, text=True, cwd=ROOT, timeout=600)
    for line in out.stdout.splitlines():
        if line.startswith("BENCH "):
            return json.loads(line[6:])
    raise SystemExit(f"child {mode} failed:\n{out.stderr[-3000:]}")


def tmux_start(data_dir: str, workspace: str) -> tuple[float, float]:
    """Seconds from launch to the first painted queue rows in a real terminal, and VmHWM MB."""
    sock = f"bench{os.getpid()}-{time.monotonic_ns()}"
    tmux = ["tmux", "-L", sock, "-f", "/dev/null"]
    subprocess.run(tmux + ["new-session", "-d", "-s", "b", "-x", "200", "-y", "50", "sleep 600"], check=True)
    subprocess.run(tmux + ["set-option", "-t", "b", "status", "off"], check=True)
    env = f"env -i PATH={os.environ['PATH']} TERM=xterm-256color CSCONSOLE_DATA_DIR={data_dir} CSCONSOLE_CONFIG={data_dir}/none.toml"
    t0 = time.perf_counter()
    subprocess.run(tmux + ["respawn-pane", "-k", "-t", "b", f"{env} {PYTHON} -m csconsole -w {workspace}"], check=True)
    try:
        while True:
            screen = subprocess.run(tmux + ["capture-pane", "-p", "-t", "b"], capture_output=True, text=True).stdout
            if "tickets  ·  1/" in screen:
                elapsed = time.perf_counter() - t0
                break
            if time.perf_counter() - t0 > 60:
                raise SystemExit("the console never painted its queue:\n" + screen)
        for key in ["j"] * 30 + ["G", "g", "Enter"]:
            subprocess.run(tmux + ["send-keys", "-t", "b", key])
            time.sleep(0.03)
        time.sleep(1.5)
        pid = subprocess.run(tmux + ["display", "-p", "-t", "b", "#{pane_pid}"], capture_output=True, text=True).stdout.strip()
        children = subprocess.run(["pgrep", "-P", pid], capture_output=True, text=True).stdout.split() or [pid]
        hwm = 0.0
        for candidate in [pid, *children]:
            status = Path(f"/proc/{candidate}/status")
            if status.exists():
                for line in status.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        hwm = max(hwm, int(line.split()[1]) / 1024)
        return elapsed, hwm
    finally:
        subprocess.run(tmux + ["kill-server"], capture_output=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def long_thread_ticket(data_dir: str, workspace: str) -> tuple[int, int]:
    import sqlite3

    conn = sqlite3.connect(Path(data_dir) / "demo" / f"{workspace}-backend.sqlite")
    row = conn.execute("SELECT id, message_count FROM ticket WHERE message_count BETWEEN 28 AND 40 "
                       "ORDER BY abs(message_count - 30), id LIMIT 1").fetchone()
    return int(row[0]), int(row[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    data_dir = str(Path(args.data_dir).resolve())
    ticket, messages = long_thread_ticket(data_dir, args.workspace)

    starts = [child("start", data_dir, args.workspace)["first_queue_s"] for _ in range(args.runs)]
    keys = child("keys", data_dir, args.workspace)
    fetch = child("open-fetch", data_dir, args.workspace, {"BENCH_TICKET": str(ticket), "BENCH_MESSAGES": str(messages)})
    opens = [child("open", data_dir, args.workspace, {"BENCH_TICKET": str(ticket), "BENCH_MESSAGES": str(messages)})
             for _ in range(args.runs)]
    terminal = [tmux_start(data_dir, args.workspace) for _ in range(args.runs)]

    rows = [
        ("first painted queue, headless (s)", statistics.median(starts), min(starts), max(starts), "< 0.5"),
        ("first painted queue, tmux 200x50 (s)", statistics.median(t for t, _ in terminal),
         min(t for t, _ in terminal), max(t for t, _ in terminal), "< 0.5"),
        ("j keypress to frame, median (ms)", statistics.median(keys["j_ms"]), min(keys["j_ms"]), max(keys["j_ms"]), ""),
        ("j keypress to frame, p99 (ms)", pct(keys["j_ms"], 0.99), None, None, "< 15"),
        (f"open #{ticket} ({messages} msgs, cached), first open (ms)", statistics.median(o["open_ms"] for o in opens),
         min(o["open_ms"] for o in opens), max(o["open_ms"] for o in opens), "< 50"),
        (f"open #{ticket} again (ticket screen reused) (ms)", statistics.median(o["reopen_ms"] for o in opens),
         min(o["reopen_ms"] for o in opens), max(o["reopen_ms"] for o in opens), "< 50"),
        (f"open #{ticket} first time, thread fetched (ms)", fetch["open_ms"], None, None, ""),
        ("peak RSS, headless with 200 keypresses (MB)", keys["peak_rss_mb"], None, None, "< 250"),
        ("peak RSS, tmux after browsing (MB)", max(h for _, h in terminal), None, None, "< 250"),
    ]
    print(f"\nworkspace {args.workspace} ({args.runs} runs where a range is shown)\n")
    print(f"{'figure':52} {'median':>9} {'min':>9} {'max':>9}  aim")
    for name, median, low, high, aim in rows:
        fmt = lambda v: f"{v:9.3f}" if isinstance(v, float) and v < 10 else (f"{v:9.1f}" if v is not None else " " * 9)  # noqa: E731
        print(f"{name:52} {fmt(median)} {fmt(low)} {fmt(high)}  {aim}")


if __name__ == "__main__":
    main()
