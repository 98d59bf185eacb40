"""What this feature plugs into the running bot (see ``bot/registry.py``): leaders as outbox
recipients, the roll call's composer and subject rule, the job that plans it, and the leaders' router."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.features.roll_call import router
from bot.features.roll_call.messages import LeaderRecipients, RollCallSheet, RollCallSubjects
from bot.features.roll_call.planning import plan_roll_calls
from bot.registry import GATE, Features, Job
from storage.models import RecipientKind

if TYPE_CHECKING:
    from bot.app import Stegvis

log = logging.getLogger(__name__)

ROLL_CALLS_EVERY = 900.0  # seconds: planned a day ahead, so a late run loses nothing


def register(features: Features, stegvis: Stegvis) -> None:
    tz = stegvis.settings.tz
    features.recipient(RecipientKind.LEADER.value, LeaderRecipients())
    features.composer(RollCallSheet(stegvis.catalogs, tz))
    features.subject(RollCallSubjects(tz, lambda: stegvis.clock.now().astimezone(tz).date()))
    # At GATE, after the participants' membership router (registered first, same order) and
    # before their newcomers router (GATE + 1): leaders have no participant record.
    features.router(GATE, router.create_router)
    features.job(Job("roll-call-planning", ROLL_CALLS_EVERY, roll_calls))


async def roll_calls(stegvis: Stegvis) -> None:
    """Plan the roll calls of today's and tomorrow's sessions."""
    async with stegvis.database.sessions() as session:
        added = await plan_roll_calls(session, stegvis.settings, stegvis.clock.now())
        await session.commit()
    if added:
        log.info("roll call: planned %d roll calls for leaders", added)
