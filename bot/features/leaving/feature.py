"""What leaving plugs into the running bot (see ``bot/registry.py``): the goodbye's composer and
recipient kind, /mydata in the menu with its router, the finished participants' router, and the
daily retention job."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.features.leaving import messages, router
from bot.registry import STOPPED, Features, Job, MenuCommand
from bot.services import SYSTEM

if TYPE_CHECKING:
    from bot.app import Stegvis

log = logging.getLogger(__name__)

RETENTION_EVERY = 24 * 3600.0  # daily (and at start-up): a day late is still within the promise's day
MENU_ORDER = 4  # after /stop


def register(features: Features, stegvis: Stegvis) -> None:
    features.composer(messages.GoodbyeMessage(stegvis.catalogs))
    features.recipient("former", messages.FormerParticipants())
    # /mydata before the stopped and finished routers: whoever has a record may ask for their copy.
    features.router(STOPPED - 1, router.create_mydata_router)
    features.router(STOPPED + 1, router.create_finished_router)
    features.menu_command(MenuCommand(router.COMMAND, router.DESCRIPTION, MENU_ORDER))
    features.job(Job("leaving-retention", RETENTION_EVERY, erase_expired))


async def erase_expired(stegvis: Stegvis) -> int:
    """Erase everyone past STEGVIS_RETENTION_MONTHS, each in a transaction of their own (one that
    fails is logged and tried again tomorrow; the others are erased). Logs ids only, never names."""
    from bot.features.leaving import services

    settings, now = stegvis.settings, stegvis.clock.now()
    async with stegvis.database.sessions() as session:
        due = await services.due_for_erasure(session, months=settings.retention_months, tz=settings.tz, now=now)
    erased = 0
    for found in due:
        async with stegvis.database.sessions() as session:
            try:
                await services.erase_participant(session, SYSTEM, participant_id=found.participant_id, confirm=True, now=now)
                await session.commit()
                erased += 1
            except Exception:  # noqa: BLE001 - one participant's failure must not keep the others
                await session.rollback()
                log.exception("retention: could not erase participant %s (%s since %s)", found.participant_id, found.status, found.since)
    if due:
        log.info("retention: erased %d of %d participants finished or stopped more than %d months ago", erased, len(due), settings.retention_months)
    return erased
