"""Reading and writing caseworkers' Telegram links and the record of the digests sent to them.

Every function takes the caller's session and never commits. A caseworker's invite code starts
with ``case-`` (a leader's with ``lead-``, a participant's with neither), so the three lookups
never mix them up. The rules (when a digest is due, how it is sent) live in
``bot/features/digest_delivery/``.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Caseworker, Digest, DigestChannel, DigestStatus
from storage.outbox import ERROR_LENGTH

CASEWORKER_CODE_PREFIX = "case-"


def new_caseworker_code() -> str:
    return CASEWORKER_CODE_PREFIX + secrets.token_urlsafe(27)  # 41 characters: within /start's 64


def is_caseworker_code(code: str | None) -> bool:
    return isinstance(code, str) and code.startswith(CASEWORKER_CODE_PREFIX) and 8 <= len(code) <= 64


async def new_invite(session: AsyncSession, caseworker: Caseworker, *, invite_ttl: timedelta, now: datetime) -> str:
    """A fresh code for a caseworker, handed back here only (its hash is stored); an old one stops
    working. A linked chat stays linked until the new code is used from another chat."""
    from storage.repositories import invite_hash

    code = new_caseworker_code()
    caseworker.invite_code_hash = invite_hash(code)
    caseworker.invite_expires_at = now + invite_ttl
    caseworker.invite_used_at = None
    await session.flush()
    return code


async def find_by_code(session: AsyncSession, code: str) -> Caseworker | None:
    if not is_caseworker_code(code):
        return None
    from storage.repositories import invite_hash

    return await session.scalar(select(Caseworker).where(Caseworker.invite_code_hash == invite_hash(code)))


async def caseworker_by_chat(session: AsyncSession, chat_id: int) -> Caseworker | None:
    return await session.scalar(select(Caseworker).where(Caseworker.telegram_chat_id == chat_id))


async def link_chat(session: AsyncSession, caseworker_id: int, chat_id: int, *, now: datetime) -> bool:
    """Link the caseworker to this chat and use up the code; False when another chat was faster."""
    result = await session.execute(
        update(Caseworker)
        .where(Caseworker.id == caseworker_id, Caseworker.invite_used_at.is_(None))
        .values(telegram_chat_id=chat_id, invite_used_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def caseworkers(session: AsyncSession, ids: Collection[int] | None = None) -> list[Caseworker]:
    query = select(Caseworker).order_by(Caseworker.id)
    if ids is not None:
        query = query.where(Caseworker.id.in_(sorted(ids)))
    return list(await session.scalars(query))


async def digests_of(session: AsyncSession, day: date | None = None, *, caseworker_id: int | None = None) -> list[Digest]:
    query = select(Digest).order_by(Digest.day, Digest.caseworker_id, Digest.channel)
    if day is not None:
        query = query.where(Digest.day == day)
    if caseworker_id is not None:
        query = query.where(Digest.caseworker_id == caseworker_id)
    return list(await session.scalars(query))


def new_digest(caseworker_id: int, day: date, channel: DigestChannel, now: datetime) -> Digest:
    return Digest(caseworker_id=caseworker_id, day=day, channel=channel.value, status=DigestStatus.PENDING.value, attempts=0, created_at=now)


async def claim_email(session: AsyncSession, digest_id: int, *, now: datetime, lease: timedelta) -> bool:
    """Take a pending email digest that is due for one attempt: counts the attempt and holds it
    for `lease` (another process, or this one after a crash, tries again only after that)."""
    result = await session.execute(
        update(Digest)
        .where(
            Digest.id == digest_id, Digest.status == DigestStatus.PENDING.value,
            (Digest.next_attempt_at.is_(None)) | (Digest.next_attempt_at <= now),
        )
        .values(attempts=Digest.attempts + 1, next_attempt_at=now + lease)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def due_emails(session: AsyncSession, *, now: datetime, day: date | None = None, caseworker_id: int | None = None) -> list[int]:
    query = select(Digest.id).where(
        Digest.channel == DigestChannel.EMAIL.value, Digest.status == DigestStatus.PENDING.value,
        (Digest.next_attempt_at.is_(None)) | (Digest.next_attempt_at <= now),
    )
    if day is not None:
        query = query.where(Digest.day == day)
    if caseworker_id is not None:
        query = query.where(Digest.caseworker_id == caseworker_id)
    return list(await session.scalars(query.order_by(Digest.id)))


async def finish(session: AsyncSession, digest_id: int, status: DigestStatus, *, now: datetime, error: str | None = None, retry_at: datetime | None = None) -> None:
    values: dict[str, object] = {"status": status.value, "last_error": error[:ERROR_LENGTH] if error else None, "next_attempt_at": retry_at}
    if status is DigestStatus.SENT:
        values["sent_at"] = now
    await session.execute(update(Digest).where(Digest.id == digest_id).values(**values).execution_options(synchronize_session=False))
