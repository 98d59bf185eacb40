"""What a participant's answer to a reminder changes: the appointment's latest answer."""

from __future__ import annotations

import logging

from flows.engine import FlowEvent
from storage import appointments as store
from storage.writer import Changes, ParticipantRow

log = logging.getLogger(__name__)


def appointment_answer(changes: Changes, participant: ParticipantRow, event: FlowEvent) -> None:
    """``appointment_answer`` sets the appointment's answer, only while that booking is current,
    booked, theirs and ahead (a move or the start in between wins). Every other appointment
    event (a reason, the participant's short text) lives in the append-only event log only."""
    payload = event.payload
    answer, appointment_id, version = payload.get("answer"), payload.get("appointment_id"), payload.get("version")
    if answer not in store.ANSWERS or not isinstance(appointment_id, int) or not isinstance(version, int):
        log.warning("appointment_answer %r for appointment %r is not one of %s: kept in the event log only", answer, appointment_id, store.ANSWERS)
        return
    changes.statements.append(store.set_answer(appointment_id, participant.id, answer, version=version, now=changes.now))
