"""What this feature plugs into the running bot (see ``bot/registry.py``): the cancellation notice,
the "coming today?" question (its composer, rules, planning job and the router for late answers)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.features.activities import late
from bot.features.activities.messages import SessionCancelledMessage
from bot.features.activities.planning import plan_questions
from bot.features.activities.question import FLOW, ComingTodayMessage, QuestionRefs
from bot.features.activities.subjects import QuestionSubjects, SessionSubjects
from bot.registry import COMMANDS, Features, Job

if TYPE_CHECKING:
    from bot.app import Stegvis

log = logging.getLogger(__name__)

QUESTIONS_EVERY = 900.0  # seconds: the questions are planned a day ahead, so a late run loses nothing


def register(features: Features, stegvis: Stegvis) -> None:
    tz = stegvis.settings.tz
    features.composer(SessionCancelledMessage(stegvis.catalogs, tz))
    features.subject(SessionSubjects(tz))
    features.composer(ComingTodayMessage(stegvis.engine, stegvis.catalogs, tz))
    features.subject(QuestionSubjects(tz))
    refs = QuestionRefs(tz)
    features.ref_rule(FLOW, refs)
    features.router(COMMANDS + 5, lambda: late.create_router(refs))
    features.job(Job("activities-questions", QUESTIONS_EVERY, questions))


async def questions(stegvis: Stegvis) -> None:
    """Plan the "coming today?" questions about today's and tomorrow's sessions."""
    async with stegvis.database.sessions() as session:
        added = await plan_questions(session, stegvis.settings, stegvis.clock.now())
        await session.commit()
    if added:
        log.info("activities: planned %d coming-today questions", added)
