"""The composer that opens a flow's first step as a conversation for one participant of a group send.

An outbox row of ``surveys.flow`` carries ``{"flow": id, "version": n}``; composing it starts that
flow in the participant's language (as the check-in does), so the sender stores the new run over
any question left open, and the participant's presses are the conversation core's as usual. Its
sent event, ``flow_sent``, says who got which flow when: `stegvis flows results` starts from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.outbox.composers import Addressee
from flows.definition import Flow
from flows.engine import Engine, Sprint
from storage.models import OutboxMessage

FLOW_MESSAGE = "surveys.flow"
SENT = "flow_sent"
# The values a flow sent to a group may use: what Stegvis knows about anyone (its flows' other
# variables are about one thing, a time or a place, that a group send has none of).
GROUP_VARIABLES = frozenset({"name"})


def why_not_sendable(flow: Flow) -> str | None:
    """Why this flow cannot be sent to a group (None: it can)."""
    if any(step.language_picker for step in flow.steps.values()):
        return f"flow {flow.id!r} picks a language: Stegvis starts it itself"
    unknown = sorted(flow.variables - GROUP_VARIABLES)
    if unknown:
        fields = ", ".join("{" + name + "}" for name in unknown)
        return f"flow {flow.id!r} needs {fields}, which a group send cannot fill in (only {{name}}): Stegvis starts it itself"
    return None


@dataclass(frozen=True)
class FlowMessage:
    """``surveys.flow``: the flow's first step, as if the participant had just started it."""

    engine: Engine
    kind: str = FLOW_MESSAGE

    def compose(self, addressee: Addressee, subject: Any, row: OutboxMessage) -> Sprint:
        flow = (row.payload or {})["flow"]
        participant = addressee.participant
        variables = {"name": participant.name} if participant is not None else {}
        return self.engine.start(flow, language=addressee.language_code, variables=variables)

    def sent_event(self, row: OutboxMessage, telegram_message_id: int | None) -> dict[str, Any] | None:
        payload = row.payload or {}
        return {"type": SENT, "participant_id": row.recipient_id, "payload": {"flow": payload.get("flow"), "version": payload.get("version"), "outbox_id": row.id}}
