"""The features Stegvis runs. Adding one is a folder here and one line in FEATURES.

A feature is a package ``bot/features/<name>/`` with ``feature.py`` (``register(features,
stegvis)``: what it plugs into the running bot, see ``bot/registry.py``) and ``cli.py``
(``add_commands(commands)``: its command-line commands). The two are imported apart, so a CLI
command never loads the running bot.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.registry import Features

FEATURES = (
    "participants",
    "appointments",
    "activities",
    "checkins",
    "reports",
    "digest",  # owns the `digest` group; digest_delivery adds send/status to it
    "caseworker_messages",
    "roll_call",  # after activities: it adds `activity attendance` to that group
    "digest_delivery",  # after the digest feature, when there is one: it adds `digest send | status`
    "flow_admin",  # owns the `flows` group
    "translations",
    "surveys",  # after flow_admin: it adds `flows start | results` to that group
    "flow_timeouts",
    "leaving",  # after participants: it adds `participant end | erase | export` to that group
    "audit",  # the access log's `stegvis audit`
)


def load_features(features: Features, stegvis: Any) -> None:
    for name in FEATURES:
        import_module(f"bot.features.{name}.feature").register(features, stegvis)


def command_modules() -> list[Any]:
    return [import_module(f"bot.features.{name}.cli") for name in FEATURES]
