"""A check-in's week and when it comes: pure rules, no IO.

A check-in belongs to one ISO week, named by its Monday (stored as ``CheckIn.week`` and in every
event's ``week``). Its run in the conversation carries the week as its ref, ``2027W03``. It comes
at the participant's own weekday and time if set, else their activity's (the earliest of the
week's activities that set one), else ``STEGVIS_CHECKIN_TIME`` (Friday 14:00), local time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.outbox.quiet_hours import from_wall

_REF = re.compile(r"([0-9]{4})W([0-9]{2})")
_WEEK = re.compile(r"([0-9]{4})-W([0-9]{2})")
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Moment = tuple[int, time]  # (weekday 0 Monday … 6, local time)


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def week_of(moment: datetime, tz: ZoneInfo) -> date:
    """The Monday of the local week `moment` falls in."""
    return monday_of(moment.astimezone(tz).date())


def reference(monday: date) -> str:
    """The ref of the check-in of the week starting `monday`: ``2027W03`` (ISO year and week)."""
    year, week, _day = monday.isocalendar()
    return f"{year}W{week:02d}"


def parse_reference(ref: str | None) -> date | None:
    match = _REF.fullmatch(ref or "")
    return _monday(int(match[1]), int(match[2])) if match else None


def _monday(year: int, week: int) -> date | None:
    try:
        return date.fromisocalendar(year, week, 1)
    except ValueError:
        return None


def parse_week(text: str) -> date:
    """``2027-W03`` → its Monday; a ValueError with the reason otherwise."""
    shown = (text or "").strip()
    match = _WEEK.fullmatch(shown.upper())
    monday = _monday(int(match[1]), int(match[2])) if match else None
    if monday is None:
        raise ValueError(f'"{shown}" is not an ISO week; use YYYY-Www, e.g. 2027-W03')
    return monday


def iso_week(monday: date) -> str:
    year, week, _day = monday.isocalendar()
    return f"{year}-W{week:02d}"


def shown_moment(moment: Moment) -> str:
    return f"{DAY_NAMES[moment[0]]} {moment[1].strftime('%H:%M')}"


def chosen_moment(own: Moment | None, activities: Iterable[Moment], default: Moment) -> Moment:
    """The participant's own time wins; else the earliest their activities set; else the default."""
    if own is not None:
        return own
    return min(activities, default=default)


def due_at(monday: date, moment: Moment, tz: ZoneInfo) -> datetime:
    """The instant (UTC) of the check-in in that week: its weekday at its local time (DST-correct)."""
    weekday, at = moment
    return from_wall(datetime.combine(monday + timedelta(days=weekday), at), tz)
