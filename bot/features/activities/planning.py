"""When the "coming today?" question goes out, and planning it as outbox rows (the feature's job).

`question_time` is pure: on the session's day at ``STEGVIS_ACTIVITY_QUESTION_TIME`` (08:00), or
when quiet hours end if they last longer, and never less than an hour before the session. When
that time is less than an hour before (a 08:30 session), the question goes when the day's quiet
hours end, if that is still an hour before (without quiet hours: exactly an hour before); else
there is no question that day.

`plan_questions` writes one outbox row per active participant per day with sessions, for today's
and tomorrow's: the subject ``activity_morning`` is the participant (its version the day's
ordinal), so the rows' key (participant, day) makes planning twice add nothing, and two
sessions that day, of one activity or of two, are one message (``morning.py``). A `Morning` is
what the row's composer and rule read: the participant's calendars and the sessions they have
already said, from the menu, they cannot come to.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.features.activities.question import COMING_TODAY, REPORT, ActivityCalendar, calendars_of, load_calendars
from bot.outbox.quiet_hours import QuietHours, from_wall, next_allowed_moment
from storage import activities as store
from storage import outbox
from storage.models import Event, Participant, ParticipantStatus
from storage.outbox import Planned, Recipient, Subject
from storage.writer import SessionReader

NOTICE = timedelta(hours=1)  # the question comes at least this long before the session
DAYS_AHEAD = 1  # today's sessions and tomorrow's
SUBJECT = "activity_morning"  # the participant's sessions of one day: id the participant, version the day's ordinal
MENU_AHEAD = timedelta(weeks=4)  # how far ahead "I can't come" offers sessions (and the question looks back for it)


def question_time(starts_at: datetime, ask_at: time, quiet: QuietHours | None, tz: ZoneInfo) -> datetime | None:
    """When the question about a session starting at `starts_at` goes out (UTC), or None for no question."""
    day = starts_at.astimezone(tz).date()
    latest = starts_at - NOTICE
    due = next_allowed_moment(from_wall(datetime.combine(day, ask_at), tz), quiet, tz)
    if due.astimezone(tz).date() == day and due <= latest:
        return due
    if quiet is None:
        return latest if latest.astimezone(tz).date() == day else None
    earliest = next_allowed_moment(from_wall(datetime.combine(day, time(0)), tz), quiet, tz)
    return earliest if earliest.astimezone(tz).date() == day and earliest <= latest else None


@dataclass(frozen=True)
class Asked:
    """One session day of one activity in a participant's morning question."""

    calendar: ActivityCalendar
    starts_at: datetime  # UTC: the day's first session of the activity


@dataclass(frozen=True)
class Morning:
    """A participant's activities, and the sessions they already said from the menu they cannot come to."""

    participant_id: int
    calendars: tuple[ActivityCalendar, ...]
    said_no: frozenset[tuple[int, date]] = frozenset()  # (activity id, day)

    def held(self, day: date, tz: ZoneInfo) -> list[Asked]:
        """The participant's sessions on `day` that are held (not cancelled), in time order."""
        found = [
            Asked(calendar, starts_at)
            for calendar in self.calendars
            if calendar.enrolled(self.participant_id, day) and day not in calendar.cancelled
            and (starts_at := calendar.starts_at(day, tz)) is not None
        ]
        return sorted(found, key=lambda asked: (asked.starts_at, asked.calendar.id))

    def to_ask(self, day: date, settings: Settings, due_at: datetime) -> list[Asked]:
        """The sessions a question due at `due_at` asks about: held, not already answered from
        the menu, with a question time of their own (not an 08:30 session when 08:00 is too late
        for it), and not begun when the question is due (a retry a little later keeps them)."""
        return [
            asked for asked in self.held(day, settings.tz)
            if (asked.calendar.id, day) not in self.said_no
            and question_time(asked.starts_at, settings.activity_question_at, settings.quiet, settings.tz) is not None
            and due_at < asked.starts_at
        ]


def due_of_day(morning: Morning, day: date, settings: Settings, now: datetime) -> tuple[datetime, list[int]] | None:
    """When the participant's question about `day` goes out (the earliest of its sessions'
    question times, not before now) and the activities it asks about, or None when no session
    that day is still to be asked about."""
    tz = settings.tz
    times = [
        (max(due, now), asked.calendar.id)
        for asked in morning.held(day, tz)
        if (asked.calendar.id, day) not in morning.said_no
        and (due := question_time(asked.starts_at, settings.activity_question_at, settings.quiet, tz)) is not None
        and max(due, now) <= asked.starts_at - NOTICE  # that time has passed (Stegvis was not running)
    ]
    return (min(due for due, _ in times), [aid for _, aid in times]) if times else None


async def said_no_from_menu(session: AsyncSession, participant_ids: Collection[int], since: datetime) -> dict[int, set[tuple[int, date]]]:
    """(activity id, day) each participant said from the menu they cannot come to, said since `since`."""
    if not participant_ids:
        return {}
    rows = await session.execute(
        select(Event.participant_id, Event.payload).where(
            Event.type == REPORT, Event.participant_id.in_(sorted(participant_ids)), Event.occurred_at >= since
        )
    )
    found: dict[int, set[tuple[int, date]]] = {}
    for participant_id, payload in rows:
        if payload.get("source") == "menu" and payload.get("coming") is False and isinstance(payload.get("activity_id"), int):
            try:
                day = date.fromisoformat(str(payload.get("date")))
            except ValueError:
                continue
            found.setdefault(participant_id, set()).add((payload["activity_id"], day))
    return found


async def load_mornings(session: AsyncSession, participant_ids: Collection[int], now: datetime, calendars: dict[int, ActivityCalendar] | None = None) -> dict[int, Morning]:
    """Each participant's `Morning` (those enrolled in nothing included, with no calendars)."""
    if calendars is None:
        calendars = await calendars_of(SessionReader(session), participant_ids)
    said_no = await said_no_from_menu(session, participant_ids, now - MENU_AHEAD - timedelta(days=DAYS_AHEAD + 1))
    return {
        pid: Morning(pid, tuple(c for c in calendars.values() if any(e[0] == pid for e in c.enrolments)), frozenset(said_no.get(pid, ())))
        for pid in participant_ids
    }


async def plan_questions(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Plan the questions about today's and tomorrow's sessions; returns how many rows were added."""
    today = now.astimezone(settings.tz).date()
    calendars = await load_calendars(SessionReader(session), [a.id for a in await store.list_activities(session)])
    enrolled = {pid for calendar in calendars.values() for pid, _first, _left in calendar.enrolments}
    active = set(
        await session.scalars(select(Participant.id).where(Participant.id.in_(sorted(enrolled)), Participant.status == ParticipantStatus.ACTIVE))
    ) if enrolled else set()
    mornings = await load_mornings(session, active, now, calendars)
    planned = []
    for pid in sorted(active):
        for day in (today + timedelta(days=n) for n in range(DAYS_AHEAD + 1)):
            found = due_of_day(mornings[pid], day, settings, now)
            if found is not None:
                due, activity_ids = found
                subject = Subject(SUBJECT, pid, day.toordinal())
                planned.append(Planned(Recipient.participant(pid), COMING_TODAY, due, subject=subject, payload={"activity_ids": activity_ids}))
    return await outbox.enqueue_many(session, planned, now=now)
