"""Sending a flow to a group of participants, and reading back what each one answered.

`start_flow` plans one outbox row per participant of the group (an activity's enrolled, a
caseworker's, or a list of ids): the outbox then sends them when due, outside quiet hours, within
the rate limits, and after a restart as before. The row's key is the participant, the flow and
its version, so nobody gets the same flow twice, whether the groups overlap or the command is run
again. Participants who said /stop, blocked Stegvis, have not joined yet, or already finished this
version of the flow are skipped and counted.

`flow_results` reads the events: who was sent the flow, and their latest answer to each question.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.surveys.messages import FLOW_MESSAGE, SENT, why_not_sendable
from bot.outbox.quiet_hours import QuietHours, next_allowed_moment
from bot.services import Actor, InvalidInput, NotFound
from flows.definition import Flow
from storage import access_log, outbox
from storage.models import Activity, Caseworker, Enrolment, Event, Participant, ParticipantStatus
from storage.outbox import Planned, Recipient

SKIPPED = {
    "stopped": "said /stop",
    "unreachable": "blocked Stegvis",
    "invited": "have not joined yet",
    "finished": "already finished this flow",
    "ended": "finished the programme",
}


def _flow(flows: Mapping[str, Flow], flow_id: str) -> Flow:
    flow = flows.get(flow_id)
    if flow is None:
        raise NotFound(f"no flow {flow_id!r}; the flows are: {', '.join(sorted(flows))}", field="flow")
    return flow


@dataclass(frozen=True)
class Started:
    flow: str
    version: int
    group: str
    planned: list[int]  # participant ids with a new row
    already: list[int]  # planned or sent before: not again
    skipped: dict[str, list[int]]
    due_at: datetime
    goes_out_at: datetime  # later than due_at when quiet hours hold it

    def as_json(self, tz: ZoneInfo) -> dict[str, Any]:
        return {
            "flow": self.flow, "version": self.version, "group": self.group, "planned": self.planned, "already": self.already,
            "skipped": {reason: ids for reason, ids in self.skipped.items() if ids},
            "due_at": self.due_at.astimezone(tz).isoformat(), "goes_out_at": self.goes_out_at.astimezone(tz).isoformat(),
        }


async def start_flow(
    session: AsyncSession,
    actor: Actor,
    *,
    flows: Mapping[str, Flow],
    flow: str,
    activity_id: int | None = None,
    caseworker_id: int | None = None,
    participant_ids: Sequence[int] | None = None,
    at: datetime | None = None,
    now: datetime,
    tz: ZoneInfo,
    quiet: QuietHours | None,
) -> Started:
    chosen = _flow(flows, flow)
    why = why_not_sendable(chosen)
    if why is not None:
        raise InvalidInput(why, field="flow")
    if sum(x is not None for x in (activity_id, caseworker_id, participant_ids)) != 1:
        raise InvalidInput("name one group: --activity ID, --caseworker ID or --participants 3,5,8", field="group")
    if at is not None and at < now:
        raise InvalidInput(f"{at.astimezone(tz):%Y-%m-%d %H:%M} is in the past", field="at")
    due = at or now
    people, group = await _group(session, activity_id, caseworker_id, participant_ids, due.astimezone(tz).date())
    finished = await _finished(session, chosen, [pid for pid, _ in people])
    skipped: dict[str, list[int]] = {reason: [] for reason in SKIPPED}
    sendable = []
    for pid, status in people:
        if status == ParticipantStatus.STOPPED:
            skipped["stopped"].append(pid)
        elif status == ParticipantStatus.UNREACHABLE:
            skipped["unreachable"].append(pid)
        elif status == ParticipantStatus.INVITED:
            skipped["invited"].append(pid)
        elif status in (ParticipantStatus.FINISHED, ParticipantStatus.ERASED):
            skipped["ended"].append(pid)
        elif pid in finished:
            skipped["finished"].append(pid)
        else:
            sendable.append(pid)
    rows = [_row(pid, chosen, due) for pid in sendable]
    before = await _planned_before(session, [row.key for row in rows])
    await outbox.enqueue_many(session, [row for row in rows if row.key not in before], now=now)
    planned = [pid for pid, row in zip(sendable, rows, strict=True) if row.key not in before]
    already = [pid for pid, row in zip(sendable, rows, strict=True) if row.key in before]
    return Started(chosen.id, chosen.version, group, planned, already, skipped, due, next_allowed_moment(due, quiet, tz))


def _row(pid: int, flow: Flow, due: datetime) -> Planned:
    return Planned(Recipient.participant(pid), FLOW_MESSAGE, due, slot=f"{flow.id}:v{flow.version}", payload={"flow": flow.id, "version": flow.version})


async def _planned_before(session: AsyncSession, keys: Sequence[str]) -> set[str]:
    from storage.models import OutboxMessage

    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = list(keys[start : start + 500])
        found |= set((await session.execute(select(OutboxMessage.idempotency_key).where(OutboxMessage.idempotency_key.in_(chunk)))).scalars())
    return found


async def _group(
    session: AsyncSession, activity_id: int | None, caseworker_id: int | None, participant_ids: Sequence[int] | None, day: date
) -> tuple[list[tuple[int, ParticipantStatus]], str]:
    if activity_id is not None:
        if await session.get(Activity, activity_id) is None:
            raise NotFound(f"no activity with id {activity_id} (see: stegvis activity list)", field="activity")
        query = (
            select(Participant.id, Participant.status)
            .join(Enrolment, Enrolment.participant_id == Participant.id)
            .where(Enrolment.activity_id == activity_id, Enrolment.from_date <= day, (Enrolment.left_date.is_(None)) | (Enrolment.left_date > day))
            .distinct()
        )
        group = f"activity {activity_id}"
    elif caseworker_id is not None:
        if await session.get(Caseworker, caseworker_id) is None:
            raise NotFound(f"no caseworker with id {caseworker_id}", field="caseworker")
        query = select(Participant.id, Participant.status).where(Participant.caseworker_id == caseworker_id)
        group = f"caseworker {caseworker_id}"
    else:
        wanted = sorted(set(participant_ids or ()))
        if not wanted:
            raise InvalidInput("must name at least one participant id, e.g. 3,5,8", field="participants")
        query = select(Participant.id, Participant.status).where(Participant.id.in_(wanted))
        group = "participants " + ",".join(str(p) for p in wanted)
    people = [(pid, ParticipantStatus(status)) for pid, status in (await session.execute(query.order_by(Participant.id))).all()]
    if participant_ids is not None:
        unknown = sorted(set(participant_ids) - {pid for pid, _ in people})
        if unknown:
            raise NotFound(f"no participant with id {', '.join(str(p) for p in unknown)} (see: stegvis participant list)", field="participants")
    return people, group


async def _finished(session: AsyncSession, flow: Flow, ids: Sequence[int]) -> set[int]:
    """Who finished this version of the flow: a flow_completed event after it was sent to them."""
    done: set[int] = set()
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        events = (
            await session.execute(
                select(Event.participant_id, Event.type, Event.payload).where(Event.participant_id.in_(chunk), Event.flow == flow.id, Event.type == "flow_completed")
            )
        ).all()
        done |= {pid for pid, _type, _payload in events if pid is not None}
    return done


# ---- results -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    step: str
    text: str  # the Swedish question
    labels: dict[str, str]  # button id → Swedish label
    typed: bool  # a typed answer is possible


@dataclass
class Answers:
    participant_id: int
    name: str
    language: str | None
    sent_at: datetime | None = None
    finished_at: datetime | None = None
    answers: dict[str, str] = field(default_factory=dict)  # step → the Swedish label, or the typed text


@dataclass(frozen=True)
class Results:
    flow: str
    questions: list[Question]
    people: list[Answers]

    def as_json(self, tz: ZoneInfo) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "questions": [{"step": q.step, "text": q.text} for q in self.questions],
            "participants": [
                {
                    "participant_id": p.participant_id, "name": p.name, "language": p.language,
                    "sent_at": p.sent_at.astimezone(tz).isoformat() if p.sent_at else None,
                    "finished_at": p.finished_at.astimezone(tz).isoformat() if p.finished_at else None,
                    "answers": {q.step: p.answers.get(q.step) for q in self.questions},
                }
                for p in self.people
            ],
        }


def reminded(flow: Flow) -> dict[str, str]:
    """Each reminder step (a timeout's next) → the question it reminds of: its answers are that question's."""
    found: dict[str, str] = {}
    for step in flow.steps.values():
        if step.timeout is not None and step.timeout.next is not None and step.timeout.next not in found:
            found[step.timeout.next] = step.id
    for name in list(found):  # a reminder of a reminder counts for the first question
        seen = {name}
        while found[name] in found and found[name] not in seen:
            seen.add(found[name])
            found[name] = found[found[name]]
    return found


def questions_of(flow: Flow) -> list[Question]:
    reminders = reminded(flow)
    asking = [step for step in flow.steps.values() if step.buttons or step.text_input is not None or step.several is not None]
    questions = []
    for step in asking:
        if step.id in reminders:
            continue
        labels = {b.id: b.label for b in step.buttons}
        for other in asking:  # a reminder's own labels, for an answer given to it
            if reminders.get(other.id) == step.id:
                labels = {**{b.id: b.label for b in other.buttons}, **labels}
        questions.append(Question(step.id, step.say or step.id, labels, step.text_input is not None))
    return questions


async def flow_results(session: AsyncSession, actor: Actor, *, flows: Mapping[str, Flow], flow: str, now: datetime) -> Results:
    chosen = _flow(flows, flow)
    questions = questions_of(chosen)
    by_step = {q.step: q for q in questions}
    reminders = reminded(chosen)
    events = (
        await session.execute(
            select(Event.participant_id, Event.type, Event.step, Event.payload, Event.occurred_at)
            .where(((Event.flow == chosen.id) | (Event.type == SENT)), Event.participant_id.is_not(None))
            .order_by(Event.occurred_at, Event.id)
        )
    ).all()
    people: dict[int, Answers] = {}
    for pid, type_, step, payload, at in events:
        payload = payload or {}
        if type_ == SENT:
            if payload.get("flow") != chosen.id:
                continue
            person = people.setdefault(pid, Answers(pid, "", None))
            person.sent_at = person.sent_at or at
            continue
        person = people.setdefault(pid, Answers(pid, "", None))
        step = reminders.get(step, step)
        if type_ == "flow_completed":
            person.finished_at = at
        elif step in by_step:
            question = by_step[step]
            if "text" in payload and question.typed:
                person.answers[step] = str(payload["text"])
            elif "answer" in payload:
                answer = payload["answer"]
                if isinstance(answer, list):
                    person.answers[step] = ", ".join(question.labels.get(a, str(a)) for a in answer)
                else:
                    person.answers[step] = question.labels.get(str(answer), str(answer))
            else:
                # A several step records its list under its own key.
                chosen_ids = next((v for v in payload.values() if isinstance(v, list)), None)
                if chosen_ids is not None:
                    person.answers[step] = ", ".join(question.labels.get(a, str(a)) for a in chosen_ids)
    if people:
        rows = (await session.execute(select(Participant.id, Participant.name, Participant.language).where(Participant.id.in_(sorted(people))))).all()
        for pid, name, language in rows:
            people[pid].name, people[pid].language = name, language
    await access_log.record(session, actor, access_log.FLOW_RESULTS, people, now=now, detail=chosen.id)
    return Results(chosen.id, questions, [people[pid] for pid in sorted(people)])
