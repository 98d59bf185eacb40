"""Dates, times and mixed-direction text in a participant's locale."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time

from locales.languages import Language

FSI = "\u2068"  # FIRST STRONG ISOLATE
PDI = "\u2069"  # POP DIRECTIONAL ISOLATE


def isolate(fragment: str, language: Language) -> str:
    """Wrap a fragment for a right-to-left message, so Latin names, times and codes keep their order."""
    if not language.rtl or not fragment:
        return fragment
    return f"{FSI}{fragment}{PDI}"


# A run of left-to-right words: Latin letters or digits, joined by spaces and inner punctuation,
# optionally a leading "/" (a command such as /help). Trailing punctuation stays outside.
_LATIN_WORD = r"[A-Za-z\u00C0-\u024F0-9](?:[A-Za-z\u00C0-\u024F0-9_.:@'/-]*[A-Za-z\u00C0-\u024F0-9])?"
_LATIN_RUN = re.compile(rf"(?:/|(?=[A-Za-z\u00C0-\u024F])){_LATIN_WORD}(?:\s+{_LATIN_WORD})*")


def isolate_latin_runs(text: str) -> str:
    """Isolate every Latin-script run (Stegvis, /help, Nygatan 19) inside a right-to-left text."""
    return _LATIN_RUN.sub(lambda match: f"{FSI}{match.group(0)}{PDI}", text)


def format_day(moment: datetime, language: Language, tz: ZoneInfo) -> str:
    """A weekday and date a person reads at a glance, e.g. «tisdag 24 november»."""
    return format_date(moment.astimezone(tz), "EEEE d MMMM", locale=language.babel_locale)


def format_clock(moment: datetime, language: Language, tz: ZoneInfo) -> str:
    """The time of day in the locale's usual form, e.g. «10:30»."""
    return format_time(moment.astimezone(tz), "short", tzinfo=tz, locale=language.babel_locale)
