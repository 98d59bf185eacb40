"""What this feature plugs into the running bot (see ``bot/registry.py``): caseworkers as outbox
recipients, the Telegram digest's composer and subject rule, the daily-send job, and the
caseworkers' router.

`digest_source` is the ONE place the digest's content is wired in: everything here (the outbox
composer, the job, ``stegvis digest send``) gets the digest's words from it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot.email.smtp import SmtpServer
from bot.features.digest_delivery import router
from bot.features.digest_delivery.delivery import SUBJECT, create_digests, due_day, send_emails, sync_telegram
from bot.features.digest_delivery.messages import CaseworkerRecipients, Delivery, DigestMessages, DigestSubjects
from bot.features.digest_delivery.source import BuiltDigests, DigestSource
from bot.registry import GATE, Features, Job
from storage.models import RecipientKind

if TYPE_CHECKING:
    from bot.app import Stegvis

log = logging.getLogger(__name__)

DIGESTS_EVERY = 60.0  # seconds: the digest goes within a minute of its time; retries are as fine-grained


def digest_source() -> DigestSource:
    """Where the digest's words come from: the digest feature's `build_digest` and renderers."""
    return BuiltDigests()


def register(features: Features, stegvis: Stegvis) -> None:
    delivery = Delivery(digest_source(), stegvis.settings, stegvis.clock)
    features.recipient(RecipientKind.CASEWORKER.value, CaseworkerRecipients())
    features.composer(DigestMessages())
    features.subject(DigestSubjects(delivery))
    # At GATE, after the leaders' router (same order, registered before) and before the
    # participants' newcomers router (GATE + 1): caseworkers have no participant record.
    features.router(GATE, router.create_router)
    features.job(Job("digest-delivery", DIGESTS_EVERY, daily_send))


def delivery_of(stegvis: Any) -> Delivery:
    """The running bot's `Delivery` (tests give it a source of their own)."""
    return stegvis.features.subjects[SUBJECT].delivery


async def daily_send(stegvis: Stegvis) -> None:
    """Create today's digests once their time has come, record what the outbox did with the
    Telegram ones, and send (or retry) the email ones."""
    settings, now = stegvis.settings, stegvis.clock.now()
    day = due_day(settings, now)
    async with stegvis.database.sessions() as session:
        added = await create_digests(session, settings, day=day, now=now) if day is not None else 0
        await sync_telegram(session)
        await session.commit()
    if added:
        log.info("digest: %d digests of %s to send", added, day)
    run = await send_emails(stegvis.database, delivery_of(stegvis).source, settings, SmtpServer.from_settings(settings), now)
    if run.sent or run.failed:
        log.info("digest: %d emails sent, %d failed for good, %d to retry", len(run.sent), len(run.failed), len(run.retry))
