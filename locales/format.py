"""Dates, times and mixed-direction text in a participant's locale."""

from __future__ import annotations

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


def format_day(moment: datetime, language: Language, tz: ZoneInfo) -> str:
    """A weekday and date a person reads at a glance, e.g. «tisdag 24 november»."""
    return format_date(moment.astimezone(tz), "EEEE d MMMM", locale=language.babel_locale)


def format_clock(moment: datetime, language: Language, tz: ZoneInfo) -> str:
    """The time of day in the locale's usual form, e.g. «10:30»."""
    return format_time(moment.astimezone(tz), "short", tzinfo=tz, locale=language.babel_locale)
