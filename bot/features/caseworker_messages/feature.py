"""What messages to and from the caseworker plug into the running bot (see ``bot/registry.py``):
«Skriv till min handläggare» in the menu (/message) with its router, and the composer of the
caseworker's replies. Replies need no subject rule: their rows are about no thing that can
change, and participants are a recipient kind already."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.features.caseworker_messages import writing
from bot.features.caseworker_messages.messages import ReplyMessage
from bot.registry import COMMANDS, Features, MenuCommand

if TYPE_CHECKING:
    from bot.app import Stegvis

MENU_ORDER = 2  # after /language, beside «Jag kan inte komma», before /stop


def register(features: Features, stegvis: Stegvis) -> None:
    features.composer(ReplyMessage(stegvis.catalogs))
    # Before the check-in's voice router (COMMANDS + 6): a voice note for the caseworker is theirs.
    features.router(COMMANDS + 3, writing.create_router)
    features.menu_command(MenuCommand(writing.COMMAND, writing.DESCRIPTION, MENU_ORDER))
