"""How long a running bot takes to notice and load a published flow, and what a poll costs when nothing changed.

Usage::

    PYTHONPATH=. .venv/bin/python bench/flow_reload.py [--versions 200] [--runs 20]

A temporary SQLite database gets ``--versions`` published versions of the onboarding flow (each
a real publish: checked, stored, the live-content counter raised). Then, in this process, with
the bot's own objects (``bot/live_reload.py``, the flow_admin feature's reload hook):

* **first load**: the poll a bot makes at start-up, loading every published version into a fresh
  engine (parse and keep each one);
* **one new version**: a poll after one more publish (what every running bot does within
  ``POLL_SECONDS``): the time from the poll's start until the new version is live;
* **idle poll**: a poll when nothing changed (one SELECT), which every bot does every 2 seconds.

Each is printed as min / median / max over ``--runs``. The promise is a new version live in every
bot within 5 seconds: the poll interval (2 s) plus one "one new version" time.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.features.flow_admin import services
from bot.live_reload import POLL_SECONDS, LiveReloader
from bot.registry import Features
from bot.services import Actor
from flows.check import Translations
from flows.engine import Engine
from flows.library import DEFINITIONS, load_flows
from locales import Catalogs
from storage.database import Database

NOW = datetime(2027, 2, 15, 9, 0, tzinfo=timezone.utc)
ADMIN = Actor("cli", "bench")


def onboarding_with(welcome: str) -> bytes:
    text = (DEFINITIONS / "onboarding.yaml").read_text(encoding="utf-8")
    start = text.index("  welcome:\n    say: |-\n")
    stop = text.index("    end: true", start)
    return (text[:start] + f"  welcome:\n    say: {welcome}\n" + text[stop:]).encode()


class Bot:
    """What the reload hook reads of a running bot."""

    def __init__(self, database: Database, catalogs: Catalogs) -> None:
        from bot.features.flow_admin.feature import register

        self.database = database
        self.engine = Engine(load_flows(), catalogs)
        self.features = Features()
        register(self.features, self)


def spread(label: str, seconds: list[float]) -> None:
    ms = sorted(s * 1000 for s in seconds)
    print(f"{label:<16} min {ms[0]:8.2f} ms   median {statistics.median(ms):8.2f} ms   max {ms[-1]:8.2f} ms")


async def main(versions: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        database = Database(f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite3'}")
        await database.ensure_schema()
        translations, catalogs = Translations(), Catalogs()
        published = 0

        async def publish() -> None:
            nonlocal published
            published += 1
            async with database.sessions() as session:
                await services.publish(
                    session, ADMIN, source=onboarding_with(f"Välkommen, version {published}!"), file="onboarding.yaml",
                    expected_id="onboarding", note=None, now=NOW + timedelta(minutes=published), translations=translations,
                )
                await session.commit()

        started = time.perf_counter()
        for _ in range(versions):
            await publish()
        print(f"{versions} versions published in {time.perf_counter() - started:.2f} s (each checked first)")

        first, new, idle = [], [], []
        for _ in range(runs):
            bot, reloader = Bot(database, catalogs), LiveReloader()
            started = time.perf_counter()
            await reloader.poll(bot)
            first.append(time.perf_counter() - started)
            await publish()
            started = time.perf_counter()
            await reloader.poll(bot)
            new.append(time.perf_counter() - started)
            assert bot.engine.flows["onboarding"].version == published + 1  # version 1 is the shipped file
            started = time.perf_counter()
            await reloader.poll(bot)
            idle.append(time.perf_counter() - started)
        await database.dispose()
    print(f"polled every {POLL_SECONDS:g} s; {runs} runs, {versions}+ published versions")
    spread("first load", first)
    spread("one new version", new)
    spread("idle poll", idle)
    print(f"worst case from publish to live: {POLL_SECONDS:g} s + {max(new) * 1000:.0f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=200)
    parser.add_argument("--runs", type=int, default=20)
    options = parser.parse_args()
    asyncio.run(main(options.versions, options.runs))
