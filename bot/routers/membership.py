"""Telegram tells us when a participant blocks or unblocks the bot; we stop or resume sending."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import KICKED, MEMBER, ChatMemberUpdatedFilter, MagicData
from aiogram.types import ChatMemberUpdated
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation import mark_unreachable
from storage.models import Participant

router = Router(name="membership")
router.my_chat_member.filter(MagicData(F.participant.is_not(None)))


@router.my_chat_member(ChatMemberUpdatedFilter(member_status_changed=KICKED))
async def blocked(update: ChatMemberUpdated, session: AsyncSession, participant: Participant) -> None:
    await mark_unreachable(session, participant)


@router.my_chat_member(ChatMemberUpdatedFilter(member_status_changed=MEMBER))
async def unblocked(update: ChatMemberUpdated, session: AsyncSession, participant: Participant) -> None:
    # ParticipantMiddleware has already restored an unreachable participant; keep that.
    await session.commit()
