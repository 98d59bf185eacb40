"""End to end over HTTP: the real bot, its real aiogram polling loop, the local Bot API sandbox.

Every test drives Telegram users as a person would and checks both what they see (texts in their
language, buttons) and what is stored (participant, consent records, events, conversation).
Expected texts come from the gettext catalogs by their Swedish msgid, so a reworded translation
does not break these tests but an answer in the wrong language, or a missing one, does.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.features.participants.newcomers import BAD_LINK, NO_LINK, REFUSED
from bot.features.participants.stopped import STOPPED
from bot.sandbox import SandboxUser, SentMessage
from flows.library import load_flows
from locales import LANGUAGES, Catalogs
from locales.format import FSI, PDI
from storage.database import Database
from storage.models import ConsentAnswer, ParticipantStatus
from tests.harness import CASEWORKER, BotHarness, help_text_for, start_bot

CATALOGS = Catalogs()
ONBOARDING = load_flows()["onboarding"].steps
LANGUAGE_FLOW = load_flows()["language"].steps
NOTICE_VERSION = "2026-12"
PRIVACY, WELCOME, DECLINED = ONBOARDING["privacy"].say, ONBOARDING["welcome"].say, ONBOARDING["declined"].say
AGREE, DECLINE = (button.label for button in ONBOARDING["privacy"].buttons)
LANGUAGE_SET = LANGUAGE_FLOW["done"].say
STOP_CONFIRMED = "Du får inga fler meddelanden från Stegvis. Skriv /start om du vill börja igen."
WELCOME_BACK = "Välkommen tillbaka! Du får meddelanden från Stegvis igen."
UNKNOWN_COMMAND = "Det kommandot känner jag inte till. Skriv /help."
TOO_LONG = "Ditt meddelande är för långt för mig. Skriv /help för hjälp, eller kontakta din handläggare."
PRESS_A_BUTTON = "Tryck på en av knapparna."
CANNOT_LISTEN = "Jag kan inte lyssna på röstmeddelanden. Ring din handläggare om du vill prata."
CANNOT_OPEN = "Jag kan inte öppna bilder, filer eller klistermärken."
ALREADY_ANSWERED = "Den frågan är redan besvarad."
BUTTON_DOES_NOT_WORK = "Den knappen fungerar inte."
PICK_LANGUAGE = "Välj språk."

FLAGS = re.compile("[\U0001F1E6-\U0001F1FF]")  # regional indicators: the letters of flag emoji
ORDER = [language.native_name for language in LANGUAGES.values()]  # Svenska · العربية · Soomaali · دری · ትግርኛ


def t(language: str | None, msgid: str, **values: object) -> str:
    return CATALOGS.texts(language).gettext(msgid, **values)


def in_all_languages(msgid: str, first: str | None = None) -> str:
    return CATALOGS.in_all_languages(msgid, first)


def picker_labels(first: str | None) -> list[str]:
    """The language buttons: the guessed language first, the others in the fixed order."""
    head = [LANGUAGES[first].native_name] if first else []
    return head + [name for name in ORDER if name not in head]


def assert_nothing_logged(caplog: pytest.LogCaptureFixture) -> None:
    """No error and no exception anywhere: bad input is answered politely, never crashes a handler."""
    bad = [record for record in caplog.records if record.levelno >= logging.ERROR or record.exc_info]
    assert not bad, "\n".join(f"{r.levelname} {r.name}: {r.getMessage()}" for r in bad)


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING)
    return caplog


@pytest.fixture
async def bot_on_each_database(database: Database, tmp_path: Path) -> AsyncIterator[BotHarness]:
    """The bot on conftest's `database`: a SQLite file, and PostgreSQL when it is reachable."""
    async with start_bot(tmp_path, database=database) as harness:
        yield harness


async def joined(harness: BotHarness, name: str, language: str, app_language: str | None = None) -> tuple[SandboxUser, int]:
    """A participant who has opened their link, picked `language` and agreed: (their user, id)."""
    code = await harness.invite(name)
    user = harness.user(first_name=name.split()[0], language_code=app_language)
    await harness.onboard(user, code, language)
    return user, harness.participant_id(code)


async def at_privacy_notice(harness: BotHarness, name: str, language: str) -> tuple[SandboxUser, int, SentMessage]:
    """A participant who has picked `language` and has the privacy notice open."""
    code = await harness.invite(name)
    user = harness.user(first_name=name.split()[0])
    await user.send(f"/start {code}")
    await user.next_reply()
    await user.press(LANGUAGES[language].native_name)
    notice = await user.next_reply()
    await harness.settle()
    return user, harness.participant_id(code), notice


# ---- the happy path, in every language, on SQLite and PostgreSQL ------------------------------

PEOPLE = {
    # language: (name, Telegram app language, the language the picker shows first)
    "sv": ("Sara Lindqvist", "sv", "sv"),
    "ar": ("Hassan Al-Khatib", "ar", "ar"),
    "so": ("Amina Yusuf", "en", None),  # Telegram has no Somali app language
    "fa_AF": ("Zahra Ahmadi", "fa", "fa_AF"),  # Telegram knows Dari as Persian
    "ti": ("Senait Tesfay", None, None),
}


@pytest.mark.parametrize("language", list(PEOPLE))
async def test_onboarding_in_the_chosen_language(bot_on_each_database: BotHarness, log: pytest.LogCaptureFixture, language: str) -> None:
    harness = bot_on_each_database
    name, app_language, first = PEOPLE[language]
    code = await harness.invite(name)
    user = harness.user(first_name=name.split()[0], language_code=app_language)

    await user.send(f"/start {code}")
    picker = await user.next_reply()
    assert picker.button_texts == picker_labels(first)
    assert all(len(row) == 1 for row in picker.buttons)
    assert not FLAGS.search(picker.text + "".join(picker.button_texts))
    assert picker.text.splitlines()[0] == t(first, PICK_LANGUAGE)
    assert set(picker.text.splitlines()) == {t(code_, PICK_LANGUAGE) for code_ in LANGUAGES}

    answer = await user.press(LANGUAGES[language].native_name)
    assert answer.text is None
    notice = await user.next_reply()
    assert notice.text == t(language, PRIVACY, name=name, retention_months=12)
    assert notice.button_texts == [t(language, AGREE), t(language, DECLINE)]
    if language != "sv":
        assert notice.text != t("sv", PRIVACY, name=name, retention_months=12), "the notice must be translated"
    if LANGUAGES[language].rtl:
        assert f"{FSI}{name}{PDI}" in notice.text  # the Latin name keeps its place in a right-to-left text
    else:
        assert FSI not in notice.text and PDI not in notice.text
    await user.wait_for(lambda: picker.edited)
    assert picker.buttons == [] and picker.text.endswith(f"✅ {LANGUAGES[language].native_name}")

    await user.press(t(language, AGREE))
    welcome = await user.next_reply()
    assert welcome.text == t(language, WELCOME)
    assert welcome.buttons == []

    participant_id = harness.participant_id(code)
    participant = await harness.participant(participant_id)
    assert participant.status == ParticipantStatus.ACTIVE
    assert participant.language == language
    assert participant.telegram_chat_id == user.id
    [consent] = await harness.consents(participant_id)
    assert (consent.answer, consent.notice_version) == (ConsentAnswer.AGREED, NOTICE_VERSION)
    events = await harness.events(participant_id)
    assert [(e.type, e.flow, e.step) for e in events] == [
        ("invite_redeemed", None, None),
        ("language_chosen", "onboarding", "language"),
        ("consent", "onboarding", "privacy"),
        ("flow_completed", "onboarding", "welcome"),
    ]
    assert events[1].payload == {"language": language}
    assert events[2].payload == {"answer": "agreed", "notice_version": NOTICE_VERSION}
    assert (await harness.invite_row(code)).used_at is not None
    conversation = await harness.conversation(participant_id)
    assert conversation is not None and (conversation.flow, conversation.step) == (None, None)
    assert_nothing_logged(log)


# ---- declining --------------------------------------------------------------------------------


async def test_declining_the_privacy_notice(running_bot: BotHarness, log: pytest.LogCaptureFixture) -> None:
    user, participant_id, _ = await at_privacy_notice(running_bot, "Amina Yusuf", "so")
    await user.press(t("so", DECLINE))
    declined = await user.next_reply()
    assert declined.text == t("so", DECLINED)
    await running_bot.settle()
    assert user.messages[-1] is declined

    participant = await running_bot.participant(participant_id)
    assert participant.status == ParticipantStatus.INVITED
    assert participant.language == "so"
    [consent] = await running_bot.consents(participant_id)
    assert (consent.answer, consent.notice_version) == (ConsentAnswer.DECLINED, NOTICE_VERSION)
    events = await running_bot.events(participant_id)
    assert [e.type for e in events] == ["invite_redeemed", "language_chosen", "consent", "flow_completed"]
    assert events[2].payload == {"answer": "declined", "notice_version": NOTICE_VERSION}
    assert events[3].step == "declined"
    assert_nothing_logged(log)


async def test_start_after_declining_restarts_onboarding(running_bot: BotHarness) -> None:
    user, participant_id, _ = await at_privacy_notice(running_bot, "Amina Yusuf", "so")
    await user.press(t("so", DECLINE))
    await user.next_reply()

    await user.send("/start")
    picker = await user.next_reply()
    assert picker.button_texts == picker_labels("so")  # their own choice comes first now
    await user.press("Soomaali")
    notice = await user.next_reply()
    assert notice.text == t("so", PRIVACY, name="Amina Yusuf", retention_months=12)
    await user.press(t("so", AGREE))
    assert (await user.next_reply()).text == t("so", WELCOME)

    assert (await running_bot.participant(participant_id)).status == ParticipantStatus.ACTIVE
    consents = await running_bot.consents(participant_id)
    assert [c.answer for c in consents] == [ConsentAnswer.DECLINED, ConsentAnswer.AGREED]
    assert (await running_bot.event_types(participant_id)).count("consent") == 2


# ---- /language, /help, /stop --------------------------------------------------------------------


async def test_language_command_changes_the_language(running_bot: BotHarness) -> None:
    user, participant_id = await joined(running_bot, "Sara Lindqvist", "sv")
    await user.send("/language")
    picker = await user.next_reply()
    assert picker.button_texts == picker_labels("sv")
    await user.press("ትግርኛ")
    confirmation = await user.next_reply()
    assert confirmation.text == t("ti", LANGUAGE_SET) != LANGUAGE_SET
    await running_bot.settle()
    assert user.messages[-1] is confirmation

    participant = await running_bot.participant(participant_id)
    assert participant.language == "ti"
    assert participant.status == ParticipantStatus.ACTIVE
    events = await running_bot.events(participant_id)
    assert [(e.type, e.flow) for e in events[-2:]] == [("language_chosen", "language"), ("flow_completed", "language")]
    assert events[-2].payload == {"language": "ti"}


async def test_language_command_during_onboarding_asks_the_open_question_again(running_bot: BotHarness) -> None:
    user, participant_id, _ = await at_privacy_notice(running_bot, "Hassan Al-Khatib", "sv")
    await user.send("/language")
    picker = await user.next_reply()
    assert picker.button_texts == picker_labels("sv")
    await user.press("العربية")
    assert (await user.next_reply()).text == t("ar", LANGUAGE_SET)
    notice = await user.next_reply()  # the privacy notice again, now in Arabic
    assert notice.text == t("ar", PRIVACY, name="Hassan Al-Khatib", retention_months=12)
    assert (await running_bot.participant(participant_id)).language == "ar"

    await user.press(t("ar", AGREE))
    assert (await user.next_reply()).text == t("ar", WELCOME)
    participant = await running_bot.participant(participant_id)
    assert participant.status == ParticipantStatus.ACTIVE
    [consent] = await running_bot.consents(participant_id)
    assert consent.answer == ConsentAnswer.AGREED


async def test_answering_the_question_that_language_command_interrupted(running_bot: BotHarness, log: pytest.LogCaptureFixture) -> None:
    user, participant_id, notice = await at_privacy_notice(running_bot, "Amina Yusuf", "so")
    await user.send("/language")
    await user.next_reply()  # the picker, left unanswered
    await user.press(t("so", AGREE), message=notice)  # back to the privacy notice instead
    assert (await user.next_reply()).text == t("so", WELCOME)
    participant = await running_bot.participant(participant_id)
    assert (participant.status, participant.language) == (ParticipantStatus.ACTIVE, "so")
    [consent] = await running_bot.consents(participant_id)
    assert consent.answer == ConsentAnswer.AGREED
    assert_nothing_logged(log)


async def test_language_command_while_choosing_a_language_shows_the_same_picker(running_bot: BotHarness) -> None:
    code = await running_bot.invite("Senait Tesfay")
    user = running_bot.user(first_name="Senait")
    await user.send(f"/start {code}")
    first = await user.next_reply()
    await user.send("/language")
    again = await user.next_reply()
    assert (again.text, again.buttons) == (first.text, first.buttons)  # the onboarding picker itself
    await user.press("ትግርኛ")
    assert (await user.next_reply()).text == t("ti", PRIVACY, name="Senait Tesfay", retention_months=12)  # onboarding goes on


async def test_help_names_the_caseworker_in_the_participants_language(running_bot: BotHarness) -> None:
    user, _ = await joined(running_bot, "Zahra Ahmadi", "fa_AF")
    await user.send("/help")
    help_text = await user.next_reply()
    assert help_text.text == help_text_for(CATALOGS, "fa_AF", CASEWORKER)
    assert f"{FSI}{CASEWORKER}{PDI}" in help_text.text
    await running_bot.settle()
    assert user.messages[-1] is help_text  # no question open, so nothing more


async def test_help_while_a_question_is_open_repeats_the_question(running_bot: BotHarness) -> None:
    user, participant_id, _ = await at_privacy_notice(running_bot, "Senait Tesfay", "ti")
    await user.send("/help")
    assert (await user.next_reply()).text == help_text_for(CATALOGS, "ti", CASEWORKER)
    question = await user.next_reply()
    assert question.text == t("ti", PRIVACY, name="Senait Tesfay", retention_months=12)
    assert question.button_texts == [t("ti", AGREE), t("ti", DECLINE)]
    await user.press(t("ti", AGREE))  # the repeated question works
    assert (await user.next_reply()).text == t("ti", WELCOME)
    assert (await running_bot.participant(participant_id)).status == ParticipantStatus.ACTIVE


async def test_stop_stops_the_participant(running_bot: BotHarness) -> None:
    user, participant_id = await joined(running_bot, "Hassan Al-Khatib", "ar")
    await user.send("/stop")
    assert (await user.next_reply()).text == t("ar", STOP_CONFIRMED)
    participant = await running_bot.participant(participant_id)
    assert participant.status == ParticipantStatus.STOPPED
    assert (await running_bot.event_types(participant_id))[-1] == "participant_stopped"


async def test_after_stop_every_message_gets_only_the_stopped_answer(running_bot: BotHarness, log: pytest.LogCaptureFixture) -> None:
    user, participant_id = await joined(running_bot, "Amina Yusuf", "so")
    await user.send("/stop")
    await user.next_reply()
    await running_bot.settle()
    stored = await running_bot.snapshot()
    sent = len(user.messages)

    for action in (lambda: user.send("Hej"), user.send_photo, user.send_voice, lambda: user.send("/help"), lambda: user.send("/language")):
        await action()
        assert (await user.next_reply()).text == t("so", STOPPED)
        await running_bot.settle()
    assert len(user.messages) == sent + 5  # one answer each, nothing else
    answer = await user.press_data("s:onboarding:privacy:agree", message=user.messages[0])
    assert answer.text == t("so", STOPPED)
    await running_bot.settle()
    assert len(user.messages) == sent + 5
    assert await running_bot.snapshot() == stored
    assert (await running_bot.participant(participant_id)).status == ParticipantStatus.STOPPED
    assert_nothing_logged(log)


async def test_start_after_stop_welcomes_the_participant_back(running_bot: BotHarness) -> None:
    user, participant_id = await joined(running_bot, "Zahra Ahmadi", "fa_AF")
    await user.send("/stop")
    await user.next_reply()
    await user.send("/start")
    assert (await user.next_reply()).text == t("fa_AF", WELCOME_BACK)
    participant = await running_bot.participant(participant_id)
    assert participant.status == ParticipantStatus.ACTIVE
    assert (await running_bot.event_types(participant_id))[-2:] == ["participant_stopped", "participant_resumed"]


# ---- people without a (valid) invite ------------------------------------------------------------


async def stranger_case(harness: BotHarness) -> dict:
    """Someone else's pending invite, so 'nothing stored' also means 'no participant changed'."""
    await harness.invite("Sara Lindqvist")
    await harness.settle()
    return await harness.snapshot()


@pytest.mark.parametrize("what", ["/start", "Hej, jag heter Ali", "/foo"])
async def test_message_without_an_invite_gets_ask_your_caseworker(running_bot: BotHarness, log: pytest.LogCaptureFixture, what: str) -> None:
    stored = await stranger_case(running_bot)
    stranger = running_bot.user(first_name="Ali", language_code="ar")
    await stranger.send(what)
    reply = await stranger.next_reply()
    assert reply.text == in_all_languages(NO_LINK, "ar")
    assert reply.text.splitlines()[0] == t("ar", NO_LINK)
    assert len(reply.text) <= 200
    assert reply.buttons == []
    await running_bot.settle()
    assert stranger.messages == [reply]
    assert await running_bot.snapshot() == stored
    assert_nothing_logged(log)


async def test_button_without_an_invite_gets_ask_your_caseworker(running_bot: BotHarness, log: pytest.LogCaptureFixture) -> None:
    stored = await stranger_case(running_bot)
    stranger = running_bot.user(first_name="Ali")
    await stranger.send("Hej")
    first = await stranger.next_reply()
    answer = await stranger.press_data("s:onboarding:language:sv", message=first)
    assert answer.text == in_all_languages(NO_LINK)
    assert len(answer.text) <= 200
    await running_bot.settle()
    assert stranger.messages == [first]
    assert await running_bot.snapshot() == stored
    assert_nothing_logged(log)


async def test_unknown_invite_code_is_refused(running_bot: BotHarness, log: pytest.LogCaptureFixture) -> None:
    stored = await stranger_case(running_bot)
    stranger = running_bot.user(first_name="Ali", language_code="sv")
    await stranger.send("/start NoSuchCode123")
    reply = await stranger.next_reply()
    assert reply.text == in_all_languages(BAD_LINK, "sv")
    assert len(reply.text) <= 200
    await running_bot.settle()
    assert stranger.messages == [reply]
    assert await running_bot.snapshot() == stored
    assert_nothing_logged(log)


async def test_expired_invite_code_is_refused(running_bot: BotHarness, log: pytest.LogCaptureFixture) -> None:
    code = await running_bot.invite("Senait Tesfay", language="ti")
    await running_bot.expire_invite(code)
    stored = await running_bot.snapshot()
    user = running_bot.user(first_name="Senait")
    await user.send(f"/start {code}")
    reply = await user.next_reply()
    assert reply.text == in_all_languages(REFUSED["expired"], "ti")  # the caseworker's preset language first
    assert len(reply.text) <= 200
    await running_bot.settle()
    assert user.messages == [reply]
    assert await running_bot.snapshot() == stored
    participant = await running_bot.participant(running_bot.participant_id(code))
    assert (participant.telegram_chat_id, participant.status) == (None, ParticipantStatus.INVITED)
    assert_nothing_logged(log)


async def test_invite_used_by_another_telegram_user_is_refused(running_bot: BotHarness, log: pytest.LogCaptureFixture) -> None:
    code = await running_bot.invite("Sara Lindqvist")
    owner = running_bot.user(first_name="Sara", language_code="sv")
    await running_bot.onboard(owner, code, "sv")
    stored = await running_bot.snapshot()

    other = running_bot.user(first_name="Someone", language_code="so")
    await other.send(f"/start {code}")
    reply = await other.next_reply()
    assert reply.text == in_all_languages(REFUSED["used"], "so")
    assert len(reply.text) <= 200
    await running_bot.settle()
    assert other.messages == [reply]
    assert await running_bot.snapshot() == stored
    participant = await running_bot.participant(running_bot.participant_id(code))
    assert participant.telegram_chat_id == owner.id
    assert_nothing_logged(log)


# ---- what the bot cannot read -------------------------------------------------------------------

MEDIA = {
    "sticker": (lambda user: user.send_sticker(), CANNOT_OPEN),
    "photo": (lambda user: user.send_photo(caption="Mitt schema"), CANNOT_OPEN),
    "voice": (lambda user: user.send_voice(), CANNOT_LISTEN),
    "document": (lambda user: user.send_document(), CANNOT_OPEN),
}


@pytest.mark.parametrize("kind", list(MEDIA))
async def test_media_gets_a_polite_answer(running_bot: BotHarness, log: pytest.LogCaptureFixture, kind: str) -> None:
    user, participant_id = await joined(running_bot, "Hassan Al-Khatib", "ar")
    stored = await running_bot.snapshot()
    send, msgid = MEDIA[kind]
    await send(user)
    reply = await user.next_reply()
    assert reply.text == t("ar", msgid) != msgid
    await running_bot.settle()
    assert user.messages[-1] is reply
    assert await running_bot.snapshot() == stored
    assert_nothing_logged(log)


@pytest.mark.parametrize("kind", list(MEDIA))
async def test_media_while_a_question_is_open_repeats_the_question(running_bot: BotHarness, log: pytest.LogCaptureFixture, kind: str) -> None:
    user, participant_id, _ = await at_privacy_notice(running_bot, "Amina Yusuf", "so")
    stored = await running_bot.snapshot()
    send, msgid = MEDIA[kind]
    await send(user)
    reply = await user.next_reply()
    assert reply.text == f"{t('so', msgid)}\n\n{t('so', PRIVACY, name='Amina Yusuf', retention_months=12)}"
    assert reply.button_texts == [t("so", AGREE), t("so", DECLINE)]
    await running_bot.settle()
    assert user.messages[-1] is reply
    assert await running_bot.snapshot() == stored
    assert_nothing_logged(log)


async def test_very_long_text_gets_the_too_long_answer(running_bot: BotHarness, log: pytest.LogCaptureFixture) -> None:
    user, _ = await joined(running_bot, "Senait Tesfay", "ti")
    stored = await running_bot.snapshot()
    await user.send("ሰላም " * 1250)  # 5000 characters
    reply = await user.next_reply()
    assert reply.text == t("ti", TOO_LONG) != TOO_LONG
    await running_bot.settle()
    assert user.messages[-1] is reply
    assert await running_bot.snapshot() == stored
    assert_nothing_logged(log)


async def test_text_while_a_question_is_open_asks_for_a_button(running_bot: BotHarness, log: pytest.LogCaptureFixture) -> None:
    user, _, _ = await at_privacy_notice(running_bot, "Sara Lindqvist", "sv")
    stored = await running_bot.snapshot()
    await user.send("ja")
    reply = await user.next_reply()
    assert reply.text == f"{PRESS_A_BUTTON}\n\n{t('sv', PRIVACY, name='Sara Lindqvist', retention_months=12)}"
    assert await running_bot.snapshot() == stored
    assert_nothing_logged(log)


async def test_unknown_command_gets_the_unknown_command_answer(running_bot: BotHarness, log: pytest.LogCaptureFixture) -> None:
    user, _ = await joined(running_bot, "Zahra Ahmadi", "fa_AF")
    stored = await running_bot.snapshot()
    await user.send("/foo")
    reply = await user.next_reply()
    assert reply.text == t("fa_AF", UNKNOWN_COMMAND) != UNKNOWN_COMMAND
    await running_bot.settle()
    assert user.messages[-1] is reply
    assert await running_bot.snapshot() == stored
    assert_nothing_logged(log)


# ---- buttons that no longer work, or never did ----------------------------------------------------


async def test_button_on_an_answered_question_gets_already_answered(running_bot: BotHarness, log: pytest.LogCaptureFixture) -> None:
    user, _ = await joined(running_bot, "Senait Tesfay", "ti")
    picker = user.messages[0]  # the onboarding language picker, long since answered
    stored = await running_bot.snapshot()
    sent = len(user.messages)
    answer = await user.press_data("s:onboarding:language:sv", message=picker)
    assert answer.text == t("ti", ALREADY_ANSWERED) != ALREADY_ANSWERED
    assert t("sv", ALREADY_ANSWERED) == "Den frågan är redan besvarad."
    await running_bot.settle()
    assert len(user.messages) == sent
    assert await running_bot.snapshot() == stored
    assert_nothing_logged(log)


JUNK = "𝄞" * 15 + "\x00:\x1f:"  # 64 bytes of UTF-8, the most callback data can hold


@pytest.mark.parametrize("data", ["s:onboarding:privacy:hack", "garbage", JUNK], ids=["unknown-option", "garbage", "64-bytes-junk"])
async def test_forged_callback_data_is_refused(running_bot: BotHarness, log: pytest.LogCaptureFixture, data: str) -> None:
    assert len(JUNK.encode()) == 64
    user, participant_id, notice = await at_privacy_notice(running_bot, "Hassan Al-Khatib", "ar")
    stored = await running_bot.snapshot()
    answer = await user.press_data(data, message=notice)
    assert answer.text == t("ar", BUTTON_DOES_NOT_WORK) != BUTTON_DOES_NOT_WORK
    assert t("sv", BUTTON_DOES_NOT_WORK) == "Den knappen fungerar inte."
    question = await user.next_reply()  # where the conversation really is
    assert question.text == notice.text and question.buttons == notice.buttons
    await running_bot.settle()
    assert await running_bot.snapshot() == stored
    participant = await running_bot.participant(participant_id)
    assert participant.status == ParticipantStatus.INVITED
    assert await running_bot.consents(participant_id) == []
    assert_nothing_logged(log)


# ---- participants who block the bot ---------------------------------------------------------------


async def test_participant_who_blocked_the_bot_becomes_unreachable_on_the_next_send(running_bot: BotHarness, log: pytest.LogCaptureFixture) -> None:
    user, participant_id = await joined(running_bot, "Amina Yusuf", "so")
    sent = len(running_bot.sandbox.sent_messages())
    await user.send("/help")
    # They block the bot before it answers, and Telegram's my_chat_member update has not come yet.
    user.blocked = True
    await running_bot.settle()
    assert len(running_bot.sandbox.sent_messages()) == sent  # the answer got 403
    participant = await running_bot.participant(participant_id)
    assert participant.status == ParticipantStatus.UNREACHABLE
    assert (await running_bot.event_types(participant_id))[-1] == "participant_unreachable"
    assert_nothing_logged(log)


async def test_participant_who_blocks_right_after_pressing_becomes_unreachable(running_bot: BotHarness, log: pytest.LogCaptureFixture) -> None:
    user, participant_id, _ = await at_privacy_notice(running_bot, "Amina Yusuf", "so")
    pressing = asyncio.create_task(user.press(t("so", AGREE)))
    await asyncio.sleep(0)  # the press is on its way
    user.blocked = True  # before the bot can mark the question answered or say welcome
    await pressing
    await running_bot.settle()
    participant = await running_bot.participant(participant_id)
    assert participant.status == ParticipantStatus.UNREACHABLE
    [consent] = await running_bot.consents(participant_id)  # the answer is kept all the same
    assert consent.answer == ConsentAnswer.AGREED
    assert (await running_bot.event_types(participant_id))[-1] == "participant_unreachable"
    assert_nothing_logged(log)


async def test_blocking_the_bot_marks_the_participant_unreachable(running_bot: BotHarness, log: pytest.LogCaptureFixture) -> None:
    user, participant_id = await joined(running_bot, "Hassan Al-Khatib", "ar")
    sent = len(user.messages)
    user.block()  # Telegram sends my_chat_member: member → kicked
    await running_bot.settle()
    participant = await running_bot.participant(participant_id)
    assert participant.status == ParticipantStatus.UNREACHABLE
    assert (await running_bot.event_types(participant_id))[-1] == "participant_unreachable"
    assert len(user.messages) == sent
    assert_nothing_logged(log)


async def test_writing_after_unblocking_makes_the_participant_active_again(running_bot: BotHarness, log: pytest.LogCaptureFixture) -> None:
    user, participant_id = await joined(running_bot, "Hassan Al-Khatib", "ar")
    user.block()
    await running_bot.settle()
    user.unblock()  # Telegram sends my_chat_member: kicked → member
    await running_bot.settle()
    assert (await running_bot.participant(participant_id)).status == ParticipantStatus.ACTIVE
    await user.send("/help")
    assert (await user.next_reply()).text == help_text_for(CATALOGS, "ar", CASEWORKER)
    participant = await running_bot.participant(participant_id)
    assert participant.status == ParticipantStatus.ACTIVE
    types = await running_bot.event_types(participant_id)
    assert types[-2:] == ["participant_unreachable", "participant_reachable"]
    assert_nothing_logged(log)


async def test_unreachable_participant_who_writes_again_is_active_again(running_bot: BotHarness, log: pytest.LogCaptureFixture) -> None:
    user, participant_id = await joined(running_bot, "Zahra Ahmadi", "fa_AF")
    await user.send("/help")
    user.blocked = True  # the answer gets 403: unreachable, and no my_chat_member update
    await running_bot.settle()
    assert (await running_bot.participant(participant_id)).status == ParticipantStatus.UNREACHABLE

    user.blocked = False
    await user.send("/help")  # a handler that only answers: the status must be stored all the same
    assert (await user.next_reply()).text == help_text_for(CATALOGS, "fa_AF", CASEWORKER)
    await running_bot.settle()
    participant = await running_bot.participant(participant_id)
    assert participant.status == ParticipantStatus.ACTIVE
    assert (await running_bot.event_types(participant_id))[-1] == "participant_reachable"
    assert_nothing_logged(log)


async def test_stopped_participant_who_blocks_and_unblocks_stays_stopped(running_bot: BotHarness, log: pytest.LogCaptureFixture) -> None:
    user, participant_id = await joined(running_bot, "Sara Lindqvist", "sv")
    await user.send("/stop")
    await user.next_reply()
    user.block()
    await running_bot.settle()
    user.unblock()
    await running_bot.settle()
    assert (await running_bot.participant(participant_id)).status == ParticipantStatus.STOPPED
    await user.send("Hej")
    assert (await user.next_reply()).text == STOPPED
    assert_nothing_logged(log)
