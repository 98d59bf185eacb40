"""«Jag kan inte komma» from the menu (/cantcome), over HTTP against the sandbox: picking one of the
next sessions, the morning question's reasons and few words, the morning question that then
leaves that session out, and the bad inputs (forged data, a session begun or cancelled, an
activity they are not enrolled in, nothing coming up)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiogram.types import BotCommandScopeAllPrivateChats

from bot.features.activities import services
from bot.features.activities.cantcome import BUTTON, BUTTON_NAMED, NONE_AHEAD, PREFIX, WHICH
from bot.features.activities.planning import plan_questions
from bot.features.activities.question import CANCELLED, NOT_YOURS, STARTED, reference
from bot.features.activities.schedule import WeeklyRule
from bot.outbox.sender import Sender
from bot.sandbox import SandboxUser
from bot.services import SYSTEM
from flows.library import load_flows
from locales import LANGUAGES, Catalogs
from locales.format import format_clock, format_day
from storage.clock import FrozenClock
from tests.activity_helpers import enrolled_activity as activity
from tests.harness import BotHarness, start_bot

TZ = ZoneInfo("Europe/Stockholm")
TUE, THU = 1, 3
TUESDAY = date(2027, 2, 9)
CATALOGS = Catalogs()
FLOW = load_flows()["coming_today"].steps
WHY, WORDS, THANKS, ASK = FLOW["reason"].say, FLOW["words"].say, FLOW["thanks"].say, FLOW["ask"].say
REASONS = {button.id: button.label for button in FLOW["reason"].buttons}


def t(language: str, msgid: str, **values: object) -> str:
    return CATALOGS.texts(language).gettext(msgid, **values)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


def session_label(language: str, day: date, hour: int, minute: int = 0, activity: str | None = None) -> str:
    moment, lang = local(day, hour, minute), LANGUAGES[language]
    values = {"day": format_day(moment, lang, TZ), "time": format_clock(moment, lang, TZ)}
    return t(language, BUTTON_NAMED, activity=activity, **values) if activity else t(language, BUTTON, **values)


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[BotHarness]:
    """The real bot on a frozen clock: Tuesday 9 February 2027, 07:00 in Stockholm."""
    async with start_bot(tmp_path, clock=FrozenClock(local(TUESDAY, 7))) as harness:
        yield harness



async def joined(harness: BotHarness, language: str, name: str = "Amina Yusuf") -> tuple[SandboxUser, int]:
    return await harness.joined(name, language)




async def cant_come(user: SandboxUser):  # type: ignore[no-untyped-def]
    await user.send("/cantcome")
    return await user.next_reply()


async def reports(harness: BotHarness, pid: int) -> list[dict]:
    return [e.payload for e in await harness.events(pid) if e.type == "activity_report"]


async def morning(harness: BotHarness, user: SandboxUser) -> list[str]:
    """The morning's planning and sending at 08:00; the question texts the participant got."""
    await harness.settle()
    before = len(user.messages)
    async with harness.database.sessions() as session:
        await plan_questions(session, harness.stegvis.settings, harness.stegvis.clock.now())
        await session.commit()
    harness.clock.set(local(TUESDAY, 8))
    await Sender(harness.stegvis, harness.bot).tick()
    await harness.settle()
    return [m.text for m in user.messages[before:] if m.buttons]


@pytest.mark.parametrize("language", ["sv", "ar", "so", "fa_AF", "ti"])
async def test_cant_come_from_the_menu_with_a_reason_and_a_few_words(bot: BotHarness, language: str) -> None:
    user, pid = await joined(bot, language)
    cafe = await activity(bot, pid)
    training = await activity(bot, pid, name="Arbetsträning", place="Storgatan 1", weekly=[WeeklyRule(THU, time(13, 30))])
    which = await cant_come(user)
    assert which.text == t(language, WHICH)
    # The next six session days, in time order, with the activity's name (there are two activities).
    expected = []
    for week in range(3):
        expected.append(session_label(language, TUESDAY + timedelta(weeks=week), 10, activity="Språkcafé"))
        expected.append(session_label(language, TUESDAY + timedelta(days=2, weeks=week), 13, 30, activity="Arbetsträning"))
    assert which.button_texts == expected

    # Thursday's training: the same reasons as the morning question, then the few words.
    answer = await user.press(expected[1], message=which)
    assert answer.text is None
    why = await user.next_reply()
    assert why.text == t(language, WHY) and why.button_texts == [t(language, label) for label in REASONS.values()]
    await user.wait_for(lambda: which.edited and which.buttons == [])
    assert which.text.endswith(f"✅ {expected[1]}")
    await user.press(t(language, REASONS["other_appt"]), message=why)
    assert (await user.next_reply()).text == t(language, WORDS)
    await user.send("Jag har tid hos läkaren.")
    assert (await user.next_reply()).text == t(language, THANKS)
    ids = {"activity_id": training, "date": "2027-02-11", "source": "menu"}
    assert await reports(bot, pid) == [
        {**ids, "answer": "not_coming", "coming": False},
        {**ids, "answer": "other_appt", "reason": "other_appt"},
        {**ids, "text": "Jag har tid hos läkaren."},
    ]
    assert cafe != training


async def test_the_morning_question_leaves_out_a_session_already_answered(bot: BotHarness) -> None:
    user, pid = await joined(bot, "sv")
    await activity(bot, pid)
    training = await activity(bot, pid, name="Arbetsträning", place="Storgatan 1", weekly=[WeeklyRule(TUE, time(13))])
    which = await cant_come(user)
    await user.press(session_label("sv", TUESDAY, 13, activity="Arbetsträning"), message=which)
    await user.next_reply()
    await user.press(REASONS["sick"])
    await user.next_reply()
    # The morning: one question, about Språkcafé only (the flow's own, not the two-row one).
    assert await morning(bot, user) == [t("sv", ASK, time="10:00", activity="Språkcafé", place="Nygatan 19")]
    assert [p["activity_id"] for p in await reports(bot, pid)] == [training, training]


async def test_no_morning_question_when_every_session_of_the_day_is_answered(bot: BotHarness) -> None:
    user, pid = await joined(bot, "sv")
    await activity(bot, pid)
    which = await cant_come(user)
    assert which.button_texts[0] == session_label("sv", TUESDAY, 10)  # one activity: no name
    await user.press(0, message=which)
    await user.next_reply()
    assert await morning(bot, user) == []
    assert len(await reports(bot, pid)) == 1


async def test_the_menu_after_the_morning_question_supersedes_it(bot: BotHarness) -> None:
    user, pid = await joined(bot, "sv")
    aid = await activity(bot, pid)
    [question] = await morning(bot, user)
    which = await cant_come(user)
    await user.press(0, message=which)
    assert (await user.next_reply()).text == WHY
    await user.press(REASONS["transport"])
    assert (await user.next_reply()).text == WORDS
    conversation = await bot.conversation(pid)
    assert conversation is not None and [run["data"]["ref"] for run in conversation.data["runs"]] == [reference(aid, TUESDAY, source="m")]
    assert question


async def test_nothing_coming_up_gets_a_kind_word(bot: BotHarness) -> None:
    user, pid = await joined(bot, "ar")
    ended = await activity(bot, pid, ends_on=date(2027, 2, 8))
    await activity(bot, name="Bilda")  # not theirs
    assert (await cant_come(user)).text == t("ar", NONE_AHEAD) != NONE_AHEAD
    assert await reports(bot, pid) == [] and ended


async def test_old_forged_and_someone_elses_buttons_change_nothing(bot: BotHarness) -> None:
    user, pid = await joined(bot, "sv")
    aid = await activity(bot, pid)
    other = await activity(bot, name="Bilda", weekly=[WeeklyRule(THU, time(13))])
    later = await activity(bot, pid, name="Arbetsträning", weekly=[WeeklyRule(THU, time(9))])
    which = await cant_come(user)
    await bot.settle()
    thursday = date(2027, 2, 11)
    for data, notice in (
        (PREFIX + "x", NOT_YOURS),
        (PREFIX + "12d", NOT_YOURS),
        (PREFIX + reference(aid, TUESDAY, source="m"), NOT_YOURS),  # only the list's own form
        (PREFIX + reference(other, thursday), NOT_YOURS),  # not enrolled: existence is not told
        (PREFIX + reference(aid, TUESDAY + timedelta(days=1)), NOT_YOURS),  # not a session day
        (PREFIX + reference(aid + 99, TUESDAY), NOT_YOURS),
    ):
        assert (await user.press_data(data, message=which)).text == notice, data
    # Today's session cancelled, then the list's button for it.
    async with bot.database.sessions() as session:
        await services.cancel_session(session, SYSTEM, bot.stegvis.settings, activity_id=aid, day=TUESDAY, now=bot.stegvis.clock.now())
        await session.commit()
    assert (await user.press(session_label("sv", TUESDAY, 10, activity="Språkcafé"), message=which)).text == CANCELLED
    # Thursday at 09:05: that session has begun.
    bot.clock.set(local(thursday, 9, 5))
    assert (await user.press(session_label("sv", thursday, 9, activity="Arbetsträning"), message=which)).text == STARTED
    await bot.settle()
    assert await reports(bot, pid) == [] and not which.edited and later


async def test_the_menu_lists_cantcome_in_every_language(bot: BotHarness) -> None:
    scope = BotCommandScopeAllPrivateChats()
    for language in LANGUAGES.values():
        commands = await bot.bot.get_my_commands(scope=scope, language_code=language.telegram_code)
        [entry] = [c for c in commands if c.command == "cantcome"]
        assert entry.description == t(language.code, "Jag kan inte komma")


async def test_someone_who_has_not_joined_yet_is_asked_the_open_question_again(bot: BotHarness) -> None:
    code = await bot.invite("Sara Lindqvist")
    user = bot.user(first_name="Sara")
    await user.send(f"/start {code}")
    picker = await user.next_reply()
    pid = bot.participant_id(code)
    aid = await activity(bot, pid)
    again = await cant_come(user)
    assert again.text == picker.text and again.button_texts == picker.button_texts
    assert (await user.press_data(PREFIX + reference(aid, TUESDAY), message=again)).text == NOT_YOURS
    await bot.settle()
    assert await reports(bot, pid) == []
