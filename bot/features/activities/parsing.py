"""What a caseworker types for an activity: weekly rules (``tue 10:00``, ``torsdag 13:30``) and durations (``90m``, ``1h30m``).

Refusals are ``ValueError``s whose text is the reason only, as in ``bot/validation.py``; the
caller puts the option in front (``--weekly: "funday" is not a weekday ...``).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import timedelta

from bot.features.activities.schedule import WeeklyRule
from bot.validation import parse_time
from bot.validation import quoted as _quoted

MIN_DURATION = timedelta(minutes=15)
MAX_DURATION = timedelta(hours=12)

# English and Swedish, short and long; matched case-insensitively.
_NAMES = (
    ("mon", "monday", "mån", "måndag"),
    ("tue", "tues", "tuesday", "tis", "tisdag"),
    ("wed", "wednesday", "ons", "onsdag"),
    ("thu", "thur", "thurs", "thursday", "tor", "tors", "torsdag"),
    ("fri", "friday", "fre", "fredag"),
    ("sat", "saturday", "lör", "lördag"),
    ("sun", "sunday", "sön", "söndag"),
)
WEEKDAY_NAMES = {name: weekday for weekday, names in enumerate(_NAMES) for name in names}
_WEEKLY_EXAMPLE = 'use a weekday and a time, e.g. "tue 10:00" or "torsdag 13:30"'
_DURATION_RE = re.compile(r"(?:([0-9]{1,3})h)?(?:([0-9]{1,4})m(?:in)?)?", re.IGNORECASE)
_DURATION_EXAMPLE = "use e.g. 90m, 2h or 1h30m"


def parse_weekday(text: str) -> int:
    name = unicodedata.normalize("NFC", text.strip()).casefold().rstrip(".")
    if name not in WEEKDAY_NAMES:
        raise ValueError(f"{_quoted(text.strip())} is not a weekday; use mon … sun or måndag … söndag, e.g. tue or tisdag")
    return WEEKDAY_NAMES[name]


def parse_weekly(text: str) -> WeeklyRule:
    """``tue 10:00`` → WeeklyRule(1, 10:00)."""
    shown = (text or "").strip()
    if not shown:
        raise ValueError(f"must not be empty; {_WEEKLY_EXAMPLE}")
    parts = shown.split()
    if len(parts) == 1:
        if ":" in shown or shown[:1].isdigit():
            raise ValueError(f"{_quoted(shown)} has no weekday; {_WEEKLY_EXAMPLE}")
        parse_weekday(shown)  # a weekday that is not one says so first
        raise ValueError(f"{_quoted(shown)} has no time; {_WEEKLY_EXAMPLE}")
    if len(parts) != 2:
        raise ValueError(f"{_quoted(shown)} is not a weekday and a time; {_WEEKLY_EXAMPLE}")
    weekday = parse_weekday(parts[0])
    return WeeklyRule(weekday, parse_time(parts[1]))


def parse_duration(text: str) -> timedelta:
    """``90m``, ``2h``, ``1h30m`` (spaces allowed between the parts), from 15 minutes to 12 hours."""
    shown = (text or "").strip()
    if not shown:
        raise ValueError(f"must not be empty; {_DURATION_EXAMPLE}")
    match = _DURATION_RE.fullmatch(re.sub(r"\s+", "", shown))
    if match is None or not (match[1] or match[2]):
        raise ValueError(f"{_quoted(shown)} is not a duration; {_DURATION_EXAMPLE}")
    duration = timedelta(hours=int(match[1] or 0), minutes=int(match[2] or 0))
    check_duration(duration, shown)
    return duration


def check_duration(duration: timedelta, shown: str | None = None) -> None:
    what = _quoted(shown) if shown is not None else f"{int(duration.total_seconds() // 60)} minutes"
    if duration < MIN_DURATION:
        raise ValueError(f"{what} is shorter than 15 minutes")
    if duration > MAX_DURATION:
        raise ValueError(f"{what} is longer than 12 hours")
