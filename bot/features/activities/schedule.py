"""The sessions of a weekly activity between two dates: pure calendar logic, no IO, no clock.

A session is a weekly rule's local time on its weekday (``tue 10:00``), so it stays at 10:00 on
both sides of a DST change; a time that the spring-forward night skips moves forward to the
first moment that exists, as quiet hours do (``bot.outbox.quiet_hours.from_wall``), and one the
autumn night repeats takes the earlier. Sessions fall between the activity's first and last day,
and not on Swedish public holidays unless the activity is held on them. A cancelled session
is still listed, as cancelled with its reason.

The holidays are the `holidays` package's Swedish public holidays plus its "de facto" ones
(Midsummer Eve, Christmas Eve, New Year's Eve, when almost nothing is open), and never a plain
Sunday (some versions list every Sunday as a Swedish holiday; ``include_sundays=False``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from bot.outbox.quiet_hours import from_wall

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOLIDAY_CATEGORIES = ("public", "de_facto")


@dataclass(frozen=True, order=True)
class WeeklyRule:
    weekday: int  # 0 Monday … 6 Sunday, as date.weekday()
    at: time  # local time

    def __str__(self) -> str:
        return f"{WEEKDAYS[self.weekday]} {self.at:%H:%M}"


@dataclass(frozen=True)
class Plan:
    """What the sessions of an activity follow from."""

    rules: tuple[WeeklyRule, ...]
    duration: timedelta
    starts_on: date
    ends_on: date | None = None
    on_holidays: bool = False


@dataclass(frozen=True)
class Session:
    day: date  # local date
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC
    cancelled: bool = False
    reason: str | None = None


@lru_cache(maxsize=64)
def _holidays_of(year: int) -> dict[date, str]:
    import holidays

    # Named in English, like the rest of what the CLI says; without `language` the names follow
    # the process's locale (Swedish where LANG is unset).
    found = holidays.country_holidays("SE", years=year, categories=HOLIDAY_CATEGORIES, include_sundays=False, language="en_US")
    return dict(found.items())


def holiday(day: date) -> str | None:
    """The Swedish holiday on ``day`` (its English name), or None."""
    return _holidays_of(day.year).get(day)


def sessions(plan: Plan, first: date, last: date, tz: ZoneInfo, *, cancelled: Mapping[date, str | None] | None = None) -> list[Session]:
    """The sessions from ``first`` to ``last`` (local dates, both included), in time order.

    ``cancelled`` maps a cancelled date to its reason (or None); its sessions are listed as cancelled.
    """
    cancelled = cancelled or {}
    first = max(first, plan.starts_on)
    if plan.ends_on is not None:
        last = min(last, plan.ends_on)
    found: list[Session] = []
    day = first
    while day <= last:
        rules = [rule for rule in plan.rules if rule.weekday == day.weekday()]
        if rules and (plan.on_holidays or holiday(day) is None):
            for rule in sorted(rules):
                starts = from_wall(datetime.combine(day, rule.at), tz)
                found.append(Session(day, starts, starts + plan.duration, day in cancelled, cancelled.get(day)))
        day += timedelta(days=1)
    return sorted(found, key=lambda s: (s.starts_at, s.day))


def on_day(plan: Plan, day: date, tz: ZoneInfo) -> list[Session]:
    """The sessions on one local date (none when it is not a session day)."""
    return sessions(plan, day, day, tz)


def nearest(plan: Plan, day: date, tz: ZoneInfo, *, weeks: int = 8) -> tuple[Session | None, Session | None]:
    """The last session before ``day`` and the first after it, looking at most ``weeks`` each way."""
    span = timedelta(weeks=weeks)
    before = [s for s in sessions(plan, day - span, day - timedelta(days=1), tz)]
    after = [s for s in sessions(plan, day + timedelta(days=1), day + span, tz)]
    return (before[-1] if before else None), (after[0] if after else None)
