"""The outbox row that carries out one timeout, and the rule that withdraws it once it is stale.

A row of ``flow_timeouts.timeout`` is about one question as it was asked: the participant's
conversation (subject ``conversation``, id the participant's) with its top run's flow, version,
step and asking time in the payload. Just before it goes out the sender asks `ConversationTimeouts`
whether the conversation is still there; if the participant answered meanwhile (or anything else
moved it on), the row is withdrawn and nothing is sent. Otherwise the composer applies
``Engine.time_out`` to the stored state: the nudge step's messages, or no message and the
timeout's event (the run ends). The sender stores the new state and the events with the row marked
sent, in one unit of work, so a restart neither loses the timeout nor carries it out twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.outbox.composers import Addressee, withdraw_stale_rows
from flows.engine import Engine, Run, Sprint, State
from storage.models import Conversation, OutboxMessage
from storage.outbox import Planned, Recipient, Subject

TIMEOUT_MESSAGE = "flow_timeouts.timeout"
SUBJECT = "conversation"  # subject id: the participant whose conversation it is
SENT = "flow_timed_out"


def question_of(run: Run) -> dict[str, Any]:
    """What a row says about the question it times out: the top run as it was asked."""
    assert run.asked_at is not None
    return {"flow": run.flow, "version": run.version, "step": run.step, "asked_at": run.asked_at.isoformat()}


def planned(participant_id: int, run: Run, due: datetime, *, silent: bool) -> Planned:
    """The row for one question's timeout. Its key names that question as asked, so planning it
    again (the next tick, another process, after a restart) is a no-op; `silent`: the timeout
    sends nothing (it only records its event), so quiet hours need not hold it."""
    question = question_of(run)
    # The slot column is short: the question's identity, hashed; the payload says it in words.
    slot = hashlib.sha256(repr(sorted(question.items())).encode()).hexdigest()[:24]
    return Planned(
        Recipient.participant(participant_id), TIMEOUT_MESSAGE, due, subject=Subject(SUBJECT, participant_id), slot=slot,
        payload=question, ignore_quiet_hours=silent,
    )


def still_asked(row: OutboxMessage, state: State | None) -> bool:
    """Whether the question the row times out is still the one the participant sees, as it was asked."""
    top = state.top if state is not None else None
    return top is not None and top.asked_at is not None and question_of(top) == {key: (row.payload or {}).get(key) for key in ("flow", "version", "step", "asked_at")}


class ConversationTimeouts:
    """Rows about a conversation go out only while its question is where the row found it."""

    kind = SUBJECT
    too_late = "withdrawn: too late"  # never used: a timeout has no deadline

    async def load(self, session: AsyncSession, ids: Collection[int]) -> dict[int, State]:
        if not ids:
            return {}
        rows = await session.execute(select(Conversation.participant_id, Conversation.data).where(Conversation.participant_id.in_(sorted(ids))))
        return {pid: State.from_dict(data) for pid, data in rows}

    def stale(self, row: OutboxMessage, subject: Any | None, now: datetime) -> str | None:
        if not still_asked(row, subject if isinstance(subject, State) else None):
            return "withdrawn: answered, or the conversation moved on"
        return None

    def deadline(self, subject: Any) -> datetime | None:
        return None  # a nudge held by quiet hours goes out in the morning

    async def withdraw_stale(self, session: AsyncSession, now: datetime) -> int:
        return await withdraw_stale_rows(self, session, now)


@dataclass(frozen=True)
class TimeoutMessage:
    """``flow_timeouts.timeout``: `Engine.time_out` on the participant's stored conversation."""

    engine: Engine
    kind: str = TIMEOUT_MESSAGE

    def compose(self, addressee: Addressee, subject: Any, row: OutboxMessage) -> Sprint:
        participant = addressee.participant
        assert participant is not None, "a timeout goes to a participant"
        state = State.from_dict(participant.conversation)
        # The sender takes a row once it is due (quiet hours move its due time on), and checked
        # just before that the question is still the one the row was planned for.
        when = row.due_at if row.due_at.tzinfo is not None else row.due_at.replace(tzinfo=UTC)
        due = self.engine.due_at(state)
        if due is not None and due > when:
            when = due  # planned a moment early by a clock that runs ahead: not before its time
        # The nudge counts as asked when the sender stores it as sent (Conversations.add_sprint),
        # so its own timeout runs from when it really went out, even after a long outage.
        return self.engine.time_out(state, when, language=addressee.language_code, variables={"name": participant.name}, asked_when_stored=True)

    def sent_event(self, row: OutboxMessage, telegram_message_id: int | None) -> dict[str, Any] | None:
        payload = row.payload or {}
        return {
            "type": SENT, "participant_id": row.recipient_id,
            "payload": {key: payload.get(key) for key in ("flow", "version", "step")} | {"outbox_id": row.id},
        }
