"""When a message about activities must not go out any more: the outbox's rules for a cancelled
session's notice (``activity_session``) and for the morning question (``activity_morning``)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.features.activities import planning, question
from bot.features.activities.messages import SUBJECT, CancelledDay
from bot.features.activities.schedule import Plan, WeeklyRule, on_day
from storage import activities as store
from storage import outbox
from storage.clock import Clock
from storage.models import Activity, OutboxMessage
from storage.writer import SessionReader


def plan_of(activity: Activity) -> Plan:
    rules = tuple(WeeklyRule(rule.weekday, rule.local_time) for rule in activity.rules)
    return Plan(rules, timedelta(minutes=activity.duration_minutes), activity.starts_on, activity.ends_on, activity.on_holidays)


class SessionSubjects:
    """A cancellation notice goes out only before the session would have begun, and only to
    someone still enrolled that day."""

    kind = SUBJECT
    too_late = "withdrawn: quiet hours last until the session"

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz

    async def load(self, session: AsyncSession, ids: Collection[int]) -> dict[int, CancelledDay]:
        cancellations = await store.get_cancellations(session, ids)
        calendars = await question.load_calendars(SessionReader(session), {c.activity_id for c in cancellations.values()})
        found = {}
        for cancelled in cancellations.values():
            calendar = calendars[cancelled.activity_id]
            # Cancelled sessions never come out of on_day's listing (it knows no cancellations).
            starts = [s.starts_at for s in on_day(calendar.plan, cancelled.local_date, self.tz)]
            if not starts:
                continue  # no longer a session day (its rules changed): nothing to tell
            day = cancelled.local_date
            enrolled = frozenset(pid for pid, _first, _left in calendar.enrolments if calendar.enrolled(pid, day))
            found[cancelled.id] = CancelledDay(cancelled.id, calendar.id, calendar.name, calendar.place, day, min(starts), cancelled.reason, enrolled)
        return found

    def stale(self, row: OutboxMessage, subject: Any | None, now: datetime) -> str | None:
        cancelled = subject
        if cancelled is None:
            return "withdrawn: the session is no longer cancelled"
        if cancelled.starts_at <= now:
            return "withdrawn: the session has begun"
        if row.recipient_id not in cancelled.enrolled:
            return "withdrawn: the participant is no longer enrolled that day"
        return None

    def deadline(self, subject: Any) -> datetime | None:
        return subject.starts_at

    async def withdraw_stale(self, session: AsyncSession, now: datetime) -> int:
        return await _withdraw_stale(self, session, now)


class QuestionSubjects:
    """A participant's morning question (subject ``activity_morning``: the participant, the day's
    ordinal as the version) goes out only while one of that day's sessions is still to be asked
    about: held (not cancelled), the participant enrolled that day, not already answered from the
    menu, and not begun. One session cancelled leaves the others in the question (`morning.py`)."""

    kind = planning.SUBJECT
    too_late = "withdrawn: quiet hours last until the sessions"

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock  # the sender's: how far back `load` looks for answers given from the menu

    async def load(self, session: AsyncSession, ids: Collection[int]) -> dict[int, planning.Morning]:
        if self.clock is None:
            raise RuntimeError("QuestionSubjects.load needs the clock (withdraw_stale is given the time)")
        return await planning.load_mornings(session, ids, self.clock.now())

    def stale(self, row: OutboxMessage, subject: Any | None, now: datetime) -> str | None:
        morning = subject
        if morning is None or row.subject_version is None:
            return "withdrawn: the participant no longer exists"
        day = date.fromordinal(row.subject_version)
        tz = self.settings.tz
        enrolled = [c for c in morning.calendars if c.enrolled(morning.participant_id, day) and c.starts_at(day, tz) is not None]
        if not enrolled:
            return "withdrawn: the participant is no longer enrolled that day"
        held = morning.held(day, tz)
        if not held:
            return "withdrawn: the session was cancelled"
        if all((asked.calendar.id, day) in morning.said_no for asked in held):
            return "withdrawn: answered from the menu"
        if not [asked for asked in morning.to_ask(day, self.settings, row.due_at) if asked.starts_at > now]:
            return "withdrawn: the session has begun"
        return None

    def deadline(self, subject: Any) -> datetime | None:
        return None  # the subject is the participant, the day is the row's: `stale` refuses once the sessions began

    async def withdraw_stale(self, session: AsyncSession, now: datetime) -> int:
        rows = await outbox.pending_about(session, self.kind)
        mornings = await planning.load_mornings(session, {row.subject_id for row in rows if row.subject_id is not None}, now)
        reasons = {row.id: self.stale(row, mornings.get(row.subject_id or 0), now) for row in rows}
        return await outbox.withdraw_rows(session, {row_id: reason for row_id, reason in reasons.items() if reason is not None})


async def _withdraw_stale(rule: SessionSubjects, session: AsyncSession, now: datetime) -> int:
    # A session's start follows from weekly rules in local time, which SQL cannot work out on
    # both backends: decide in Python. There are few such rows (one per participant per session day).
    rows = await outbox.pending_about(session, rule.kind)
    subjects = await rule.load(session, {row.subject_id for row in rows if row.subject_id is not None})
    reasons = {row.id: rule.stale(row, subjects.get(row.subject_id or 0), now) for row in rows}
    return await outbox.withdraw_rows(session, {row_id: reason for row_id, reason in reasons.items() if reason is not None})
