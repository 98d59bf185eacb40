"""The goodbye a participant gets when their participation ends, and who it goes to.

Outbox rows to participants are sent only while they are active; the goodbye goes to recipient
kind ``former`` instead, which reaches a participant only while they are *finished*, so nothing
else can ever use it to reach them, and an erasure deletes the row with the rest.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.leaving.services import GOODBYE
from bot.outbox.composers import Addressee
from flows.engine import IDLE, OutgoingMessage, Sprint
from locales import N_, Catalogs
from storage.models import OutboxMessage, ParticipantStatus
from storage.writer import participants_by_id

GOODBYE_TEXT = N_("Din tid i Stegvis är slut nu. Tack för att du var med, och lycka till! Du får inga fler meddelanden från Stegvis.")


@dataclass(frozen=True)
class GoodbyeMessage:
    """``leaving.goodbye``: one short goodbye in their language; it asks nothing."""

    catalogs: Catalogs
    kind: str = GOODBYE

    def compose(self, addressee: Addressee, subject: Any, row: OutboxMessage) -> Sprint:
        code = addressee.language_code
        return Sprint(IDLE, code, (OutgoingMessage(self.catalogs.texts(code).gettext(GOODBYE_TEXT)),), keep_state=True)

    def sent_event(self, row: OutboxMessage, telegram_message_id: int | None) -> dict[str, Any] | None:
        return {"type": "goodbye_sent", "participant_id": row.recipient_id, "payload": {"outbox_id": row.id, "telegram_message_id": telegram_message_id}}


class FormerParticipants:
    """Recipient kind ``former``: finished participants, for their goodbye only."""

    async def load(self, session: AsyncSession, ids: Collection[int]) -> dict[int, Addressee]:
        return {
            pid: Addressee(chat_id=row.telegram_chat_id, language=row.language, may_receive=row.status == ParticipantStatus.FINISHED, quiet_hours=True)
            for pid, row in (await participants_by_id(session, list(ids))).items()
        }

    async def blocked(self, session: AsyncSession, recipient_id: int, now: datetime) -> None:
        """They blocked the bot after finishing: nothing more would have gone to them anyway."""
