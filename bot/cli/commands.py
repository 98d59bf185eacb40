"""The command line's shared machinery: command groups, one unit of work per command, JSON and errors.

Every command takes ``--json`` and then prints exactly one JSON object, an error too
(``{"error": "..."}``, exit code 2), usage errors included. A command's function is a thin
adapter: it parses the arguments into typed values and calls a service in the session it is
given; `run_command` opens that session, commits once when the service returns, and turns a
`bot.services.ServiceError` into the one line a caseworker reads, with the option the error is
about in front (``--at: 2020-01-07 10:30 is in the past``).

Nothing heavy is imported here: a command imports what it runs, so ``stegvis participant list``
starts without loading aiogram or the flow engine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.config import Settings
    from bot.services import Actor
    from storage.clock import Clock
    from storage.database import Database

EXIT_REFUSED = 2
# Errors about one input that read as a predicate follow the option directly ("--name must not
# be empty"); any other follows it after a colon ("--at: ... is in the past").
_PREDICATES = ("must ", "is ", "has ", "contains ")


class JsonArgumentParser(argparse.ArgumentParser):
    """A parser that, when ``--json`` is on the command line, reports even usage errors as one JSON object."""

    def error(self, message: str) -> NoReturn:
        if WANTS_JSON[0]:
            print(json.dumps({"error": f"{message} (see: {self.prog} --help)"}, ensure_ascii=False))
            self.exit(EXIT_REFUSED)
        super().error(message)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        namespace, extras = super().parse_known_args(args, namespace)
        if extras and self._subparsers is None:
            # Otherwise the top-level parser reports them, with less to say about where.
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras


WANTS_JSON = [False]  # set by main() from the arguments it parses, before argparse sees them


@dataclass
class Context:
    """What a command's function gets: the settings, the time, who runs it, and a session."""

    settings: Settings
    database: Database
    clock: Clock
    actor: Actor
    session: AsyncSession

    @property
    def now(self) -> Any:
        return self.clock.now()


Action = Callable[[Context, argparse.Namespace], Awaitable[Any]]
Human = Callable[[Any, "Settings"], "str | bytes"]  # bytes: a file's content for standard output, as it is


@dataclass
class Command:
    action: Action
    human: Human
    options: Mapping[str, str | None] = field(default_factory=dict)  # a service's field → this command's option (None: none, e.g. a positional ID)
    creates_database: bool = False  # may make a new database (else a missing one is an error)


class Commands:
    """The ``stegvis`` sub-commands; each feature's ``cli.add_commands`` adds its groups here."""

    def __init__(self, subparsers: Any) -> None:
        self._subparsers = subparsers
        self._groups: dict[str, Group] = {}

    def group(self, name: str, help: str) -> Group:
        parser = self._subparsers.add_parser(name, help=help)
        group = self._groups[name] = Group(parser.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=JsonArgumentParser))
        return group

    def extend(self, name: str) -> Group:
        """Another feature's group, to add a command to it (the roll call adds ``activity attendance``).
        The group's feature must come earlier in ``FEATURES``."""
        if name not in self._groups:
            raise LookupError(f"no command group {name!r} yet: list its feature before this one in FEATURES")
        return self._groups[name]

    def top(self, name: str, help: str) -> argparse.ArgumentParser:
        return self._subparsers.add_parser(name, help=help)


@dataclass
class Group:
    _subparsers: Any

    def command(self, name: str, help: str, action: Action, human: Human, *, options: Mapping[str, str | None] | None = None, creates_database: bool = False) -> argparse.ArgumentParser:
        parser = self._subparsers.add_parser(name, help=help)
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.set_defaults(command=Command(action, human, options or {}, creates_database))
        return parser


def option_for(field_name: str | None, options: Mapping[str, str | None]) -> str | None:
    if field_name is None:
        return None
    return options.get(field_name, f"--{field_name.replace('_', '-')}")


def error_line(message: str, field_name: str | None, options: Mapping[str, str | None]) -> str:
    option = option_for(field_name, options)
    if option is None:
        return message
    return f"{option} {message}" if message.startswith(_PREDICATES) else f"{option}: {message}"


def refuse(message: str, problems: list[str], as_json: bool) -> int:
    if as_json:
        print(json.dumps({"error": message, **({"problems": problems} if problems else {})}, ensure_ascii=False))
    else:
        # An import names every bad row, one per line, under the one-line error.
        print("\n".join([f"stegvis: {message}", *(f"  {problem}" for problem in problems)]), file=sys.stderr)
    return EXIT_REFUSED


def run_command(command: Command, settings: Settings, args: argparse.Namespace) -> int:
    from bot.services import Actor, ServiceError
    from storage.database import Database, DatabaseError

    clock = settings.clock
    as_json = bool(getattr(args, "json", False))

    async def go() -> Any:
        # Only a command that adds the first records may make a new database: a mistyped path
        # for anything else gets "no database at ..." instead of an empty file.
        database = Database(settings.database_url, create=command.creates_database)
        try:
            await database.ensure_schema()
            async with database.sessions() as session:
                result = await command.action(Context(settings, database, clock, Actor.command_line(), session), args)
                await session.commit()  # the command's one unit of work
                return result
        finally:
            await database.dispose()

    try:
        result = asyncio.run(go())
    except ServiceError as error:
        return refuse(error_line(error.message, error.field, command.options), error.problems, as_json)
    except DatabaseError as error:
        return refuse(str(error), [], as_json)
    if as_json:
        print(json.dumps(result if isinstance(result, dict) else to_json(result, settings), ensure_ascii=False))
    else:
        shown = command.human(result, settings)
        if isinstance(shown, bytes):  # a file's content (a CSV report), written as it is
            sys.stdout.flush()
            sys.stdout.buffer.write(shown)
            sys.stdout.buffer.flush()
        else:
            print(shown)
    return 0


def to_json(result: Any, settings: Settings) -> Any:
    as_json = getattr(result, "as_json", None)
    return as_json(settings.tz) if as_json is not None else result


def id_argument(text: str) -> int:
    """An argparse ``type`` for a record's id (``ID`` positionals, ``--participant``)."""
    from bot.validation import parse_id

    try:
        return parse_id(text, what=None)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def invalid_option(field_name: str, parse: Callable[[], Any]) -> Any:
    """Run a parser for one input; its ValueError becomes the service error about that input."""
    from bot.services import invalid

    try:
        return parse()
    except ValueError as error:
        raise invalid(field_name, error) from None
