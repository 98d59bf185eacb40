"""The check-in's messages and rules: the weekly question and its nudge (composers), when an
outbox row about a week is stale (subject rule), and which presses still answer (ref rule).

Every run of the check-in (``flows/definitions/checkin.yaml``) is tied to one ISO week by its ref
(``2027W03``); its events store it as ``week``, the Monday (``2027-01-18``). The outbox rows are
about the subject ``checkin_week``: the participant's id, the Monday's ordinal as the version.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.checkins import store, weeks
from bot.outbox.composers import Addressee, withdraw_stale_rows
from flows import phrases
from flows.engine import BROKEN, Engine, FlowEvent, Run, Sprint
from locales import N_, Catalogs, Texts
from storage.models import Enrolment, OutboxMessage, Participant, ParticipantStatus
from storage.writer import ParticipantRow, Reader, SessionReader

FLOW = "checkin"
SUBJECT = "checkin_week"
WEEKLY = "checkin.weekly"
NUDGE = "checkin.nudge"
NUDGE_STEP = "nudge"

# Why a button of a check-in no longer answers (a short pop-up; nothing changes).
CLOSED = {
    "old": N_("Den frågan gällde en tidigare vecka. Tack ändå!"),
    "answered": N_("Du har redan svarat den här veckan. Tack!"),
    "unknown": BROKEN,
}
VOICE_THANKS = N_("Tack för röstmeddelandet! Det räknas som övning.")


def variables(monday: date, texts: Texts) -> dict[str, str]:
    """The phrase of the week (Swedish, as it is) and its meaning in the participant's language."""
    phrase = phrases.of_week(monday)
    return {"phrase": phrase.phrase, "meaning": texts.gettext(phrase.meaning)}


class CheckinRefs:
    """The conversation core's questions about runs of the check-in (`bot.registry.RefRule`)."""

    async def closed(self, reader: Reader, participant: ParticipantRow, refs: Collection[str], now: datetime) -> dict[str, str]:
        checkins = (await store.of_participants(reader, {participant.id}))[participant.id]
        reasons = {}
        for ref in refs:
            monday = weeks.parse_reference(ref)
            reason = "unknown" if monday is None else store.closed_reason(checkins, monday)
            if reason is not None:
                reasons[ref] = CLOSED[reason]
        return reasons

    async def variables(self, reader: Reader, participant: ParticipantRow, ref: str, texts: Texts) -> dict[str, Any]:
        monday = weeks.parse_reference(ref)
        return variables(monday, texts) if monday is not None else {}

    def same_thing(self, ref: str) -> Callable[[Run], bool]:
        def about(run: Run) -> bool:
            return run.flow == FLOW and run.ref == ref

        return about

    def event_payload(self, ref: str) -> dict[str, Any]:
        monday = weeks.parse_reference(ref)
        return {"week": monday.isoformat()} if monday is not None else {"ref": ref}


def _monday(row: OutboxMessage) -> date:
    if row.subject_version is None:
        raise ValueError(f"outbox message {row.id} names no week")
    return date.fromordinal(row.subject_version)


@dataclass(frozen=True)
class CheckinMessage:
    """``checkin.weekly``: «Har du övat svenska den här veckan?» with *Mycket* · *Lite* · *Inte den här veckan*."""

    engine: Engine
    catalogs: Catalogs
    kind: str = WEEKLY
    at: str | None = None  # the flow's start
    event: str = "checkin_sent"

    def compose(self, addressee: Addressee, subject: Any, row: OutboxMessage) -> Sprint:
        monday = _monday(row)
        code = addressee.language_code
        ref = weeks.reference(monday)
        sprint = self.engine.start(FLOW, language=code, variables=variables(monday, self.catalogs.texts(code)), ref=ref, at=self.at)
        # Its event is applied with the sent message's unit of work: the CheckIn row is written then.
        return replace(sprint, events=(FlowEvent(self.event, {"outbox_id": row.id}, FLOW, None, ref), *sprint.events))

    def sent_event(self, row: OutboxMessage, telegram_message_id: int | None) -> dict[str, Any] | None:
        return None  # the sprint's own event says it went out


def nudge_message(engine: Engine, catalogs: Catalogs) -> CheckinMessage:
    """``checkin.nudge``: «En liten påminnelse om veckans fråga.» and the first question again."""
    return CheckinMessage(engine, catalogs, kind=NUDGE, at=NUDGE_STEP, event="checkin_nudged")


@dataclass(frozen=True)
class Week:
    """A participant as the rule for their check-in rows needs them."""

    participant_id: int
    active: bool
    enrolments: tuple[tuple[date, date | None], ...]  # (from, left)
    checkins: tuple[store.Sent, ...]

    def enrolled_in(self, monday: date) -> bool:
        sunday = date.fromordinal(monday.toordinal() + 6)
        return any(first <= sunday and (left is None or left > monday) for first, left in self.enrolments)


class CheckinSubjects:
    """A check-in goes out once per week, in its week, to someone active and enrolled that week; its
    nudge only while nobody has answered, it was not given up on, and the next week's has not come."""

    kind = SUBJECT
    too_late = "withdrawn: quiet hours last until the week is over"

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz

    async def load(self, session: AsyncSession, ids: Collection[int]) -> dict[int, Week]:
        if not ids:
            return {}
        reader = SessionReader(session)
        people = await reader.fetch(select(Participant.id, Participant.status).where(Participant.id.in_(sorted(ids))))
        enrolments = await reader.fetch(select(Enrolment.participant_id, Enrolment.from_date, Enrolment.left_date).where(Enrolment.participant_id.in_(sorted(ids))))
        checkins = await store.of_participants(reader, ids)
        return {
            pid: Week(pid, status == ParticipantStatus.ACTIVE, tuple((e.from_date, e.left_date) for e in enrolments if e.participant_id == pid), tuple(checkins.get(pid, ())))
            for pid, status in people
        }

    def stale(self, row: OutboxMessage, subject: Any | None, now: datetime) -> str | None:
        week = subject
        if not isinstance(week, Week) or row.subject_version is None:
            return "withdrawn: the participant no longer exists"
        monday = _monday(row)
        if weeks.week_of(now, self.tz) != monday:
            return "withdrawn: the week is over"
        this = next((c for c in week.checkins if c.week == monday), None)
        if row.composer == WEEKLY:
            if this is not None:
                return "withdrawn: this week's check-in was sent already"
            if not week.enrolled_in(monday):
                return "withdrawn: not enrolled in an activity that week"
            return None
        if this is None:
            return "withdrawn: no check-in was sent that week"
        if this.answered_at is not None:
            return "withdrawn: answered"
        if this.unanswered_at is not None:
            return "withdrawn: recorded as unanswered"
        if this.nudged_at is not None:
            return "withdrawn: nudged already"
        if any(c.week > monday for c in week.checkins):
            return "withdrawn: the next week's check-in was sent"
        return None

    def deadline(self, subject: Any) -> datetime | None:
        return None  # the week is the row's: `stale` refuses once it is over

    async def withdraw_stale(self, session: AsyncSession, now: datetime) -> int:
        return await withdraw_stale_rows(self, session, now)
