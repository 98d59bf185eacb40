"""The aiogram Dispatcher: the shared middlewares, the features' routers in their order, the core last."""

from __future__ import annotations

from typing import Any

from aiogram import Dispatcher

from bot.conversation import router as conversation_router
from bot.conversation.core import Conversations
from bot.conversation.middleware import TurnMiddleware
from bot.registry import Features
from bot.telegram.ordering import ChatOrderMiddleware
from locales import Catalogs


def build_dispatcher(conversations: Conversations, catalogs: Catalogs, features: Features, **workflow_data: Any) -> Dispatcher:
    """`workflow_data` is handed to every handler that asks for it by name (``stegvis`` …)."""
    dispatcher = Dispatcher(conversations=conversations, **workflow_data)
    # Order matters: a chat's updates are taken one at a time before its participant is read.
    dispatcher.update.outer_middleware(ChatOrderMiddleware())
    dispatcher.update.outer_middleware(TurnMiddleware(conversations, catalogs))
    dispatcher.include_routers(*features.ordered_routers(), conversation_router.create_router())
    return dispatcher
