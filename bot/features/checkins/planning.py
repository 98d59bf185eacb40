"""Planning the check-ins and their nudges as outbox rows, and giving up on unanswered ones (the feature's job).

* `plan_checkins`: one row per active participant enrolled that week in at least one activity,
  due at their check-in time (`weeks.chosen_moment`), planned up to a day ahead. The row's slot
  is the time it was planned for, so a new time (``stegvis checkin schedule``) plans a new row
  and withdraws the old; the subject rule lets only one go out per week (the CheckIn row, unique
  per participant and week), and planning again adds nothing (the idempotency key).
* `plan_nudges`: one nudge 24 hours after a check-in nobody has answered (key: participant, week).
* `give_up`: a check-in still unanswered 24 hours after its nudge (48 hours after it was sent when
  no nudge went out), or once the next week's has gone out, is recorded unanswered:
  ``CheckIn.unanswered_at`` and a ``checkin_unanswered`` event.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.features.checkins import store, weeks
from bot.features.checkins.messages import NUDGE, SUBJECT, WEEKLY
from storage import outbox
from storage.models import Activity, CheckIn, Enrolment, Event, Participant, ParticipantStatus
from storage.outbox import Planned, Recipient, Subject
from storage.writer import SessionReader

AHEAD = timedelta(days=1)  # rows are planned this long before they are due
NUDGE_AFTER = timedelta(hours=24)
GIVE_UP_AFTER = timedelta(hours=24)  # after the nudge


def slot(moment: weeks.Moment) -> str:
    return weeks.shown_moment(moment).replace(" ", "")  # "fri14:00"


async def moments(session: AsyncSession, settings: Settings, monday: date) -> dict[int, weeks.Moment]:
    """When each participant who gets a check-in in the week of `monday` gets it."""
    sunday = monday + timedelta(days=6)
    rows = (
        await session.execute(
            select(Participant.id, Participant.checkin_weekday, Participant.checkin_time, Activity.checkin_weekday, Activity.checkin_time)
            .join(Enrolment, Enrolment.participant_id == Participant.id)
            .join(Activity, Activity.id == Enrolment.activity_id)
            .where(
                Participant.status == ParticipantStatus.ACTIVE,
                Enrolment.from_date <= sunday,
                (Enrolment.left_date.is_(None)) | (Enrolment.left_date > monday),
                Activity.starts_on <= sunday,
                (Activity.ends_on.is_(None)) | (Activity.ends_on >= monday),
            )
        )
    ).all()
    own: dict[int, weeks.Moment | None] = {}
    theirs: dict[int, list[weeks.Moment]] = {}
    for pid, p_day, p_time, a_day, a_time in rows:
        own[pid] = (p_day, p_time) if p_day is not None and p_time is not None else None
        if a_day is not None and a_time is not None:
            theirs.setdefault(pid, []).append((a_day, a_time))
    return {pid: weeks.chosen_moment(own[pid], theirs.get(pid, ()), settings.checkin_at) for pid in own}


def checkin_row(pid: int, monday: date, moment: weeks.Moment, due: datetime) -> Planned:
    return Planned(Recipient.participant(pid), WEEKLY, due, subject=Subject(SUBJECT, pid, monday.toordinal()), slot=slot(moment))


async def plan_checkins(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """This week's check-ins due within a day and not yet sent; returns how many rows were added."""
    monday = weeks.week_of(now, settings.tz)
    sent = {pid for (pid,) in (await session.execute(select(CheckIn.participant_id).where(CheckIn.week == monday))).all()}
    planned = []
    for pid, moment in sorted((await moments(session, settings, monday)).items()):
        due = weeks.due_at(monday, moment, settings.tz)
        if pid not in sent and due <= now + AHEAD:
            planned.append(checkin_row(pid, monday, moment, max(due, now)))
    return await outbox.enqueue_many(session, planned, now=now)


async def plan_nudges(session: AsyncSession, now: datetime) -> int:
    rows = [
        Planned(Recipient.participant(c.participant_id), NUDGE, c.sent_at + NUDGE_AFTER, subject=Subject(SUBJECT, c.participant_id, c.week.toordinal()))
        for c in await store.waiting(SessionReader(session))
        if c.nudged_at is None and c.sent_at + NUDGE_AFTER <= now + AHEAD
    ]
    return await outbox.enqueue_many(session, rows, now=now)


def given_up(checkin: store.Sent, later: Sequence[store.Sent], now: datetime) -> bool:
    if checkin.answered_at is not None or checkin.unanswered_at is not None:
        return False
    if any(c.week > checkin.week for c in later):
        return True
    after = checkin.nudged_at + GIVE_UP_AFTER if checkin.nudged_at is not None else checkin.sent_at + NUDGE_AFTER + GIVE_UP_AFTER
    return after <= now


async def give_up(session: AsyncSession, now: datetime) -> int:
    """Record the check-ins nobody answered in time; returns how many."""
    reader = SessionReader(session)
    waiting = await store.waiting(reader)
    everyone = await store.of_participants(reader, {c.participant_id for c in waiting})
    count = 0
    for checkin in waiting:
        if not given_up(checkin, everyone[checkin.participant_id], now):
            continue
        result = await session.execute(
            update(CheckIn)
            .where(CheckIn.participant_id == checkin.participant_id, CheckIn.week == checkin.week, CheckIn.answered_at.is_(None), CheckIn.unanswered_at.is_(None))
            .values(unanswered_at=now)
        )
        if result.rowcount:  # an answer that came in meanwhile wins
            await session.execute(
                insert(Event).values(type="checkin_unanswered", participant_id=checkin.participant_id, occurred_at=now, payload={"week": checkin.week.isoformat()}, flow="checkin", step=None)
            )
            count += 1
    return count


