"""The Telegram digest as an outbox message: its composer, its subject's rule, caseworkers as recipients.

A row is ``digest.telegram`` to recipient ``caseworker:<id>`` about the subject
``caseworker_digest:<digests.id>``; one per caseworker per day (the outbox's key). The digest is
built when the row is sent (the subject's `load`, through the `DigestSource`), so it says what is
known at that moment. No quiet hours: caseworkers are staff and the digest comes at 07:30 anyway
(STEGVIS_DIGEST_TIME set inside the quiet hours would otherwise hold it until they end).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.digest_delivery.delivery import DIGEST_SENT, NOTHING_TO_SEND, SUBJECT, TELEGRAM
from bot.features.digest_delivery.quick_replies import quick_reply_buttons
from bot.features.digest_delivery.source import DigestSource, TelegramText
from bot.outbox.composers import Addressee
from flows.engine import IDLE, OutgoingMessage, Sprint
from locales import SOURCE_LANGUAGE
from storage import outbox
from storage.models import Caseworker, Digest, OutboxMessage


@dataclass
class Delivery:
    """What the feature's parts share: where the digest's words come from (replaceable, see feature.py)."""

    source: DigestSource
    settings: Any
    clock: Any


@dataclass(frozen=True)
class TelegramDigest:
    digest_id: int
    caseworker_id: int
    day: date
    messages: tuple[TelegramText, ...]


@dataclass(frozen=True)
class DigestMessages:
    """``digest.telegram``: the digest's messages as the source rendered them, in Swedish.

    Whom a composed digest names is kept by outbox row until it is sent, and goes into its
    ``digest_sent`` event (``participant_ids``), from which `delivery.sync_telegram` writes the
    access log's row: the sender knows no feature's tables, and only a sent digest was seen.
    """

    kind: str = TELEGRAM
    shown: dict[int, tuple[int, ...]] = field(default_factory=dict, compare=False, repr=False)

    def compose(self, addressee: Addressee, subject: Any, row: OutboxMessage) -> Sprint:
        if not isinstance(subject, TelegramDigest) or row.subject_id != subject.digest_id:
            raise ValueError(f"outbox message {row.id} is about digest {row.subject_id}, not the one given")
        messages = tuple(OutgoingMessage(m.text, quick_reply_buttons(m.replies_for) if m.replies_for else (), html=True) for m in subject.messages)
        if len(self.shown) > 10_000:  # rows composed and never sent (failed for good): forget them
            self.shown.clear()
        self.shown[row.id] = tuple(sorted({pid for m in subject.messages for pid in getattr(m, "participant_ids", ())}))
        return Sprint(IDLE, SOURCE_LANGUAGE, messages, keep_state=True)

    def sent_event(self, row: OutboxMessage, telegram_message_id: int | None) -> dict[str, Any] | None:
        payload = {
            "digest_id": row.subject_id, "caseworker_id": row.recipient_id, "channel": "telegram", "outbox_id": row.id, "telegram_message_id": telegram_message_id,
            "participant_ids": list(self.shown.pop(row.id, ())),
        }
        return {"type": DIGEST_SENT, "participant_id": None, "payload": payload}


class DigestSubjects:
    kind = SUBJECT
    too_late = "withdrawn: held back too long"  # never: no deadline

    def __init__(self, delivery: Delivery) -> None:
        self.delivery = delivery

    async def load(self, session: AsyncSession, ids: Collection[int]) -> dict[int, TelegramDigest]:
        if not ids:
            return {}
        found = {}
        now = self.delivery.clock.now()
        for digest in await session.scalars(select(Digest).where(Digest.id.in_(sorted(ids)))):
            messages = await self.delivery.source.telegram(session, self.delivery.settings, digest.caseworker_id, digest.day, now)
            found[digest.id] = TelegramDigest(digest.id, digest.caseworker_id, digest.day, tuple(messages))
        return found

    def stale(self, row: OutboxMessage, subject: Any | None, now: datetime) -> str | None:
        if subject is None:
            return "withdrawn: the digest's record is gone"
        if not subject.messages:
            return NOTHING_TO_SEND
        return None

    def deadline(self, subject: Any) -> datetime | None:
        return None

    async def withdraw_stale(self, session: AsyncSession, now: datetime) -> int:
        # Only rows whose record is gone: building every pending digest here would be wasted work.
        rows = await outbox.pending_about(session, self.kind)
        known = set(await session.scalars(select(Digest.id).where(Digest.id.in_(sorted({r.subject_id for r in rows if r.subject_id is not None})))))
        return await outbox.withdraw_rows(session, {row.id: "withdrawn: the digest's record is gone" for row in rows if row.subject_id not in known})


class CaseworkerRecipients:
    """Caseworkers as recipients: their chat once linked, Swedish, and no quiet hours (staff)."""

    async def load(self, session: AsyncSession, ids: Collection[int]) -> dict[int, Addressee]:
        if not ids:
            return {}
        rows = await session.execute(select(Caseworker.id, Caseworker.telegram_chat_id).where(Caseworker.id.in_(sorted(ids))))
        # Not linked (any more): the row waits until they link.
        return {cid: Addressee(chat_id=chat_id, language=SOURCE_LANGUAGE, may_receive=chat_id is not None, quiet_hours=False) for cid, chat_id in rows}

    async def blocked(self, session: AsyncSession, recipient_id: int, now: datetime) -> None:
        """Nothing to record on a caseworker: the row (and so the digest) is failed, shown in `digest status`."""


