"""Reading and writing appointments; every function takes the caller's session and never commits.

The booking rules (what may be moved, when reminders go out) live in
``bot/features/appointments/``; this module only stores and finds. Every datetime is aware;
``now`` is always passed in.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Update, and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from storage.models import Appointment, AppointmentStatus, OutboxMessage, OutboxStatus

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
    *,
    now: datetime,
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
        created_at=now,
        updated_at=now,
    )
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


async def add_many(session: AsyncSession, rows: list[dict[str, Any]]) -> list[int]:
    """Insert many booked appointments at once; their ids, in the order given.

    For an import of thousands of rows: batched INSERT ... RETURNING on the connection (Core, no
    ORM bookkeeping). RETURNING keeps no order, so each id is matched back by participant and
    start, which the caller has made unique among booked appointments.
    """
    if not rows:
        return []
    connection = await session.connection()
    result = await connection.execute(insert(Appointment).returning(Appointment.id, Appointment.participant_id, Appointment.starts_at), rows)
    ids = {(participant_id, starts_at): appointment_id for appointment_id, participant_id, starts_at in result}
    return [ids[(row["participant_id"], row["starts_at"])] for row in rows]


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


def set_answer(appointment_id: int, participant_id: int, answer: str, *, version: int, now: datetime) -> Update:
    """The statement that records a participant's answer to the booking ``version`` they were shown.

    It changes nothing when the appointment is not theirs, that version is no longer current (it
    moved after the reminder was sent), it was cancelled, or it has already started; the tap is
    still in the event log. One conditional UPDATE, so it cannot race a move. A statement rather
    than a call, so it runs in the same unit of work as the answer's event (``storage.writer``).
    """
    if answer not in ANSWERS:
        raise ValueError(f"unknown answer {answer!r}; expected one of {', '.join(ANSWERS)}")
    return (
        update(Appointment)
        .where(
            Appointment.id == appointment_id,
            Appointment.participant_id == participant_id,
            Appointment.version == version,
            Appointment.status == AppointmentStatus.BOOKED,
            Appointment.starts_at > now,
        )
        .values(answer=answer, answered_at=now, updated_at=now)
    )


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


async def withdraw_stale(session: AsyncSession, now: datetime, *, cancellation_notice: str) -> int:
    """Cancel pending messages about appointments that must never go out any more.

    The same rules as the appointments' staleness rule in ``bot/features/appointments``, in one
    UPDATE for the housekeeping job: the appointment has begun, or is cancelled (except its
    ``cancellation_notice``), or the message is about an older version, or a cancellation notice
    whose appointment is booked again.
    """
    about = and_(OutboxMessage.subject_kind == "appointment", OutboxMessage.subject_id == Appointment.id)
    stale = (
        select(OutboxMessage.id)
        .join(Appointment, about)
        .where(
            OutboxMessage.status == OutboxStatus.PENDING,
            or_(
                Appointment.starts_at <= now,
                and_(OutboxMessage.composer == cancellation_notice, Appointment.status != AppointmentStatus.CANCELLED),
                and_(
                    OutboxMessage.composer != cancellation_notice,
                    or_(Appointment.status != AppointmentStatus.BOOKED, OutboxMessage.subject_version != Appointment.version),
                ),
            ),
        )
    )
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(stale.scalar_subquery()), OutboxMessage.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.CANCELLED, last_error="withdrawn: the appointment moved, was cancelled or has begun")
        .execution_options(synchronize_session=False)
    )
    return result.rowcount
