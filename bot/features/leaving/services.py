"""Ending a participation, erasing a participant, and who is due for erasure, as typed services.

`end_participation` makes a participant *finished*: nothing more is planned or sent to them
(planners, the outbox and the menus take only active participants), their open enrolments end
that day, what was waiting for them in the outbox is withdrawn, and an active participant gets
one short goodbye in their language (recipient kind ``former``). `erase_participant` runs the
steps of `erasure.py` in the caller's transaction, or only counts them (the dry run). `due_for_erasure`
is the retention rule: finished or stopped more than STEGVIS_RETENTION_MONTHS months ago, by
local dates. None of them commits.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.leaving import erasure
from bot.services import Actor, Conflict, InvalidInput, NotFound
from flows.engine import IDLE
from storage import outbox
from storage import repositories as repo
from storage.models import Conversation, Enrolment, Event, FinishReason, Invite, OutboxMessage, OutboxStatus, Participant, ParticipantStatus, RecipientKind

GOODBYE = "leaving.goodbye"
FINISHED_EVENT = "participant_finished"
STOPPED_EVENT = "participant_stopped"
REASONS = tuple(reason.value for reason in FinishReason)


def parse_reason(text: str) -> FinishReason:
    try:
        return FinishReason(text.strip().lower())
    except ValueError:
        raise ValueError(f"must be one of {', '.join(REASONS)}, not {text!r}") from None


def add_months(day: date, months: int) -> date:
    """The same day `months` later (the month's last day when it has no such day: 31 Jan + 1 → 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def local_date(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


async def existing_participant(session: AsyncSession, participant_id: int) -> Participant:
    """The participant with this id; NotFound for an unknown or erased one."""
    participant = await session.get(Participant, participant_id)
    if participant is None or participant.status == ParticipantStatus.ERASED:
        # An erased participant's row is gone; a de-identified one has a negative id no one is given.
        raise NotFound(f"no participant with id {participant_id} (erased, or never added; see: stegvis participant list)", field="participant")
    return participant


@dataclass(frozen=True)
class Finished:
    participant_id: int
    name: str
    finished_on: date
    reason: str
    goodbye: bool  # a goodbye was planned (only for someone active on Telegram)
    withdrawn: int  # messages that were waiting for them
    enrolments_ended: int

    def as_json(self, tz: ZoneInfo | None = None) -> dict[str, Any]:
        return {"participant_id": self.participant_id, "name": self.name, "finished_on": self.finished_on.isoformat(), "reason": self.reason,
                "goodbye": self.goodbye, "withdrawn": self.withdrawn, "enrolments_ended": self.enrolments_ended}


async def end_participation(session: AsyncSession, actor: Actor, *, participant_id: int, reason: FinishReason, on: date | None, tz: ZoneInfo, now: datetime) -> Finished:
    """End a participation on local date `on` (today when None); see the module docstring."""
    participant = await existing_participant(session, participant_id)
    today = local_date(now, tz)
    day = on or today
    if participant.status == ParticipantStatus.FINISHED:
        raise Conflict(f"participant {participant_id} already finished on {participant.finished_on} ({participant.finish_reason}); nothing changed", field="participant")
    if day > today:
        raise InvalidInput(f"{day} is in the future; run this on the day the participation ends, or later", field="date")
    joined = local_date(participant.created_at, tz)
    if day < joined:
        raise InvalidInput(f"{day} is before participant {participant_id} was added ({joined})", field="date")
    was = ParticipantStatus(participant.status)
    participant.status = ParticipantStatus.FINISHED
    participant.finished_on = day
    participant.finish_reason = reason.value
    participant.updated_at = now
    await session.flush()
    await repo.append_event(session, FINISHED_EVENT, participant_id, {"reason": reason.value, "date": day.isoformat(), "was": was.value}, occurred_at=now)
    # Their activities end that day: the attendance report must not count them as unreported later.
    ended = await session.execute(
        update(Enrolment).where(Enrolment.participant_id == participant_id, (Enrolment.left_date.is_(None)) | (Enrolment.left_date > day))
        .values(left_date=func.max(Enrolment.from_date, day) if session.get_bind().dialect.name == "sqlite" else func.greatest(Enrolment.from_date, day), updated_at=now)
        .execution_options(synchronize_session=False)
    )
    withdrawn = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.recipient_kind == RecipientKind.PARTICIPANT, OutboxMessage.recipient_id == participant_id, OutboxMessage.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.CANCELLED, last_error="withdrawn: the participation ended")
        .execution_options(synchronize_session=False)
    )
    # A link not used yet stops working: nobody joins a participation that has ended.
    await session.execute(
        update(Invite).where(Invite.participant_id == participant_id, Invite.used_at.is_(None), Invite.expires_at > now).values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    # No question stays open: a press on an old button gets the finished answer, not a flow.
    await session.execute(update(Conversation).where(Conversation.participant_id == participant_id).values(flow=None, step=None, data=IDLE.to_dict(), updated_at=now))
    goodbye = was == ParticipantStatus.ACTIVE and participant.telegram_chat_id is not None
    if goodbye:
        await outbox.enqueue(session, outbox.Planned(outbox.Recipient(RecipientKind.FORMER, participant_id), GOODBYE, now, slot="goodbye"), now=now)
    return Finished(participant_id, participant.name, day, reason.value, goodbye, withdrawn.rowcount or 0, ended.rowcount or 0)


@dataclass(frozen=True)
class Erasure:
    participant_id: int
    confirmed: bool  # False: a dry run, nothing changed
    steps: tuple[erasure.StepCount, ...] = field(default_factory=tuple)

    def as_json(self, tz: ZoneInfo | None = None) -> dict[str, Any]:
        return {"participant_id": self.participant_id, "erased": self.confirmed,
                "steps": [{"table": s.table, "action": s.action, "rows": s.rows, "what": s.what} for s in self.steps]}


async def erase_participant(
    session: AsyncSession, actor: Actor, *, participant_id: int, confirm: bool, now: datetime, steps: Sequence[erasure.Step] = erasure.STEPS
) -> Erasure:
    """Erase one participant who is not active (or, without `confirm`, count what would be erased and
    change nothing, whatever their status)."""
    participant = await existing_participant(session, participant_id)
    target = erasure.Target(
        participant_id, 0, participant.caseworker_id, participant.gender, participant.finished_on, participant.finish_reason, now,
    )
    counts = await erasure.count_steps(session, target, steps)
    if confirm and participant.status == ParticipantStatus.ACTIVE:
        # Ended first, nothing is on its way to them any more: the sender claims rows only for
        # active participants, and ending withdraws what was waiting.
        raise Conflict(
            f"participant {participant_id} is active: end their participation first (stegvis participant end {participant_id} --reason ...), then erase; nothing changed",
            field="participant",
        )
    if confirm:
        target.pseudonym = await erasure.new_pseudonym(session)
        await erasure.run_steps(session, target, steps)
    return Erasure(participant_id, confirm, tuple(counts))


@dataclass(frozen=True)
class Due:
    participant_id: int
    status: str
    since: date  # the local date they finished or stopped


async def due_for_erasure(session: AsyncSession, *, months: int, tz: ZoneInfo, now: datetime) -> list[Due]:
    """Everyone who finished or stopped more than `months` months ago (local dates): today is after
    that date plus `months` months. Stopping counts from their latest /stop."""
    today = local_date(now, tz)
    found: list[Due] = []
    for pid, finished_on in (await session.execute(select(Participant.id, Participant.finished_on).where(Participant.status == ParticipantStatus.FINISHED))).all():
        if finished_on is not None and today > add_months(finished_on, months):
            found.append(Due(pid, "finished", finished_on))
    stopped = (
        select(Participant.id, func.max(Event.occurred_at))
        .join(Event, (Event.participant_id == Participant.id) & (Event.type == STOPPED_EVENT))
        .where(Participant.status == ParticipantStatus.STOPPED)
        .group_by(Participant.id)
    )
    for pid, at in (await session.execute(stopped)).all():
        if at is None:
            continue
        at = at if at.tzinfo is not None else at.replace(tzinfo=ZoneInfo("UTC"))  # SQLite's max() gives the stored naive UTC text back
        since = local_date(at, tz)
        if today > add_months(since, months):
            found.append(Due(pid, "stopped", since))
    return sorted(found, key=lambda d: d.participant_id)
