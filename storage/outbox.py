"""The outbox: messages Stegvis sends on its own, planned ahead and sent by the sender when due.

Planning is idempotent: a row's key (for a reminder ``appointment:<id>:v<version>:<lead>``)
is unique, so planning the same message twice adds nothing. Every function takes the caller's
session and never commits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxMessage, OutboxStatus, utcnow

_INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


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
    insert = _INSERTS[session.get_bind().dialect.name]
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
