"""Parsing and checking what caseworkers type: ids, dates and times, names, places, e-mail addresses.

Shared by the CLI, the CSV import and (later) a web console, so the same input gets the same
answer everywhere. Every refusal is a ``ValueError`` whose text is the reason only, in plain
words; the caller adds where the input came from (``--at: ``, ``line 3: date: ``). Nothing here
reads the clock or the network: functions that need the time take ``now``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from datetime import MAXYEAR, date, datetime, time, timedelta, timezone
from typing import TypeVar
from zoneinfo import ZoneInfo

from bot.features.appointments.timing import LeadTime
from storage.clock import require_aware

_T = TypeVar("_T")

MAX_TEXT = 200
MAX_EMAIL = 254  # the longest address SMTP can carry (RFC 5321)
# SQLite stores integers in 64 bits; a larger id fails deep inside the driver.
MAX_ID = 2**63 - 1
MAX_YEARS_AHEAD = 2
MAX_OFFSET = timedelta(hours=14)  # Kiribati, the furthest any zone is from UTC

# [0-9], not \d: \d also matches Arabic-Indic and other digits, which int() would quietly accept.
_DATE_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_TIME_RE = re.compile(r"([0-9]{1,2}):([0-9]{2})")
_AT_RE = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})[T ]([0-9]{1,2}:[0-9]{2})(?::([0-9]{2}))?(Z|[+-][0-9]{2}:?[0-9]{2})?", re.IGNORECASE)
_LEAD_DIGITS_RE = re.compile(r"0*(\d+)")  # \d as in LeadTime.parse, which int()s what it matches

# They reorder how the text around them is shown, so a name or place can display as something
# other than what is stored (the "Trojan Source" trick) and can scramble the CLI's tables.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Control characters that str.split() treats as white space, but that no one types on purpose.
_CONTROL_SPACE = frozenset("\x1c\x1d\x1e\x1f\x85")
_LINE_BREAKS = frozenset("\n\r\v\f\u2028\u2029")
_SHOWN_MAX = 60

_ID_HINTS = {
    "participant": "use the number from: stegvis participant list",
    "appointment": "use the number from: stegvis appointment list",
}
_ID_HINT = "use a whole number, e.g. 7"
_EMAIL_EXAMPLE = "e.g. anna.berg@kommun.se"
_EMAIL_LOCAL_PUNCTUATION = frozenset("!#$%&'*+/=?^_`{|}~-")


# Ids


def parse_id(text: str, what: str | None = "participant") -> int:
    """A database id, 1 to 2**63-1, in ASCII digits; ``what`` (e.g. "appointment") names it.

    ``what=None`` gives the CLI's generic wording ("is not an id").
    """
    if not text:
        raise ValueError("must not be empty")
    name = f"{_article(what)} {what} id" if what else "an id"
    hint = _ID_HINTS.get(what or "", _ID_HINT)
    if not text.isdecimal():
        raise ValueError(f"{_quoted(text)} is not {name}; {hint}")
    if not text.isascii():
        # An Arabic or Persian keyboard types ٣ or ۳ for 3; say so rather than just "not an id".
        raise ValueError(f"{_quoted(text)} is not {name}; type it with the digits 0-9")
    digits = text.lstrip("0")
    if not digits:
        raise ValueError(f"{_quoted(text)} is not {name}; ids start at 1")
    # Compare lengths before int(): Python refuses to convert more than 4300 digits.
    if len(digits) > len(str(MAX_ID)) or int(digits) > MAX_ID:
        raise ValueError(f"{_quoted(text)} is too large to be {name}; {hint}")
    return int(digits)


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


# Dates and times


def parse_date(text: str) -> date:
    return _parse_form(text, _DATE_RE, lambda match: date(*(int(part) for part in match.groups())), "is not a date; use YYYY-MM-DD, e.g. 2026-11-24")


def parse_time(text: str) -> time:
    return _parse_form(text, _TIME_RE, lambda match: time(int(match[1]), int(match[2])), "is not a time; use HH:MM (24-hour clock), e.g. 10:30")


def _parse_form(text: str, form: re.Pattern[str], build: Callable[[re.Match[str]], _T], refusal: str) -> _T:
    shown = text.strip()
    if not shown:
        raise ValueError("must not be empty")
    match = form.fullmatch(shown)
    try:
        if match is None:
            raise ValueError
        return build(match)  # date() and time() refuse 2026-02-30 and 24:00 with ValueError
    except ValueError:
        raise ValueError(f"{_quoted(shown)} {refusal}") from None


def local_datetime(day: date, clock: time, tz: ZoneInfo) -> datetime:
    """The instant (UTC) of a local date and time; refuses times a DST change skips or repeats."""
    wall = datetime.combine(day, clock)
    aware = wall.replace(tzinfo=tz)
    utc = _to_utc(aware)
    if utc.astimezone(tz).replace(tzinfo=None) != wall:
        raise ValueError(f"{_wall(wall)} does not exist in {tz.key}: the clocks go forward that night; pick another time")
    if aware.replace(fold=0).utcoffset() != aware.replace(fold=1).utcoffset():
        # Guessing which of the two would put someone an hour early or late.
        raise ValueError(f"{_wall(wall)} happens twice in {tz.key}: the clocks go back that night; pick another time")
    return utc


def parse_at(text: str, tz: ZoneInfo, *, now: datetime) -> datetime:
    """``2026-11-24T10:30`` in local time, as UTC; a UTC offset (as in our JSON output) is honoured.

    Refuses times more than two years after ``now`` (see check_not_too_far).
    """
    shown = text.strip()
    form = f"{_quoted(shown)} is not a date and time; use YYYY-MM-DDTHH:MM in local time ({tz.key}), e.g. 2026-11-24T10:30"
    match = _AT_RE.fullmatch(shown)
    if match is None:
        raise ValueError(form)
    day, clock = parse_date(match[1]), parse_time(match[2])
    if match[3]:
        if int(match[3]) > 59:
            raise ValueError(form)
        clock = clock.replace(second=int(match[3]))
    if match[4]:
        starts_at = _to_utc(datetime.combine(day, clock, _parse_offset(match[4])))
    else:
        starts_at = local_datetime(day, clock, tz)
    check_not_too_far(starts_at, now, tz=tz)
    return starts_at


def check_not_too_far(starts_at: datetime, now: datetime, *, tz: ZoneInfo | None = None) -> None:
    """Refuse a time more than two years after ``now``: almost always a mistyped year.

    ``tz`` is only for showing the time; without it, it is shown in ``starts_at``'s own zone.
    """
    require_aware(starts_at=starts_at, now=now)
    if now.year + MAX_YEARS_AHEAD > MAXYEAR:
        return  # nothing representable is that far ahead
    try:
        latest = now.replace(year=now.year + MAX_YEARS_AHEAD)
    except ValueError:  # 29 February
        latest = now.replace(year=now.year + MAX_YEARS_AHEAD, day=28)
    if starts_at > latest:
        raise ValueError(f"{_wall(_in_zone(starts_at, tz))} is more than two years from now; check the year")


def _parse_offset(text: str) -> timezone:
    if text.upper() == "Z":
        return timezone.utc
    hours, minutes = int(text[1:3]), int(text[-2:])
    offset = timedelta(hours=hours, minutes=minutes)
    if minutes > 59 or offset > MAX_OFFSET:
        raise ValueError(f"{_quoted(text)} is not a UTC offset; use one from -14:00 to +14:00, e.g. +01:00")
    return timezone(-offset if text[0] == "-" else offset)


def _to_utc(aware: datetime) -> datetime:
    try:
        return aware.astimezone(timezone.utc)
    except OverflowError:
        # Only year 1 or year 9999 can overflow when the offset is applied.
        direction = "past" if aware.year == 1 else "future"
        raise ValueError(f"{_wall(aware)} is too far in the {direction}; check the year") from None


def _in_zone(value: datetime, tz: ZoneInfo | None) -> datetime:
    try:
        return value.astimezone(tz) if tz is not None else value
    except OverflowError:
        return value


def _wall(value: datetime) -> str:
    # Not strftime: on Linux "%Y" writes year 1 as "1", not "0001".
    return value.replace(tzinfo=None).isoformat(sep=" ", timespec="minutes")


# Lead times


def parse_remind(values: Iterable[str]) -> tuple[LeadTime, ...]:
    """``["3d", "1d"]``, ``["3d,1d"]`` or ``["3d 1d"]`` → lead times, longest first, no duplicates."""
    leads: set[LeadTime] = set()
    for value in values:
        # "3 d" is one lead time (LeadTime.parse accepts it); only then split on spaces and commas.
        joined = re.sub(r"(\d)\s+([A-Za-z])", r"\1\2", value)
        items = [item for item in re.split(r"[\s,]+", joined) if item]
        if not items:
            raise ValueError("no lead time given; use e.g. 3d, 1d or 2h")
        for item in items:
            digits = _LEAD_DIGITS_RE.match(item)
            if digits is not None and len(digits[1]) > 6:
                # int() gives up past 4300 digits with a message about sys.set_int_max_str_digits.
                raise ValueError(f"bad lead time {_quoted(item)}: must be at most 60 days (60d)")
            leads.add(LeadTime.parse(item))
    return tuple(sorted(leads, reverse=True))


# Names, places, titles


def clean_name(text: str) -> str:
    """A person's name on one line, in any script; spaces and tabs inside are collapsed to one space."""
    value = text or ""
    if any(character in _LINE_BREAKS for character in value.strip()):
        raise ValueError("must be on one line")
    name = _one_line(value)
    if not name:
        raise ValueError("must not be empty")
    if not any(unicodedata.category(character).startswith("L") for character in name):
        raise ValueError("must contain at least one letter")
    return name


def clean_text(value: str | None, *, required: bool) -> str | None:
    """Place or title on one line: runs of white space (a CSV cell's newlines too) become one space."""
    text = _one_line(value or "")
    if not text and required:
        raise ValueError("must not be empty")
    return text or None


def _one_line(value: str) -> str:
    _check_characters(value)
    # After _check_characters, the only white space split() still sees is the ordinary kind.
    text = " ".join(value.split())
    if len(text) > MAX_TEXT:
        raise ValueError(f"is longer than {MAX_TEXT} characters")
    return text


# Every character _character_problem might refuse, so that ordinary text (nearly all of it, and
# thousands of CSV cells at a time) is checked with one regular-expression search.
_SUSPECT = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff" + "".join(sorted(_BIDI)) + "]")


def _check_characters(value: str) -> None:
    if not _SUSPECT.search(value):
        return
    for character in value:
        problem = _character_problem(character)
        if problem:
            raise ValueError(f"contains {problem} (U+{ord(character):04X}); remove it")


def _character_problem(character: str) -> str | None:
    if character in _BIDI:
        return "a hidden text-direction character"
    category = unicodedata.category(character)
    if category == "Cs":
        # What Python makes of bytes that are not UTF-8, e.g. from a terminal set to Latin-1.
        return "a character that is not valid text"
    if category == "Cc" and (character in _CONTROL_SPACE or not character.isspace()):
        return "a control character"
    return None


# E-mail


def parse_email(text: str) -> str:
    """One address, ``local@domain.tld``; the domain lower-cased. Checks the form only, no lookups."""
    shown = (text or "").strip()
    if not shown:
        raise ValueError("must not be empty")
    _check_characters(shown)
    if len(shown) > MAX_EMAIL:
        raise ValueError(f"is longer than {MAX_EMAIL} characters")
    if shown.count("@") > 1 and re.search(r"[\s,;]", shown):
        raise ValueError(f"{_quoted(shown)} is more than one e-mail address; give one")
    problem = _email_problem(shown)
    if problem:
        raise ValueError(f"{_quoted(shown)} is not an e-mail address: {problem}")
    local, domain = shown.split("@")
    return f"{local}@{domain.lower()}"


def _email_problem(text: str) -> str | None:
    # Pasted from a mail program's address field: "Anna Berg <anna.berg@kommun.se>".
    named = re.fullmatch(r"[^<>]*<([^<>\s]+@[^<>\s]+)>", text)
    if named:
        return f"give the address alone: {named[1]}"
    if any(character.isspace() for character in text):
        return "it must not contain spaces"
    if "@" not in text:
        return f"it has no @; {_EMAIL_EXAMPLE}"
    if text.count("@") > 1:
        return "it has more than one @"
    local, domain = text.split("@")
    if not local:
        return f"there is nothing before the @; {_EMAIL_EXAMPLE}"
    return _part_problem(local, "before", lambda c: c.isalnum() or c in _EMAIL_LOCAL_PUNCTUATION) or _part_problem(domain, "after", lambda c: c.isalnum() or c == "-")


def _part_problem(part: str, side: str, allowed: Callable[[str], bool]) -> str | None:
    wrong = next((character for character in part if character != "." and not allowed(character)), None)
    if wrong is not None:
        return f"the part {side} the @ cannot contain {_quoted(wrong)}"
    labels = part.split(".")
    if side == "after" and (len(labels) < 2 or any(label.startswith("-") or label.endswith("-") for label in labels) or not all(labels)):
        return "the part after the @ must be a domain such as kommun.se"
    if not all(labels):
        return "the part before the @ cannot start or end with a dot or have two dots in a row"
    return None


# Showing what was typed


def quoted(text: str) -> str:
    """What was typed, shown in a refusal: in double quotes, invisible characters as <U+XXXX>, long text cut."""
    return _quoted(text)


def _quoted(text: str) -> str:
    """``text`` in double quotes for a message, with invisible characters as <U+XXXX> and long text cut."""
    shown = "".join(f"<U+{ord(character):04X}>" if _character_problem(character) or (character.isspace() and character != " ") else character for character in text[:_SHOWN_MAX])
    return f'"{shown}…"' if len(text) > _SHOWN_MAX else f'"{shown}"'
