"""Planning the roll calls: one outbox row per leader per activity they lead per session day, due at the session's start.

Today's and tomorrow's sessions are planned (the job runs at start-up and every 15 minutes), so a
restart loses nothing: a row planned before is not planned again (its key is leader, activity,
day), and a roll call whose session began while Stegvis was down still goes out that day. No row
for a cancelled day or a day that is not a session day. An activity meeting twice on one day has
one roll call, at its first session (attendance is per activity and day).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.features.roll_call.messages import SHEET, SUBJECT
from bot.features.roll_call.sheet import ActivityRoll, load_activities
from storage import outbox
from storage import roll_call as store
from storage.models import RecipientKind
from storage.outbox import Planned, Recipient, Subject
from storage.writer import SessionReader

DAYS_AHEAD = 1


def roll_calls_of_day(roll: ActivityRoll, day: date, settings: Settings, now: datetime) -> list[Planned]:
    starts_at = roll.starts_at(day, settings.tz)
    if starts_at is None or day in roll.cancelled:
        return []
    subject = Subject(SUBJECT, roll.id, day.toordinal())
    return [Planned(Recipient(RecipientKind.LEADER, lid), SHEET, max(starts_at, now), subject=subject) for lid in sorted(roll.leaders)]


async def plan_roll_calls(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Plan the roll calls of today's and tomorrow's sessions; returns how many rows were added."""
    today = now.astimezone(settings.tz).date()
    rolls = await load_activities(SessionReader(session), await store.activities_with_leaders(session), today)
    planned = [
        roll_call
        for roll in rolls.values()
        for day in (today + timedelta(days=n) for n in range(DAYS_AHEAD + 1))
        for roll_call in roll_calls_of_day(roll, day, settings, now)
    ]
    return await outbox.enqueue_many(session, planned, now=now)
