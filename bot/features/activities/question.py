"""The "coming today?" question: *Ja* · *Nej* about one session day, then why and a few words.

Every run of the question (``flows/definitions/coming_today.yaml``) is tied to one activity on
one local day by its *reference*, ``<activity id>d<days since 2000-01-01>`` (e.g. ``12d9901``):
it is in each button's callback data and, as ``activity_id`` and ``date``, on every event, so an
answer always belongs to the day it was asked about. A run started from the menu ("I can't
come", ``cantcome.py``) has an ``m`` instead of the ``d`` (``12m9901``): its events also say
``source: "menu"``, and it may be about a day ahead. The sessions of one activity on one day are
one report (the roll call and cancellations are per day as well), so one ref covers them.

The morning message that asks about all of a participant's sessions of a day at once is
``morning.py``'s; this module is what each session's run needs.

An `ActivityCalendar` is what the rules read: the activity's weekly plan, its cancelled days
and its enrolments, loaded through a `storage.writer.Reader` (the hot path's store, or a
session via `storage.writer.SessionReader`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.features.activities.schedule import Plan, WeeklyRule, on_day
from flows.engine import BROKEN, Run
from locales import N_, Texts
from locales.format import format_clock
from storage.models import Activity, ActivityRule, CancelledSession, Enrolment
from storage.writer import ParticipantRow, Reader

FLOW = "coming_today"
COMING_TODAY = "activity.coming_today"
REPORT = "activity_report"

# Why a button of the question no longer answers anything (a short pop-up).
CANCELLED = N_("Den här träffen är inställd.")
OTHER_DAY = N_("Den frågan gällde en annan dag.")
NOT_YOURS = BROKEN  # the engine's text for a forged button: existence is not told
STARTED = N_("Den träffen har redan börjat.")
# The reply to an answer given after the session began (the answer is still recorded, marked late).
LATE = N_("Tack. Träffen har redan börjat; vi har noterat ditt svar.")

EPOCH = date(2000, 1, 1)
MORNING, MENU = "d", "m"  # the letter in a ref: asked in the morning, or said from the menu
_REFERENCE = re.compile(r"([1-9][0-9]{0,5})([dm])([0-9]{1,5})")


def reference(activity_id: int, day: date, *, source: str = MORNING) -> str:
    """The ref of the question about the activity on that day, e.g. ``12d9901`` (``12m9901`` from the menu)."""
    return f"{activity_id}{source}{(day - EPOCH).days}"


def parse_reference(ref: str | None) -> tuple[int, date] | None:
    """(activity id, local day) from a ref, or None when it is not one of ours."""
    match = _REFERENCE.fullmatch(ref or "")
    return (int(match[1]), EPOCH + timedelta(days=int(match[3]))) if match else None


def from_menu(ref: str | None) -> bool:
    match = _REFERENCE.fullmatch(ref or "")
    return match is not None and match[2] == MENU


@dataclass(frozen=True)
class ActivityCalendar:
    """An activity as the question needs it: its plan, its cancelled days and who is enrolled when."""

    id: int
    name: str
    place: str
    plan: Plan
    cancelled: frozenset[date]
    enrolments: tuple[tuple[int, date, date | None], ...]  # (participant, from, left)

    def starts_at(self, day: date, tz: ZoneInfo) -> datetime | None:
        """The day's first session (UTC), or None when it is not a session day (cancelled or not)."""
        starts = [s.starts_at for s in on_day(self.plan, day, tz)]
        return min(starts) if starts else None

    def enrolled(self, participant_id: int, day: date) -> bool:
        return any(pid == participant_id and first <= day and (left is None or left > day) for pid, first, left in self.enrolments)


async def load_calendars(reader: Reader, ids: Collection[int]) -> dict[int, ActivityCalendar]:
    if not ids:
        return {}
    wanted = sorted(ids)
    activities = await reader.fetch(
        select(Activity.id, Activity.name, Activity.place, Activity.duration_minutes, Activity.starts_on, Activity.ends_on, Activity.on_holidays).where(Activity.id.in_(wanted))
    )
    rules = await reader.fetch(select(ActivityRule.activity_id, ActivityRule.weekday, ActivityRule.local_time).where(ActivityRule.activity_id.in_(wanted)))
    cancelled = await reader.fetch(select(CancelledSession.activity_id, CancelledSession.local_date).where(CancelledSession.activity_id.in_(wanted)))
    enrolments = await reader.fetch(
        select(Enrolment.activity_id, Enrolment.participant_id, Enrolment.from_date, Enrolment.left_date).where(Enrolment.activity_id.in_(wanted))
    )
    found = {}
    for a in activities:
        weekly = tuple(sorted(WeeklyRule(r.weekday, r.local_time) for r in rules if r.activity_id == a.id))
        plan = Plan(weekly, timedelta(minutes=a.duration_minutes), a.starts_on, a.ends_on, a.on_holidays)
        found[a.id] = ActivityCalendar(
            a.id, a.name, a.place, plan,
            frozenset(c.local_date for c in cancelled if c.activity_id == a.id),
            tuple((e.participant_id, e.from_date, e.left_date) for e in enrolments if e.activity_id == a.id),
        )
    return found


async def calendars_of(reader: Reader, participant_ids: Collection[int]) -> dict[int, ActivityCalendar]:
    """The calendars of every activity these participants are or were enrolled in."""
    if not participant_ids:
        return {}
    rows = await reader.fetch(select(Enrolment.activity_id).where(Enrolment.participant_id.in_(sorted(participant_ids))).distinct())
    return await load_calendars(reader, {row.activity_id for row in rows})


def closed(calendar: ActivityCalendar | None, participant_id: int, day: date, now: datetime, tz: ZoneInfo, *, menu: bool = False) -> str | None:
    """Why a button of the question about `day` no longer answers (a msgid), or None while it does.

    A question about today still answers after the session began: that answer is late, not wrong.
    A run from the menu is about today or a day ahead: its reasons still answer once it began
    (they said they could not come before it did)."""
    if calendar is None or not calendar.enrolled(participant_id, day):
        return NOT_YOURS
    today = now.astimezone(tz).date()
    if day < today if menu else day != today:
        return OTHER_DAY
    if day in calendar.cancelled or calendar.starts_at(day, tz) is None:
        return CANCELLED
    return None


def variables(calendar: ActivityCalendar, day: date, texts: Texts, tz: ZoneInfo) -> dict[str, str]:
    """The question's {placeholders}, written the way the participant's language writes them."""
    starts_at = calendar.starts_at(day, tz)
    return {
        "time": format_clock(starts_at, texts.language, tz) if starts_at is not None else "",
        "activity": calendar.name,
        "place": calendar.place,
    }


class QuestionRefs:
    """The conversation core's questions about runs of the question (`bot.registry.RefRule`)."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz

    async def closed(self, reader: Reader, participant: ParticipantRow, refs: Collection[str], now: datetime) -> dict[str, str]:
        days = {ref: parse_reference(ref) for ref in refs}
        found = await load_calendars(reader, {d[0] for d in days.values() if d is not None})
        reasons = {}
        for ref, about in days.items():
            reason = NOT_YOURS if about is None else closed(found.get(about[0]), participant.id, about[1], now, self.tz, menu=from_menu(ref))
            if reason is not None:
                reasons[ref] = reason
        return reasons

    async def variables(self, reader: Reader, participant: ParticipantRow, ref: str, texts: Texts) -> dict[str, Any]:
        about = parse_reference(ref)
        calendar = (await load_calendars(reader, {about[0]})).get(about[0]) if about else None
        return variables(calendar, about[1], texts, self.tz) if calendar is not None and about is not None else {}

    def same_thing(self, ref: str) -> Callable[[Run], bool]:
        """Runs about the same activity and day, asked in the morning or said from the menu."""
        day = parse_reference(ref)

        def about(run: Run) -> bool:
            return run.flow == FLOW and (run.ref == ref or (day is not None and parse_reference(run.ref) == day))

        return about

    def event_payload(self, ref: str) -> dict[str, Any]:
        about = parse_reference(ref)
        if about is None:
            return {"ref": ref}
        payload = {"activity_id": about[0], "date": about[1].isoformat()}
        return {**payload, "source": "menu"} if from_menu(ref) else payload

    async def late(self, reader: Reader, participant: ParticipantRow, ref: str, now: datetime) -> bool:
        """Whether an answer to this ref still answers, and comes after the session began (one read)."""
        about = parse_reference(ref)
        if about is None or from_menu(ref):
            return False  # from the menu they said no before the session began
        calendar = (await load_calendars(reader, {about[0]})).get(about[0])
        if calendar is None or closed(calendar, participant.id, about[1], now, self.tz) is not None:
            return False
        starts_at = calendar.starts_at(about[1], self.tz)
        return starts_at is not None and starts_at <= now
