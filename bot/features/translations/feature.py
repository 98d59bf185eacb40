"""What the translations feature plugs into the running bot: the job that makes imports live."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.features.translations.live import EVERY, Watch
from bot.registry import Features, Job

if TYPE_CHECKING:
    from bot.app import Stegvis


def register(features: Features, stegvis: Stegvis) -> None:
    features.job(Job("translations", EVERY, Watch()))
