"""The ``stegvis`` command: run the bot, try the demo, and every feature's commands.

Every admin command takes ``--json`` and then prints exactly one JSON object. The shared
machinery is in ``commands.py``; ``run`` and ``demo`` in ``running.py``; each feature adds its
own groups from ``bot/features/<name>/cli.py``.
"""

from __future__ import annotations

import logging
import sys

from bot.cli import running
from bot.cli.commands import WANTS_JSON, Commands, JsonArgumentParser, run_command
from bot.features import command_modules


def parser() -> JsonArgumentParser:
    top = JsonArgumentParser(prog="stegvis", description="Stegvis: a multilingual assistant for labour-market and integration programmes.")
    commands = Commands(top.add_subparsers(dest="group", required=True, metavar="COMMAND", parser_class=JsonArgumentParser))
    running.add_commands(commands)
    for module in command_modules():
        module.add_commands(commands)
    return top


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    WANTS_JSON[0] = "--json" in arguments
    args = parser().parse_args(arguments)
    logging.basicConfig(level=logging.INFO if args.group == "run" else logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from bot.config import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as error:
        return _configuration_error(str(error))
    from bot import redaction

    redaction.install_for(settings)
    if getattr(args, "command", None) is not None:
        return run_command(args.command, settings, args)
    return args.handler(settings, args)


def _configuration_error(line: str) -> int:
    from bot.cli.commands import refuse

    if WANTS_JSON[0]:
        return refuse(f"configuration error: {line}", [], True)
    print(f"stegvis: configuration error: {line}", file=sys.stderr)
    return 2
