"""What the check-in's events change: the CheckIn row, kept up to date from the hot path.

Each handler adds one SQLAlchemy Core statement to the update's unit of work (or the sent
message's, for ``checkin_sent`` and ``checkin_nudged``). A payload that is not one of ours is kept
in the event log only, and logged.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from bot.features.checkins import store
from bot.registry import Features
from flows.engine import FlowEvent
from storage.writer import Changes, ParticipantRow

log = logging.getLogger(__name__)


def _week(event: FlowEvent) -> date | None:
    try:
        return date.fromisoformat(str(event.payload.get("week")))
    except ValueError:
        log.warning("%s without a week (%r): kept in the event log only", event.type, event.payload)
        return None


def sent(changes: Changes, participant: ParticipantRow, event: FlowEvent) -> None:
    week = _week(event)
    if week is not None:
        changes.statements.append(store.sent(participant.id, week, changes.now))


def nudged(changes: Changes, participant: ParticipantRow, event: FlowEvent) -> None:
    week = _week(event)
    if week is not None:
        changes.statements.append(store.nudged(participant.id, week, changes.now))


def _answer(column: str, value: str, allowed: Any, *, many: bool = False) -> Any:
    """A handler that sets `column` from the payload's `value`: one of `allowed`, or (`many`) a non-empty list of them."""

    def handle(changes: Changes, participant: ParticipantRow, event: FlowEvent) -> None:
        week = _week(event)
        given = event.payload.get(value)
        if many:
            ok = isinstance(given, list) and bool(given) and all(item in allowed for item in given)
        else:
            ok = type(given) in (str, int) and given in allowed
        if week is None or not ok:
            log.warning("%s %r is not one of %s: kept in the event log only", event.type, given, list(allowed))
            return
        changes.statements.append(store.answered(participant.id, week, changes.now, **{column: given}))

    return handle


def voice_note(changes: Changes, participant: ParticipantRow, event: FlowEvent) -> None:
    week = _week(event)
    if week is not None:
        changes.statements.append(store.voice_note(participant.id, week, changes.now))


def register(features: Features) -> None:
    features.on_event("checkin_sent", sent)
    features.on_event("checkin_nudged", nudged)
    features.on_event("checkin_practice", _answer("practice", "amount", store.AMOUNTS))
    features.on_event("checkin_places", _answer("places", "places", store.PLACES, many=True))
    features.on_event("checkin_confidence", _answer("confidence", "level", store.LEVELS))
    features.on_event("checkin_voice_note", voice_note)
