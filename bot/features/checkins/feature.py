"""What the check-in plugs into the running bot (see ``bot/registry.py``): its two composers
(the weekly question and its nudge), the rule for its outbox rows, the ref rule of its flow, its
event handlers, the voice-note router, and the job that plans and gives up."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.features.checkins import events, voice
from bot.features.checkins.messages import FLOW, CheckinMessage, CheckinRefs, CheckinSubjects, nudge_message
from bot.features.checkins.planning import give_up, plan_checkins, plan_nudges
from bot.registry import COMMANDS, Features, Job

if TYPE_CHECKING:
    from bot.app import Stegvis

log = logging.getLogger(__name__)

EVERY = 300.0  # seconds: check-ins are planned a day ahead; a nudge or a give-up may come this much late


def register(features: Features, stegvis: Stegvis) -> None:
    tz = stegvis.settings.tz
    features.composer(CheckinMessage(stegvis.engine, stegvis.catalogs))
    features.composer(nudge_message(stegvis.engine, stegvis.catalogs))
    features.subject(CheckinSubjects(tz))
    features.ref_rule(FLOW, CheckinRefs())
    events.register(features)
    features.router(COMMANDS + 6, lambda: voice.create_router(tz))
    features.job(Job("checkins", EVERY, checkins))


async def checkins(stegvis: Stegvis) -> None:
    """Plan this week's check-ins and the nudges due, and record the ones nobody answered."""
    now = stegvis.clock.now()
    async with stegvis.database.sessions() as session:
        gave_up = await give_up(session, now)
        planned = await plan_checkins(session, stegvis.settings, now)
        nudges = await plan_nudges(session, now)
        await session.commit()
    if planned or nudges or gave_up:
        log.info("checkins: planned %d check-ins and %d nudges; %d recorded unanswered", planned, nudges, gave_up)
