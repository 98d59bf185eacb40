"""Appointment reminders end to end: the real bot over HTTP, the sandbox's participants pressing.

Each test books an appointment straight into the database for an onboarded participant and
delivers a message exactly as the outbox sender does: the registered composer writes it, its
unit of work is committed, then it is sent. The participant then
answers as a person would. Expected texts come from the catalogs by their Swedish msgid, with the
day and time formatted by Babel in the participant's locale, so a reworded translation does not
break these tests but an answer in the wrong language, or about the wrong appointment, does.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot.features.appointments.messages import CANCELLED, DEFAULT_TITLE, MOVED, NOT_YOURS, PASSED
from bot.features.participants.recipients import ParticipantRecipients
from bot.features.participants.stopped import STOPPED
from bot.telegram.rendering import keyboard
from flows.engine import State
from bot.sandbox import SandboxUser, SentMessage
from flows.library import load_flows
from locales import LANGUAGES, Catalogs
from locales.format import FSI, PDI, format_clock, format_day
from storage.models import Appointment, AppointmentStatus, Conversation, Event, OutboxMessage
from storage.writer import apply_changes
from tests.harness import CASEWORKER, BotHarness, help_text_for

CATALOGS = Catalogs()
FLOW = load_flows()["reminder"].steps
REMINDER, MOVED_NOTICE, CANCELLED_NOTICE = FLOW["ask"].say, FLOW["moved"].say, FLOW["cancelled"].say
COMING, CANT_COME, NEW_TIME = (button.label for button in FLOW["ask"].buttons)
REASONS = {button.id: button.label for button in FLOW["reason"].buttons}
NO_THANKS = FLOW["words"].buttons[0].label
SEE_YOU, THANKS, NEW_TIME_THANKS = FLOW["see_you"].say, FLOW["thanks"].say, FLOW["new_time"].say
WHY, WORDS = FLOW["reason"].say, FLOW["words"].say
TOO_LONG = "Det är för långt. Skriv högst {n} tecken."
PRESS_A_BUTTON = "Tryck på en av knapparna."
CANNOT_READ = "Jag kan inte läsa fria meddelanden. Skriv /help för hjälp, eller kontakta din handläggare."
PEOPLE = {"sv": "Sara Lindqvist", "ar": "Hassan Al-Khatib", "so": "Amina Yusuf", "fa_AF": "Zahra Ahmadi", "ti": "Senait Tesfay"}


def t(language: str, msgid: str, **values: object) -> str:
    return CATALOGS.texts(language).gettext(msgid, **values)


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING)
    return caplog


def assert_nothing_logged(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, "\n".join(f"{r.levelname} {r.name}: {r.getMessage()}" for r in bad)


# ---- the caseworker's and the sender's side, straight in the database ----------------------------


async def joined(harness: BotHarness, language: str, name: str | None = None) -> tuple[SandboxUser, int]:
    """An onboarded participant who speaks `language`: (their Telegram user, participant id)."""
    name = name or PEOPLE[language]
    code = await harness.invite(name)
    user = harness.user(first_name=name.split()[0])
    await harness.onboard(user, code, language)
    return user, harness.participant_id(code)


def local_days_ahead(harness: BotHarness, days: int, hour: int = 10, minute: int = 30) -> datetime:
    tz = harness.stegvis.settings.tz
    day = (harness.stegvis.clock.now().astimezone(tz) + timedelta(days=days)).date()
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)


async def book(harness: BotHarness, participant_id: int, starts_at: datetime, place: str = "Nygatan 19", title: str | None = None) -> int:
    async with harness.database.sessions() as session:
        now = harness.stegvis.clock.now()
        appointment = Appointment(
            participant_id=participant_id, starts_at=starts_at, place=place, title=title, version=1, status=AppointmentStatus.BOOKED, created_at=now, updated_at=now
        )
        session.add(appointment)
        await session.commit()
        return appointment.id


async def change(harness: BotHarness, appointment_id: int, **values: object) -> None:
    """What `stegvis appointment move/cancel` change on the row (the booking code does the rest)."""
    async with harness.database.sessions() as session:
        appointment = await session.get(Appointment, appointment_id)
        assert appointment is not None
        for name, value in values.items():
            setattr(appointment, name, value)
        await session.commit()


async def deliver(harness: BotHarness, user: SandboxUser, participant_id: int, appointment_id: int, kind: str = "reminder") -> list[SentMessage]:
    """What the outbox sender does with a due row: compose, commit its unit of work, send."""
    before = len(user.messages)
    stegvis, now = harness.stegvis, harness.stegvis.clock.now()
    async with harness.database.sessions() as session:
        addressee = (await ParticipantRecipients().load(session, [participant_id]))[participant_id]
        appointment = await session.get(Appointment, appointment_id)
        assert addressee.participant is not None and appointment is not None
        row = OutboxMessage(
            id=appointment_id * 100 + len(user.messages), idempotency_key=f"test:{appointment_id}:{len(user.messages)}", recipient_kind="participant",
            recipient_id=participant_id, channel="telegram", subject_kind="appointment", subject_id=appointment_id, subject_version=appointment.version,
            composer=f"appointment.{kind}", slot="", payload={}, due_at=now,
        )
        sprint = stegvis.features.composers[row.composer].compose(addressee, appointment, row)
        participant = addressee.participant
        await apply_changes(session, stegvis.conversations.changes_for(participant, sprint, State.from_dict(participant.conversation), now))
        await session.commit()
    for message in sprint.messages:
        await harness.bot.send_message(user.id, message.text, reply_markup=keyboard(message))
    await harness.settle()
    return user.messages[before:]


async def appointment(harness: BotHarness, appointment_id: int) -> Appointment:
    async with harness.database.sessions() as session:
        found = await session.get(Appointment, appointment_id)
        assert found is not None
        return found


async def appointment_events(harness: BotHarness, participant_id: int) -> list[tuple[str, dict]]:
    return [(e.type, e.payload) for e in await harness.events(participant_id) if e.type.startswith("appointment_") or e.flow == "reminder"]


async def stored_rows(harness: BotHarness) -> dict[str, list[tuple]]:
    """Every stored row, the appointments too, to show that a press changed nothing."""
    rows = await harness.snapshot()
    async with harness.database.sessions() as session:
        rows["appointments"] = sorted(
            (a.id, a.version, str(a.status), a.answer, str(a.answered_at)) for a in await session.scalars(select(Appointment))
        )
    return rows


def reminder_text(harness: BotHarness, language: str, starts_at: datetime, place: str = "Nygatan 19", title: str | None = None, msgid: str = REMINDER) -> str:
    tz, lang = harness.stegvis.settings.tz, LANGUAGES[language]
    values = {"title": title or t(language, DEFAULT_TITLE), "day": format_day(starts_at, lang, tz), "time": format_clock(starts_at, lang, tz), "place": place}
    return t(language, msgid, **values)


# ---- answering a reminder, in every language ---------------------------------------------------


@pytest.mark.parametrize("language", list(PEOPLE))
async def test_a_reminder_in_the_participants_language_answered_i_will_come(running_bot: BotHarness, log: pytest.LogCaptureFixture, language: str) -> None:
    user, participant_id = await joined(running_bot, language)
    starts_at = local_days_ahead(running_bot, 3)
    appointment_id = await book(running_bot, participant_id, starts_at)

    [reminder] = await deliver(running_bot, user, participant_id, appointment_id)
    assert reminder.text == reminder_text(running_bot, language, starts_at)
    assert reminder.button_texts == [t(language, COMING), t(language, CANT_COME), t(language, NEW_TIME)]
    assert len(reminder.text) <= 200
    tz, lang = running_bot.stegvis.settings.tz, LANGUAGES[language]
    assert format_day(starts_at, lang, tz) in reminder.text and format_clock(starts_at, lang, tz) in reminder.text
    if lang.rtl:  # values and Latin words keep their place in a right-to-left line
        assert f"{FSI}Nygatan 19{PDI}" in reminder.text and f"{FSI}{format_clock(starts_at, lang, tz)}{PDI}" in reminder.text
    else:
        assert FSI not in reminder.text
    if language != "sv":
        assert reminder.text != reminder_text(running_bot, "sv", starts_at)

    answer = await user.press(t(language, COMING))
    assert answer.text is None
    assert (await user.next_reply()).text == t(language, SEE_YOU)
    assert reminder.edited and reminder.buttons == []
    assert reminder.text.endswith(f"\n\n✅ {t(language, COMING)}")

    booked = await appointment(running_bot, appointment_id)
    assert booked.answer == "coming" and booked.answered_at is not None
    assert await appointment_events(running_bot, participant_id) == [
        ("appointment_answer", {"appointment_id": appointment_id, "version": 1, "answer": "coming"}),
        ("flow_completed", {"appointment_id": appointment_id, "version": 1, "flow": "reminder"}),
    ]
    conversation = await running_bot.conversation(participant_id)
    assert conversation is not None and (conversation.flow, conversation.step) == (None, None)
    assert_nothing_logged(log)


async def test_i_cant_come_asks_why_and_takes_a_few_words(running_bot: BotHarness, log: pytest.LogCaptureFixture) -> None:
    user, participant_id = await joined(running_bot, "so")
    appointment_id = await book(running_bot, participant_id, local_days_ahead(running_bot, 1, 13, 15), title="Språkcafé Vi Ses!")
    [reminder] = await deliver(running_bot, user, participant_id, appointment_id)
    assert reminder.text.startswith(t("so", REMINDER, title="Språkcafé Vi Ses!", day="", time="", place="").split("\n")[0])

    await user.press(t("so", CANT_COME))
    why = await user.next_reply()
    assert why.text == t("so", WHY)
    assert why.button_texts == [t("so", label) for label in REASONS.values()]
    await user.press(t("so", REASONS["child_sick"]))
    words = await user.next_reply()
    assert words.text == t("so", WORDS) and words.button_texts == [t("so", NO_THANKS)]
    assert why.text.endswith(f"✅ {t('so', REASONS['child_sick'])}")

    note = "Wiilkaygu wuu jiran yahay, berri ayaan ku soo wacayaa."
    await user.send(note)
    assert (await user.next_reply()).text == t("so", THANKS)

    assert (await appointment(running_bot, appointment_id)).answer == "cant_come"
    ids = {"appointment_id": appointment_id, "version": 1}
    assert await appointment_events(running_bot, participant_id) == [
        ("appointment_answer", {**ids, "answer": "cant_come"}),
        ("appointment_decline_reason", {**ids, "answer": "child_sick"}),
        ("appointment_decline_note", {**ids, "text": note}),
        ("flow_completed", {**ids, "flow": "reminder"}),
    ]
    # The text may be private: it is in the event log and nowhere else.
    stored = await stored_rows(running_bot)
    assert [table for table, rows in stored.items() if any(note in str(row) for row in rows)] == ["events"]
    assert_nothing_logged(log)


async def test_i_cant_come_with_a_reason_and_no_words(running_bot: BotHarness, log: pytest.LogCaptureFixture) -> None:
    user, participant_id = await joined(running_bot, "ti")
    appointment_id = await book(running_bot, participant_id, local_days_ahead(running_bot, 2))
    await deliver(running_bot, user, participant_id, appointment_id)
    await user.press(t("ti", CANT_COME))
    await user.next_reply()
    await user.press(t("ti", REASONS["transport"]))
    await user.next_reply()
    await user.press(t("ti", NO_THANKS))
    assert (await user.next_reply()).text == t("ti", THANKS)
    assert [(type_, payload.get("answer")) for type_, payload in await appointment_events(running_bot, participant_id)] == [
        ("appointment_answer", "cant_come"),
        ("appointment_decline_reason", "transport"),
        ("appointment_note_skipped", "skip"),
        ("flow_completed", None),
    ]
    assert_nothing_logged(log)


async def test_i_need_another_time(running_bot: BotHarness, log: pytest.LogCaptureFixture) -> None:
    user, participant_id = await joined(running_bot, "fa_AF")
    appointment_id = await book(running_bot, participant_id, local_days_ahead(running_bot, 3))
    await deliver(running_bot, user, participant_id, appointment_id)
    await user.press(t("fa_AF", NEW_TIME))
    assert (await user.next_reply()).text == t("fa_AF", NEW_TIME_THANKS)
    assert (await appointment(running_bot, appointment_id)).answer == "new_time"
    assert_nothing_logged(log)


async def test_words_that_are_too_long_are_asked_again_and_nothing_is_lost(running_bot: BotHarness, log: pytest.LogCaptureFixture) -> None:
    user, participant_id = await joined(running_bot, "ar")
    appointment_id = await book(running_bot, participant_id, local_days_ahead(running_bot, 3))
    await deliver(running_bot, user, participant_id, appointment_id)
    await user.press(t("ar", CANT_COME))
    await user.next_reply()
    await user.press(t("ar", REASONS["other"]))
    words = await user.next_reply()
    stored = await stored_rows(running_bot)

    await user.send("ب" * 201)
    again = await user.next_reply()
    hint = CATALOGS.texts("ar").ngettext(TOO_LONG, TOO_LONG, 200)
    assert again.text == f"{hint}\n\n{words.text}" and again.buttons == words.buttons
    assert f"{FSI}200{PDI}" in hint
    await running_bot.settle()
    assert await stored_rows(running_bot) == stored

    await user.send("الحافلة لا تعمل ذلك اليوم.")
    assert (await user.next_reply()).text == t("ar", THANKS)
    assert (await appointment_events(running_bot, participant_id))[-2] == (
        "appointment_decline_note", {"appointment_id": appointment_id, "version": 1, "text": "الحافلة لا تعمل ذلك اليوم."},
    )
    assert_nothing_logged(log)


async def test_help_while_a_reminder_is_open_shows_it_again(running_bot: BotHarness, log: pytest.LogCaptureFixture) -> None:
    user, participant_id = await joined(running_bot, "sv")
    appointment_id = await book(running_bot, participant_id, local_days_ahead(running_bot, 3))
    [reminder] = await deliver(running_bot, user, participant_id, appointment_id)
    await user.send("/help")
    help_text, question = await user.next_reply(), await user.next_reply()
    assert help_text.text == help_text_for(CATALOGS, "sv", CASEWORKER)
    assert (question.text, question.buttons) == (reminder.text, reminder.buttons)
    await user.send("ja")
    nudge = await user.next_reply()
    assert nudge.text == f"{PRESS_A_BUTTON}\n\n{reminder.text}"
    await user.press(COMING, message=nudge)
    assert (await user.next_reply()).text == SEE_YOU
    assert (await appointment(running_bot, appointment_id)).answer == "coming"
    assert_nothing_logged(log)


# ---- two appointments, older messages, a changed mind --------------------------------------------


async def test_an_older_reminder_can_be_answered_after_a_newer_question(running_bot: BotHarness, log: pytest.LogCaptureFixture) -> None:
    user, participant_id = await joined(running_bot, "ar")
    tuesday = await book(running_bot, participant_id, local_days_ahead(running_bot, 2), place="Nygatan 19")
    thursday = await book(running_bot, participant_id, local_days_ahead(running_bot, 4, 9, 0), place="Skäggetorp centrum", title="Arbetsplatskörkortet")
    [first] = await deliver(running_bot, user, participant_id, tuesday)
    [second] = await deliver(running_bot, user, participant_id, thursday)
    assert first.buttons != second.buttons

    # Tuesday's reminder, answered after Thursday's came in: its whole conversation still works.
    await user.press(t("ar", CANT_COME), message=first)
    await user.next_reply()
    await user.press(t("ar", REASONS["other_appt"]))
    await user.next_reply()
    await user.send("عندي موعد في مكتب العمل.")
    assert (await user.next_reply()).text == t("ar", THANKS)
    assert (await appointment(running_bot, tuesday)).answer == "cant_come"
    assert (await appointment(running_bot, thursday)).answer is None

    # Thursday's question is open again, untouched: /help shows it, and it answers Thursday.
    await user.send("/help")
    await user.next_reply()
    shown = await user.next_reply()
    assert (shown.text, shown.buttons) == (second.text, second.buttons)
    await user.press(t("ar", COMING), message=second)
    assert (await user.next_reply()).text == t("ar", SEE_YOU)
    assert (await appointment(running_bot, thursday)).answer == "coming"
    assert (await appointment(running_bot, tuesday)).answer == "cant_come"
    answers = [(p["appointment_id"], p["answer"]) for type_, p in await appointment_events(running_bot, participant_id) if type_ == "appointment_answer"]
    assert answers == [(tuesday, "cant_come"), (thursday, "coming")]
    assert_nothing_logged(log)


async def test_a_changed_mind_on_the_earlier_reminder_replaces_the_answer(running_bot: BotHarness, log: pytest.LogCaptureFixture) -> None:
    user, participant_id = await joined(running_bot, "sv")
    appointment_id = await book(running_bot, participant_id, local_days_ahead(running_bot, 3))
    [three_days] = await deliver(running_bot, user, participant_id, appointment_id)
    [one_day] = await deliver(running_bot, user, participant_id, appointment_id)
    await user.press(COMING, message=one_day)
    await user.next_reply()
    await user.press(NEW_TIME, message=three_days)
    assert (await user.next_reply()).text == NEW_TIME_THANKS
    assert (await appointment(running_bot, appointment_id)).answer == "new_time"
    answers = [p["answer"] for type_, p in await appointment_events(running_bot, participant_id) if type_ == "appointment_answer"]
    assert answers == ["coming", "new_time"]  # the log keeps every answer
    assert_nothing_logged(log)


# ---- buttons that no longer answer -----------------------------------------------------------------


async def test_a_cancelled_appointments_button_says_so_and_changes_nothing(running_bot: BotHarness, log: pytest.LogCaptureFixture) -> None:
    user, participant_id = await joined(running_bot, "fa_AF")
    starts_at = local_days_ahead(running_bot, 3)
    appointment_id = await book(running_bot, participant_id, starts_at)
    [reminder] = await deliver(running_bot, user, participant_id, appointment_id)
    await change(running_bot, appointment_id, status=AppointmentStatus.CANCELLED)
    [notice] = await deliver(running_bot, user, participant_id, appointment_id, kind="cancelled")
    assert notice.text == reminder_text(running_bot, "fa_AF", starts_at, msgid=CANCELLED_NOTICE) and notice.buttons == []
    stored = await stored_rows(running_bot)

    answer = await user.press(t("fa_AF", COMING), message=reminder)
    assert answer.text == t("fa_AF", CANCELLED) != CANCELLED
    await running_bot.settle()
    assert user.messages[-1] is notice and not reminder.edited
    assert await stored_rows(running_bot) == stored
    assert (await appointment(running_bot, appointment_id)).answer is None

    # The cancelled reminder is no longer the open question: /help does not show it again.
    await user.send("/help")
    assert (await user.next_reply()).text == help_text_for(CATALOGS, "fa_AF", CASEWORKER)
    await running_bot.settle()
    assert user.messages[-1].text == help_text_for(CATALOGS, "fa_AF", CASEWORKER)
    conversation = await running_bot.conversation(participant_id)
    assert conversation is not None and conversation.flow is None
    assert_nothing_logged(log)


async def test_a_cancellation_notice_leaves_another_open_question_open(running_bot: BotHarness, log: pytest.LogCaptureFixture) -> None:
    user, participant_id = await joined(running_bot, "so")
    first = await book(running_bot, participant_id, local_days_ahead(running_bot, 2))
    second = await book(running_bot, participant_id, local_days_ahead(running_bot, 3))
    await deliver(running_bot, user, participant_id, first)
    [open_question] = await deliver(running_bot, user, participant_id, second)
    await change(running_bot, first, status=AppointmentStatus.CANCELLED)
    await deliver(running_bot, user, participant_id, first, kind="cancelled")
    await user.send("haa")
    nudge = await user.next_reply()
    assert nudge.text == f"{t('so', PRESS_A_BUTTON)}\n\n{open_question.text}"
    assert_nothing_logged(log)


async def test_a_moved_appointment_gets_a_notice_and_its_old_buttons_say_so(running_bot: BotHarness, log: pytest.LogCaptureFixture) -> None:
    user, participant_id = await joined(running_bot, "ti")
    appointment_id = await book(running_bot, participant_id, local_days_ahead(running_bot, 3))
    [old] = await deliver(running_bot, user, participant_id, appointment_id)
    new_time = local_days_ahead(running_bot, 5, 14, 0)
    await change(running_bot, appointment_id, starts_at=new_time, version=2)
    notice, reminder = await deliver(running_bot, user, participant_id, appointment_id, kind="moved")
    assert notice.text == t("ti", MOVED_NOTICE) and notice.buttons == []
    assert reminder.text == reminder_text(running_bot, "ti", new_time)
    stored = await stored_rows(running_bot)

    answer = await user.press(t("ti", COMING), message=old)
    assert answer.text == t("ti", MOVED) != MOVED
    await running_bot.settle()
    assert await stored_rows(running_bot) == stored and not old.edited

    await user.press(t("ti", COMING), message=reminder)
    assert (await user.next_reply()).text == t("ti", SEE_YOU)
    assert (await appointment_events(running_bot, participant_id))[-2] == (
        "appointment_answer", {"appointment_id": appointment_id, "version": 2, "answer": "coming"},
    )
    assert (await appointment(running_bot, appointment_id)).answer == "coming"
    assert_nothing_logged(log)


async def test_a_passed_appointments_button_says_so_and_changes_nothing(running_bot: BotHarness, log: pytest.LogCaptureFixture) -> None:
    user, participant_id = await joined(running_bot, "sv")
    appointment_id = await book(running_bot, participant_id, local_days_ahead(running_bot, 1))
    [reminder] = await deliver(running_bot, user, participant_id, appointment_id)
    await change(running_bot, appointment_id, starts_at=running_bot.stegvis.clock.now() - timedelta(minutes=5))
    stored = await stored_rows(running_bot)
    answer = await user.press(CANT_COME, message=reminder)
    assert answer.text == PASSED == "Det här mötet har redan varit."
    await running_bot.settle()
    assert await stored_rows(running_bot) == stored
    # Words typed afterwards are not taken as an answer to it.
    await user.send("Jag kommer inte")
    assert (await user.next_reply()).text == CANNOT_READ
    assert_nothing_logged(log)


@pytest.mark.parametrize(
    "forge",
    [
        lambda other, own: f"s:reminder:ask:coming:{other}v1",  # someone else's appointment
        lambda other, own: "s:reminder:ask:coming:999v1",  # no such appointment
        lambda other, own: "s:reminder:ask:coming:abc",  # not a ref at all
        lambda other, own: "s:reminder:ask:coming",  # no ref
        lambda other, own: f"s:reminder:nosuch:coming:{own}v1",  # no such step
        lambda other, own: f"s:reminder:ask:maybe:{own}v1",  # no such option
        lambda other, own: f"s:reminder:reason:sick:{own}v1:x",  # too many parts
    ],
    ids=["someone-elses", "unknown-id", "not-a-ref", "no-ref", "unknown-step", "unknown-option", "extra-part"],
)
async def test_a_forged_reminder_button_does_not_work(running_bot: BotHarness, log: pytest.LogCaptureFixture, forge) -> None:
    owner, owner_id = await joined(running_bot, "sv", "Sara Lindqvist")
    others = await book(running_bot, owner_id, local_days_ahead(running_bot, 3))
    await deliver(running_bot, owner, owner_id, others)
    user, participant_id = await joined(running_bot, "ar")
    own = await book(running_bot, participant_id, local_days_ahead(running_bot, 3))
    [reminder] = await deliver(running_bot, user, participant_id, own)
    stored = await stored_rows(running_bot)
    answer = await user.press_data(forge(others, own), message=reminder)
    assert answer.text == t("ar", NOT_YOURS) != NOT_YOURS
    await running_bot.settle()
    assert user.messages[-1] is reminder and not reminder.edited
    assert await stored_rows(running_bot) == stored
    assert_nothing_logged(log)


async def test_a_stopped_participants_press_changes_nothing(running_bot: BotHarness, log: pytest.LogCaptureFixture) -> None:
    user, participant_id = await joined(running_bot, "so")
    appointment_id = await book(running_bot, participant_id, local_days_ahead(running_bot, 3))
    [reminder] = await deliver(running_bot, user, participant_id, appointment_id)
    await user.send("/stop")
    await user.next_reply()
    await running_bot.settle()
    stored = await stored_rows(running_bot)
    answer = await user.press(t("so", COMING), message=reminder)
    assert answer.text == t("so", STOPPED) and answer.show_alert
    await running_bot.settle()
    assert await stored_rows(running_bot) == stored
    assert (await appointment(running_bot, appointment_id)).answer is None
    assert_nothing_logged(log)


async def test_events_of_a_reminder_are_stored_in_order_with_the_appointment(running_bot: BotHarness, log: pytest.LogCaptureFixture) -> None:
    """The raw rows, as a caseworker tool reads them: flow, step and the appointment on every event."""
    user, participant_id = await joined(running_bot, "sv")
    appointment_id = await book(running_bot, participant_id, local_days_ahead(running_bot, 3))
    await deliver(running_bot, user, participant_id, appointment_id)
    await user.press(CANT_COME)
    await user.next_reply()
    await user.press(REASONS["sick"])
    await user.next_reply()
    await user.press(NO_THANKS)
    await user.next_reply()
    async with running_bot.database.sessions() as session:
        rows = list(await session.scalars(select(Event).where(Event.participant_id == participant_id, Event.flow == "reminder").order_by(Event.id)))
        conversation = await session.get(Conversation, participant_id)
    assert [(e.type, e.step, e.payload["appointment_id"], e.payload["version"]) for e in rows] == [
        ("appointment_answer", "ask", appointment_id, 1),
        ("appointment_decline_reason", "reason", appointment_id, 1),
        ("appointment_note_skipped", "words", appointment_id, 1),
        ("flow_completed", "thanks", appointment_id, 1),
    ]
    assert conversation is not None and conversation.data == {"runs": []}
    assert_nothing_logged(log)
