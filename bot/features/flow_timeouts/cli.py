"""The timeouts of flow steps have no commands of their own: they are written in the flow files
(``timeout:``, docs/flows.md) and carried out by the running bot (``feature.py``)."""

from __future__ import annotations

from bot.cli.commands import Commands


def add_commands(commands: Commands) -> None:
    return None
