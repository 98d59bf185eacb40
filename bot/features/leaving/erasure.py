"""Erasing one participant: a list of per-table steps, run in the caller's one transaction.

Each `Step` names its table and says what it does there: *delete* what is about the person,
*de-identify* what the funders' statistics count (moved to a new participants row with a random
negative id, no name, no chat and no language, that links to nobody), or *keep*: the access log
(another feature's table) is append-only, with triggers refusing DELETE, and erasure never
touches it. `tests/test_leaving.py` checks that every table of the models is either a step here
or listed in `NOTHING_ABOUT_A_PARTICIPANT`, so a new table cannot be forgotten.

What survives, under the random id: enrolments (activity, from, to), roll calls (activity, date,
present), check-ins (week and the answers' codes, the number of voice notes), the codes of the
participant's answers to "coming today?" (activity, date, coming, reason) and the finish event
(reason, date), the gender if it was given, and the finish date and reason. Everything else:
the name, Telegram chat id, language, invite codes, consents, conversation state, appointments,
free texts, voice-note file ids, messages to and from the caseworker, outbox rows, is deleted.
Reports for past months therefore give the same numbers before and after an erasure.

Nothing here commits: the CLI commits once after the last step, the retention job once per
participant, so an exception in any step leaves everything as it was.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    AccessLogParticipant, Appointment, Attendance, CheckIn, ConsentRecord, Conversation, Enrolment, Event, Invite, OutboxMessage, Participant, ParticipantStatus,
    RecipientKind,
)

Action = Literal["delete", "de-identify", "keep"]

# The events the statistics read, and the keys of their payloads that survive (codes, ids of
# activities and dates: never a free text). Every other event of the person is deleted.
KEPT_EVENTS: dict[str, tuple[str, ...]] = {
    "activity_report": ("activity_id", "date", "coming", "reason", "late", "source"),
    "participant_finished": ("reason", "date"),
}
# Tables that hold nothing about one participant (staff, activities, content, bookkeeping).
NOTHING_ABOUT_A_PARTICIPANT = frozenset({
    "caseworkers", "activities", "activity_rules", "cancelled_sessions", "leaders", "leader_activities", "digests",
    "flow_versions", "live_content", "translations",
})
PSEUDONYM_RANGE = 2**31 - 2  # ids are INTEGER on PostgreSQL; negative ones never meet the sequence


@dataclass
class Target:
    """The participant being erased, and the random id their statistics move to."""

    participant_id: int
    pseudonym: int
    caseworker_id: int
    gender: str | None
    finished_on: date | None
    finish_reason: str | None
    now: datetime


Count = Callable[[AsyncSession, Target], Awaitable[int]]
Run = Callable[[AsyncSession, Target], Awaitable[None]]


@dataclass(frozen=True)
class Step:
    table: str
    action: Action
    what: str  # for the dry run and docs/privacy.md, in staff's words
    count: Count
    run: Run | None  # None: a step that changes nothing (keep)


async def _scalar(session: AsyncSession, statement: Any) -> int:
    return int(await session.scalar(statement) or 0)


def _count_of(model: Any, *where: Any) -> Count:
    async def count(session: AsyncSession, target: Target) -> int:
        return await _scalar(session, select(func.count()).select_from(model).where(*[w(target) for w in where]))
    return count


def _delete(model: Any, *where: Any) -> Run:
    async def run(session: AsyncSession, target: Target) -> None:
        await session.execute(delete(model).where(*[w(target) for w in where]).execution_options(synchronize_session=False))
    return run


def _move(model: Any) -> Run:
    async def run(session: AsyncSession, target: Target) -> None:
        await session.execute(
            update(model).where(model.participant_id == target.participant_id).values(participant_id=target.pseudonym).execution_options(synchronize_session=False)
        )
    return run


async def _one(session: AsyncSession, target: Target) -> int:
    return 1


async def _add_pseudonym(session: AsyncSession, target: Target) -> None:
    # Core, not the ORM: the row must exist before the rows that will point at it are moved.
    await session.execute(insert(Participant).values(
        id=target.pseudonym, name="", caseworker_id=target.caseworker_id, language=None, telegram_chat_id=None, status=ParticipantStatus.ERASED.value,
        gender=target.gender, finished_on=target.finished_on, finish_reason=target.finish_reason, checkin_weekday=None, checkin_time=None,
        created_at=target.now, updated_at=target.now,
    ))


def _to_them(t: Target) -> Any:
    return (OutboxMessage.recipient_kind.in_([RecipientKind.PARTICIPANT.value, RecipientKind.FORMER.value])) & (OutboxMessage.recipient_id == t.participant_id)


async def _rewrite_events(session: AsyncSession, target: Target) -> None:
    """The statistics' events copied to the random id with their codes only, then all of theirs deleted.

    Events are append-only (an UPDATE is refused by a trigger), so they are copied and deleted
    rather than moved; the copies keep the original type and time."""
    rows = (await session.execute(
        select(Event.type, Event.occurred_at, Event.payload, Event.flow, Event.step)
        .where(Event.participant_id == target.participant_id, Event.type.in_(list(KEPT_EVENTS))).order_by(Event.occurred_at, Event.id)
    )).all()
    copies = [
        {"type": type_, "participant_id": target.pseudonym, "occurred_at": at, "flow": flow, "step": step,
         "payload": {key: value for key, value in (payload or {}).items() if key in KEPT_EVENTS[type_] and _is_code(value)}}
        for type_, at, payload, flow, step in rows
    ]
    await session.execute(delete(Event).where(Event.participant_id == target.participant_id).execution_options(synchronize_session=False))
    if copies:
        await (await session.connection()).execute(insert(Event), copies)


def _is_code(value: Any) -> bool:
    """An id, a flag, a date or a button's code survives; anything that could be someone's words does not."""
    if isinstance(value, (bool, int)) or value is None:
        return True
    return isinstance(value, str) and len(value) <= 32 and all(c.isascii() and (c.isalnum() or c in "_-") for c in value)


async def _access_log_rows(session: AsyncSession, target: Target) -> int:
    return await _scalar(session, select(func.count()).select_from(AccessLogParticipant).where(AccessLogParticipant.participant_id == target.participant_id))


def _pid(model: Any) -> Callable[[Target], Any]:
    return lambda t: model.participant_id == t.participant_id


STEPS: tuple[Step, ...] = (
    Step("participants", "de-identify", "a new row with a random negative id, no name, no chat, no language: the gender if given, the finish date and reason", _one, _add_pseudonym),
    Step("enrolments", "de-identify", "moved to the random id: which activity, from and to (the attendance report)", _count_of(Enrolment, _pid(Enrolment)), _move(Enrolment)),
    Step("attendance", "de-identify", "moved to the random id: the roll calls (activity, date, present)", _count_of(Attendance, _pid(Attendance)), _move(Attendance)),
    Step("checkins", "de-identify", "moved to the random id: the weekly check-ins' answer codes and number of voice notes", _count_of(CheckIn, _pid(CheckIn)), _move(CheckIn)),
    Step("events", "de-identify", "the codes of their coming-today answers and of the finish copied to the random id; every other event deleted (free texts, voice-note file ids, messages to and from the caseworker)", _count_of(Event, _pid(Event)), _rewrite_events),
    Step("outbox", "delete", "every message to them, sent or not", _count_of(OutboxMessage, _to_them), _delete(OutboxMessage, _to_them)),
    Step("appointments", "delete", "their appointments: times, places, titles, answers", _count_of(Appointment, _pid(Appointment)), _delete(Appointment, _pid(Appointment))),
    Step("consent_records", "delete", "what they agreed to and when", _count_of(ConsentRecord, _pid(ConsentRecord)), _delete(ConsentRecord, _pid(ConsentRecord))),
    Step("invites", "delete", "their invite codes", _count_of(Invite, _pid(Invite)), _delete(Invite, _pid(Invite))),
    Step("conversations", "delete", "where they were in a conversation, with what they had typed", _count_of(Conversation, _pid(Conversation)), _delete(Conversation, _pid(Conversation))),
    Step("participants", "delete", "their own row: name, Telegram chat id, language, caseworker", _one, _delete(Participant, lambda t: Participant.id == t.participant_id)),
    Step("access_log", "keep", "never deleted: who looked at their data and when, by id only (append-only; the law asks to keep it)", _access_log_rows, None),
    Step("access_log_participants", "keep", "never deleted: which ids each access showed", _access_log_rows, None),
)


@dataclass(frozen=True)
class StepCount:
    table: str
    action: Action
    what: str
    rows: int


async def new_pseudonym(session: AsyncSession) -> int:
    """A random negative id no participants row has."""
    while True:
        candidate = -(secrets.randbelow(PSEUDONYM_RANGE) + 1)
        if await session.get(Participant, candidate) is None:
            return candidate


async def count_steps(session: AsyncSession, target: Target, steps: Sequence[Step] = STEPS) -> list[StepCount]:
    return [StepCount(step.table, step.action, step.what, await step.count(session, target)) for step in steps]


async def run_steps(session: AsyncSession, target: Target, steps: Sequence[Step] = STEPS) -> None:
    for step in steps:
        if step.run is not None:
            await step.run(session, target)
    session.expunge_all()  # objects loaded before describe rows that are gone


def covered_tables(steps: Sequence[Step] = STEPS) -> set[str]:
    return {step.table for step in steps} | set(NOTHING_ABOUT_A_PARTICIPANT)

