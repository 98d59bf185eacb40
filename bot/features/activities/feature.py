"""What this feature plugs into the running bot (see ``bot/registry.py``): the cancellation notice,
the "coming today?" question (its composer, rules, planning job, the routers for late answers and
for one row of a message about two sessions) and «Jag kan inte komma» in the menu."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.features.activities import cantcome, late, rows
from bot.features.activities.messages import SessionCancelledMessage
from bot.features.activities.morning import ComingTodayMessage
from bot.features.activities.planning import plan_questions
from bot.features.activities.question import FLOW, QuestionRefs
from bot.features.activities.subjects import QuestionSubjects, SessionSubjects
from bot.registry import COMMANDS, Features, Job, MenuCommand

if TYPE_CHECKING:
    from bot.app import Stegvis

log = logging.getLogger(__name__)

QUESTIONS_EVERY = 900.0  # seconds: the questions are planned a day ahead, so a late run loses nothing
MENU_ORDER = 2  # after /language, before /stop


def register(features: Features, stegvis: Stegvis) -> None:
    tz = stegvis.settings.tz
    features.composer(SessionCancelledMessage(stegvis.catalogs, tz))
    features.subject(SessionSubjects(tz))
    features.composer(ComingTodayMessage(stegvis.engine, stegvis.catalogs, stegvis.settings))
    features.subject(QuestionSubjects(stegvis.settings, stegvis.clock))
    refs = QuestionRefs(tz)
    features.ref_rule(FLOW, refs)
    features.router(COMMANDS + 4, lambda: cantcome.create_router(refs, tz))
    features.router(COMMANDS + 5, lambda: late.create_router(refs))  # late presses first: they keep rows themselves
    features.router(COMMANDS + 6, rows.create_router)
    features.menu_command(MenuCommand(cantcome.COMMAND, cantcome.DESCRIPTION, MENU_ORDER))
    features.job(Job("activities-questions", QUESTIONS_EVERY, questions))


async def questions(stegvis: Stegvis) -> None:
    """Plan the "coming today?" questions about today's and tomorrow's sessions."""
    async with stegvis.database.sessions() as session:
        added = await plan_questions(session, stegvis.settings, stegvis.clock.now())
        await session.commit()
    if added:
        log.info("activities: planned %d coming-today questions", added)
