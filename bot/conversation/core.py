"""The conversation core: a participant's input, the flow engine's answer, and the unit of work it makes.

`Conversations` knows the engine, the features' registrations and the hot-path store. For each
update of a participant it opens a `bot.conversation.turn.Turn`; `changes_for` turns a sprint of
the engine into `storage.writer.Changes`: the sprint's events (each applied by the handler a
feature registered for its type), and the new state. Runs tied to a thing (a ref) are checked
against the feature's `RefRule`: questions about things that are over are dropped from the
state, and a press on an older message about a thing still open answers that thing.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.registry import Features, RefRule
from flows.engine import BROKEN, DATA_PREFIX, ButtonAddress, Engine, FlowEvent, Run, Sprint, State
from locales import Texts
from storage.clock import Clock
from storage.writer import Changes, ParticipantRow, Store

log = logging.getLogger(__name__)


class Conversations:
    def __init__(self, engine: Engine, features: Features, store: Store, clock: Clock, *, retention_months: int = 12) -> None:
        self.engine = engine
        self.features = features
        self.store = store
        self.clock = clock
        # STEGVIS_RETENTION_MONTHS: the privacy notice says the number the housekeeping job keeps to.
        self.retention_months = retention_months

    def variables(self, participant: ParticipantRow) -> dict[str, Any]:
        """The values flow texts may use about a participant: only what the texts need."""
        return {"name": participant.name, "retention_months": self.retention_months}

    def ref_rule(self, data: str) -> RefRule | None:
        """The rule of the flow a button's callback data names, if that flow's runs are tied to things."""
        parts = data.split(":", 2)
        return self.features.ref_rules.get(parts[1]) if len(parts) > 2 and parts[0] == DATA_PREFIX else None

    async def tidy(self, participant: ParticipantRow, state: State, now: datetime, known: dict[tuple[str, str], str | None] | None = None) -> State:
        """`state` without the runs whose thing is over (cancelled, or past).

        `known` holds what the rules already said during this update ((flow, ref) → why closed,
        or None while open): a ref is asked about once per update, not again for each use."""
        known = {} if known is None else known
        for flow_id in {run.flow for run in state.runs if run.ref is not None}:
            rule = self.features.ref_rules.get(flow_id)
            if rule is not None:
                refs = {run.ref for run in state.runs if run.flow == flow_id and run.ref is not None and (flow_id, run.ref) not in known}
                if refs:
                    reasons = await rule.closed(self.store, participant, refs, now)
                    known.update({(flow_id, ref): reasons.get(ref) for ref in refs})
        closed = {key for key, reason in known.items() if reason is not None}
        if not closed:
            return state
        return state.without(lambda run: (run.flow, run.ref or "") in closed)

    def has_step(self, address: ButtonAddress) -> bool:
        """Whether a button names a step of a flow Stegvis has (forged data names none)."""
        return self.engine.has_step(address.flow, address.step)

    async def why_closed(self, participant: ParticipantRow, address: ButtonAddress, rule: RefRule, now: datetime, known: dict[tuple[str, str], str | None] | None = None) -> str | None:
        """Why a press on a ref-bound button no longer answers (a msgid), or None; remembered in `known`."""
        if not self.has_step(address):
            return BROKEN
        assert address.ref is not None
        key = (address.flow, address.ref)
        if known is not None and key in known:
            return known[key]
        reason = (await rule.closed(self.store, participant, {address.ref}, now)).get(address.ref)
        if known is not None:
            known[key] = reason
        return reason

    async def variables_for(self, participant: ParticipantRow, run: Run | None, texts: Texts) -> dict[str, Any]:
        """The participant's values, and fresh ones about the thing the run is tied to."""
        values = self.variables(participant)
        rule = self.features.ref_rules.get(run.flow) if run is not None and run.ref is not None else None
        if rule is not None and run is not None and run.ref is not None:
            values.update(await rule.variables(self.store, participant, run.ref, texts))
        return values

    def changes_for(self, participant: ParticipantRow, sprint: Sprint, stored: State, now: datetime) -> Changes:
        """The unit of work a sprint makes: its events, applied by their handlers, and its new state."""
        changes = Changes(participant.id, now)
        self.add_sprint(changes, participant, sprint, stored)
        return changes

    def add_sprint(self, changes: Changes, participant: ParticipantRow, sprint: Sprint, stored: State) -> None:
        for event in sprint.events:
            stored_event = replace(event, payload=self._payload(event))
            changes.event(event.type, stored_event.payload, flow=event.flow, step=event.step)
            handler = self.features.event_handlers.get(event.type)
            if handler is not None:
                handler(changes, participant, stored_event)
        if sprint.keep_state:
            return  # a notice that asks nothing: the open question stays open
        if not sprint.events and sprint.state == stored:
            return  # nothing moved (a repeated question, an idle reply): no write on the hot path
        # A question the engine was not told the time of was asked now (a step's timeout counts from it).
        changes.conversation = stored_form(sprint.state.asked(changes.now))

    def _payload(self, event: FlowEvent) -> dict[str, Any]:
        """The event's payload as stored: a run's ref becomes what it names (the thing's id and version)."""
        if event.ref is None:
            return event.payload
        rule = self.features.ref_rules.get(event.flow or "")
        return {**(rule.event_payload(event.ref) if rule is not None else {"ref": event.ref}), **event.payload}


def stored_form(state: State) -> tuple[str | None, str | None, dict[str, Any]]:
    """(flow, step, data) as the conversations table keeps a state."""
    return state.flow, state.step, state.to_dict()
