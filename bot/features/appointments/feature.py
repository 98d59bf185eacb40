"""What this feature plugs into the running bot (see ``bot/registry.py``)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.features.appointments import events, messages
from bot.features.appointments.booking import record_unanswered
from bot.features.appointments.subjects import AppointmentSubjects
from bot.registry import Features, Job

if TYPE_CHECKING:
    from bot.app import Stegvis

log = logging.getLogger(__name__)

UNANSWERED_EVERY = 300.0  # seconds


def register(features: Features, stegvis: Stegvis) -> None:
    features.on_event("appointment_answer", events.appointment_answer)
    for composer in messages.composers(stegvis.engine, stegvis.catalogs, stegvis.settings.tz):
        features.composer(composer)
    features.subject(AppointmentSubjects())
    features.ref_rule(messages.REMINDER_FLOW, messages.AppointmentRefs(stegvis.settings.tz))
    features.job(Job("appointments-unanswered", UNANSWERED_EVERY, unanswered))


async def unanswered(stegvis: Stegvis) -> None:
    """Appointments that began without an answer are recorded as unanswered (for the caseworker)."""
    async with stegvis.database.sessions() as session:
        changed = await record_unanswered(session, stegvis.clock.now())
        await session.commit()
    if changed:
        log.info("appointments recorded as unanswered: %s", ", ".join(map(str, changed)))
