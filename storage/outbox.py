"""The outbox: messages Stegvis sends on its own, planned ahead and sent by the sender when due.

A row goes to a recipient over a channel, is about a subject and is written by a composer (see
`storage.models.OutboxMessage`). Planning is idempotent: the key is made of those columns and
is unique, so planning the same message twice adds nothing. Every function takes the caller's
session and never commits. Nothing here knows what a subject is: the rules that say when a
subject's messages are stale are registered by the features (``bot.outbox.composers``).

A row's life: ``pending`` → (claimed by one sender) ``sending`` → ``sent`` | ``failed``, or back
to ``pending`` (retry later, quiet hours, its sender died), or ``cancelled`` (withdrawn: its
subject changed). ``docs/sending.md`` says what this guarantees.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from storage import repositories as repo
from storage.models import Channel, Event, OutboxMessage, OutboxStatus, Participant, ParticipantStatus, RecipientKind

ERROR_LENGTH = 500  # the column's size
# The outbox's own key in a row's payload (beside the composer's data): this row is sent when due
# even inside quiet hours. A key rather than a column, so the schema stays as it is.
IGNORE_QUIET_HOURS = "ignore_quiet_hours"


def ignores_quiet_hours(row: OutboxMessage) -> bool:
    return bool((row.payload or {}).get(IGNORE_QUIET_HOURS))


@dataclass(frozen=True)
class Recipient:
    kind: RecipientKind
    id: int | None = None
    address: str | None = None  # an email address, for RecipientKind.EMAIL

    @classmethod
    def participant(cls, participant_id: int) -> Recipient:
        return cls(RecipientKind.PARTICIPANT, participant_id)

    def __str__(self) -> str:
        kind = RecipientKind(self.kind)
        return f"{kind.value}:{self.address if kind is RecipientKind.EMAIL else self.id}"


@dataclass(frozen=True)
class Subject:
    """What a message is about: e.g. appointment 7 as booked in version 2."""

    kind: str
    id: int
    version: int | None = None

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}:v{self.version}"


@dataclass(frozen=True)
class Planned:
    """One message to plan: who gets it, how, about what, written by which composer, and when."""

    recipient: Recipient
    composer: str
    due_at: datetime
    subject: Subject | None = None
    slot: str = ""  # tells apart one composer's messages about one subject (e.g. the lead time "3d")
    channel: Channel = Channel.TELEGRAM
    payload: dict[str, Any] = field(default_factory=dict)
    # Sent when due even inside quiet hours (someone insisted it cannot wait until morning).
    ignore_quiet_hours: bool = False

    @property
    def key(self) -> str:
        return idempotency_key(self.recipient, self.subject, self.composer, self.slot)


def idempotency_key(recipient: Recipient, subject: Subject | None, composer: str, slot: str) -> str:
    """The unique key of a planned message, made of exactly the columns that say which message it is."""
    return f"{recipient}/{subject if subject is not None else '-'}/{composer}/{slot}"


async def enqueue(session: AsyncSession, message: Planned, *, now: datetime) -> bool:
    """Plan a message; False when the same message was planned before (nothing changes)."""
    return bool(await enqueue_many(session, [message], now=now))


async def enqueue_many(session: AsyncSession, messages: Sequence[Planned], *, now: datetime) -> int:
    """Plan many messages in one statement; returns how many were new."""
    if not messages:
        return 0
    statement = repo.dialect_insert(session)(OutboxMessage).on_conflict_do_nothing(index_elements=[OutboxMessage.idempotency_key])
    # Core on the session's connection, without the ORM's bulk bookkeeping (an import plans tens
    # of thousands). SQLite's executemany counts the new rows; asyncpg's does not, so there the
    # batched INSERT ... RETURNING gives back the new ones.
    connection = await session.connection()
    rows = [_row(message, now) for message in messages]
    if connection.dialect.name == "postgresql":
        return len((await connection.execute(statement.returning(OutboxMessage.id), rows)).all())
    return (await connection.execute(statement, rows)).rowcount


def _row(message: Planned, now: datetime) -> dict[str, Any]:
    subject = message.subject
    return {
        "idempotency_key": message.key,
        "recipient_kind": message.recipient.kind,
        "recipient_id": message.recipient.id,
        "recipient_address": message.recipient.address,
        "channel": message.channel,
        "subject_kind": subject.kind if subject else None,
        "subject_id": subject.id if subject else None,
        "subject_version": subject.version if subject else None,
        "composer": message.composer,
        "slot": message.slot,
        "payload": {**message.payload, IGNORE_QUIET_HOURS: True} if message.ignore_quiet_hours else dict(message.payload),
        "due_at": message.due_at,
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "created_at": now,
    }


_SHOWN = (
    OutboxMessage.idempotency_key, OutboxMessage.subject_id, OutboxMessage.subject_version, OutboxMessage.composer, OutboxMessage.slot,
    OutboxMessage.payload, OutboxMessage.due_at, OutboxMessage.status,
)


async def messages_about(session: AsyncSession, subject_kind: str, subject_ids: Collection[int]) -> dict[int, list[Row[Any]]]:
    """What became of every message about these subjects (all versions), each list in due order.

    Rows of columns (idempotency_key, subject_id, subject_version, composer, slot, payload,
    due_at, status), not objects: a listing of thousands of appointments reads them all.
    """
    found: dict[int, list[Row[Any]]] = {}
    if not subject_ids:
        return found
    connection = await session.connection()
    rows = await connection.execute(
        select(*_SHOWN)
        .where(OutboxMessage.subject_kind == subject_kind, OutboxMessage.subject_id.in_(sorted(set(subject_ids))))
        .order_by(OutboxMessage.due_at, OutboxMessage.id)
    )
    for row in rows:
        found.setdefault(row.subject_id, []).append(row)
    return found


async def withdraw_pending(session: AsyncSession, subject: Subject, composers: Collection[str], reason: str) -> int:
    """Cancel the subject's messages of these composers that were not sent yet (any version)."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.subject_kind == subject.kind,
            OutboxMessage.subject_id == subject.id,
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.composer.in_(list(composers)),
        )
        .values(status=OutboxStatus.CANCELLED, last_error=reason[:ERROR_LENGTH])
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


# ---- sending: claiming rows and recording what became of them --------------------------------


async def pending_about(session: AsyncSession, subject_kind: str) -> list[OutboxMessage]:
    """Pending outbox rows about one kind of subject, for a rule that decides staleness in Python."""
    query = select(OutboxMessage).where(OutboxMessage.subject_kind == subject_kind, OutboxMessage.status == OutboxStatus.PENDING)
    return list(await session.scalars(query.order_by(OutboxMessage.id)))


async def withdraw_rows(session: AsyncSession, reasons: dict[int, str]) -> int:
    """Cancel these outbox rows (id → why), each only while still pending (a sender may have claimed it meanwhile)."""
    withdrawn = 0
    for row_id, reason in sorted(reasons.items()):
        result = await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row_id, OutboxMessage.status == OutboxStatus.PENDING)
            .values(status=OutboxStatus.CANCELLED, last_error=reason)
            .execution_options(synchronize_session=False)
        )
        withdrawn += result.rowcount
    return withdrawn


async def try_again(session: AsyncSession, subject_kind: str, subject_ids: Collection[int], *, now: datetime) -> int:
    """Failed rows about these subjects pending again, due now, their tries counted afresh (staff
    asked to send once more, e.g. ``stegvis digest send``); returns how many."""
    if not subject_ids:
        return 0
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.subject_kind == subject_kind, OutboxMessage.subject_id.in_(sorted(subject_ids)), OutboxMessage.status == OutboxStatus.FAILED)
        .values(status=OutboxStatus.PENDING, attempts=0, due_at=now, claimed_by=None, claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


async def claim(session: AsyncSession, *, worker: str, now: datetime, limit: int) -> list[OutboxMessage]:
    """Take up to `limit` due rows for `worker` (status ``sending``), oldest due first.

    A row to a participant is taken only while the participant is active: those of stopped,
    unreachable or invited participants stay pending, never sent. The caller commits the claim
    *before* sending, so a crash leaves the rows claimed, to be reclaimed after the lease
    (`reclaim_expired`). On PostgreSQL the due rows are locked with FOR UPDATE SKIP LOCKED, so
    senders in other processes take other rows instead of waiting for these or taking them too.
    SQLite has one writer at a time, and the single UPDATE statement is atomic there.
    """
    to_participant = OutboxMessage.recipient_kind == RecipientKind.PARTICIPANT
    due = (
        select(OutboxMessage.id)
        .outerjoin(Participant, and_(to_participant, Participant.id == OutboxMessage.recipient_id))
        .where(
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.due_at <= now,
            or_(~to_participant, Participant.status == ParticipantStatus.ACTIVE),
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


async def mark_sent_many(session: AsyncSession, sent: Sequence[tuple[OutboxMessage, int | None, dict[str, Any] | None]], now: datetime) -> None:
    """Mark rows sent, each with Telegram's message id and the event saying it went out (or None).

    Two statements (executemany) however many rows: the sender's busiest write.
    """
    if not sent:
        return
    values = [
        {"id": row.id, "status": OutboxStatus.SENT, "sent_at": now, "telegram_message_id": message_id, "last_error": None}
        for row, message_id, _event in sent
    ]
    await session.execute(update(OutboxMessage), values, execution_options={"synchronize_session": False})
    for (row, _id, _event), changed in zip(sent, values):
        for name, value in changed.items():
            set_committed_value(row, name, value)
    # Core INSERT: events are append-only and nobody needs the objects back.
    events = [{"occurred_at": now, "flow": None, "step": None, **event} for _row, _id, event in sent if event is not None]
    if events:
        await (await session.connection()).execute(insert(Event), events)


async def retry_later(session: AsyncSession, row: OutboxMessage, error: str, due_at: datetime) -> None:
    """A failed try: counted, and the row is due again at `due_at`."""
    await _set(
        session,
        row,
        status=OutboxStatus.PENDING,
        attempts=row.attempts + 1,
        last_error=error[:ERROR_LENGTH],
        due_at=due_at,
        claimed_by=None,
        claimed_at=None,
    )


async def mark_failed(session: AsyncSession, row: OutboxMessage, error: str, *, now: datetime) -> None:
    """Given up (after the last try, or blocked): a ``message_failed`` event tells the caseworker."""
    attempts = row.attempts + 1
    await _set(session, row, status=OutboxStatus.FAILED, attempts=attempts, last_error=error[:ERROR_LENGTH], claimed_by=None)
    payload = {
        "outbox_id": row.id,
        "composer": row.composer,
        "subject": {"kind": row.subject_kind, "id": row.subject_id, "version": row.subject_version} if row.subject_kind else None,
        "error": error[:ERROR_LENGTH],
        "attempts": attempts,
    }
    participant_id = row.recipient_id if row.recipient_kind == RecipientKind.PARTICIPANT else None
    await repo.append_event(session, "message_failed", participant_id, payload, occurred_at=now)


async def postpone(session: AsyncSession, row: OutboxMessage, due_at: datetime) -> None:
    """Back to pending, due at `due_at`, without counting a try (quiet hours, Telegram asked to wait)."""
    await _set(session, row, status=OutboxStatus.PENDING, due_at=due_at, claimed_by=None, claimed_at=None)


async def release(session: AsyncSession, row: OutboxMessage) -> None:
    """Back to pending as it was: not tried (the sender is stopping, or the participant left)."""
    await _set(session, row, status=OutboxStatus.PENDING, claimed_by=None, claimed_at=None)


async def cancel(session: AsyncSession, row: OutboxMessage, reason: str) -> None:
    await _set(session, row, status=OutboxStatus.CANCELLED, last_error=reason[:ERROR_LENGTH], claimed_by=None)
