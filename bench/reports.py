"""How long one month's funders' reports take after three years of history, beside one month only.

Usage::

    PYTHONPATH=. .venv/bin/python bench/reports.py [--activities 50] [--participants 2000] [--years 3] [--runs 5]

What it measures: building January 2027's attendance report and its check-in report with the
real services (``bot/features/reports/services.py``) and writing each as CSV and as XLSX, on two
SQLite files in a temporary folder: one with ``--years`` of history up to the end of that month
(the roll call of every session, the participants' "coming today?" answers with their reasons,
the roll call's ``attendance_recorded`` events, a weekly check-in per participant), and one
with the same activities, participants and enrolments but that month's rows only. Both are made
by the migrations, then filled by bulk Core inserts. The ratio history / one month must stay
≤ 1.5: a report reads its month, not the history. One run of each first is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert

from bot.config import load_settings
from bot.features.activities import schedule
from bot.features.activities.question import REPORT
from bot.features.reports import services, writers
from bot.services import SYSTEM
from storage.database import Database
from storage.models import Activity, ActivityRule, Attendance, Caseworker, CheckIn, Enrolment, Event, Participant

MONTH = services.Month(2027, 1)
NOW = datetime(2027, 2, 1, 9, 0, tzinfo=timezone.utc)
TARGET = 1.5
BATCH = 20_000
TIMES = ("09:00", "10:00", "13:30", "15:00")
REASONS = services.REASONS
GENDERS = ("woman", "man", "other", "unknown", None)


def _plan(aid: int, rng: random.Random, starts: date) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    weekdays = rng.sample(range(5), rng.choice((1, 2)))
    rules = [{"activity_id": aid, "weekday": wd, "local_time": datetime.strptime(rng.choice(TIMES), "%H:%M").time()} for wd in sorted(weekdays)]
    activity = {
        "id": aid, "name": f"Aktivitet {aid}", "organisation": f"Organisation {aid % 7}", "place": "Nygatan 19", "duration_minutes": 120,
        "starts_on": starts, "ends_on": None, "on_holidays": False, "checkin_weekday": None, "checkin_time": None, "created_at": NOW, "updated_at": NOW,
    }
    return activity, rules


def fill(path: Path, args: argparse.Namespace, first: date) -> dict[str, int]:
    """The activities, participants and enrolments (the same in both files), and the rows from ``first`` to the month's end."""
    rng = random.Random(7)
    tz = load_settings(database_url=f"sqlite+aiosqlite:///{path}").tz
    starts = MONTH.first - timedelta(days=365 * args.years)
    activities, rules = zip(*(_plan(aid, rng, starts) for aid in range(1, args.activities + 1)), strict=True)
    participants = [
        {"id": pid, "name": f"Deltagare {pid}", "caseworker_id": 1, "language": "sv", "telegram_chat_id": 10_000 + pid, "status": "active",
         "gender": GENDERS[pid % len(GENDERS)], "checkin_weekday": None, "checkin_time": None, "created_at": NOW, "updated_at": NOW}
        for pid in range(1, args.participants + 1)
    ]
    members: dict[int, list[int]] = {aid: [] for aid in range(1, args.activities + 1)}
    for pid in range(1, args.participants + 1):
        members[(pid - 1) % args.activities + 1].append(pid)
    enrolments = [{"activity_id": aid, "participant_id": pid, "from_date": starts, "left_date": None, "created_at": NOW, "updated_at": NOW} for aid, pids in members.items() for pid in pids]

    attendance: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for activity, its_rules in zip(activities, rules, strict=True):
        plan = schedule.Plan(tuple(schedule.WeeklyRule(r["weekday"], r["local_time"]) for r in its_rules), timedelta(hours=2), starts)
        for session in schedule.sessions(plan, first, MONTH.last, tz):
            day, iso = session.day, session.day.isoformat()
            for pid in members[activity["id"]]:
                asked = session.starts_at - timedelta(hours=2)
                roll = rng.random()
                if roll < 0.25:  # said no, most with a reason
                    events.append({"type": REPORT, "participant_id": pid, "occurred_at": asked, "payload": {"activity_id": activity["id"], "date": iso, "answer": "not_coming", "coming": False}, "flow": "coming_today", "step": "ask"})
                    if rng.random() < 0.8:
                        reason = rng.choice(REASONS)
                        events.append({"type": REPORT, "participant_id": pid, "occurred_at": asked + timedelta(seconds=30), "payload": {"activity_id": activity["id"], "date": iso, "answer": reason, "reason": reason}, "flow": "coming_today", "step": "reason"})
                elif roll < 0.75:
                    events.append({"type": REPORT, "participant_id": pid, "occurred_at": asked, "payload": {"activity_id": activity["id"], "date": iso, "answer": "coming", "coming": True}, "flow": "coming_today", "step": "ask"})
                if rng.random() < 0.95:  # the leader took the roll call
                    present = roll >= 0.25 and rng.random() < 0.9
                    attendance.append({"activity_id": activity["id"], "local_date": day, "participant_id": pid, "present": present, "recorded_by": "leader:1", "recorded_at": session.ends_at})
                    events.append({"type": "attendance_recorded", "participant_id": pid, "occurred_at": session.ends_at, "payload": {"activity_id": activity["id"], "date": iso, "present": present}, "flow": None, "step": None})
    checkins = []
    week = first - timedelta(days=first.weekday())
    while week <= MONTH.last:
        for pid in range(1, args.participants + 1):
            sent = datetime.combine(week + timedelta(days=4), datetime.min.time(), timezone.utc) + timedelta(hours=13)
            answered = rng.random() < 0.7
            checkins.append({
                "participant_id": pid, "week": week, "sent_at": sent, "nudged_at": None,
                "answered_at": sent + timedelta(hours=2) if answered else None, "unanswered_at": None if answered else sent + timedelta(days=2),
                "practice": rng.choice(services.PRACTICE) if answered else None, "places": rng.sample(services.PLACES, rng.randint(0, 2)) if answered else None,
                "confidence": rng.randint(1, 5) if answered else None, "voice_notes": rng.choice((0, 0, 0, 1)),
            })
        week += timedelta(weeks=1)
    events.sort(key=lambda e: e["occurred_at"])

    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(insert(Caseworker), [{"id": 1, "name": "Karin Lund", "email": None, "created_at": NOW}])
        for model, rows in ((Activity, activities), (ActivityRule, [r for rs in rules for r in rs]), (Participant, participants), (Enrolment, enrolments), (Attendance, attendance), (Event, events), (CheckIn, checkins)):
            for start in range(0, len(rows), BATCH):
                connection.execute(insert(model), list(rows[start : start + BATCH]))
    engine.dispose()
    return {"attendance rows": len(attendance), "events": len(events), "check-ins": len(checkins)}


async def build_both(database: Database) -> float:
    """One month's attendance and check-in reports, each as CSV and XLSX; the seconds it took."""
    settings = load_settings(database_url=str(database.engine.url))
    started = time.perf_counter()
    async with database.sessions() as session:
        attendance = await services.attendance_report(session, SYSTEM, settings, month=MONTH, by_gender=True, now=NOW)
        checkins = await services.checkin_report(session, SYSTEM, settings, month=MONTH, by_gender=True, now=NOW)
    writers.csv_bytes(writers.attendance_csv_table(attendance), MONTH)
    writers.xlsx_bytes(writers.attendance_tables(attendance), "Närvaro", NOW, settings.tz)
    writers.csv_bytes(writers.checkin_csv_table(checkins), MONTH)
    writers.xlsx_bytes(writers.checkin_tables(checkins), "Avstämningar", NOW, settings.tz)
    took = time.perf_counter() - started
    if attendance.total.counts.present == 0 or checkins.total.figures.now.sent == 0:
        sys.exit("reports: the report found nothing; the bench data is wrong")
    return took


async def timed(path: Path, runs: int) -> list[float]:
    database = Database(f"sqlite+aiosqlite:///{path}")
    try:
        await build_both(database)  # not counted: caches, the first connection
        return [await build_both(database) for _ in range(runs)]
    finally:
        await database.dispose()


async def main_async(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = {"history": folder / "history.sqlite3", "one month": folder / "month.sqlite3"}
        starts = {"history": MONTH.first - timedelta(days=365 * args.years), "one month": MONTH.first}
        for name, path in paths.items():
            database = Database(f"sqlite+aiosqlite:///{path}", create=True)
            await database.upgrade()
            await database.dispose()
            began = time.perf_counter()
            counts = fill(path, args, starts[name])
            shown = ", ".join(f"{n:,} {what}" for what, n in counts.items())
            print(f"{name + ':':<14}{shown} ({path.stat().st_size // 2**20} MiB, filled in {time.perf_counter() - began:.1f} s)")
        print(f"report:       {MONTH}, {args.activities} activities, {args.participants} participants, by gender, as CSV and XLSX; {args.runs} runs after one not counted")
        results = {name: await timed(path, args.runs) for name, path in paths.items()}
        for name, times in results.items():
            print(f"{name + ':':<14}median {statistics.median(times) * 1000:7.1f} ms  (min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f})")
        ratio = statistics.median(results["history"]) / statistics.median(results["one month"])
        print(f"ratio:        {ratio:.2f} (history / one month; target ≤ {TARGET}: {'met' if ratio <= TARGET else 'NOT met'})")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activities", type=int, default=50)
    parser.add_argument("--participants", type=int, default=2000)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if min(args.activities, args.participants, args.years, args.runs) < 1:
        parser.error("--activities, --participants, --years and --runs must be at least 1")
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
