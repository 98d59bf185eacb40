"""What every business operation shares: who asks (`Actor`) and the typed errors it may refuse with.

A service takes a session, an actor and typed arguments, and returns a typed result; it never
prints and never knows about command-line options. Its refusals are `ServiceError`s whose text
says what is wrong in a caseworker's words; `field` names the input it is about (``"name"``,
``"starts_at"``), so the CLI can put its option (``--name``) in front and a web console its form
field. An error about one field reads as a predicate of it ("must not be empty") or as a
statement about its value ("no caseworker with id 9 ...").
"""

from __future__ import annotations

import getpass
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Actor:
    """Who is doing something: a caseworker, a person at the command line, or Stegvis itself."""

    kind: Literal["caseworker", "cli", "system"]
    name: str
    caseworker_id: int | None = None

    @classmethod
    def command_line(cls) -> Actor:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no name for this uid (a container)
            user = "unknown"
        return cls("cli", user)


SYSTEM = Actor("system", "stegvis")


class ServiceError(Exception):
    """A request that cannot be carried out; str() says why, in one line."""

    def __init__(self, message: str, *, field: str | None = None, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.problems = list(problems)  # one line each, e.g. every bad row of an import


class InvalidInput(ServiceError):
    """A value that is not acceptable as given."""


class NotFound(ServiceError):
    """Something named by id that does not exist."""


class Conflict(ServiceError):
    """The request does not fit what is stored (cancelled twice, booked twice, changed meanwhile)."""


def invalid(field: str, error: ValueError | str) -> InvalidInput:
    """An InvalidInput from a parser's ValueError (its text is the reason only)."""
    return InvalidInput(str(error), field=field)
