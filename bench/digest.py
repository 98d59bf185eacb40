"""How long every caseworker's digest of one day takes after a year of events, beside one week only.

Usage::

    PYTHONPATH=. .venv/bin/python bench/digest.py [--caseworkers 1000] [--participants 30] [--runs 3]

What it measures: `build_digests` (bot/features/digest/content.py) for all caseworkers of Monday
1 February 2027 (the window runs from Friday 07:30: the longest ordinary window, with the
week's check-ins in it), then each rendered as text and as Telegram messages; the peak memory
of one such build (tracemalloc); on two SQLite files in a temporary folder, one with a year of
history and one with the last week only (the same caseworkers, participants, activities).
Each participant has one weekly activity session (the morning question, their answer, the roll
call), a weekly check-in (sent, mostly answered), an appointment every four weeks (a reminder and
an answer) and now and then a message to their caseworker. Both files are made by the
migrations, then filled by bulk inserts (sqlite3 executemany in one transaction). After each
build the access log's rows of all digests are written (one `record_many`, committed: a row per
caseworker and one per participant named), timed apart. With
PostgreSQL answering at 127.0.0.1:5432 the same is measured in a schema of its own, dropped after.
Targets: all digests in under 10 s on SQLite; year / week ≤ 1.5 (the digest reads the day).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import closing
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import load_settings
from bot.features.digest import render
from bot.features.digest.content import build_digests
from storage import access_log
from storage.database import Database

DAY = date(2027, 2, 1)  # a Monday
NOW = datetime(2027, 2, 1, 6, 30, tzinfo=timezone.utc)  # 07:30 in Stockholm
TZ = ZoneInfo("Europe/Stockholm")
TARGET_SECONDS, TARGET_RATIO = 10.0, 1.5
REASONS = ("sick", "child_sick", "other_appt", "transport", "other")
BATCH = 50_000


def _at(day: date, hour: int, minute: int = 0) -> str:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ).astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.000000")


def _rows(args: argparse.Namespace, first: date) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
    """(table, rows) in batches: the people, then one week after another from ``first`` to the day before DAY."""
    rng = random.Random(8)
    created = _at(first - timedelta(days=30), 9)
    yield "caseworkers", [(c, f"Handläggare {c}", None, created) for c in range(1, args.caseworkers + 1)]
    people = [(p, f"Deltagare {p} Efternamn", (p - 1) // args.participants + 1, ("sv", "ar", "so", "fa_AF", "ti")[p % 5], 10**6 + p, "active", None, None, None, created, created)
              for p in range(1, args.caseworkers * args.participants + 1)]
    yield "participants", people
    yield "activities", [(a, f"Språkcafé {a}", "Röda Korset", "Nygatan 19", 120, first - timedelta(days=30), None, False, None, None, created, created) for a in range(1, args.caseworkers + 1)]
    yield "activity_rules", [(a, a, a % 5, "10:00:00.000000") for a in range(1, args.caseworkers + 1)]
    yield "enrolments", [(p, (p - 1) // args.participants + 1, p, first - timedelta(days=30), None, created, created) for p in range(1, len(people) + 1)]
    events: list[tuple[Any, ...]] = []
    attendance: list[tuple[Any, ...]] = []
    checkins: list[tuple[Any, ...]] = []
    appointments: list[tuple[Any, ...]] = []
    monday = first - timedelta(days=first.weekday())
    appointment_id = 0
    while monday < DAY:
        for p in range(1, len(people) + 1):
            aid = (p - 1) // args.participants + 1
            session = monday + timedelta(days=aid % 5)
            if first <= session < DAY:
                iso = session.isoformat()
                events.append(("activity_question_sent", p, _at(session, 8), json.dumps({"activity_id": aid, "date": iso})))
                roll = rng.random()
                if roll < 0.2:
                    events.append(("activity_report", p, _at(session, 8, 5), json.dumps({"activity_id": aid, "date": iso, "answer": "not_coming", "coming": False})))
                    reason = rng.choice(REASONS)
                    events.append(("activity_report", p, _at(session, 8, 6), json.dumps({"activity_id": aid, "date": iso, "answer": reason, "reason": reason})))
                elif roll < 0.9:
                    events.append(("activity_report", p, _at(session, 8, 5), json.dumps({"activity_id": aid, "date": iso, "answer": "coming", "coming": True})))
                attendance.append((aid, iso, p, roll >= 0.2 and rng.random() < 0.9, "leader:1", _at(session, 12)))
            friday = monday + timedelta(days=4)
            if first <= friday < DAY:
                events.append(("checkin_sent", p, _at(friday, 14), json.dumps({"week": monday.isoformat()})))
                answered = rng.random() < 0.7
                level = rng.randint(1, 5) if answered else None
                if answered:
                    events.append(("checkin_confidence", p, _at(friday, 15), json.dumps({"level": level, "week": monday.isoformat()})))
                checkins.append((p, monday.isoformat(), _at(friday, 14), None, _at(friday, 15) if answered else None, None, "a_lot" if answered else None, None, level, 0))
            if (p + monday.toordinal() // 7) % 4 == 0:
                appointment_id += 1
                meets = monday + timedelta(days=p % 5)
                answer = rng.choice(("coming", "coming", "cant_come", "new_time", None))
                reminded = meets - timedelta(days=1)
                appointments.append((appointment_id, p, _at(meets, 13), "Storgatan 1", None, None, 1, "booked", answer, _at(reminded, 10) if answer else None, None, created, created))
                if first <= reminded < DAY:
                    events.append(("reminder_sent", p, _at(reminded, 9), json.dumps({"appointment_id": appointment_id, "version": 1, "lead": "1d"})))
                    if answer:
                        events.append(("appointment_answer", p, _at(reminded, 10), json.dumps({"answer": answer, "appointment_id": appointment_id, "version": 1})))
            if rng.random() < 0.02:
                day = monday + timedelta(days=rng.randrange(7))
                if first <= day < DAY:
                    events.append(("participant_message", p, _at(day, 11), json.dumps({"text": "Hej! Jag kan inte komma på tisdag.", "language": people[p - 1][3]})))
        if len(events) >= BATCH:
            events.sort(key=lambda e: e[2])
            yield "events", events
            events = []
        monday += timedelta(weeks=1)
    events.sort(key=lambda e: e[2])
    yield from (("events", events), ("attendance", attendance), ("checkins", checkins), ("appointments", appointments))


COLUMNS = {
    "caseworkers": "id, name, email, created_at",
    "participants": "id, name, caseworker_id, language, telegram_chat_id, status, gender, checkin_weekday, checkin_time, created_at, updated_at",
    "activities": "id, name, organisation, place, duration_minutes, starts_on, ends_on, on_holidays, checkin_weekday, checkin_time, created_at, updated_at",
    "activity_rules": "id, activity_id, weekday, local_time",
    "enrolments": "id, activity_id, participant_id, from_date, left_date, created_at, updated_at",
    "events": "type, participant_id, occurred_at, payload",
    "attendance": "activity_id, local_date, participant_id, present, recorded_by, recorded_at",
    "checkins": "participant_id, week, sent_at, nudged_at, answered_at, unanswered_at, practice, places, confidence, voice_notes",
    "appointments": "id, participant_id, starts_at, place, title, lead_times, version, status, answer, answered_at, attended, created_at, updated_at",
}


def fill(path: Path, args: argparse.Namespace, first: date) -> dict[str, int]:
    counts: dict[str, int] = {}
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA synchronous = OFF")
        with connection:
            for table, rows in _rows(args, first):
                columns = COLUMNS[table]
                marks = ", ".join("?" * len(columns.split(",")))
                connection.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
                counts[table] = counts.get(table, 0) + len(rows)
        connection.execute("ANALYZE")
    return counts


async def build_all(database: Database, settings: Any, ids: list[int]) -> tuple[float, float, int, float]:
    """(seconds to build, seconds to build and render, lines, seconds to record them in the access
    log) of every caseworker's digest. The access log's rows are written as the delivery writes
    them once the digests went out: one `record_many` for all, committed."""
    started = time.perf_counter()
    async with database.sessions() as session:
        digests = await build_digests(session, settings, ids, DAY, NOW)
    built = time.perf_counter() - started
    for digest in digests.values():
        render.render_text(digest, settings)
        render.render_telegram(digest, settings)
    lines = sum(len(s.lines) for d in digests.values() for s in d.sections)
    if len(digests) != len(ids) or lines == 0:
        sys.exit("digest: the digests found nothing; the bench data is wrong")
    total = time.perf_counter() - started
    logged = time.perf_counter()
    async with database.sessions() as session:
        await access_log.record_many(session, [access_log.Access(f"caseworker:{cid}", access_log.DIGEST_SEND, d.participant_ids, f"{DAY} on Telegram") for cid, d in digests.items()], now=NOW)
        await session.commit()
    return built, total, lines, time.perf_counter() - logged


async def measure(url: str, runs: int, ids: list[int], schema: str | None = None) -> dict[str, Any]:
    database = Database(url, connect_args={"server_settings": {"search_path": schema}}) if schema else Database(url)
    settings = load_settings(database_url=url, timezone="Europe/Stockholm")
    try:
        await build_all(database, settings, ids)  # not counted: caches, the first connection
        times = [await build_all(database, settings, ids) for _ in range(runs)]
        tracemalloc.start()
        await build_all(database, settings, ids)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    finally:
        await database.dispose()
    return {"build": statistics.median(t[0] for t in times), "total": statistics.median(t[1] for t in times), "lines": times[0][2], "peak": peak, "log": statistics.median(t[3] for t in times)}


def _postgres_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


async def postgres(paths: dict[str, Path], args: argparse.Namespace, ids: list[int]) -> dict[str, dict[str, Any]]:
    """The same data copied into a schema of its own per history, measured, then dropped."""
    import asyncpg

    results = {}
    for name, path in paths.items():
        schema = f"bench_digest_{name.replace(' ', '_')}"
        connection = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
        try:
            await connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")
        finally:
            await connection.close()
        url = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
        database = Database(url, connect_args={"server_settings": {"search_path": schema}})
        await database.upgrade()
        await database.dispose()
        connection = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test", server_settings={"search_path": schema})
        try:
            with closing(sqlite3.connect(path)) as source:
                for table, columns in COLUMNS.items():
                    names = [c.strip() for c in columns.split(",")]
                    rows = source.execute(f"SELECT {columns} FROM {table}").fetchall()
                    await connection.copy_records_to_table(table, records=[_pg(table, names, row) for row in rows], columns=names)
            await connection.execute("ANALYZE")
            results[name] = await measure(url, args.runs, ids, schema)
        finally:
            await connection.execute(f"DROP SCHEMA {schema} CASCADE")
            await connection.close()
    return results


def _pg(table: str, names: list[str], row: tuple[Any, ...]) -> tuple[Any, ...]:
    out = []
    for name, value in zip(names, row, strict=True):
        if value is not None and isinstance(value, str) and name in ("created_at", "updated_at", "occurred_at", "recorded_at", "sent_at", "answered_at", "starts_at"):
            value = datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
        elif value is not None and name in ("starts_on", "from_date", "local_date", "week"):
            value = date.fromisoformat(value)
        elif value is not None and name == "local_time":
            value = datetime.strptime(value[:8], "%H:%M:%S").time()
        elif name in ("present", "on_holidays") and value is not None:
            value = bool(value)
        out.append(value)
    return tuple(out)


def show(label: str, result: dict[str, Any]) -> None:
    print(f"{label:<22}build {result['build']:6.2f} s, with text and Telegram {result['total']:6.2f} s, {result['lines']:,} lines, peak {result['peak'] / 2**20:6.1f} MiB; access log rows {result['log']:5.2f} s")


async def main_async(args: argparse.Namespace) -> int:
    ids = list(range(1, args.caseworkers + 1))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = {"year": folder / "year.sqlite3", "week": folder / "week.sqlite3"}
        starts = {"year": DAY - timedelta(days=365), "week": DAY - timedelta(days=7)}
        for name, path in paths.items():
            database = Database(f"sqlite+aiosqlite:///{path}", create=True)
            await database.upgrade()
            await database.dispose()
            began = time.perf_counter()
            counts = fill(path, args, starts[name])
            shown = ", ".join(f"{n:,} {what}" for what, n in counts.items() if what in ("events", "attendance", "checkins", "appointments"))
            print(f"{name + ':':<7}{shown} ({path.stat().st_size // 2**20} MiB, filled in {time.perf_counter() - began:.0f} s)")
        print(f"digests: {DAY} (Monday, window from Friday 07:30), {args.caseworkers} caseworkers × {args.participants} participants; median of {args.runs} runs after one not counted")
        sqlite = {name: await measure(f"sqlite+aiosqlite:///{path}", args.runs, ids) for name, path in paths.items()}
        for name, result in sqlite.items():
            show(f"SQLite, {name}:", result)
        ratio = sqlite["year"]["total"] / sqlite["week"]["total"]
        met = sqlite["year"]["total"] < TARGET_SECONDS
        print(f"SQLite: year / week {ratio:.2f} (target ≤ {TARGET_RATIO}: {'met' if ratio <= TARGET_RATIO else 'NOT met'}); all digests in {sqlite['year']['total']:.2f} s (target < {TARGET_SECONDS:g} s: {'met' if met else 'NOT met'})")
        if args.postgres and _postgres_answers():
            pg = await postgres(paths, args, ids)
            for name, result in pg.items():
                show(f"PostgreSQL, {name}:", result)
            print(f"PostgreSQL: year / week {pg['year']['total'] / pg['week']['total']:.2f}")
        else:
            print("PostgreSQL: not measured (not asked for with --postgres, or nothing answers at 127.0.0.1:5432)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--caseworkers", type=int, default=1000)
    parser.add_argument("--participants", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    if min(args.caseworkers, args.participants, args.runs) < 1:
        parser.error("--caseworkers, --participants and --runs must be at least 1")
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
