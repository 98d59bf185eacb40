"""Group activities as typed services over the caller's session: add, list, sessions, enrol, leave, cancel a session.

Each service takes a session, an actor, typed keyword arguments and ``now``, works in the
caller's transaction (the caller commits) and returns a view (``views.py``). Refusals are
`bot.services.ServiceError`s in a caseworker's words with the input they concern in ``field``.
Dates are local dates in ``settings.tz``; "today" is ``now``'s local date.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.features.activities import schedule
from bot.features.activities.messages import SESSION_CANCELLED, SUBJECT
from bot.features.activities.parsing import check_duration
from bot.features.activities.schedule import Session, WeeklyRule
from bot.features.activities.subjects import QuestionSubjects, plan_of
from bot.features.activities.views import ActivityListing, ActivityView, CancellationView, EnrolmentView, Notice, SessionListing, shown
from bot.outbox.quiet_hours import next_allowed_moment
from bot.services import Actor, Conflict, InvalidInput, NotFound, invalid
from bot.validation import check_not_too_far, clean_text
from storage import activities as store
from storage import outbox
from storage import repositories as repo
from storage.models import Activity, Participant, ParticipantStatus
from storage.outbox import Planned, Recipient, Subject

DEFAULT_DURATION = timedelta(hours=2)
DEFAULT_WEEKS = 4
MAX_SPAN = timedelta(days=366)
_LIST = "see: stegvis activity list"


def today(now: datetime, settings: Settings) -> date:
    return now.astimezone(settings.tz).date()


def _text(field: str, value: str | None, *, required: bool) -> str | None:
    try:
        return clean_text(value, required=required)
    except ValueError as error:
        raise invalid(field, error) from None


def _not_too_far(field: str, day: date, now: datetime, settings: Settings) -> None:
    try:
        check_not_too_far(datetime.combine(day, time(0), timezone.utc), now, tz=settings.tz)
    except ValueError:
        raise InvalidInput(f"{day.isoformat()} is more than two years from now; check the year", field=field) from None


# Adding and listing


async def add_activity(
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
    *,
    name: str,
    organisation: str,
    place: str,
    weekly: Sequence[WeeklyRule],
    duration: timedelta = DEFAULT_DURATION,
    starts_on: date | None = None,
    ends_on: date | None = None,
    on_holidays: bool = False,
    now: datetime,
) -> ActivityView:
    """A weekly activity; its sessions follow from ``weekly`` (one or more weekday and local time)."""
    name_text = _text("name", name, required=True)
    organisation_text = _text("organisation", organisation, required=True)
    place_text = _text("place", place, required=True)
    rules = sorted(set(weekly))
    if not rules:
        raise InvalidInput('no weekly time given; use e.g. "tue 10:00"', field="weekly")
    try:
        check_duration(duration)
    except ValueError as error:
        raise invalid("duration", error) from None
    first = starts_on or today(now, settings)
    _not_too_far("starts_on", first, now, settings)
    if ends_on is not None:
        if ends_on < first:
            raise InvalidInput(f"{ends_on.isoformat()} is before the first day, {first.isoformat()}", field="ends_on")
        _not_too_far("ends_on", ends_on, now, settings)
    activity = await store.add_activity(
        session,
        name=name_text or "",
        organisation=organisation_text or "",
        place=place_text or "",
        weekly=[(rule.weekday, rule.at) for rule in rules],
        duration_minutes=int(duration.total_seconds() // 60),
        starts_on=first,
        ends_on=ends_on,
        on_holidays=on_holidays,
        now=now,
    )
    return (await _views(session, [activity], today(now, settings)))[0]


async def list_activities(session: AsyncSession, actor: Actor, settings: Settings, *, now: datetime) -> ActivityListing:
    return ActivityListing(await _views(session, await store.list_activities(session), today(now, settings)))


async def sessions_of(
    session: AsyncSession, actor: Actor, settings: Settings, *, activity_id: int, first: date | None = None, last: date | None = None, now: datetime
) -> SessionListing:
    """The sessions from ``first`` to ``last`` (both included); by default the next four weeks from today."""
    activity = await _get(session, activity_id)
    first = first or today(now, settings)
    last = last or first + timedelta(weeks=DEFAULT_WEEKS, days=-1)
    if last < first:
        raise InvalidInput(f"{last.isoformat()} is before --from {first.isoformat()}", field="last")
    if last - first > MAX_SPAN:
        raise InvalidInput(f"{last.isoformat()} is more than a year after --from {first.isoformat()}; list at most a year at a time", field="last")
    cancelled = await store.cancelled_between(session, activity.id, first, last)
    found = schedule.sessions(plan_of(activity), first, last, settings.tz, cancelled={day: c.reason for day, c in cancelled.items()})
    return SessionListing((await _views(session, [activity], today(now, settings)))[0], first, last, tuple(found))


# Enrolling and leaving


async def enrol(
    session: AsyncSession, actor: Actor, settings: Settings, *, activity_id: int, participant_id: int, from_date: date | None = None, now: datetime
) -> EnrolmentView:
    """The participant takes part from ``from_date`` (default today): they are told when a session is cancelled."""
    activity = await _get(session, activity_id)
    participant = await _participant(session, participant_id)
    if participant.status == ParticipantStatus.STOPPED:
        raise Conflict(f"participant {participant_id} has stopped messages from Stegvis (/stop); they cannot be enrolled", field="participant")
    if participant.status in (ParticipantStatus.FINISHED, ParticipantStatus.ERASED):
        raise Conflict(f"participant {participant_id} has finished the programme (stegvis participant end); they cannot be enrolled", field="participant")
    first = from_date or today(now, settings)
    if first < activity.starts_on:
        raise InvalidInput(f"{first.isoformat()} is before activity {activity.id} starts, on {activity.starts_on.isoformat()}", field="from_date")
    if activity.ends_on is not None and first > activity.ends_on:
        raise InvalidInput(f"{first.isoformat()} is after activity {activity.id} ends, on {activity.ends_on.isoformat()}", field="from_date")
    _not_too_far("from_date", first, now, settings)
    earlier = await store.enrolments(session, [activity.id], participant_id)
    current = next((e for e in earlier if e.left_date is None), None)
    if current is not None:
        raise Conflict(f"participant {participant_id} is already enrolled in activity {activity.id} since {current.from_date.isoformat()}", field="participant")
    last_left = max((e.left_date for e in earlier if e.left_date is not None), default=None)
    if last_left is not None and first < last_left:
        raise Conflict(f"participant {participant_id} took part in activity {activity.id} until {last_left.isoformat()}; enrol from then or later", field="from_date")
    enrolment = await store.add_enrolment(session, activity.id, participant_id, first, now=now)
    await repo.append_event(session, "activity_enrolled", participant_id, {"activity_id": activity.id, "from": first.isoformat()}, occurred_at=now)
    return _enrolment_view(activity, participant, enrolment.from_date, enrolment.left_date)


async def leave(session: AsyncSession, actor: Actor, settings: Settings, *, activity_id: int, participant_id: int, now: datetime) -> EnrolmentView:
    """The participant no longer takes part from today on."""
    activity = await _get(session, activity_id)
    participant = await _participant(session, participant_id)
    current = next((e for e in await store.enrolments(session, [activity.id], participant_id) if e.left_date is None), None)
    if current is None:
        raise Conflict(f"participant {participant_id} is not enrolled in activity {activity.id}", field="participant")
    left = max(today(now, settings), current.from_date)  # enrolled from a later day: the enrolment simply never starts
    current.left_date, current.updated_at = left, now
    await session.flush()
    await repo.append_event(session, "activity_left", participant_id, {"activity_id": activity.id, "left": left.isoformat()}, occurred_at=now)
    return _enrolment_view(activity, participant, current.from_date, left)


# Cancelling a session


async def cancel_session(
    session: AsyncSession, actor: Actor, settings: Settings, *, activity_id: int, day: date, reason: str | None = None, now: datetime
) -> CancellationView:
    """Cancel the activity's sessions on ``day``; every active participant enrolled that day is told."""
    activity = await _get(session, activity_id)
    reason_text = _text("reason", reason, required=False)
    plan, tz = plan_of(activity), settings.tz
    on_that_day = schedule.on_day(plan, day, tz)
    if not on_that_day:
        raise InvalidInput(_not_a_session(activity, day, plan, tz), field="day")
    if (await store.cancelled_between(session, activity.id, day, day)).get(day) is not None:
        raise Conflict(f"the session on {day.isoformat()} of activity {activity.id} is already cancelled", field="day")
    starts_at = min(s.starts_at for s in on_that_day)
    if starts_at <= now:
        raise Conflict(f"the session {shown(starts_at, tz)} has already begun; it can no longer be cancelled", field="day")
    cancelled = await store.add_cancellation(session, activity.id, day, reason_text, now=now)
    enrolled = await store.enrolled_on(session, activity.id, day)
    statuses = await _statuses(session, [e.participant_id for e in enrolled])
    due = next_allowed_moment(now, settings.quiet, tz)
    notices = []
    for enrolment in enrolled:
        pid = enrolment.participant_id
        await repo.append_event(
            session, "activity_session_cancelled", pid, {"activity_id": activity.id, "date": day.isoformat(), "cancelled_session_id": cancelled.id}, occurred_at=now
        )
        why_not = _why_not_told(statuses.get(pid), due, starts_at)
        if why_not is None:
            await outbox.enqueue(session, Planned(Recipient.participant(pid), SESSION_CANCELLED, due, subject=Subject(SUBJECT, cancelled.id)), now=now)
        notices.append(Notice(pid, due if why_not is None else None, why_not))
    # The day's "coming today?" questions not sent yet are withdrawn (their rule sees the cancellation).
    await QuestionSubjects(settings).withdraw_stale(session, now)
    sessions = tuple(Session(s.day, s.starts_at, s.ends_at, True, reason_text) for s in on_that_day)
    return CancellationView((await _views(session, [activity], today(now, settings)))[0], day, reason_text, sessions, tuple(notices))


def _why_not_told(status: ParticipantStatus | None, due: datetime, starts_at: datetime) -> str | None:
    if status == ParticipantStatus.INVITED:
        return "has not joined Stegvis yet"
    if status == ParticipantStatus.STOPPED:
        return "has stopped messages (/stop)"
    if status == ParticipantStatus.FINISHED:
        return "has finished the programme"
    if status != ParticipantStatus.ACTIVE:
        return "cannot be reached on Telegram (blocked Stegvis)"
    if due >= starts_at:
        return "quiet hours last until the session"
    return None


def _not_a_session(activity: Activity, day: date, plan: schedule.Plan, tz: ZoneInfo) -> str:
    weekly = ", ".join(str(rule) for rule in plan.rules)
    if day < activity.starts_on:
        why = f"activity {activity.id} starts on {activity.starts_on.isoformat()}"
    elif activity.ends_on is not None and day > activity.ends_on:
        why = f"activity {activity.id} ended on {activity.ends_on.isoformat()}"
    elif any(rule.weekday == day.weekday() for rule in plan.rules):
        why = f"it is a holiday ({schedule.holiday(day)}) and activity {activity.id} is not held on holidays"
    else:
        why = f"activity {activity.id} meets {weekly}"
    before, after = schedule.nearest(plan, day, tz)
    near = " and ".join(shown(s.starts_at, tz) for s in (before, after) if s is not None)
    return f"{day.isoformat()} is not a session day: {why}; the nearest sessions are {near}" if near else f"{day.isoformat()} is not a session day: {why}"


# Reading


async def _get(session: AsyncSession, activity_id: int) -> Activity:
    activity = await store.get_activity(session, activity_id)
    if activity is None:
        raise NotFound(f"no activity with id {activity_id} ({_LIST})")
    return activity


async def _participant(session: AsyncSession, participant_id: int) -> Participant:
    participant = await repo.get_participant(session, participant_id)
    if participant is None:
        raise NotFound(f"no participant with id {participant_id} (see: stegvis participant list)", field="participant")
    return participant


async def _statuses(session: AsyncSession, ids: Sequence[int]) -> dict[int, ParticipantStatus]:
    if not ids:
        return {}
    rows = await session.execute(select(Participant.id, Participant.status).where(Participant.id.in_(sorted(set(ids)))))
    return {pid: ParticipantStatus(status) for pid, status in rows}


async def _views(session: AsyncSession, activities: Sequence[Activity], day: date) -> list[ActivityView]:
    enrolments = await store.enrolments(session, [a.id for a in activities])
    views = []
    for activity in activities:
        # Taking part now or from a later day; not those who have left.
        enrolled = sorted({e.participant_id for e in enrolments if e.activity_id == activity.id and (e.left_date is None or e.left_date > day)})
        views.append(
            ActivityView(
                activity.id, activity.name, activity.organisation, activity.place,
                tuple(str(rule) for rule in plan_of(activity).rules), activity.duration_minutes,
                activity.starts_on, activity.ends_on, activity.on_holidays, tuple(enrolled),
            )
        )
    return views


def _enrolment_view(activity: Activity, participant: Participant, from_date: date, left_date: date | None) -> EnrolmentView:
    return EnrolmentView(activity.id, activity.name, participant.id, ParticipantStatus(participant.status).value, from_date, left_date)
