"""The reports plug nothing into the running bot: they are read from the command line only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.registry import Features


def register(features: Features, stegvis: Any) -> None:
    """Nothing to register: no handler, composer, job or router (see ``docs/reports.md``)."""
