"""When the "coming today?" question goes out, and planning it as outbox rows (the feature's job).

`question_time` is pure: on the session's day at ``STEGVIS_ACTIVITY_QUESTION_TIME`` (08:00), or
when quiet hours end if they last longer, and never less than an hour before the session. When
that time is less than an hour before (a 08:30 session), the question goes when the day's quiet
hours end, if that is still an hour before (without quiet hours: exactly an hour before); else
there is no question that day.

`plan_questions` writes one outbox row per active participant enrolled that day per activity per
day, for today's and tomorrow's sessions: the rows' key (participant, activity, day) makes
planning twice add nothing.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.features.activities.question import COMING_TODAY, SUBJECT, ActivityCalendar, load_calendars
from bot.outbox.quiet_hours import QuietHours, from_wall, next_allowed_moment
from storage import activities as store
from storage import outbox
from storage.models import Participant, ParticipantStatus
from storage.outbox import Planned, Recipient, Subject
from storage.writer import SessionReader

NOTICE = timedelta(hours=1)  # the question comes at least this long before the session
DAYS_AHEAD = 1  # today's sessions and tomorrow's


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


def questions_of_day(calendar: ActivityCalendar, day: date, active: set[int], settings: Settings, now: datetime) -> list[Planned]:
    """The questions about the activity on `day`: none on a cancelled or non-session day, none too late."""
    tz = settings.tz
    starts_at = calendar.starts_at(day, tz)
    if starts_at is None or day in calendar.cancelled:
        return []
    due = question_time(starts_at, settings.activity_question_at, settings.quiet, tz)
    if due is None or max(due, now) > starts_at - NOTICE:
        return []  # no time for it, or that time has passed (Stegvis was not running)
    subject = Subject(SUBJECT, calendar.id, day.toordinal())
    participants = sorted({pid for pid, _first, _left in calendar.enrolments if pid in active and calendar.enrolled(pid, day)})
    return [Planned(Recipient.participant(pid), COMING_TODAY, max(due, now), subject=subject) for pid in participants]


async def plan_questions(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Plan the questions about today's and tomorrow's sessions; returns how many rows were added."""
    today = now.astimezone(settings.tz).date()
    calendars = await load_calendars(SessionReader(session), [a.id for a in await store.list_activities(session)])
    enrolled = {pid for calendar in calendars.values() for pid, _first, _left in calendar.enrolments}
    active = set(
        await session.scalars(select(Participant.id).where(Participant.id.in_(sorted(enrolled)), Participant.status == ParticipantStatus.ACTIVE))
    ) if enrolled else set()
    planned = [
        question
        for calendar in calendars.values()
        for day in (today + timedelta(days=n) for n in range(DAYS_AHEAD + 1))
        for question in questions_of_day(calendar, day, active, settings, now)
    ]
    return await outbox.enqueue_many(session, planned, now=now)
