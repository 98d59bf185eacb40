"""What the translations feature plugs into the running bot: imports made live without a restart."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.features.translations.live import KIND, translations_changed
from bot.registry import Features

if TYPE_CHECKING:
    from bot.app import Stegvis


def register(features: Features, stegvis: Stegvis) -> None:
    features.on_live_change(KIND, translations_changed)
