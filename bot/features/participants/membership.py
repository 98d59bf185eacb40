"""Telegram tells us when a participant blocks or unblocks the bot; we stop or resume sending."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import KICKED, MEMBER, ChatMemberUpdatedFilter, MagicData
from aiogram.types import ChatMemberUpdated

from bot.conversation.turn import Turn, unreachable


async def blocked(update: ChatMemberUpdated, turn: Turn) -> None:
    unreachable(turn.changes, turn.status)


async def unblocked(update: ChatMemberUpdated, turn: Turn) -> None:
    """Nothing more to do: the arrival hook has already made an unreachable participant reachable."""


def create_router() -> Router:
    router = Router(name="membership")
    router.my_chat_member.filter(MagicData(F.participant.is_not(None)))
    router.my_chat_member.register(blocked, ChatMemberUpdatedFilter(member_status_changed=KICKED))
    router.my_chat_member.register(unblocked, ChatMemberUpdatedFilter(member_status_changed=MEMBER))
    return router
