"""The digest plugs nothing into the running bot: it is built on demand (the CLI, the delivery helper)."""

from __future__ import annotations

from typing import Any


def register(features: Any, stegvis: Any) -> None:
    """Nothing to register: the digest only reads stored events; delivery is its own feature."""
