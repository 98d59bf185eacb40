"""How long ``stegvis participant list`` takes as a whole process, and which imports it waits on.

Usage::

    PYTHONPATH=. .venv/bin/python bench/cli_startup.py [--runs 10] [--participants 5] [--keep DIR]

What it measures: the wall time of ``stegvis participant list`` from process start to exit, the
way a caseworker's shell or a script calls it: the installed console script next to this Python
(``.venv/bin/stegvis``), or ``python -m bot`` when there is none. The database is a temporary
SQLite file, created and filled with a few participants through the CLI itself before any timing,
and handed to each child in ``STEGVIS_DATABASE_URL``. One run first is not counted (it writes the
bytecode caches and warms the page cache), then ``--runs`` runs are timed and printed one by one,
with min / median / max. Target: median < 0.5 s.

Then ``python -X importtime -m bot participant list`` runs once, and the 15 imports with the most
cumulative time are printed (indented as nested), so a developer sees what to trim or defer.

The children import the code of this checkout (it is put first on PYTHONPATH, ahead of any
editable install), run in the temporary folder so no ``.env`` is picked up, and get no Telegram
or Stegvis settings from this environment but the database URL.

Cross-check from outside with public tools: ``--keep DIR`` leaves the filled database in DIR
and prints its URL; then, for example::

    export STEGVIS_DATABASE_URL=sqlite+aiosqlite:///DIR/cli.sqlite3 PYTHONPATH=$PWD
    for i in 1 2 3 4 5; do /usr/bin/time -f "%e s wall, %M KB peak" .venv/bin/stegvis participant list >/dev/null; done
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET = 0.5  # seconds, median
NAMES = ("Amina Yusuf", "Dawit Haile", "Farah Ahmadi", "Hodan Abdi", "Omid Karimi", "Selam Tesfay", "Yonas Bekele")
IMPORTTIME = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)$")


def stegvis_command() -> list[str]:
    script = Path(sys.executable).parent / "stegvis"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


def child_environment(database_url: str) -> dict[str, str]:
    # Nothing of this shell's Stegvis or Telegram settings: a token would make `participant add`
    # ask Telegram for the bot's name, and another database would be measured instead.
    env = {key: value for key, value in os.environ.items() if not key.startswith(("STEGVIS_", "TELEGRAM_"))}
    env["STEGVIS_DATABASE_URL"] = database_url
    env["TELEGRAM_BOT_USERNAME"] = "stegvis_bench_bot"  # invite links without asking Telegram
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH"))))
    return env


def run(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=False)


def fill(command: list[str], env: dict[str, str], cwd: Path, count: int) -> list[str]:
    """A caseworker and `count` participants, added through the CLI, so the database is one it made."""
    names = [NAMES[n % len(NAMES)] + ("" if n < len(NAMES) else f" {n}") for n in range(count)]
    steps = [["caseworker", "add", "--name", "Karin Lund"]]
    steps += [["participant", "add", "--name", name, "--caseworker", "1", "--language", "sv"] for name in names]
    for step in steps:
        done = run(command + step, env, cwd)
        if done.returncode != 0:
            sys.exit(f"cli_startup: `stegvis {' '.join(step)}` failed ({done.returncode}):\n{done.stderr}")
    return names


def imports(stderr: str) -> list[tuple[int, int, int, str]]:
    """(cumulative µs, self µs, nesting depth, module) of each import ``-X importtime`` reported."""
    rows = []
    for line in stderr.splitlines():
        found = IMPORTTIME.match(line)
        if found:
            rows.append((int(found[2]), int(found[1]), len(found[3]) // 2, found[4]))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs, after one that is not counted")
    parser.add_argument("--participants", type=int, default=5, help="participants in the database listed")
    parser.add_argument("--keep", metavar="DIR", type=Path, help="build the database in DIR and leave it there")
    args = parser.parse_args()
    if args.runs < 1 or args.participants < 1:
        parser.error("--runs and --participants must be at least 1")

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep.resolve() if args.keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        url = f"sqlite+aiosqlite:///{folder}/cli.sqlite3"
        env = child_environment(url)
        command = stegvis_command()
        where = run([sys.executable, "-c", "import bot.cli; print(bot.cli.__file__)"], env, Path(tmp)).stdout.strip()
        print(f"command:       {' '.join(command)} participant list")
        print(f"code measured: {where}")
        warnings = []
        if not Path(where).is_relative_to(REPO):
            warnings.append(f"WARNING: the child imports {where}, not this checkout ({REPO})")
        names = fill(command, env, Path(tmp), args.participants)
        print(f"database:      temporary SQLite file with {len(names)} participants" + (f" (kept: {url})" if args.keep else ""))

        listing = command + ["participant", "list"]
        run(listing, env, Path(tmp))  # not counted: bytecode caches, page cache
        seconds = []
        for number in range(1, args.runs + 1):
            started = time.perf_counter()
            done = run(listing, env, Path(tmp))
            seconds.append(time.perf_counter() - started)
            missing = [name for name in names if name not in done.stdout]
            if done.returncode != 0 or missing:
                warnings.append(f"WARNING: run {number} exited {done.returncode}, {len(missing)} participants missing from its list:\n{done.stderr}")
            print(f"run {number:2d}:        {seconds[-1]:.3f} s", flush=True)
        median = statistics.median(seconds)
        print(f"wall s:        min {min(seconds):.3f}  median {median:.3f}  max {max(seconds):.3f}  ({args.runs} runs)")
        print(f"target:        median < {TARGET} s: {'met' if median < TARGET else 'NOT met'} ({median:.3f} s)")

        traced = run([sys.executable, "-X", "importtime", "-m", "bot", "participant", "list"], env, Path(tmp))
        rows = imports(traced.stderr)
        total = sum(cumulative for cumulative, _, depth, _ in rows if depth == 0)
        print()
        print(f"python -X importtime -m bot participant list: {total / 1000:.0f} ms importing in all; the 15 slowest (cumulative):")
        print(f"  {'cumul ms':>8}  {'self ms':>7}  module")
        for cumulative, own, depth, module in sorted(rows, reverse=True)[:15]:
            print(f"  {cumulative / 1000:8.1f}  {own / 1000:7.1f}  {'  ' * depth}{module}")
        # Cumulative figures nest (a package holds its submodules); self time names the leaves.
        print("the 10 slowest by self time:")
        for cumulative, own, _, module in sorted(rows, key=lambda row: -row[1])[:10]:
            print(f"  {cumulative / 1000:8.1f}  {own / 1000:7.1f}  {module}")
        if traced.returncode != 0:
            warnings.append(f"WARNING: the importtime run exited {traced.returncode}:\n{traced.stderr[-2000:]}")

    if warnings:
        print()
        print("\n".join(warnings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
