"""The outbox: messages Stegvis sends on its own, planned ahead and sent by the sender when due.

Planning is idempotent: a row's key (for a reminder ``appointment:<id>:v<version>:<lead>``)
is unique, so planning the same message twice adds nothing. Every function takes the caller's
session and never commits.

A row's life: ``pending`` → (claimed by one sender) ``sending`` → ``sent`` | ``failed``, or back
to ``pending`` (retry later, quiet hours, its sender died), or ``cancelled`` (withdrawn: the
appointment moved, was cancelled or has begun). ``docs/sending.md`` says what this guarantees.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, cast, insert, literal, not_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.elements import ColumnElement

from storage import repositories as repo
from storage.models import (
    Appointment,
    AppointmentStatus,
    Event,
    OutboxMessage,
    OutboxStatus,
    Participant,
    ParticipantStatus,
    utcnow,
)

def reminder_key(appointment_id: int, version: int, lead: str) -> str:
    return f"appointment:{appointment_id}:v{version}:{lead}"


def notice_key(appointment_id: int, version: int, kind: str) -> str:
    return f"appointment:{appointment_id}:v{version}:{kind}"


async def enqueue(
    session: AsyncSession,
    *,
    key: str,
    participant_id: int,
    kind: str,
    due_at: datetime,
    appointment_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> bool:
    """Plan a message; False when a message with this key was planned before (nothing changes)."""
    insert = repo.dialect_insert(session)
    result = await session.execute(
        insert(OutboxMessage)
        .values(
            idempotency_key=key,
            participant_id=participant_id,
            appointment_id=appointment_id,
            kind=kind,
            payload=payload or {},
            due_at=due_at,
            status=OutboxStatus.PENDING,
            attempts=0,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=[OutboxMessage.idempotency_key])
    )
    return result.rowcount == 1


async def cancel_pending(session: AsyncSession, appointment_id: int, *, kinds: tuple[str, ...] = ("reminder",)) -> int:
    """Withdraw the appointment's messages not yet sent (after a move or a cancellation)."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.appointment_id == appointment_id,
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.kind.in_(kinds),
        )
        .values(status=OutboxStatus.CANCELLED, last_error="withdrawn: the appointment moved or was cancelled")
    )
    return result.rowcount


# ---- sending: claiming rows and recording what became of them --------------------------------

_KEY_VERSION = re.compile(r"^appointment:\d+:v(\d+):")
_ERROR_LENGTH = 500  # the column's size


def key_version(key: str) -> int | None:
    """The booking version an appointment message was planned for; None for other messages."""
    match = _KEY_VERSION.match(key)
    return int(match[1]) if match else None


def stale_reason(row: OutboxMessage, appointment: Appointment | None, now: datetime) -> str | None:
    """Why the row must not be sent any more, or None. `withdraw_late` applies the same rules in SQL.

    A cancellation notice goes out for a cancelled appointment; every other appointment message
    only while the appointment is booked, at the version it was planned for, and not yet begun.
    """
    if row.appointment_id is None:
        return None
    if appointment is None:
        return "withdrawn: the appointment no longer exists"
    if appointment.starts_at <= now:
        return "withdrawn: the appointment has begun"
    if row.kind == "cancelled":
        return None if appointment.status == AppointmentStatus.CANCELLED else "withdrawn: the appointment is booked"
    if appointment.status != AppointmentStatus.BOOKED:
        return "withdrawn: the appointment was cancelled"
    version = key_version(row.idempotency_key)
    if version is not None and version != appointment.version:
        return "withdrawn: the appointment moved"
    return None


def _stale_clause(now: datetime) -> ColumnElement[bool]:
    # SQL twin of stale_reason(), for rows joined with their appointment.
    current_prefix = (
        literal("appointment:") + cast(Appointment.id, String) + literal(":v") + cast(Appointment.version, String) + literal(":")
    )
    other_version = and_(OutboxMessage.idempotency_key.like("appointment:%"), not_(OutboxMessage.idempotency_key.startswith(current_prefix)))
    return or_(
        Appointment.starts_at <= now,
        and_(OutboxMessage.kind == "cancelled", Appointment.status != AppointmentStatus.CANCELLED),
        and_(OutboxMessage.kind != "cancelled", or_(Appointment.status != AppointmentStatus.BOOKED, other_version)),
    )


async def claim(session: AsyncSession, *, worker: str, now: datetime, limit: int) -> list[OutboxMessage]:
    """Take up to `limit` due rows for `worker` (status ``sending``), oldest due first.

    Only rows of active participants are taken: those of stopped, unreachable or invited
    participants stay pending, never sent. The caller commits the claim *before* sending, so a
    crash leaves the rows claimed, to be reclaimed after the lease (`reclaim_expired`).
    On PostgreSQL the due rows are locked with FOR UPDATE SKIP LOCKED, so senders in other
    processes take other rows instead of waiting for these or taking them too. SQLite has one
    writer at a time, and the single UPDATE statement is atomic there.
    """
    due = (
        select(OutboxMessage.id)
        .join(Participant, Participant.id == OutboxMessage.participant_id)
        .where(
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.due_at <= now,
            Participant.status == ParticipantStatus.ACTIVE,
        )
        .order_by(OutboxMessage.due_at, OutboxMessage.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True, of=OutboxMessage)
    # A materialised CTE picks the rows once. As a plain IN (subquery) PostgreSQL may run the
    # subquery again for each row it updates, taking more than `limit` rows.
    picked = due.cte("due").prefix_with("MATERIALIZED")
    result = await session.execute(
        update(OutboxMessage)
        # Checking the status again costs nothing and keeps the claim right on any isolation level.
        .where(OutboxMessage.id.in_(select(picked.c.id)), OutboxMessage.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.SENDING, claimed_by=worker, claimed_at=now)
        .returning(OutboxMessage)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    rows = list(result.scalars())
    rows.sort(key=lambda row: (row.due_at, row.id))  # RETURNING keeps no order
    return rows


async def renew_claims(session: AsyncSession, ids: Collection[int], *, worker: str, now: datetime) -> int:
    """Keep `worker`'s claims on these rows alive (a heartbeat), so no other sender reclaims them."""
    if not ids:
        return 0
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(list(ids)), OutboxMessage.claimed_by == worker, OutboxMessage.status == OutboxStatus.SENDING)
        .values(claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


async def reclaim_expired(session: AsyncSession, *, now: datetime, lease: timedelta) -> int:
    """Rows claimed longer than `lease` ago, by a sender that stopped renewing them, become pending.

    Such a sender died somewhere between claiming and recording the outcome; it may have sent
    some of these rows, which are then sent again (at least once, never lost).
    """
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.claimed_at < now - lease)
        .values(status=OutboxStatus.PENDING, claimed_by=None, claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


async def _set(session: AsyncSession, row: OutboxMessage, **values: Any) -> None:
    # By id, so rows loaded in another session (the claim's) can be updated; the object follows.
    await session.execute(
        update(OutboxMessage).where(OutboxMessage.id == row.id).values(**values).execution_options(synchronize_session=False)
    )
    for name, value in values.items():
        set_committed_value(row, name, value)  # not "dirty": the UPDATE above already wrote it


async def mark_sent(session: AsyncSession, row: OutboxMessage, telegram_message_id: int | None, now: datetime) -> None:
    await mark_sent_many(session, [(row, telegram_message_id)], now)


async def mark_sent_many(session: AsyncSession, sent: Sequence[tuple[OutboxMessage, int | None]], now: datetime) -> None:
    """Mark rows sent, each with Telegram's message id and an event saying it went out
    (`sent_event`). Two statements (executemany) however many rows: the sender's busiest write."""
    if not sent:
        return
    values = [
        {"id": row.id, "status": OutboxStatus.SENT, "sent_at": now, "telegram_message_id": message_id, "last_error": None}
        for row, message_id in sent
    ]
    await session.execute(update(OutboxMessage), values, execution_options={"synchronize_session": False})
    for (row, _), changed in zip(sent, values):
        for name, value in changed.items():
            set_committed_value(row, name, value)
    # Core INSERT: events are append-only and nobody needs the objects back.
    events = [{"occurred_at": now, "flow": None, "step": None, **sent_event(row, message_id)} for row, message_id in sent]
    await session.execute(insert(Event), events)


def sent_event(row: OutboxMessage, telegram_message_id: int | None) -> dict[str, Any]:
    """``reminder_sent``, or ``notice_sent`` for a moved/cancelled notice: type, participant and payload."""
    payload: dict[str, Any] = {"outbox_id": row.id, "appointment_id": row.appointment_id, "version": key_version(row.idempotency_key)}
    if row.kind == "reminder":
        payload["lead"] = (row.payload or {}).get("lead")
    else:
        payload["kind"] = row.kind
    payload["telegram_message_id"] = telegram_message_id
    return {"type": "reminder_sent" if row.kind == "reminder" else "notice_sent", "participant_id": row.participant_id, "payload": payload}


async def retry_later(session: AsyncSession, row: OutboxMessage, error: str, due_at: datetime) -> None:
    """A failed try: counted, and the row is due again at `due_at`."""
    await _set(
        session,
        row,
        status=OutboxStatus.PENDING,
        attempts=row.attempts + 1,
        last_error=error[:_ERROR_LENGTH],
        due_at=due_at,
        claimed_by=None,
        claimed_at=None,
    )


async def mark_failed(session: AsyncSession, row: OutboxMessage, error: str, now: datetime | None = None) -> None:
    """Given up (after the last try, or blocked): a ``message_failed`` event tells the caseworker."""
    attempts = row.attempts + 1
    await _set(session, row, status=OutboxStatus.FAILED, attempts=attempts, last_error=error[:_ERROR_LENGTH], claimed_by=None)
    payload = {"outbox_id": row.id, "kind": row.kind, "appointment_id": row.appointment_id, "error": error[:_ERROR_LENGTH], "attempts": attempts}
    await repo.append_event(session, "message_failed", row.participant_id, payload, occurred_at=now)


async def postpone(session: AsyncSession, row: OutboxMessage, due_at: datetime) -> None:
    """Back to pending, due at `due_at`, without counting a try (quiet hours, Telegram asked to wait)."""
    await _set(session, row, status=OutboxStatus.PENDING, due_at=due_at, claimed_by=None, claimed_at=None)


async def release(session: AsyncSession, row: OutboxMessage) -> None:
    """Back to pending as it was: not tried (the sender is stopping, or the participant left)."""
    await _set(session, row, status=OutboxStatus.PENDING, claimed_by=None, claimed_at=None)


async def cancel(session: AsyncSession, row: OutboxMessage, reason: str) -> None:
    await _set(session, row, status=OutboxStatus.CANCELLED, last_error=reason[:_ERROR_LENGTH], claimed_by=None)


async def withdraw_late(session: AsyncSession, now: datetime) -> int:
    """Cancel pending appointment messages that must never go out any more (see `stale_reason`):
    the appointment has begun, was cancelled, or moved to a newer version."""
    stale = (
        select(OutboxMessage.id)
        .join(Appointment, Appointment.id == OutboxMessage.appointment_id)
        .where(OutboxMessage.status == OutboxStatus.PENDING, _stale_clause(now))
    )
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(stale.scalar_subquery()), OutboxMessage.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.CANCELLED, last_error="withdrawn: the appointment moved, was cancelled or has begun")
        .execution_options(synchronize_session=False)
    )
    return result.rowcount
