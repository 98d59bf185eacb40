"""Booking, moving, cancelling and following up appointments, on SQLite and PostgreSQL.

Every test passes a fixed ``now``; times are written in Stockholm wall time and compared exactly.
The services (``bot/features/appointments/booking.py``) work in the caller's session; the helpers
here commit it, as the CLI does, and return the appointment as the CLI's JSON shows it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from bot.app import Stegvis
from bot.config import Settings, load_settings
from bot.features.appointments import booking
from bot.features.appointments.csv_import import ImportRejected, import_appointments
from bot.features.appointments.messages import CANCELLED_NOTICE, MOVED_NOTICE, REMINDER
from bot.features.appointments.timing import LeadTime
from bot.features.appointments.views import AppointmentView
from bot.features.participants.events import consent
from bot.outbox.sender import Sender
from bot.sandbox import BotAPISandbox
from bot.services import Actor, Conflict, InvalidInput, NotFound, ServiceError
from flows.engine import FlowEvent
from storage import appointments as store
from storage import outbox
from storage import repositories as repo
from storage.clock import FrozenClock
from storage.database import Database
from storage.models import Appointment, Event, OutboxMessage, Participant
from storage.outbox import Recipient, Subject, idempotency_key
from storage.writer import Changes, apply_changes, participants_by_id

TZ = ZoneInfo("Europe/Stockholm")
CLI = Actor("cli", "test")


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=TZ)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=timezone.utc)


def wall(value: datetime) -> datetime:
    return value.astimezone(TZ).replace(tzinfo=None)


NOW = local(2026, 11, 10, 12, 0)  # a Tuesday noon, well outside quiet hours


@pytest.fixture
def settings() -> Settings:
    return load_settings(timezone="Europe/Stockholm", reminder_lead_times="3d,1d", quiet_hours="20:00-08:00")


@pytest.fixture
async def participant(database: Database) -> int:
    async with database.sessions.begin() as session:
        caseworker = await repo.add_caseworker(session, "Karin Lund", now=NOW)
        return (await repo.add_participant(session, "Hassan", caseworker.id, language="ar", now=NOW)).id


# The services, each in its own committed unit of work


async def run(database: Database, service: Callable[..., Awaitable[AppointmentView]], settings: Settings, **arguments: Any) -> dict:
    async with database.sessions() as session:
        view = await service(session, CLI, settings, **arguments)
        await session.commit()
    return view.as_json(TZ)


async def book(
    database: Database, settings: Settings, participant_id: int, starts_at: datetime, place: str, title: str | None = None, *, lead_times: list[LeadTime] | None = None, now: datetime
) -> dict:
    return await run(database, booking.book, settings, participant_id=participant_id, starts_at=starts_at, place=place, title=title, lead_times=lead_times, now=now)


async def move(database: Database, settings: Settings, appointment_id: int, starts_at: datetime, *, now: datetime) -> dict:
    return await run(database, booking.move, settings, appointment_id=appointment_id, starts_at=starts_at, now=now)


async def cancel(database: Database, settings: Settings, appointment_id: int, *, now: datetime) -> dict:
    return await run(database, booking.cancel, settings, appointment_id=appointment_id, now=now)


async def attend(database: Database, settings: Settings, appointment_id: int, attended: bool, *, now: datetime) -> dict:
    return await run(database, booking.record_attendance, settings, appointment_id=appointment_id, attended=attended, now=now)


async def unanswered(database: Database, now: datetime) -> list[int]:
    async with database.sessions() as session:
        ids = await booking.record_unanswered(session, now)
        await session.commit()
    return ids


async def listing(database: Database, settings: Settings, participant_id: int | None = None) -> list[dict]:
    async with database.sessions() as session:
        return [view.as_json(TZ) for view in await booking.list_appointments(session, CLI, settings, participant_id=participant_id, now=NOW)]


async def answer(database: Database, appointment_id: int, participant_id: int, given: str, *, version: int, now: datetime) -> bool:
    """The participant's answer to booking ``version``, as the reminder flow records it; False if it did not count."""
    async with database.sessions.begin() as session:
        result = await session.execute(store.set_answer(appointment_id, participant_id, given, version=version, now=now))
        return result.rowcount == 1


def refusal(error: pytest.ExceptionInfo[ServiceError]) -> tuple[str, str | None]:
    """The refusal's words and the input they are about (the CLI puts the option in front: ``--at: ...``)."""
    return error.value.message, error.value.field


# What is stored


async def outbox_rows(database: Database, appointment_id: int | None = None) -> list[OutboxMessage]:
    async with database.sessions() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.due_at, OutboxMessage.id)
        if appointment_id is not None:
            query = query.where(OutboxMessage.subject_kind == "appointment", OutboxMessage.subject_id == appointment_id)
        return list(await session.scalars(query))


async def stored(database: Database, appointment_id: int) -> Appointment:
    async with database.sessions() as session:
        appointment = await store.get_appointment(session, appointment_id)
        assert appointment is not None
        return appointment


async def events(database: Database, type: str) -> list[dict]:
    async with database.sessions() as session:
        return [event.payload for event in await repo.list_events(session, types=type)]


def reminders(rows: list[OutboxMessage], status: str | None = None) -> list[tuple[int, str, datetime]]:
    """(booking version, lead, local due time) of each reminder row."""
    return [(row.subject_version, row.slot, wall(row.due_at)) for row in rows if row.composer == REMINDER and (status is None or row.status == status)]


def notices(rows: list[OutboxMessage]) -> list[OutboxMessage]:
    return [row for row in rows if row.composer != REMINDER]


# Planning


async def test_default_booking_plans_3d_and_1d_reminders_at_the_appointments_wall_time(database, settings, participant):
    booked = await book(database, settings, participant, local(2026, 11, 24, 10, 30), "Nygatan 19", now=NOW)

    rows = await outbox_rows(database)
    assert [(r.composer, r.slot, r.subject_version, r.due_at, r.payload, r.status) for r in rows] == [
        (REMINDER, "3d", 1, utc(2026, 11, 21, 9, 30), {"lead": "3d", "immediate": False}, "pending"),
        (REMINDER, "1d", 1, utc(2026, 11, 23, 9, 30), {"lead": "1d", "immediate": False}, "pending"),
    ]
    assert all(
        (r.recipient_kind, r.recipient_id, r.recipient_address, r.channel, r.subject_kind, r.subject_id) == ("participant", participant, None, "telegram", "appointment", booked["id"])
        for r in rows
    )
    assert [r.idempotency_key for r in rows] == [
        f"participant:{participant}/appointment:{booked['id']}:v1/appointment.reminder/3d",
        f"participant:{participant}/appointment:{booked['id']}:v1/appointment.reminder/1d",
    ]
    assert [r.idempotency_key for r in rows] == [
        idempotency_key(Recipient.participant(participant), Subject("appointment", booked["id"], 1), REMINDER, lead) for lead in ("3d", "1d")
    ]


async def test_booking_returns_the_appointment_in_local_time_with_its_reminders(database, settings, participant):
    booked = await book(database, settings, participant, local(2026, 11, 24, 10, 30), " Nygatan  19 ", "Uppföljning", now=NOW)

    assert booked == {
        "id": booked["id"],
        "participant_id": participant,
        "participant_status": "invited",
        "starts_at": "2026-11-24T10:30:00+01:00",
        "place": "Nygatan 19",
        "title": "Uppföljning",
        "version": 1,
        "status": "booked",
        "lead_times": ["3d", "1d"],
        "answer": None,
        "answered_at": None,
        "attended": None,
        "reminders": [
            {"lead": "3d", "due_at": "2026-11-21T10:30:00+01:00", "status": "pending", "version": 1, "immediate": False},
            {"lead": "1d", "due_at": "2026-11-23T10:30:00+01:00", "status": "pending", "version": 1, "immediate": False},
        ],
        "notices": [],
    }


async def test_booking_is_logged_as_an_appointment_booked_event(database, settings, participant):
    booked = await book(database, settings, participant, local(2026, 11, 24, 10, 30), "Nygatan 19", now=NOW)

    assert await events(database, "appointment_booked") == [
        {"appointment_id": booked["id"], "starts_at": "2026-11-24T09:30:00+00:00", "version": 1}
    ]


async def test_reminders_across_the_spring_forward_week_keep_the_local_wall_time(database, settings, participant):
    # Clocks go forward on 2026-03-29: the 3d reminder is in CET, the 1d one in CEST.
    booked = await book(database, settings, participant, local(2026, 3, 30, 10, 30), "Skäggetorp centrum", now=local(2026, 3, 20, 12))

    rows = await outbox_rows(database, booked["id"])
    assert [wall(r.due_at) for r in rows] == [datetime(2026, 3, 27, 10, 30), datetime(2026, 3, 29, 10, 30)]
    assert [r.due_at for r in rows] == [utc(2026, 3, 27, 9, 30), utc(2026, 3, 29, 8, 30)]


async def test_reminders_across_the_fall_back_week_keep_the_local_wall_time(database, settings, participant):
    # Clocks go back on 2026-10-25: the 3d reminder is in CEST, the 1d one in CET.
    booked = await book(database, settings, participant, local(2026, 10, 26, 10, 30), "Skäggetorp centrum", now=local(2026, 10, 15, 12))

    rows = await outbox_rows(database, booked["id"])
    assert [wall(r.due_at) for r in rows] == [datetime(2026, 10, 23, 10, 30), datetime(2026, 10, 25, 10, 30)]
    assert [r.due_at for r in rows] == [utc(2026, 10, 23, 8, 30), utc(2026, 10, 25, 9, 30)]


async def test_a_reminder_that_would_fall_in_quiet_hours_moves_to_just_before_them(database, settings, participant):
    # An evening language café at 21:00: "1 day before" would be 21:00, inside 20:00-08:00.
    booked = await book(database, settings, participant, local(2026, 11, 24, 21, 0), "Vi Ses! språkcafé, Ryd", now=NOW)

    assert reminders(await outbox_rows(database, booked["id"])) == [
        (1, "3d", datetime(2026, 11, 21, 19, 59)),
        (1, "1d", datetime(2026, 11, 23, 19, 59)),
    ]


async def test_a_late_booking_gets_one_reminder_right_away(database, settings, participant):
    now = local(2026, 11, 23, 12, 0)  # both 3d and 1d before 2026-11-24 10:30 have passed
    booked = await book(database, settings, participant, local(2026, 11, 24, 10, 30), "Nygatan 19", now=now)

    rows = await outbox_rows(database, booked["id"])
    assert [(r.composer, r.slot, r.subject_version, r.due_at, r.payload) for r in rows] == [
        (REMINDER, "3d", 1, now.astimezone(timezone.utc), {"lead": "3d", "immediate": True})
    ]


async def test_a_late_booking_made_at_night_is_reminded_when_quiet_hours_end(database, settings, participant):
    booked = await book(database, settings, participant, local(2026, 11, 24, 13, 0), "Nygatan 19", now=local(2026, 11, 23, 22, 15))

    assert reminders(await outbox_rows(database, booked["id"])) == [(1, "3d", datetime(2026, 11, 24, 8, 0))]


async def test_a_lead_time_longer_than_the_time_left_becomes_an_immediate_reminder_and_shorter_ones_stay(database, settings, participant):
    now = local(2026, 11, 24, 9, 0)
    booked = await book(database, settings, participant, local(2026, 11, 24, 15, 0), "Nygatan 19", lead_times=[LeadTime(1, "d"), LeadTime(2, "h")], now=now)

    rows = await outbox_rows(database, booked["id"])
    assert [(r.payload["lead"], wall(r.due_at), r.payload["immediate"]) for r in rows] == [
        ("1d", datetime(2026, 11, 24, 9, 0), True),
        ("2h", datetime(2026, 11, 24, 13, 0), False),
    ]


async def test_an_early_morning_appointment_booked_at_night_gets_no_reminder_at_all(database, settings, participant):
    # Nothing may be sent before 08:00, and by then the 07:30 appointment has begun.
    booked = await book(database, settings, participant, local(2026, 11, 24, 7, 30), "Nygatan 19", now=local(2026, 11, 23, 23, 0))

    assert await outbox_rows(database, booked["id"]) == []


async def test_per_appointment_lead_times_override_the_global_setting_and_are_stored(database, settings, participant):
    booked = await book(database, settings, participant, local(2026, 11, 24, 10, 30), "Nygatan 19", lead_times=[LeadTime(2, "h"), LeadTime(2, "d")], now=NOW)

    assert reminders(await outbox_rows(database, booked["id"])) == [
        (1, "2d", datetime(2026, 11, 22, 10, 30)),
        (1, "2h", datetime(2026, 11, 24, 8, 30)),
    ]
    assert (await stored(database, booked["id"])).lead_times == "2d,2h"
    assert booked["lead_times"] == ["2d", "2h"]


async def test_the_global_lead_times_are_not_copied_onto_the_appointment(database, settings, participant):
    booked = await book(database, settings, participant, local(2026, 11, 24, 10, 30), "Nygatan 19", now=NOW)

    assert (await stored(database, booked["id"])).lead_times is None


async def test_planning_the_same_reminders_twice_adds_nothing(database, settings, participant):
    booked = await book(database, settings, participant, local(2026, 11, 24, 10, 30), "Nygatan 19", now=NOW)

    async with database.sessions() as session:
        appointment = await store.get_appointment(session, booked["id"])
        again = booking.reminder_plan(appointment, settings, NOW)
        added = await outbox.enqueue_many(session, again, now=NOW)
        await session.commit()

    assert ([p.slot for p in again], added) == (["3d", "1d"], 0)
    assert len(await outbox_rows(database)) == 2


async def test_booking_the_same_participant_twice_at_the_same_time_is_refused(database, settings, participant):
    first = await book(database, settings, participant, local(2026, 11, 24, 10, 30), "Nygatan 19", now=NOW)

    with pytest.raises(Conflict) as error:
        await book(database, settings, participant, local(2026, 11, 24, 10, 30), "Nygatan 19", now=NOW)
    assert refusal(error) == (f"participant {participant} already has appointment {first['id']} at 2026-11-24 10:30", "starts_at")
    assert len(await outbox_rows(database)) == 2


@pytest.mark.parametrize(
    ("change", "kind", "message", "field"),
    [
        ({"participant_id": 999}, NotFound, "no participant with id 999 (see: stegvis participant list)", "participant"),
        ({"starts_at": local(2026, 11, 10, 12, 0)}, InvalidInput, "2026-11-10 12:00 is in the past", "starts_at"),
        ({"starts_at": local(2028, 11, 10, 12, 1)}, InvalidInput, "2028-11-10 12:01 is more than two years from now; check the year", "starts_at"),
        ({"place": "  "}, InvalidInput, "must not be empty", "place"),
        ({"place": "x" * 201}, InvalidInput, "is longer than 200 characters", "place"),
        ({"place": "Nygatan\x0019"}, InvalidInput, "contains a control character (U+0000); remove it", "place"),
        ({"place": "Nygatan 19\u202e"}, InvalidInput, "contains a hidden text-direction character (U+202E); remove it", "place"),
        ({"title": ""}, InvalidInput, "must not be empty", "title"),
        ({"title": "y" * 201}, InvalidInput, "is longer than 200 characters", "title"),
        ({"title": "Uppf\x00ljning"}, InvalidInput, "contains a control character (U+0000); remove it", "title"),
        ({"title": "\u202eUppföljning"}, InvalidInput, "contains a hidden text-direction character (U+202E); remove it", "title"),
        ({"lead_times": []}, InvalidInput, "no lead time given; use e.g. 3d, 1d or 2h", "remind"),
    ],
    ids=[
        "participant-unknown", "in-the-past", "more-than-two-years-ahead", "place-empty", "place-too-long", "place-nul", "place-bidi",
        "title-empty", "title-too-long", "title-nul", "title-bidi", "no-lead-time",
    ],
)
async def test_a_booking_with_a_bad_value_is_refused_and_stores_nothing(database, settings, participant, change, kind, message, field):
    values = {"participant_id": participant, "starts_at": local(2026, 11, 24, 10, 30), "place": "Nygatan 19", "title": None, **change}
    with pytest.raises(kind) as error:
        await book(database, settings, now=NOW, **values)
    assert refusal(error) == (message, field)
    async with database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Appointment)) == 0
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


async def test_a_booking_exactly_two_years_ahead_is_accepted(database, settings, participant):
    booked = await book(database, settings, participant, local(2028, 11, 10, 12, 0), "Nygatan 19", now=NOW)

    assert booked["starts_at"] == "2028-11-10T12:00:00+01:00"


async def test_a_line_break_in_a_place_or_title_is_folded_into_one_line(database, settings, participant):
    booked = await book(database, settings, participant, local(2026, 11, 24, 10, 30), "Nygatan 19\nentré B", "Uppföljning\r\nmed tolk", now=NOW)

    assert (booked["place"], booked["title"]) == ("Nygatan 19 entré B", "Uppföljning med tolk")
    appointment = await stored(database, booked["id"])
    assert (appointment.place, appointment.title) == ("Nygatan 19 entré B", "Uppföljning med tolk")


# Moving


async def test_moving_withdraws_the_old_reminders_and_plans_version_2(database, settings, participant):
    booked = await book(database, settings, participant, local(2026, 11, 24, 10, 30), "Nygatan 19", now=NOW)
    moved = await move(database, settings, booked["id"], local(2026, 11, 26, 14, 0), now=local(2026, 11, 12, 9, 0))

    rows = await outbox_rows(database, booked["id"])
    assert sorted(reminders(rows, "cancelled")) == sorted([(1, "3d", datetime(2026, 11, 21, 10, 30)), (1, "1d", datetime(2026, 11, 23, 10, 30))])
    assert reminders(rows, "pending") == [(2, "3d", datetime(2026, 11, 23, 14, 0)), (2, "1d", datetime(2026, 11, 25, 14, 0))]
    assert not [r for r in rows if r.status == "pending" and r.subject_version == 1]
    assert moved["version"] == 2 and moved["starts_at"] == "2026-11-26T14:00:00+01:00"


async def test_moving_plans_a_moved_notice_naming_the_previous_time(database, settings, participant):
    booked = await book(database, settings, participant, local(2026, 11, 24, 10, 30), "Nygatan 19", now=NOW)
    now = local(2026, 11, 12, 9, 0)
    await move(database, settings, booked["id"], local(2026, 11, 26, 14, 0), now=now)

    assert [(n.composer, n.slot, n.subject_version, n.due_at, n.payload, n.status) for n in notices(await outbox_rows(database, booked["id"]))] == [
        (MOVED_NOTICE, "", 2, now.astimezone(timezone.utc), {"previous_starts_at": "2026-11-24T09:30:00+00:00"}, "pending")
    ]


async def test_a_move_made_at_night_sends_its_notice_when_quiet_hours_end(database, settings, participant):
    booked = await book(database, settings, participant, local(2026, 11, 24, 10, 30), "Nygatan 19", now=NOW)
    await move(database, settings, booked["id"], local(2026, 11, 26, 14, 0), now=local(2026, 11, 12, 21, 30))

    moved = [r for r in await outbox_rows(database, booked["id"]) if r.composer == MOVED_NOTICE]
    assert [wall(n.due_at) for n in moved] == [datetime(2026, 11, 13, 8, 0)]


async def test_moving_resets_the_participants_answer_and_is_logged(database, settings, participant):
    booked = await book(database, settings, participant, local(2026, 11, 24, 10, 30), "Nygatan 19", now=NOW)
    assert await answer(database, booked["id"], participant, "coming", version=1, now=NOW)

    moved = await move(database, settings, booked["id"], local(2026, 11, 26, 14, 0), now=NOW)

    assert (moved["answer"], moved["answered_at"]) == (None, None)
    assert await events(database, "appointment_moved") == [
        {"appointment_id": booked["id"], "starts_at": "2026-11-26T13:00:00+00:00", "previous_starts_at": "2026-11-24T09:30:00+00:00", "version": 2}
    ]


async def test_a_reminder_already_sent_stays_sent_when_the_appointment_moves(database, settings, participant):
    booked = await book(database, settings, participant, local(2026, 11, 24, 10, 30), "Nygatan 19", now=NOW)
    async with database.sessions.begin() as session:
        sent = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.composer == REMINDER, OutboxMessage.slot == "3d", OutboxMessage.subject_version == 1)
        )
        sent.status = "sent"

    await move(database, settings, booked["id"], local(2026, 11, 26, 14, 0), now=local(2026, 11, 21, 12, 0))

    statuses = {(r.subject_version, r.composer, r.slot): r.status for r in await outbox_rows(database, booked["id"])}
    assert statuses == {
        (1, REMINDER, "3d"): "sent",
        (1, REMINDER, "1d"): "cancelled",
        (2, REMINDER, "3d"): "pending",
        (2, REMINDER, "1d"): "pending",
        (2, MOVED_NOTICE, ""): "pending",
    }


async def test_moving_twice_before_the_notice_went_out_tells_the_time_the_participant_knew(database, settings, participant):
    booked = await book(database, settings, participant, local(2026, 11, 24, 10, 30), "Nygatan 19", now=NOW)
    await move(database, settings, booked["id"], local(2026, 11, 26, 14, 0), now=local(2026, 11, 12, 21, 0))
    await move(database, settings, booked["id"], local(2026, 11, 27, 9, 0), now=local(2026, 11, 12, 22, 0))

    moved = {r.subject_version: (r.status, r.payload) for r in await outbox_rows(database, booked["id"]) if r.composer == MOVED_NOTICE}
    assert moved == {
        2: ("cancelled", {"previous_starts_at": "2026-11-24T09:30:00+00:00"}),
        3: ("pending", {"previous_starts_at": "2026-11-24T09:30:00+00:00"}),
    }


async def test_moving_a_cancelled_appointment_is_refused(database, settings, participant):
    booked = await book(database, settings, participant, local(2026, 11, 24, 10, 30), "Nygatan 19", now=NOW)
    await cancel(database, settings, booked["id"], now=NOW)

    with pytest.raises(Conflict) as error:
        await move(database, settings, booked["id"], local(2026, 11, 26, 14, 0), now=NOW)
    assert refusal(error) == (f"appointment {booked['id']} is cancelled and cannot be moved; book a new one with: stegvis appointment add", None)


async def test_moving_an_appointment_that_has_begun_is_refused(database, settings, participant):
    booked = await book(database, settings, participant, local(2026, 11, 24, 10, 30), "Nygatan 19", now=NOW)

    with pytest.raises(Conflict) as error:
        await move(database, settings, booked["id"], local(2026, 11, 26, 14, 0), now=local(2026, 11, 24, 10, 45))
    assert refusal(error) == (f"appointment {booked['id']} was at 2026-11-24 10:30 and can no longer be moved; book a new one with: stegvis appointment add", None)


@pytest.mark.parametrize(
    ("starts_at", "message"),
    [
        (local(2026, 11, 9, 10, 0), "2026-11-09 10:00 is in the past"),
        (local(2028, 11, 10, 12, 1), "2028-11-10 12:01 is more than two years from now; check the year"),
    ],
    ids=["in-the-past", "more-than-two-years-ahead"],
)
async def test_moving_to_a_time_that_cannot_be_booked_is_refused_and_changes_nothing(database, settings, participant, starts_at, message):
    booked = await book(database, settings, participant, local(2026, 11, 24, 10, 30), "Nygatan 19", now=NOW)

    with pytest.raises(InvalidInput) as error:
        await move(database, settings, booked["id"], starts_at, now=NOW)
    assert refusal(error) == (message, "starts_at")
    assert (await stored(database, booked["id"])).version == 1
    assert len(reminders(await outbox_rows(database), "pending")) == 2
    assert await events(database, "appointment_moved") == []


async def test_moving_to_the_same_time_is_refused(database, settings, participant):
    booked = await book(database, settings, participant, local(2026, 11, 24, 10, 30), "Nygatan 19", now=NOW)

    with pytest.raises(Conflict) as error:
        await move(database, settings, booked["id"], local(2026, 11, 24, 10, 30), now=NOW)
    assert refusal(error) == (f"appointment {booked['id']} is already at 2026-11-24 10:30", "starts_at")


async def test_moving_an_unknown_appointment_is_refused(database, settings, participant):
    with pytest.raises(NotFound) as error:
        await move(database, settings, 42, local(2026, 11, 24, 10, 30), now=NOW)
    assert refusal(error) == ("no appointment with id 42 (see: stegvis appointment list)", None)


# Cancelling


async def test_cancelling_withdraws_every_pending_reminder_and_plans_a_cancelled_notice(database, settings, participant):
    booked = await book(database, settings, participant, local(2026, 11, 24, 10, 30), "Nygatan 19", now=NOW)
    now = local(2026, 11, 12, 9, 0)
    cancelled = await cancel(database, settings, booked["id"], now=now)

    rows = await outbox_rows(database, booked["id"])
    assert {(r.subject_version, r.slot): r.status for r in rows if r.composer == REMINDER} == {(1, "3d"): "cancelled", (1, "1d"): "cancelled"}
    assert [(r.composer, r.slot, r.subject_version, r.due_at, r.status) for r in notices(rows)] == [
        (CANCELLED_NOTICE, "", 1, now.astimezone(timezone.utc), "pending")
    ]
    assert cancelled["status"] == "cancelled"
    assert await events(database, "appointment_cancelled") == [{"appointment_id": booked["id"], "starts_at": "2026-11-24T09:30:00+00:00", "version": 1}]


async def test_a_cancelled_appointment_gets_no_further_reminders(database, settings, participant):
    booked = await book(database, settings, participant, local(2026, 11, 24, 10, 30), "Nygatan 19", now=NOW)
    await cancel(database, settings, booked["id"], now=NOW)

    assert reminders(await outbox_rows(database), "pending") == []
    assert await unanswered(database, local(2026, 11, 25)) == []


async def test_cancelling_a_pending_moved_notice_withdraws_it_too(database, settings, participant):
    booked = await book(database, settings, participant, local(2026, 11, 24, 10, 30), "Nygatan 19", now=NOW)
    await move(database, settings, booked["id"], local(2026, 11, 26, 14, 0), now=local(2026, 11, 12, 21, 0))
    await cancel(database, settings, booked["id"], now=local(2026, 11, 12, 22, 0))

    pending = [(r.composer, r.slot, r.subject_version) for r in await outbox_rows(database) if r.status == "pending"]
    assert pending == [(CANCELLED_NOTICE, "", 2)]


async def test_cancelling_at_night_just_before_an_early_appointment_plans_no_notice(database, settings, participant):
    booked = await book(database, settings, participant, local(2026, 11, 24, 7, 30), "Nygatan 19", now=NOW)
    cancelled = await cancel(database, settings, booked["id"], now=local(2026, 11, 23, 21, 0))

    assert cancelled["notices"] == []


async def test_cancelling_twice_is_refused(database, settings, participant):
    booked = await book(database, settings, participant, local(2026, 11, 24, 10, 30), "Nygatan 19", now=NOW)
    await cancel(database, settings, booked["id"], now=NOW)

    with pytest.raises(Conflict) as error:
        await cancel(database, settings, booked["id"], now=NOW)
    assert refusal(error) == (f"appointment {booked['id']} is already cancelled", None)


# After the appointment


async def test_an_appointment_that_started_without_an_answer_is_recorded_as_unanswered(database, settings, participant):
    booked = await book(database, settings, participant, local(2026, 11, 24, 10, 30), "Nygatan 19", now=NOW)

    assert await unanswered(database, local(2026, 11, 24, 10, 35)) == [booked["id"]]
    appointment = await stored(database, booked["id"])
    assert appointment.answer == "unanswered"
    assert await events(database, "appointment_unanswered") == [{"appointment_id": booked["id"], "starts_at": "2026-11-24T09:30:00+00:00", "version": 1}]


async def test_recording_unanswered_twice_changes_nothing_the_second_time(database, settings, participant):
    await book(database, settings, participant, local(2026, 11, 24, 10, 30), "Nygatan 19", now=NOW)
    await unanswered(database, local(2026, 11, 24, 11, 0))

    assert await unanswered(database, local(2026, 11, 24, 12, 0)) == []
    assert len(await events(database, "appointment_unanswered")) == 1


async def test_answered_and_future_appointments_are_not_marked_unanswered(database, settings, participant):
    answered = await book(database, settings, participant, local(2026, 11, 24, 10, 30), "Nygatan 19", now=NOW)
    future = await book(database, settings, participant, local(2026, 11, 30, 10, 30), "Nygatan 19", now=NOW)
    assert await answer(database, answered["id"], participant, "cant_come", version=1, now=NOW)

    assert await unanswered(database, local(2026, 11, 25)) == []
    assert (await stored(database, answered["id"])).answer == "cant_come"
    assert (await stored(database, future["id"])).answer is None


async def test_an_answer_to_an_older_version_is_not_recorded(database, settings, participant):
    booked = await book(database, settings, participant, local(2026, 11, 24, 10, 30), "Nygatan 19", now=NOW)
    await move(database, settings, booked["id"], local(2026, 11, 26, 14, 0), now=NOW)

    assert not await answer(database, booked["id"], participant, "coming", version=1, now=NOW)
    assert await answer(database, booked["id"], participant, "new_time", version=2, now=NOW)
    assert (await stored(database, booked["id"])).answer == "new_time"


async def test_attendance_is_recorded_after_the_start_and_logged(database, settings, participant):
    booked = await book(database, settings, participant, local(2026, 11, 24, 10, 30), "Nygatan 19", now=NOW)

    result = await attend(database, settings, booked["id"], False, now=local(2026, 11, 24, 11, 0))

    assert result["attended"] is False
    assert (await stored(database, booked["id"])).attended is False
    assert await events(database, "appointment_attended") == [{"appointment_id": booked["id"], "attended": False}]


async def test_attendance_before_the_start_is_refused(database, settings, participant):
    booked = await book(database, settings, participant, local(2026, 11, 24, 10, 30), "Nygatan 19", now=NOW)

    with pytest.raises(Conflict) as error:
        await attend(database, settings, booked["id"], True, now=local(2026, 11, 24, 10, 0))
    assert refusal(error) == (f"appointment {booked['id']} starts at 2026-11-24 10:30; record attendance once it has started", None)


async def test_attendance_of_a_cancelled_appointment_is_refused(database, settings, participant):
    booked = await book(database, settings, participant, local(2026, 11, 24, 10, 30), "Nygatan 19", now=NOW)
    await cancel(database, settings, booked["id"], now=NOW)

    with pytest.raises(Conflict) as error:
        await attend(database, settings, booked["id"], True, now=local(2026, 11, 25))
    assert refusal(error) == (f"appointment {booked['id']} was cancelled; there is no attendance to record", None)


# Listing


async def test_the_list_shows_each_appointment_with_its_reminders_and_latest_answer(database, settings, participant):
    later = await book(database, settings, participant, local(2026, 11, 30, 9, 0), "Skäggetorp centrum", now=NOW)
    first = await book(database, settings, participant, local(2026, 11, 24, 10, 30), "Nygatan 19", now=NOW)
    assert await answer(database, first["id"], participant, "coming", version=1, now=local(2026, 11, 21, 10, 40))

    listed = await listing(database, settings, participant)

    assert [a["id"] for a in listed] == [first["id"], later["id"]]
    assert (listed[0]["answer"], listed[0]["answered_at"]) == ("coming", "2026-11-21T10:40:00+01:00")
    assert [(r["lead"], r["due_at"], r["status"]) for r in listed[0]["reminders"]] == [
        ("3d", "2026-11-21T10:30:00+01:00", "pending"),
        ("1d", "2026-11-23T10:30:00+01:00", "pending"),
    ]


async def test_listing_an_unknown_participant_is_refused(database, settings, participant):
    with pytest.raises(NotFound) as error:
        await listing(database, settings, 777)
    assert refusal(error) == ("no participant with id 777 (see: stegvis participant list)", "participant")


async def test_a_move_based_on_an_outdated_read_changes_nothing(database, settings, participant):
    booked = await book(database, settings, participant, local(2026, 11, 24, 10, 30), "Nygatan 19", now=NOW)
    async with database.sessions() as session:
        outdated = await store.get_appointment(session, booked["id"])
    await move(database, settings, booked["id"], local(2026, 11, 26, 14, 0), now=NOW)

    async with database.sessions.begin() as session:
        assert not await store.reschedule(session, outdated, local(2026, 11, 27, 9, 0), NOW)
    appointment = await stored(database, booked["id"])
    assert (appointment.version, wall(appointment.starts_at)) == (2, datetime(2026, 11, 26, 14, 0))


# Participants the messages cannot reach yet


async def set_status(database: Database, participant_id: int, status: str) -> None:
    async with database.sessions.begin() as session:
        await session.execute(update(Participant).where(Participant.id == participant_id).values(status=status))


async def join(database: Database, participant_id: int, chat_id: int, *, now: datetime) -> None:
    """What onboarding stores when the participant opens their invite link and agrees to the privacy notice."""
    async with database.sessions.begin() as session:
        invite, _ = await repo.create_invite(session, participant_id, timedelta(days=14), now=now)
        await repo.redeem_invite(session, invite, chat_id, now=now)
        changes = Changes(participant_id, now)
        consent(changes, (await participants_by_id(session, [participant_id]))[participant_id], FlowEvent("consent", {"answer": "agreed", "notice_version": "2026-11"}, "onboarding", None))
        await apply_changes(session, changes)


@pytest.mark.parametrize("status", ["active", "invited", "stopped", "unreachable"])
async def test_messages_are_claimed_for_sending_only_while_the_participant_is_active(database, settings, participant, status):
    await set_status(database, participant, status)
    booked = await book(database, settings, participant, local(2026, 11, 24, 10, 30), "Nygatan 19", now=NOW)
    moved = await move(database, settings, booked["id"], local(2026, 11, 26, 14, 0), now=local(2026, 11, 12, 9, 0))
    other = await book(database, settings, participant, local(2026, 11, 25, 10, 30), "Skäggetorp centrum", now=NOW)
    await cancel(database, settings, other["id"], now=local(2026, 11, 12, 9, 0))
    assert (booked["participant_status"], moved["participant_status"]) == (status, status)
    planned = {
        (booked["id"], REMINDER, "3d", 2),
        (booked["id"], REMINDER, "1d", 2),
        (booked["id"], MOVED_NOTICE, "", 2),
        (other["id"], CANCELLED_NOTICE, "", 1),
    }

    async with database.sessions() as session:
        claimed = await outbox.claim(session, worker="test", now=local(2026, 11, 25, 14, 0), limit=100)  # when all four are due
        await session.commit()

    def about(rows: list[OutboxMessage]) -> set[tuple[int, str, str, int]]:
        return {(r.subject_id, r.composer, r.slot, r.subject_version) for r in rows}

    rows = await outbox_rows(database)
    if status == "active":
        assert about(claimed) == planned
        assert about([r for r in rows if r.status == "pending"]) == set()
    else:
        assert claimed == []
        assert about([r for r in rows if r.status == "pending" and r.claimed_by is None]) == planned


async def test_reminders_wait_for_an_invited_participant_and_those_still_due_go_out_when_they_join(database, settings, participant):
    ahead = await book(database, settings, participant, local(2026, 11, 24, 10, 30), "Nygatan 19", now=NOW)  # 3d due 11-21, 1d due 11-23
    begun = await book(database, settings, participant, local(2026, 11, 20, 10, 0), "Skäggetorp centrum", now=NOW)  # over by 11-22
    joined_at = local(2026, 11, 22, 12, 0)
    chat_id = 7001

    async with BotAPISandbox() as sandbox:
        configured = load_settings(
            database_url=database.engine.url.render_as_string(hide_password=False),
            telegram_bot_token=sandbox.token,
            telegram_api_url=sandbox.url,
            telegram_bot_username=sandbox.bot_username,
            timezone="Europe/Stockholm",
            reminder_lead_times="3d,1d",
            quiet_hours="20:00-08:00",
        )
        stegvis = Stegvis.create(configured, clock=FrozenClock(joined_at), database=database)
        bot = stegvis.create_bot()
        try:
            sender = Sender(stegvis, bot)
            assert await sender.tick() == 0
            assert sender.stats.claimed == 0
            assert {r.status for r in await outbox_rows(database)} == {"pending"}

            await join(database, participant, chat_id, now=joined_at)
            sandbox.user(chat_id, "Hassan", "ar")
            assert await sender.tick() == 1
        finally:
            await bot.session.close()
            await stegvis.close()

    status = {(r.subject_id, r.slot): (r.status, r.last_error) for r in await outbox_rows(database)}
    assert status == {
        (ahead["id"], "3d"): ("sent", None),
        (ahead["id"], "1d"): ("pending", None),  # not due yet: it goes out on 2026-11-23 at 10:30
        (begun["id"], "3d"): ("cancelled", "withdrawn: the appointment has begun"),
        (begun["id"], "1d"): ("cancelled", "withdrawn: the appointment has begun"),
    }
    delivered = [m for m in sandbox.sent_messages() if m.chat_id == chat_id]
    assert delivered, "the reminder reached the participant's chat"
    (sent,) = await events(database, "reminder_sent")
    assert (sent["appointment_id"], sent["version"], sent["lead"], sent["telegram_message_id"]) == (ahead["id"], 1, "3d", delivered[-1].message_id)


# Importing many at once


def csv_file(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "bookings.csv"
    path.write_text("\n".join(["participant_id,date,time,place,title,remind", *lines]) + "\n", encoding="utf-8")
    return path


def times(count: int) -> list[datetime]:
    """``count`` different local times: 40 a day, every quarter of an hour from 09:00, from 2026-11-24 on."""
    first = local(2026, 11, 24, 9, 0)
    return [(first + timedelta(days=i // 40)).replace(hour=9 + (i % 40) // 4, minute=15 * (i % 4)) for i in range(count)]


def rows_at(participant_id: int, starts: list[datetime]) -> list[str]:
    return [f"{participant_id},{at:%Y-%m-%d},{at:%H:%M},Nygatan 19,," for at in starts]


async def counts(database: Database) -> tuple[int, int, int]:
    """(appointments, outbox rows, appointment_booked events) as another connection sees them."""
    async with database.sessions() as session:
        return (
            await session.scalar(select(func.count()).select_from(Appointment)),
            await session.scalar(select(func.count()).select_from(OutboxMessage)),
            await session.scalar(select(func.count()).select_from(Event).where(Event.type == "appointment_booked")),
        )


async def test_importing_2000_rows_books_each_with_its_reminders_and_its_event_in_one_transaction(database, settings, participant, tmp_path):
    starts = times(2000)
    path = csv_file(tmp_path, rows_at(participant, starts))

    async with database.sessions() as session:
        imported = await import_appointments(session, CLI, settings, path, now=NOW)
        assert await counts(database) == (0, 0, 0)  # nothing is seen before the one commit
        await session.commit()

    assert len(imported.appointments) == 2000
    assert await counts(database) == (2000, 4000, 2000)
    ids = [a.id for a in imported.appointments]
    assert len(set(ids)) == 2000
    listed = {a["id"]: a for a in await listing(database, settings, participant)}
    assert sorted(listed) == sorted(ids)
    for index in (0, 39, 40, 1234, 1999):
        appointment = listed[ids[index]]
        at = starts[index]
        assert appointment["starts_at"] == at.isoformat()
        assert [(r["lead"], r["due_at"], r["status"], r["version"]) for r in appointment["reminders"]] == [
            ("3d", (at - timedelta(days=3)).isoformat(), "pending", 1),
            ("1d", (at - timedelta(days=1)).isoformat(), "pending", 1),
        ]
    assert {row.composer for row in await outbox_rows(database)} == {REMINDER}
    booked = await events(database, "appointment_booked")
    assert sorted(event["appointment_id"] for event in booked) == sorted(ids)
    assert {event["appointment_id"]: event["starts_at"] for event in booked}[ids[1999]] == starts[1999].astimezone(timezone.utc).isoformat()


async def test_one_bad_row_among_2000_imports_nothing(database, settings, participant, tmp_path):
    lines = rows_at(participant, times(2000))
    lines[1000] = lines[1000].replace(",Nygatan 19,", ",\u202eNygatan 19,")
    path = csv_file(tmp_path, lines)

    async with database.sessions() as session:
        with pytest.raises(ImportRejected) as error:
            await import_appointments(session, CLI, settings, path, now=NOW)
        await session.commit()

    assert (error.value.message, error.value.problems) == (
        f"{path}: nothing was imported: 1 of 2000 rows have problems",
        ["line 1002: place: contains a hidden text-direction character (U+202E); remove it"],
    )
    assert await counts(database) == (0, 0, 0)
