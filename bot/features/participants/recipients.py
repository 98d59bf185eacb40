"""Participants as recipients of outbox messages: their chat, their language, and whether they may be sent to."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.turn import unreachable
from bot.outbox.composers import Addressee
from storage.models import ParticipantStatus
from storage.writer import Changes, apply_changes, participants_by_id


class ParticipantRecipients:
    async def load(self, session: AsyncSession, ids: Collection[int]) -> dict[int, Addressee]:
        return {
            pid: Addressee(
                chat_id=row.telegram_chat_id,
                language=row.language,
                # Stopped, unreachable and invited participants are never sent anything.
                may_receive=row.status == ParticipantStatus.ACTIVE,
                quiet_hours=True,
                participant=row,
            )
            for pid, row in (await participants_by_id(session, list(ids))).items()
        }

    async def blocked(self, session: AsyncSession, recipient_id: int, now: datetime) -> None:
        rows = await participants_by_id(session, [recipient_id])
        row = rows.get(recipient_id)
        if row is None or row.status == ParticipantStatus.UNREACHABLE:
            return
        changes = Changes(recipient_id, now)
        unreachable(changes, row.status)
        await apply_changes(session, changes)
