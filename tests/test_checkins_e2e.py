"""The weekly check-in end to end: the real bot over HTTP against the sandbox, the real sender,
the feature's job on a frozen clock. One participant answers every step (several places, a voice
note in the middle, a face) and then presses an old button; another gets the nudge once and is
then recorded as unanswered. Every answer is checked as the event it is stored as, and the
CheckIn row against them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.features.activities import services as activities
from bot.features.activities.schedule import WeeklyRule
from bot.features.checkins.feature import checkins as checkin_job
from bot.features.checkins.messages import CLOSED, VOICE_THANKS, variables
from bot.outbox.sender import Sender
from bot.sandbox import SandboxUser
from bot.services import SYSTEM
from flows.engine import CHOOSE_ONE
from flows.library import load_flows
from locales import Catalogs
from storage.clock import FrozenClock
from storage.models import CheckIn
from tests.harness import BotHarness, start_bot

TZ = ZoneInfo("Europe/Stockholm")
MONDAY = date(2027, 1, 18)
FRIDAY = MONDAY + timedelta(days=4)
CATALOGS = Catalogs()
STEPS = load_flows()["checkin"].steps
WEEK = {"week": "2027-01-18"}


def t(language: str, msgid: str, **values: object) -> str:
    return CATALOGS.texts(language).gettext(msgid, **values)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


def label(language: str, step: str, button: str) -> str:
    return t(language, next(b.label for b in STEPS[step].buttons if b.id == button))


@pytest.fixture
async def bot_on_friday(tmp_path: Path) -> AsyncIterator[BotHarness]:
    async with start_bot(tmp_path, clock=FrozenClock(local(FRIDAY, 9))) as harness:
        yield harness



async def joined(harness: BotHarness, language: str, name: str) -> tuple[SandboxUser, int]:
    return await harness.joined(name, language)


async def at(harness: BotHarness, moment: datetime) -> int:
    """The clock moves on: the feature's job runs, then the real sender; how many were sent."""
    await harness.settle()
    harness.clock.set(moment)
    await checkin_job(harness.stegvis)
    return await Sender(harness.stegvis, harness.bot).tick()


async def checkin_events(harness: BotHarness, pid: int) -> list[tuple[str, dict]]:
    return [(e.type, {k: v for k, v in e.payload.items() if k != "outbox_id"}) for e in await harness.events(pid) if e.type.startswith("checkin_")]


async def row_of(harness: BotHarness, pid: int) -> CheckIn:
    async with harness.database.sessions() as session:
        return (await session.execute(select(CheckIn).where(CheckIn.participant_id == pid))).scalar_one()


async def test_a_whole_check_in_a_voice_note_an_old_press_and_a_nudge_then_unanswered(bot_on_friday: BotHarness) -> None:
    harness = bot_on_friday
    amina, amina_id = await joined(harness, "ar", "Amina Yusuf")
    dawit, dawit_id = await joined(harness, "ti", "Dawit Tesfay")
    settings, now = harness.stegvis.settings, harness.stegvis.clock.now()
    async with harness.database.sessions() as session:
        aid = (await activities.add_activity(session, SYSTEM, settings, name="Språkcafé", organisation="Röda Korset", place="Nygatan 19", weekly=[WeeklyRule(1, time(10))], starts_on=date(2027, 1, 4), now=now)).id
        for pid in (amina_id, dawit_id):
            await activities.enrol(session, SYSTEM, settings, activity_id=aid, participant_id=pid, from_date=date(2027, 1, 11), now=now)
        await session.commit()

    assert await at(harness, local(FRIDAY, 13, 59)) == 0  # planned, not due yet
    assert await at(harness, local(FRIDAY, 14)) == 2
    await amina.wait_for(lambda: any(m.buttons for m in amina.messages[-1:]), what="the check-in")
    question = amina.messages[-1]
    assert question.text == t("ar", STEPS["practice"].say)
    assert question.button_texts == [label("ar", "practice", b) for b in ("a_lot", "a_little", "not_this_week")]

    # How much: a lot. Then where: ticks in place on one message, a voice note in the middle.
    await amina.press(label("ar", "practice", "a_lot"))
    places = await amina.next_reply()
    assert places.text == t("ar", STEPS["places"].say)
    assert (await amina.press(t("ar", "Klar"), message=places)).text == t("ar", CHOOSE_ONE)  # nothing ticked yet
    for place in ("sfi", "home", "work", "friends", "work"):  # work ticked, then unticked
        await amina.press(places.button_texts[[b.id for b in STEPS["places"].buttons].index(place)], message=places)
        await harness.settle()
    assert places.button_texts == ["✅ " + label("ar", "places", "sfi"), label("ar", "places", "language_cafe"), label("ar", "places", "work"),
                                   "✅ " + label("ar", "places", "home"), "✅ " + label("ar", "places", "friends"), t("ar", "Klar")]
    await amina.send_voice(duration=7)
    assert (await amina.next_reply()).text == t("ar", VOICE_THANKS)
    again = await amina.next_reply()  # the open question again, ticks kept
    assert again.text == places.text and again.button_texts == places.button_texts
    await amina.send_sticker()
    hinted = await amina.next_reply()
    assert hinted.text.endswith(places.text) and hinted.text != places.text
    await amina.press(t("ar", "Klar"))
    faces = await amina.next_reply()
    assert faces.text == t("ar", STEPS["confidence"].say) and faces.button_texts == ["😟", "🙁", "😐", "🙂", "😄"] and len(faces.buttons) == 1
    await amina.press("🙂")
    thanks = await amina.next_reply()
    assert thanks.text == t("ar", STEPS["phrase"].say, **variables(MONDAY, CATALOGS.texts("ar")))

    # The first question's button again (as an old copy of it would send): already answered.
    assert (await amina.press_data("s:checkin:practice:a_little:2027W03", message=question)).text == t("ar", CLOSED["answered"])
    assert (await amina.press_data("s:checkin:confidence:f1:2027W03", message=faces)).text == t("ar", CLOSED["answered"])
    await harness.settle()

    [voice] = [e for e in await harness.events(amina_id) if e.type == "checkin_voice_note"]
    assert voice.payload["duration"] == 7 and voice.payload["file_id"].startswith("AwAC") and voice.payload["week"] == "2027-01-18"
    assert await checkin_events(harness, amina_id) == [
        ("checkin_sent", WEEK),
        ("checkin_practice", {**WEEK, "answer": "a_lot", "amount": "a_lot"}),
        ("checkin_voice_note", {**WEEK, "file_id": voice.payload["file_id"], "duration": 7}),
        ("checkin_places", {**WEEK, "places": ["sfi", "home", "friends"]}),
        ("checkin_confidence", {**WEEK, "answer": "f4", "level": 4}),
    ]
    row = await row_of(harness, amina_id)
    assert (row.week, row.practice, row.places, row.confidence, row.voice_notes) == (MONDAY, "a_lot", ["sfi", "home", "friends"], 4, 1)
    assert row.sent_at == local(FRIDAY, 14) and row.answered_at == local(FRIDAY, 14) and row.nudged_at is None and row.unanswered_at is None

    # Dawit says nothing: one nudge a day later (planning again sends no second one), then unanswered.
    assert await at(harness, local(FRIDAY + timedelta(days=1), 13)) == 0
    assert await at(harness, local(FRIDAY + timedelta(days=1), 14)) == 1
    await dawit.wait_for(lambda: dawit.messages[-1].text == t("ti", STEPS["practice"].say), what="the nudge's question")
    assert any(m.text == t("ti", STEPS["nudge"].say) for m in dawit.messages[-2:])
    assert await at(harness, local(FRIDAY + timedelta(days=1), 18)) == 0
    assert await at(harness, local(FRIDAY + timedelta(days=2), 14)) == 0
    row = await row_of(harness, dawit_id)
    assert row.nudged_at == local(FRIDAY + timedelta(days=1), 14) and row.unanswered_at == local(FRIDAY + timedelta(days=2), 14) and row.answered_at is None
    assert await checkin_events(harness, dawit_id) == [("checkin_sent", WEEK), ("checkin_nudged", WEEK), ("checkin_unanswered", WEEK)]
    # His late press is an earlier week's now: a short note, nothing recorded.
    assert (await dawit.press(label("ti", "practice", "a_lot"))).text == t("ti", CLOSED["old"])
    await harness.settle()
    assert len(await checkin_events(harness, dawit_id)) == 3 and (await row_of(harness, dawit_id)).practice is None
