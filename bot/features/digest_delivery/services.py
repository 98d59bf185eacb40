"""The digest's delivery as typed services: send a day's digests now, and what was sent when and how.

The CLI (`cli.py`) is a thin adapter over these; the job (`feature.daily_send`) shares their parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.email.smtp import SmtpServer
from bot.features.digest_delivery.delivery import SUBJECT, create_digests, send_emails, sync_telegram
from bot.features.digest_delivery.source import DigestSource
from bot.services import Actor, NotFound
from storage import digests as store
from storage import outbox
from storage import repositories as repo
from storage.database import Database
from storage.models import Digest, DigestChannel, DigestStatus


@dataclass(frozen=True)
class DigestRecord:
    digest_id: int
    caseworker_id: int
    caseworker: str
    day: date
    channel: str
    status: str
    attempts: int
    last_error: str | None
    sent_at: datetime | None
    created_at: datetime

    def as_json(self, tz: ZoneInfo) -> dict[str, Any]:
        return {
            "digest_id": self.digest_id, "caseworker_id": self.caseworker_id, "caseworker": self.caseworker, "date": self.day.isoformat(),
            "channel": self.channel, "status": self.status, "attempts": self.attempts, "error": self.last_error,
            "sent_at": self.sent_at.astimezone(tz).isoformat() if self.sent_at else None, "created_at": self.created_at.astimezone(tz).isoformat(),
        }


@dataclass(frozen=True)
class DigestListing:
    day: date | None
    digests: tuple[DigestRecord, ...]
    # Caseworkers of that day with no channel at all: their digest is in `stegvis digest show` only.
    without_channel: tuple[int, ...] = ()

    def as_json(self, tz: ZoneInfo) -> dict[str, Any]:
        return {"date": self.day.isoformat() if self.day else None, "digests": [d.as_json(tz) for d in self.digests], "without_channel": list(self.without_channel)}


async def digest_status(session: AsyncSession, actor: Actor, *, day: date | None, caseworker_id: int | None = None) -> DigestListing:
    """The record of the digests of `day` (every day when None), after taking in what the outbox did."""
    await sync_telegram(session)
    names = {cw.id: cw.name for cw in await store.caseworkers(session)}
    rows = await store.digests_of(session, day, caseworker_id=caseworker_id)
    records = tuple(
        DigestRecord(r.id, r.caseworker_id, names.get(r.caseworker_id, "?"), r.day, r.channel, r.status, r.attempts, r.last_error, r.sent_at, r.created_at) for r in rows
    )
    without = tuple(sorted(set(names) - {r.caseworker_id for r in rows})) if day is not None else ()
    return DigestListing(day, records, without)


async def send_now(
    database: Database, session: AsyncSession, actor: Actor, settings: Any, source: DigestSource, *, day: date, caseworker_id: int | None, now: datetime
) -> DigestListing:
    """Send `day`'s digests now, whatever the time (and on any day): create the missing ones,
    try failed ones again, and send every email one that is pending. Telegram digests go
    through the outbox: the running bot sends them within seconds. One already sent is not
    sent again. Commits `session` (the email attempts are units of work of their own)."""
    if caseworker_id is not None and await repo.get_caseworker(session, caseworker_id) is None:
        raise NotFound(f"no caseworker with id {caseworker_id} (see: stegvis caseworker add)", field="caseworker")
    ids = [caseworker_id] if caseworker_id is not None else None
    await create_digests(session, settings, day=day, now=now, caseworker_ids=ids)
    retry = update(Digest).where(Digest.day == day, Digest.channel == DigestChannel.EMAIL.value, Digest.status.in_([DigestStatus.PENDING.value, DigestStatus.FAILED.value]))
    if caseworker_id is not None:
        retry = retry.where(Digest.caseworker_id == caseworker_id)
    await session.execute(retry.values(status=DigestStatus.PENDING.value, next_attempt_at=None, attempts=0).execution_options(synchronize_session=False))
    # A failed Telegram digest goes to the outbox again (its one row, tried afresh).
    await sync_telegram(session)
    failed = select(Digest.id).where(Digest.day == day, Digest.channel == DigestChannel.TELEGRAM.value, Digest.status == DigestStatus.FAILED.value)
    if caseworker_id is not None:
        failed = failed.where(Digest.caseworker_id == caseworker_id)
    if again := list(await session.scalars(failed)):
        await outbox.try_again(session, SUBJECT, again, now=now)
        await session.execute(update(Digest).where(Digest.id.in_(again)).values(status=DigestStatus.PENDING.value, last_error=None).execution_options(synchronize_session=False))
    await session.commit()
    await send_emails(database, source, settings, SmtpServer.from_settings(settings), now, day=day, caseworker_id=caseworker_id)
    session.expire_all()
    return await digest_status(session, actor, day=day, caseworker_id=caseworker_id)


@dataclass(frozen=True)
class CaseworkerInvite:
    caseworker_id: int
    name: str
    invite_code: str
    invite_expires_at: datetime
    linked: bool

    def as_json(self, tz: ZoneInfo) -> dict[str, Any]:
        return {"caseworker_id": self.caseworker_id, "name": self.name, "invite_code": self.invite_code, "invite_expires_at": self.invite_expires_at.isoformat(), "linked": self.linked}


async def new_invite(session: AsyncSession, actor: Actor, settings: Any, *, caseworker_id: int, now: datetime) -> CaseworkerInvite:
    """A new Telegram invite for a caseworker (lost link, new phone); the old code stops working,
    and the chat linked so far stays linked until the new one is used."""
    caseworker = await repo.get_caseworker(session, caseworker_id)
    if caseworker is None:
        raise NotFound(f"no caseworker with id {caseworker_id} (see: stegvis caseworker add)")
    code = await store.new_invite(session, caseworker, invite_ttl=timedelta(days=settings.invite_days), now=now)
    assert caseworker.invite_expires_at is not None
    return CaseworkerInvite(caseworker.id, caseworker.name, code, caseworker.invite_expires_at, caseworker.telegram_chat_id is not None)
