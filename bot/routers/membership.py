"""Telegram tells us when a participant blocks or unblocks the bot; we stop or resume sending."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import KICKED, MEMBER, ChatMemberUpdatedFilter, MagicData
from aiogram.types import ChatMemberUpdated
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation import mark_unreachable
from storage.models import Participant


async def blocked(update: ChatMemberUpdated, session: AsyncSession, participant: Participant) -> None:
    await mark_unreachable(session, participant)


async def unblocked(update: ChatMemberUpdated, session: AsyncSession, participant: Participant) -> None:
    # ParticipantMiddleware has already restored an unreachable participant; keep that.
    await session.commit()


def create_router() -> Router:
    """A fresh router each time: aiogram lets a router belong to one dispatcher only."""
    router = Router(name="membership")
    router.my_chat_member.filter(MagicData(F.participant.is_not(None)))
    router.my_chat_member.register(blocked, ChatMemberUpdatedFilter(member_status_changed=KICKED))
    router.my_chat_member.register(unblocked, ChatMemberUpdatedFilter(member_status_changed=MEMBER))
    return router
