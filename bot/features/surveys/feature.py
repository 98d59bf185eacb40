"""What sending a flow to a group plugs into the running bot: the composer of its outbox rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.features.surveys.messages import FlowMessage
from bot.registry import Features

if TYPE_CHECKING:
    from bot.app import Stegvis


def register(features: Features, stegvis: Stegvis) -> None:
    features.composer(FlowMessage(stegvis.engine))
