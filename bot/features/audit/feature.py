"""The audit plugs nothing into the running bot: the access log is written where data is shown
(`storage.access_log`) and read from the command line only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.registry import Features


def register(features: Features, stegvis: Any) -> None:
    """Nothing to register: no handler, composer, job or router."""
