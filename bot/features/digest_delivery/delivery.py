"""The daily send: which digests are due, creating their record once, and sending the email ones.

At the digest time (STEGVIS_DIGEST_TIME, local) of every weekday that is not a Swedish public
holiday, each caseworker gets one `digests` row per channel they have: Telegram once linked,
email when they have an address and SMTP is configured. The unique key (caseworker, day,
channel) makes creating them idempotent, so the job may run every minute, on several processes,
and after a restart. In the same transaction a Telegram digest gets its outbox row (also
idempotent), so from then on the outbox owns it: rate limits, retries, restart-safety.

An email digest is sent here, over SMTP: each attempt is claimed first (counted, and held for
`LEASE`, so two processes never send it at once), then sent, then recorded. It is retried after
`RETRY_AFTER` delays and marked failed after `MAX_EMAIL_ATTEMPTS`. A process that dies in the
moment between the server accepting the mail and the record being written sends it again after
the lease: an email may (rarely) come twice, but is never lost.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.email.smtp import Email, EmailNotSent, SmtpServer, send_email
from bot.features.activities.schedule import holiday
from bot.features.digest_delivery.source import DigestSource
from bot.outbox.quiet_hours import from_wall
from storage import access_log
from storage import digests as store
from storage import outbox
from storage import repositories as repo
from storage.database import Database
from storage.models import Caseworker, Digest, DigestChannel, DigestStatus, Event, OutboxMessage, OutboxStatus, RecipientKind
from storage.outbox import Planned, Recipient, Subject
from storage.repositories import dialect_insert

log = logging.getLogger(__name__)

SUBJECT = "caseworker_digest"  # the outbox row of a Telegram digest is about its `digests` row
TELEGRAM = "digest.telegram"
DIGEST_SENT = "digest_sent"
MAX_EMAIL_ATTEMPTS = 5
RETRY_AFTER = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(minutes=60))
LEASE = timedelta(minutes=10)  # far longer than an SMTP attempt can take (its timeout is 30 s a reply)
NOTHING_TO_SEND = "nothing to send: an empty digest"


def is_digest_day(day: date) -> bool:
    return day.weekday() < 5 and holiday(day) is None


def digest_moment(day: date, settings: Any) -> datetime:
    """The instant (UTC) of `day`'s digest time in local time (a DST gap moves it forward)."""
    return from_wall(datetime.combine(day, settings.digest_at), settings.tz)


def due_day(settings: Any, now: datetime) -> date | None:
    """Today's local date when its digests are due by now, else None (weekend, holiday, too early)."""
    today = now.astimezone(settings.tz).date()
    if not is_digest_day(today) or now < digest_moment(today, settings):
        return None
    return today


def channels_of(caseworker: Caseworker, settings: Any) -> list[DigestChannel]:
    found = []
    if caseworker.telegram_chat_id is not None:
        found.append(DigestChannel.TELEGRAM)
    if caseworker.email and settings.smtp_configured:
        found.append(DigestChannel.EMAIL)
    return found


async def create_digests(session: AsyncSession, settings: Any, *, day: date, now: datetime, caseworker_ids: Collection[int] | None = None) -> int:
    """The day's `digests` rows of every caseworker (or those given) that has a channel, and the
    outbox row of each Telegram one; returns how many digests rows were added. Idempotent."""
    wanted = [(cw.id, channel) for cw in await store.caseworkers(session, caseworker_ids) for channel in channels_of(cw, settings)]
    if not wanted:
        return 0
    existing = {(row.caseworker_id, row.channel) for row in await store.digests_of(session, day)}
    missing = [(cid, channel) for cid, channel in wanted if (cid, channel.value) not in existing]
    added = 0
    if missing:
        insert = dialect_insert(session)(Digest).on_conflict_do_nothing(index_elements=[Digest.caseworker_id, Digest.day, Digest.channel])
        for cid, channel in missing:  # one at a time: rowcount says whether another process was first
            fresh = store.new_digest(cid, day, channel, now)
            values = {c: getattr(fresh, c) for c in ("caseworker_id", "day", "channel", "status", "attempts", "created_at")}
            result = await session.execute(insert.values(**values))
            added += result.rowcount or 0
    telegram = [row for row in await store.digests_of(session, day) if row.channel == DigestChannel.TELEGRAM.value and row.status == DigestStatus.PENDING.value]
    planned = [Planned(Recipient(RecipientKind.CASEWORKER, row.caseworker_id), TELEGRAM, now, subject=Subject(SUBJECT, row.id)) for row in telegram]
    await outbox.enqueue_many(session, planned, now=now)
    return added


async def sync_telegram(session: AsyncSession) -> int:
    """Copy what the outbox did with pending Telegram digests into their record; returns how many changed."""
    rows = (
        await session.execute(
            select(Digest.id, OutboxMessage.status, OutboxMessage.sent_at, OutboxMessage.last_error, OutboxMessage.attempts)
            .join(OutboxMessage, (OutboxMessage.subject_kind == SUBJECT) & (OutboxMessage.subject_id == Digest.id))
            .where(Digest.channel == DigestChannel.TELEGRAM.value, Digest.status == DigestStatus.PENDING.value)
        )
    ).all()
    changed = 0
    newly_sent: dict[int, datetime] = {}
    for digest_id, status, sent_at, error, attempts in rows:
        values: dict[str, Any] = {"attempts": attempts}
        if status == OutboxStatus.SENT:
            values.update(status=DigestStatus.SENT.value, sent_at=sent_at, last_error=None)
            if sent_at is not None:
                newly_sent[digest_id] = sent_at
        elif status == OutboxStatus.FAILED:
            values.update(status=DigestStatus.FAILED.value, last_error=error)
        elif status == OutboxStatus.CANCELLED and error == f"{NOTHING_TO_SEND}":
            values.update(status=DigestStatus.NOTHING.value, last_error=None)
        elif status == OutboxStatus.CANCELLED:
            values.update(status=DigestStatus.FAILED.value, last_error=error)
        else:
            values.update(last_error=error)  # still trying: show the last failure
        digest = await session.get(Digest, digest_id)
        assert digest is not None
        for name, value in values.items():
            setattr(digest, name, value)
        changed += "status" in values
    await _record_sent(session, newly_sent)
    await session.flush()
    return changed


async def _record_sent(session: AsyncSession, sent: dict[int, datetime]) -> None:
    """The access log's rows of Telegram digests that were sent: whom each named, from its
    ``digest_sent`` event, for its caseworker at the moment it went. One insert for all of them."""
    if not sent:
        return
    since = min(sent.values()) - timedelta(minutes=1)
    events = await session.execute(select(Event.payload).where(Event.type == DIGEST_SENT, Event.occurred_at >= since))
    accesses = []
    for (payload,) in events:
        digest_id = payload.get("digest_id")
        if payload.get("channel") == DigestChannel.TELEGRAM.value and digest_id in sent:
            day = (await session.get(Digest, digest_id)).day  # type: ignore[union-attr]
            accesses.append(access_log.Access(f"caseworker:{payload.get('caseworker_id')}", access_log.DIGEST_SEND, payload.get("participant_ids") or (), f"{day.isoformat()} on Telegram", at=sent[digest_id]))
    await access_log.record_many(session, accesses, now=min(sent.values()))


@dataclass
class EmailRun:
    """What one round of email sending did, by digest id."""

    sent: list[int] = field(default_factory=list)
    nothing: list[int] = field(default_factory=list)
    retry: dict[int, str] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)


async def send_emails(
    database: Database, source: DigestSource, settings: Any, server: SmtpServer | None, now: datetime, *, day: date | None = None, caseworker_id: int | None = None
) -> EmailRun:
    """Send every email digest that is due (its first attempt, or a retry whose time has come)."""
    run = EmailRun()
    if server is None:
        return run  # SMTP not configured: email rows (made while it was) wait for it
    async with database.sessions() as session:
        ids = await store.due_emails(session, now=now, day=day, caseworker_id=caseworker_id)
    for digest_id in ids:
        await _send_one(database, source, settings, server, digest_id, now, run)
    return run


async def _send_one(database: Database, source: DigestSource, settings: Any, server: SmtpServer, digest_id: int, now: datetime, run: EmailRun) -> None:
    async with database.sessions() as session:
        if not await store.claim_email(session, digest_id, now=now, lease=LEASE):
            return  # another process has it, or it was sent meanwhile
        await session.commit()
    async with database.sessions() as session:
        digest = await session.get(Digest, digest_id)
        caseworker = await session.get(Caseworker, digest.caseworker_id) if digest else None
        if digest is None or caseworker is None:
            return
        attempts, day, cid, address = digest.attempts, digest.day, digest.caseworker_id, caseworker.email
        content = await source.email(session, settings, cid, day, now) if address else None
        await session.rollback()
    async with database.sessions() as session:
        if not address:
            await store.finish(session, digest_id, DigestStatus.FAILED, now=now, error="the caseworker has no email address any more")
            run.failed[digest_id] = "no address"
        elif content is None or not (content.text or content.html):
            await store.finish(session, digest_id, DigestStatus.NOTHING, now=now)
            run.nothing.append(digest_id)
        else:
            try:
                await send_email(server, Email(to=address, subject=content.subject, text=content.text, html=content.html))
            except EmailNotSent as error:
                reason = str(error)
                if attempts >= MAX_EMAIL_ATTEMPTS:
                    log.warning("digest %d (caseworker %d, %s) by email failed for good after %d attempts: %s", digest_id, cid, day, attempts, reason)
                    await store.finish(session, digest_id, DigestStatus.FAILED, now=now, error=reason)
                    run.failed[digest_id] = reason
                else:
                    retry_at = now + RETRY_AFTER[min(attempts, len(RETRY_AFTER)) - 1]
                    log.info("digest %d (caseworker %d, %s) by email: attempt %d failed, again at %s: %s", digest_id, cid, day, attempts, retry_at.isoformat(), reason)
                    await store.finish(session, digest_id, DigestStatus.PENDING, now=now, error=reason, retry_at=retry_at)
                    run.retry[digest_id] = reason
            else:
                await store.finish(session, digest_id, DigestStatus.SENT, now=now)
                payload = {"digest_id": digest_id, "caseworker_id": cid, "day": day.isoformat(), "channel": DigestChannel.EMAIL.value}
                await repo.append_event(session, DIGEST_SENT, None, payload, occurred_at=now)
                shown = getattr(content, "participant_ids", ())
                await access_log.record(session, f"caseworker:{cid}", access_log.DIGEST_SEND, shown, now=now, detail=f"{day.isoformat()} by email")
                run.sent.append(digest_id)
        await session.commit()
