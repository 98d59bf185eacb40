"""What the timeouts of flow steps plug into the running bot: a job that plans a row for every
question whose timeout is up, the composer that carries it out, and the rule that withdraws it
when the participant answered first (``messages.py``)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.flow_timeouts.messages import ConversationTimeouts, TimeoutMessage, planned
from bot.registry import Features, Job
from flows.engine import Engine, State
from storage import outbox
from storage.models import Conversation, Participant, ParticipantStatus

if TYPE_CHECKING:
    from bot.app import Stegvis

log = logging.getLogger(__name__)

EVERY = 60.0  # seconds: a timeout of hours may be carried out a minute late


def register(features: Features, stegvis: Stegvis) -> None:
    features.composer(TimeoutMessage(stegvis.engine))
    features.subject(ConversationTimeouts())
    features.job(Job("flow_timeouts", EVERY, time_out_due))


async def time_out_due(stegvis: Stegvis) -> None:
    now = stegvis.clock.now()
    async with stegvis.database.sessions() as session:
        count = await plan_timeouts(session, stegvis.engine, now)
        await session.commit()
    if count:
        log.info("flow_timeouts: %d questions timed out", count)


async def plan_timeouts(session: AsyncSession, engine: Engine, now: datetime) -> int:
    """One outbox row for each active participant whose open question's timeout is up; returns how many were new."""
    timed = {(flow.id, step.id) for flow in engine.versions.values() for step in flow.steps.values() if step.timeout is not None}
    if not timed:
        return 0
    # The conversations table repeats the top run's flow and step: only those rows are read.
    query = (
        select(Conversation.participant_id, Conversation.flow, Conversation.step, Conversation.data)
        .join(Participant, Participant.id == Conversation.participant_id)
        .where(
            Participant.status == ParticipantStatus.ACTIVE,
            Conversation.flow.in_(sorted({flow for flow, _ in timed})),
            Conversation.step.in_(sorted({step for _, step in timed})),
        )
    )
    rows = []
    for pid, flow, step, data in (await session.execute(query)).all():
        if (flow, step) not in timed:
            continue
        state = State.from_dict(data)
        due = engine.due_at(state)
        if due is None or due > now or state.top is None:
            continue
        # Whether it sends anything: a timeout that only records its event is not held by quiet hours.
        try:
            silent = not engine.time_out(state, now, language=None, variables={"name": ""}).messages
        except ValueError:  # a flow that needs values only the composer has: it may send something
            silent = False
        rows.append(planned(pid, state.top, due, silent=silent))
    return await outbox.enqueue_many(session, rows, now=now)
