"""Where the digest's words come from: a `DigestSource`, so delivery never builds a digest itself.

The product's source is `BuiltDigests` (the digest feature's `build_digest` and renderers, see
``bot/features/digest_delivery/feature.py: digest_source``); tests give one of their own.
An empty answer (``[]`` for Telegram, None for email) means there is nothing to send that day
(the digest feature's STEGVIS_DIGEST_EMPTY=nothing); the digest is then recorded as ``nothing``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession


class EmailContent(Protocol):
    """What an email digest is made of (the digest feature's `render.EmailContent` has exactly these)."""

    subject: str
    text: str
    html: str


class TelegramText(Protocol):
    """One Telegram message of a digest (the digest feature's `render.TelegramMessage` is one)."""

    text: str  # Telegram HTML, ≤ 4096 characters
    replies_for: int | None  # the participant whose quick-reply buttons it carries, if any


class DigestSource(Protocol):
    async def telegram(self, session: AsyncSession, settings: Any, caseworker_id: int, day: date, now: datetime) -> Sequence[TelegramText]:
        """The Telegram messages of one caseworker's digest of `day`."""

    async def email(self, session: AsyncSession, settings: Any, caseworker_id: int, day: date, now: datetime) -> EmailContent | None:
        """The email of one caseworker's digest of `day`, or None when there is nothing to send."""


class BuiltDigests:
    """The digest feature's builder and renderers behind the `DigestSource` protocol.

    Imported when first used: the digest feature is a separate folder (bot/features/digest/).
    """

    async def telegram(self, session: AsyncSession, settings: Any, caseworker_id: int, day: date, now: datetime) -> Sequence[TelegramText]:
        from bot.features.digest.content import build_digest
        from bot.features.digest.render import render_telegram

        digest = await build_digest(session, settings, caseworker_id=caseworker_id, day=day, now=now)
        if digest.empty and settings.digest_empty == "nothing":
            return []
        return render_telegram(digest, settings)

    async def email(self, session: AsyncSession, settings: Any, caseworker_id: int, day: date, now: datetime) -> EmailContent | None:
        from bot.features.digest.content import build_digest
        from bot.features.digest.render import render_email

        digest = await build_digest(session, settings, caseworker_id=caseworker_id, day=day, now=now)
        if digest.empty and settings.digest_empty == "nothing":
            return None
        return render_email(digest, settings)
