"""What the activities' end-to-end tests share: a language café with participants enrolled."""

from __future__ import annotations

from datetime import date, time

from bot.features.activities import services
from bot.features.activities.schedule import WeeklyRule
from bot.services import SYSTEM
from tests.harness import BotHarness

TUE = 1


async def enrolled_activity(harness: BotHarness, *participants: int, **overrides: object) -> int:
    """Språkcafé on tuesdays at 10:00 since 4 January 2027 (or as `overrides` say), these
    participants enrolled from 1 February; its id."""
    values: dict = {
        "name": "Språkcafé", "organisation": "Röda Korset", "place": "Nygatan 19",
        "weekly": [WeeklyRule(TUE, time(10))], "starts_on": date(2027, 1, 4),
    }
    values.update(overrides)
    settings, now = harness.stegvis.settings, harness.stegvis.clock.now()
    async with harness.database.sessions() as session:
        aid = (await services.add_activity(session, SYSTEM, settings, now=now, **values)).id
        for pid in participants:
            await services.enrol(session, SYSTEM, settings, activity_id=aid, participant_id=pid, from_date=date(2027, 2, 1), now=now)
        await session.commit()
    return aid
