"""The one place Stegvis reads the time of day: everything else is handed a `Clock` or a `now`.

A `Clock` is made once per process (``bot.app.Stegvis``) and passed down; tests and the demo
hand in a `FrozenClock` they move by hand, so nothing depends on the day the suite runs.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


class Clock:
    """The real time, always UTC and timezone-aware."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FrozenClock(Clock):
    """A clock that only moves when told to (tests, the demo's fixed day)."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("a FrozenClock needs an aware datetime")
        self._at = at.astimezone(timezone.utc)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = at.astimezone(timezone.utc)

    def advance(self, by: timedelta) -> None:
        self._at += by


SYSTEM_CLOCK = Clock()


def require_aware(**values: datetime) -> None:
    """A naive time is a programming error (callers parse to aware times), caught where it enters."""
    for name, value in values.items():
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
