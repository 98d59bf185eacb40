"""Reading and writing appointments; every function takes the caller's session and never commits.

The booking rules (what may be moved, when reminders go out) live in ``bot/appointments.py``;
this module only stores and finds. Every datetime is aware; ``now`` is always passed in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from storage.models import Appointment, AppointmentStatus, OutboxMessage

# What a participant can answer from a reminder, and what is recorded when they never did.
ANSWERS = ("coming", "cant_come", "new_time")
UNANSWERED = "unanswered"


async def add_appointment(
    session: AsyncSession,
    participant_id: int,
    starts_at: datetime,
    place: str,
    title: str | None = None,
    lead_times: str | None = None,
    now: datetime | None = None,
) -> Appointment:
    """Store a booked appointment (version 1); flushed, so its id is known at once."""
    appointment = Appointment(
        participant_id=participant_id,
        starts_at=starts_at,
        place=place,
        title=title,
        lead_times=lead_times,
        version=1,
        status=AppointmentStatus.BOOKED,
    )
    if now is not None:
        appointment.created_at = appointment.updated_at = now
    session.add(appointment)
    await session.flush()
    return appointment


async def get_appointment(
    session: AsyncSession, appointment_id: int, *, for_update: bool = False
) -> Appointment | None:
    """One appointment; ``for_update`` locks its row (PostgreSQL) so two moves cannot interleave."""
    query = select(Appointment).where(Appointment.id == appointment_id)
    if for_update:
        # populate_existing: a copy already in this session must not hide a newer version.
        query = query.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(query)


async def list_appointments(
    session: AsyncSession, participant_id: int | None = None
) -> list[Appointment]:
    """Appointments in the order they take place."""
    query = select(Appointment).order_by(Appointment.starts_at, Appointment.id)
    if participant_id is not None:
        query = query.where(Appointment.participant_id == participant_id)
    return list(await session.scalars(query))


async def booked_at(
    session: AsyncSession, participant_ids: Iterable[int]
) -> dict[tuple[int, datetime], int]:
    """(participant, start) → appointment id for these participants' booked appointments.

    Used to refuse a second booking of the same person at the same time, which would send every
    reminder twice. One query for a whole import.
    """
    ids = sorted(set(participant_ids))
    if not ids:
        return {}
    rows = await session.execute(
        select(Appointment.participant_id, Appointment.starts_at, Appointment.id).where(
            Appointment.participant_id.in_(ids),
            Appointment.status == AppointmentStatus.BOOKED,
        )
    )
    return {(participant_id, starts_at): id_ for participant_id, starts_at, id_ in rows}


async def outbox_messages(
    session: AsyncSession, appointment_ids: Iterable[int]
) -> dict[int, list[OutboxMessage]]:
    """Every outbox row of these appointments (all versions), each list in due order."""
    ids = sorted(set(appointment_ids))
    found: dict[int, list[OutboxMessage]] = defaultdict(list)
    if not ids:
        return found
    rows = await session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.appointment_id.in_(ids))
        .order_by(OutboxMessage.due_at, OutboxMessage.id)
    )
    for message in rows:
        found[message.appointment_id].append(message)  # type: ignore[index]
    return found


async def reschedule(session: AsyncSession, appointment: Appointment, starts_at: datetime, now: datetime) -> bool:
    """Move to ``starts_at`` as the next version and clear the answer; False if changed meanwhile.

    Conditional on the version the caller read, so two moves at once cannot both win (on SQLite
    a read takes no lock; on PostgreSQL the caller's FOR UPDATE already keeps this from failing).
    """
    values = {"version": appointment.version + 1, "starts_at": starts_at, "answer": None, "answered_at": None, "updated_at": now}
    return await _update_if(session, appointment, values, Appointment.version == appointment.version, Appointment.status == AppointmentStatus.BOOKED)


async def mark_cancelled(session: AsyncSession, appointment: Appointment, now: datetime) -> bool:
    """Cancel; False if it was cancelled meanwhile (by another caseworker at the same moment)."""
    values = {"status": AppointmentStatus.CANCELLED, "updated_at": now}
    return await _update_if(session, appointment, values, Appointment.status == AppointmentStatus.BOOKED)


async def _update_if(session: AsyncSession, appointment: Appointment, values: dict[str, Any], *conditions: Any) -> bool:
    result = await session.execute(
        update(Appointment)
        .where(Appointment.id == appointment.id, *conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    for name, value in values.items():
        set_committed_value(appointment, name, value)  # already written by the UPDATE above
    return True


async def set_answer(
    session: AsyncSession,
    appointment_id: int,
    answer: str,
    *,
    version: int,
    now: datetime,
) -> bool:
    """Record the participant's answer to the booking ``version`` their reminder was about.

    False (nothing changes) when that version is no longer current (the appointment moved after
    the reminder was sent), the appointment was cancelled, or it has already started; the caller
    still logs the tap as an event. One conditional UPDATE, so it cannot race a move.
    """
    if answer not in ANSWERS:
        raise ValueError(f"unknown answer {answer!r}; expected one of {', '.join(ANSWERS)}")
    result = await session.execute(
        update(Appointment)
        .where(
            Appointment.id == appointment_id,
            Appointment.version == version,
            Appointment.status == AppointmentStatus.BOOKED,
            Appointment.starts_at > now,
        )
        .values(answer=answer, answered_at=now, updated_at=now)
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount == 1


async def mark_unanswered(session: AsyncSession, now: datetime) -> list[Appointment]:
    """Mark booked appointments that started with no answer as unanswered; returns those changed.

    A single UPDATE ... RETURNING: when several ``stegvis run`` processes do this at once, each
    appointment is returned to exactly one of them, so its event is logged once.
    """
    result = await session.execute(
        update(Appointment)
        .where(
            Appointment.status == AppointmentStatus.BOOKED,
            Appointment.starts_at <= now,
            Appointment.answer.is_(None),
        )
        .values(answer=UNANSWERED, answered_at=now, updated_at=now)
        .returning(Appointment)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return sorted(result.scalars().all(), key=lambda appointment: appointment.id)
