"""What this feature plugs into the running bot (see ``bot/registry.py``): the cancellation notice and its rule."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.features.activities.messages import SessionCancelledMessage
from bot.features.activities.subjects import SessionSubjects
from bot.registry import Features

if TYPE_CHECKING:
    from bot.app import Stegvis


def register(features: Features, stegvis: Stegvis) -> None:
    features.composer(SessionCancelledMessage(stegvis.catalogs, stegvis.settings.tz))
    features.subject(SessionSubjects(stegvis.settings.tz))
