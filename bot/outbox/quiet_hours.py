"""Quiet hours: the local times when nothing is sent to participants, and when sending may resume.

Pure calendar logic with no IO and no clock reads: callers pass the moment. The default,
``STEGVIS_QUIET_HOURS`` "20:00-08:00" in Europe/Stockholm local time, keeps messages out of the
night (Denmark's job centres send their messages between 09 and 22).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from storage.clock import require_aware

DEFAULT_QUIET_HOURS = "20:00-08:00"
DEFAULT_TIMEZONE = "Europe/Stockholm"

_QUIET_RE = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")
_QUIET_FORM = "use HH:MM-HH:MM, e.g. 20:00-08:00, or leave it empty for none"


@dataclass(frozen=True)
class QuietHours:
    """Local times [start, end) when nothing is sent; may wrap midnight."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise ValueError(f'bad quiet hours "{self}": start and end must differ')

    @classmethod
    def parse(cls, text: str) -> QuietHours | None:
        if not text.strip():
            return None
        match = _QUIET_RE.fullmatch(text)
        if match is None:
            raise ValueError(f'bad quiet hours "{text.strip()}": {_QUIET_FORM}')
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if max(h1, h2) > 23 or max(m1, m2) > 59:
            raise ValueError(f'bad quiet hours "{text.strip()}": {_QUIET_FORM}')
        return cls(time(h1, m1), time(h2, m2))

    @property
    def wraps_midnight(self) -> bool:
        return self.start > self.end

    def contains(self, local: time) -> bool:
        local = local.replace(tzinfo=None)
        if self.wraps_midnight:
            return local >= self.start or local < self.end
        return self.start <= local < self.end

    def started_on(self, local: datetime) -> date:
        """The local date on which the quiet period containing ``local`` began."""
        if self.wraps_midnight and local.time() < self.end:
            return local.date() - timedelta(days=1)
        return local.date()

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def from_wall(wall: datetime, tz: ZoneInfo) -> datetime:
    """Instant (UTC) of a naive local wall time; gaps move forward, folds take the earlier."""
    candidate = wall.replace(tzinfo=tz, fold=0)  # the earlier instant when ambiguous
    utc = candidate.astimezone(timezone.utc)
    if utc.astimezone(tz).replace(tzinfo=None) == wall:
        return utc
    # In a spring-forward gap fold=1 reads the wall with the new offset (an instant
    # before the transition) and fold=0 with the old one (after it); bisect on whole
    # seconds, where tz transitions fall, for the first instant on the new offset.
    lo = int(wall.replace(tzinfo=tz, fold=1).timestamp())
    hi = int(candidate.timestamp())
    new_offset = datetime.fromtimestamp(hi, tz).utcoffset()
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, tz).utcoffset() == new_offset:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, timezone.utc)


def shift_before_quiet_hours(when: datetime, quiet: QuietHours | None, tz: ZoneInfo) -> datetime:
    """Move a time inside quiet hours to one minute before that quiet period began."""
    require_aware(when=when)
    local = when.astimezone(tz)
    if quiet is None or not quiet.contains(local.time()):
        return when.astimezone(timezone.utc)
    began = datetime.combine(quiet.started_on(local), quiet.start)
    return from_wall(began - timedelta(minutes=1), tz)


def next_allowed_moment(when: datetime, quiet: QuietHours | None, tz: ZoneInfo) -> datetime:
    """``when`` if sending is allowed then, else the end of its quiet period."""
    require_aware(when=when)
    local = when.astimezone(tz)
    if quiet is None or not quiet.contains(local.time()):
        return when.astimezone(timezone.utc)
    ends_on = quiet.started_on(local) + timedelta(days=1 if quiet.wraps_midnight else 0)
    return from_wall(datetime.combine(ends_on, quiet.end), tz)
