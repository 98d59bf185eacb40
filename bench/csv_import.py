"""How long ``stegvis appointment import`` takes for a CSV file of 10,000 appointments, as a whole process.

Usage::

    PYTHONPATH=. .venv/bin/python bench/csv_import.py [--rows 10000] [--participants 20] [--runs 3] [--profile FILE]

What it measures: the wall time of ``stegvis appointment import FILE --json`` from process start
to exit, as a caseworker runs it: reading and checking every row, then booking them all with
their reminders and events in one transaction, on a temporary SQLite file. The database is made
by the CLI itself first (a caseworker and ``--participants`` participants); each run imports the
same file into a fresh copy of it, so every run books all the rows. One run first is not counted
(bytecode caches, page cache). The clock is frozen (STEGVIS_FROZEN_TIME) so the dates in the file
are always ahead. Target: under 3 s for 10,000 rows.

``--profile FILE`` runs the import once more under cProfile, writes FILE (pstats) and prints the
20 functions with the most cumulative time, so a developer sees where the time goes.
"""

from __future__ import annotations

import argparse
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from cli_startup import child_environment, fill, run, stegvis_command

TARGET = 3.0  # seconds, median, for 10,000 rows
NOW = "2026-12-01T10:00+01:00"
FIRST = datetime(2027, 1, 4, 8, 0)


def write_csv(path: Path, rows: int, participants: int) -> None:
    """`rows` appointments for participants 1..`participants`, each person's a week apart at most."""
    lines = ["participant_id,date,time,place,title,remind"]
    for n in range(rows):
        at = FIRST + timedelta(minutes=7 * (n // participants))
        lines.append(f"{n % participants + 1},{at:%Y-%m-%d},{at:%H:%M},Nygatan 19,Samtal med handläggare,")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--participants", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3, help="timed runs, after one that is not counted")
    parser.add_argument("--profile", metavar="FILE", help="one more import under cProfile: write FILE (pstats), print the top 20")
    args = parser.parse_args()
    if min(args.rows, args.participants, args.runs) < 1:
        parser.error("--rows, --participants and --runs must be at least 1")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        template = folder / "template.sqlite3"
        env = child_environment(f"sqlite+aiosqlite:///{template}")
        env["STEGVIS_FROZEN_TIME"] = NOW
        command = stegvis_command()
        fill(command, env, folder, args.participants)
        bookings = folder / "bookings.csv"
        write_csv(bookings, args.rows, args.participants)
        print(f"command:       {' '.join(command)} appointment import FILE --json")
        print(f"file:          {args.rows} rows for {args.participants} participants ({bookings.stat().st_size // 1024} KiB)")

        def one_import(n: int, prefix: list[str]) -> float:
            database = folder / f"run{n}.sqlite3"
            shutil.copyfile(template, database)
            env["STEGVIS_DATABASE_URL"] = f"sqlite+aiosqlite:///{database}"
            started = time.perf_counter()
            done = run(prefix + ["appointment", "import", str(bookings), "--json"], env, folder)
            took = time.perf_counter() - started
            if done.returncode != 0 or not done.stdout.startswith(f'{{"imported": {args.rows}'):
                sys.exit(f"csv_import: the import failed ({done.returncode}):\n{done.stdout[:500]}{done.stderr[-2000:]}")
            database.unlink()
            return took

        one_import(0, command)
        times = []
        for n in range(1, args.runs + 1):
            times.append(one_import(n, command))
            print(f"run {n:2d}:        {times[-1]:.3f} s")
        median = statistics.median(times)
        print(f"wall s:        min {min(times):.3f}  median {median:.3f}  max {max(times):.3f}  ({args.runs} runs)")
        if args.rows == 10_000:
            print(f"target:        median < {TARGET:g} s for 10,000 rows: {'met' if median < TARGET else 'NOT met'} ({median:.3f} s)")

        if args.profile:
            one_import(args.runs + 1, [sys.executable, "-m", "cProfile", "-o", str(Path(args.profile).resolve()), "-m", "bot"])
            print(f"\nprofile of one import (cProfile, main thread), written to {args.profile}:")
            pstats.Stats(args.profile).sort_stats("cumulative").print_stats(20)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
