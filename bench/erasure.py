"""How long erasing one participant with a year of history takes in a database of many.

Usage::

    PYTHONPATH=. .venv/bin/python bench/erasure.py [--participants 2000] [--runs 5]

What it measures: `bot.features.leaving.services.erase_participant` with ``confirm=True`` and
its commit (the steps of ``bot/features/leaving/erasure.py``: the de-identified row, the moves of
enrolments, roll calls and check-ins, the events copied and deleted, the outbox, appointments,
consents, invites and conversation deleted), on a SQLite file made by the migrations and filled
by bulk Core inserts: ``--participants`` people, each with a year of history (52 check-ins, two
roll calls and two coming-today answers a week, 12 appointments with three reminders each, a
message a month, the outbox rows of it all). Each run erases another participant; the first
run is not counted. Every step reads by an indexed participant id or recipient, so the time
should not grow with the number of participants.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert

from bot.features.leaving import services
from bot.services import SYSTEM
from storage.database import Database
from storage.models import Activity, Appointment, Attendance, Caseworker, CheckIn, ConsentRecord, Conversation, Enrolment, Event, Invite, OutboxMessage, Participant

NOW = datetime(2028, 1, 10, 9, 0, tzinfo=timezone.utc)
START = date(2027, 1, 4)  # a Monday: one year of weeks up to NOW


def fill(path: Path, participants: int) -> None:
    engine = create_engine(f"sqlite:///{path}")
    rows: dict[Any, list[dict[str, Any]]] = {k: [] for k in (Participant, Invite, ConsentRecord, Conversation, Enrolment, Attendance, CheckIn, Event, Appointment, OutboxMessage)}
    with engine.begin() as conn:
        conn.execute(insert(Caseworker), [{"id": 1, "name": "Karin Lund", "email": None, "created_at": NOW}])
        conn.execute(insert(Activity), [{"id": 1, "name": "Språkcafé", "organisation": "Röda Korset", "place": "Nygatan 19", "duration_minutes": 120, "starts_on": START, "ends_on": None, "on_holidays": False, "checkin_weekday": None, "checkin_time": None, "created_at": NOW, "updated_at": NOW}])
        for pid in range(1, participants + 1):
            created = datetime.combine(START, datetime.min.time(), timezone.utc)
            rows[Participant].append({"id": pid, "name": f"Person {pid}", "caseworker_id": 1, "language": "ar", "telegram_chat_id": 10_000_000 + pid, "status": "finished", "gender": "woman", "finished_on": date(2027, 12, 31), "finish_reason": "work", "created_at": created, "updated_at": created})
            rows[Invite].append({"code": f"code-{pid}", "participant_id": pid, "created_at": created, "expires_at": created + timedelta(days=14), "used_at": created})
            rows[ConsentRecord].append({"participant_id": pid, "notice_version": "2026-11", "answer": "agreed", "recorded_at": created})
            rows[Conversation].append({"participant_id": pid, "flow": None, "step": None, "data": {"runs": []}, "updated_at": created})
            rows[Enrolment].append({"activity_id": 1, "participant_id": pid, "from_date": START, "left_date": date(2027, 12, 31), "created_at": created, "updated_at": created})
            for week in range(52):
                monday = START + timedelta(weeks=week)
                at = datetime.combine(monday, datetime.min.time(), timezone.utc) + timedelta(hours=9)
                rows[CheckIn].append({"participant_id": pid, "week": monday, "sent_at": at, "nudged_at": None, "answered_at": at, "unanswered_at": None, "practice": "a_lot", "places": ["sfi"], "confidence": 4, "voice_notes": 0})
                for day in (1, 3):
                    session_day = monday + timedelta(days=day)
                    rows[Attendance].append({"activity_id": 1, "local_date": session_day, "participant_id": pid, "present": True, "recorded_by": "leader:1", "recorded_at": at})
                    rows[Event].append({"type": "activity_report", "participant_id": pid, "occurred_at": at, "payload": {"activity_id": 1, "date": session_day.isoformat(), "coming": True}, "flow": "coming_today", "step": "ask"})
                    rows[OutboxMessage].append({"idempotency_key": f"participant:{pid}/activity_morning:{pid}:v{week * 7 + day}/activities.morning/", "recipient_kind": "participant", "recipient_id": pid, "recipient_address": None, "channel": "telegram", "subject_kind": "activity_morning", "subject_id": pid, "subject_version": week * 7 + day, "composer": "activities.morning", "slot": "", "payload": {}, "due_at": at, "status": "sent", "attempts": 1, "created_at": at})
                rows[Event].append({"type": "checkin_practice", "participant_id": pid, "occurred_at": at, "payload": {"week": monday.isoformat(), "practice": "a_lot"}, "flow": "checkin", "step": "practice"})
            for month in range(12):
                at = datetime(2027, month + 1, 10, 9, tzinfo=timezone.utc)
                rows[Event].append({"type": "participant_message", "participant_id": pid, "occurred_at": at, "payload": {"text": f"Hej, det är Person {pid}", "language": "ar"}, "flow": "message", "step": "write"})
                rows[Appointment].append({"participant_id": pid, "starts_at": at + timedelta(days=5), "place": "Storgatan 1", "title": None, "lead_times": None, "version": 1, "status": "booked", "answer": "coming", "answered_at": at, "attended": True, "created_at": at, "updated_at": at})
            for kind, batch in rows.items():
                if len(batch) > 20_000:
                    conn.execute(insert(kind), batch)
                    batch.clear()
        for kind, batch in rows.items():
            if batch:
                conn.execute(insert(kind), batch)
    engine.dispose()


async def main_async(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "erasure.sqlite3"
        database = Database(f"sqlite+aiosqlite:///{path}", create=True)
        await database.ensure_schema()
        await database.dispose()
        began = time.perf_counter()
        fill(path, args.participants)
        filled = time.perf_counter() - began
        database = Database(f"sqlite+aiosqlite:///{path}")
        times = []
        try:
            for run in range(args.runs + 1):
                started = time.perf_counter()
                async with database.sessions() as session:
                    await services.erase_participant(session, SYSTEM, participant_id=run + 1, confirm=True, now=NOW)
                    await session.commit()
                if run:
                    times.append(time.perf_counter() - started)
        finally:
            await database.dispose()
        size = path.stat().st_size // 2**20
    print(f"{args.participants} participants, a year of history each ({size} MiB, filled in {filled:.1f} s)")
    print(f"erasing one: median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms over {len(times)} runs")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
