"""The "coming today?" question: when it goes out (pure), planning it on a real database, the
outbox's rule for it, and the whole conversation over HTTP against the sandbox as a participant
answers it (in time, late, on an old or forged button, after a cancellation)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.features.activities import services
from bot.features.activities.morning import COMING, LINE, ROW_LABELS, header
from bot.features.activities.planning import SUBJECT, plan_questions, question_time
from bot.features.activities.question import CANCELLED, COMING_TODAY, LATE, NOT_YOURS, OTHER_DAY, parse_reference, reference
from bot.features.activities.schedule import WeeklyRule
from bot.outbox.quiet_hours import QuietHours
from bot.outbox.sender import Sender
from bot.sandbox import SandboxUser, SentMessage
from bot.scheduler import withdraw_stale
from bot.services import SYSTEM
from flows.library import load_flows
from locales import LANGUAGES, Catalogs
from locales.format import FSI, PDI, format_clock
from storage.clock import FrozenClock
from storage.database import Database
from storage import repositories as repo
from storage.models import Conversation, OutboxMessage, OutboxStatus, Participant, ParticipantStatus
from tests.activity_helpers import enrolled_activity
from tests.harness import BotHarness, start_bot
from tests.test_sender import World, world

TZ = ZoneInfo("Europe/Stockholm")
TUE, WED, THU = 1, 2, 3
# Tuesday 9 February 2027, 06:00 in Stockholm (UTC+1): a session at 10:00 today.
TUESDAY = date(2027, 2, 9)
EARLY = datetime(2027, 2, 9, 6, 0, tzinfo=TZ)
CATALOGS = Catalogs()
FLOW = load_flows()["coming_today"].steps
ASK = FLOW["ask"].say
YES, NO = (button.label for button in FLOW["ask"].buttons)
REASONS = {button.id: button.label for button in FLOW["reason"].buttons}
SEE_YOU, THANKS, WHY, WORDS = FLOW["see_you"].say, FLOW["thanks"].say, FLOW["reason"].say, FLOW["words"].say
NIGHT = QuietHours.parse("20:00-08:00")


def t(language: str, msgid: str, **values: object) -> str:
    return CATALOGS.texts(language).gettext(msgid, **values)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


# ---- when the question goes out ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("starts", "ask_at", "quiet", "expected"),
    [
        ((10, 0), time(8), "20:00-08:00", (8, 0)),  # the usual: 08:00
        ((9, 0), time(8), "20:00-08:00", (8, 0)),  # exactly an hour before
        ((8, 30), time(8), "20:00-08:00", None),  # 08:00 is less than an hour before, and earlier is night
        ((8, 59), time(8), "20:00-08:00", None),
        ((8, 30), time(8), "22:00-07:00", (7, 0)),  # as early as allowed, still an hour before
        ((8, 30), time(8), "", (7, 30)),  # no quiet hours: an hour before, not at midnight
        ((10, 0), time(6), "20:00-08:00", (8, 0)),  # a time in quiet hours waits for them to end
        ((10, 0), time(8), "20:00-09:30", None),  # quiet hours last until less than an hour before
        ((13, 30), time(8), "20:00-08:00", (8, 0)),
    ],
)
def test_question_time(starts: tuple[int, int], ask_at: time, quiet: str, expected: tuple[int, int] | None) -> None:
    due = question_time(local(TUESDAY, *starts), ask_at, QuietHours.parse(quiet), TZ)
    assert due == (local(TUESDAY, *expected).astimezone(timezone.utc) if expected else None)
    if due is not None:
        assert due.tzinfo is not None and local(TUESDAY, *starts) - due >= timedelta(hours=1)


def test_the_ref_names_the_activity_and_the_day() -> None:
    assert reference(12, TUESDAY) == "12d9901"
    assert parse_reference("12d9901") == (12, TUESDAY)
    assert parse_reference("7v2") is None and parse_reference(None) is None and parse_reference("0d1") is None
    assert len(f"s:coming_today:reason:child_sick:{reference(999999, date(2200, 1, 1))}") <= 64


# ---- planning, on a real database ----------------------------------------------------------------


async def add_activity(w: World, **overrides: object) -> int:
    values: dict = {
        "name": "Språkcafé", "organisation": "Röda Korset", "place": "Nygatan 19",
        "weekly": [WeeklyRule(TUE, time(10)), WeeklyRule(THU, time(13, 30))], "starts_on": date(2027, 1, 4),
    }
    values.update(overrides)
    return (await call(w, services.add_activity, **values)).id


async def call(w: World, service, **kwargs):  # type: ignore[no-untyped-def]
    async with w.database.sessions() as session:
        result = await service(session, SYSTEM, w.stegvis.settings, now=w.clock.now(), **kwargs)
        await session.commit()
    return result


async def plan(w: World) -> int:
    async with w.database.sessions() as session:
        added = await plan_questions(session, w.stegvis.settings, w.clock.now())
        await session.commit()
    return added


async def questions(w: World) -> list[OutboxMessage]:
    async with w.database.sessions() as session:
        return list(await session.scalars(select(OutboxMessage).where(OutboxMessage.composer == COMING_TODAY).order_by(OutboxMessage.id)))


async def test_planning_asks_each_active_participant_enrolled_that_day_once(database: Database) -> None:
    async with world(database, now=EARLY, quiet_hours="20:00-08:00") as w:
        amina, stopped, leaver = await w.participant(), await w.participant(), await w.participant()
        invited = await w.participant(ParticipantStatus.INVITED, in_sandbox=False)
        later = await w.participant()
        aid = await add_activity(w)
        for person in (amina, stopped, leaver, invited):
            await call(w, services.enrol, activity_id=aid, participant_id=person.id, from_date=date(2027, 2, 1))
        await call(w, services.enrol, activity_id=aid, participant_id=later.id, from_date=date(2027, 2, 11))
        await call(w, services.leave, activity_id=aid, participant_id=leaver.id)  # from today
        async with w.database.sessions() as session:
            (await session.get(Participant, stopped.id)).status = ParticipantStatus.STOPPED  # /stop after enrolling
            await session.commit()

        assert await plan(w) == 1
        assert await plan(w) == 0  # planning twice adds nothing
        [row] = await questions(w)
        assert (row.recipient_id, row.subject_kind, row.subject_id, row.subject_version) == (amina.id, SUBJECT, amina.id, TUESDAY.toordinal())
        assert row.payload == {"activity_ids": [aid]}
        assert row.due_at == local(TUESDAY, 8).astimezone(timezone.utc)

        # Wednesday evening: Thursday's session is tomorrow's, so it is planned now, for the one
        # enrolled from Thursday too.
        w.clock.set(local(date(2027, 2, 10), 19))
        assert await plan(w) == 2
        assert await plan(w) == 0
        thursday = [(r.recipient_id, r.due_at) for r in (await questions(w))[1:]]
        assert thursday == [(p.id, local(date(2027, 2, 11), 8).astimezone(timezone.utc)) for p in (amina, later)]


async def test_no_question_on_a_holiday_a_cancelled_day_or_too_late(database: Database) -> None:
    # Tuesday 5 January 2027; Wednesday 6 January is Epiphany.
    async with world(database, now=local(date(2027, 1, 5), 9), quiet_hours="20:00-08:00") as w:
        person = await w.participant()
        holiday = await add_activity(w, weekly=[WeeklyRule(WED, time(10))])
        kept = await add_activity(w, name="Arbetsträning", weekly=[WeeklyRule(WED, time(10))], on_holidays=True)
        early = await add_activity(w, name="Morgonpass", weekly=[WeeklyRule(WED, time(8, 30))], on_holidays=True)
        too_late = await add_activity(w, name="Studiecirkel", weekly=[WeeklyRule(TUE, time(9, 30))])  # begins in 30 minutes
        cancelled = await add_activity(w, name="Bilda", weekly=[WeeklyRule(WED, time(13))], on_holidays=True)
        for aid in (holiday, kept, early, too_late, cancelled):
            await call(w, services.enrol, activity_id=aid, participant_id=person.id, from_date=date(2027, 1, 4))
        await call(w, services.cancel_session, activity_id=cancelled, day=date(2027, 1, 6))

        assert await plan(w) == 1
        assert [r.payload["activity_ids"] for r in await questions(w)] == [[kept]]


async def test_the_question_goes_out_and_is_withdrawn_when_its_day_changes(database: Database) -> None:
    async with world(database, now=EARLY, quiet_hours="20:00-08:00") as w:
        amina, dawit, leaver = await w.participant(), await w.participant(), await w.participant()
        async with w.database.sessions() as session:
            (await session.get(Participant, dawit.id)).language = "ar"
            await session.commit()
        aid = await add_activity(w)
        other = await add_activity(w, name="Bilda", place="Storgatan 1")
        for person in (amina, dawit, leaver):
            await call(w, services.enrol, activity_id=aid, participant_id=person.id, from_date=date(2027, 2, 1))
        await call(w, services.enrol, activity_id=other, participant_id=amina.id, from_date=date(2027, 2, 1))
        assert await plan(w) == 3  # one per participant: amina's asks about both activities
        assert [r.payload["activity_ids"] for r in await questions(w)] == [[aid, other], [aid], [aid]]

        w.clock.set(local(TUESDAY, 7, 30))
        await call(w, services.leave, activity_id=aid, participant_id=leaver.id, )  # from today: before the question went out
        await call(w, services.cancel_session, activity_id=other, day=TUESDAY)  # amina's question keeps Språkcafé
        statuses = {r.recipient_id: (r.status, r.last_error) for r in await questions(w)}
        assert statuses[amina.id] == (OutboxStatus.PENDING, None)

        w.clock.set(local(TUESDAY, 8))
        assert await w.sender().tick() == 3  # amina's and dawit's questions, and amina's notice about Bilda
        amina_got = w.delivered(amina.telegram_chat_id)
        assert "Idag kl. 10:00 · Språkcafé · Nygatan 19\nKommer du?" in amina_got and len(amina_got) == 2
        assert not any("Bilda" in text and "Kommer du?" in text for text in amina_got)
        arabic = w.delivered(dawit.telegram_chat_id)
        assert len(arabic) == 1 and f"{FSI}Språkcafé{PDI}" in arabic[0] and arabic[0] == t("ar", ASK, time=format_clock(local(TUESDAY, 10), LANGUAGES["ar"], TZ), activity="Språkcafé", place="Nygatan 19")
        assert w.delivered(leaver.telegram_chat_id) == []
        statuses = {r.recipient_id: (r.status, r.last_error) for r in await questions(w)}
        assert statuses[leaver.id] == (OutboxStatus.CANCELLED, "withdrawn: the participant is no longer enrolled that day")
        sent = [e for e in await w.events(amina.id) if e.type == "activity_question_sent"]
        assert [e.payload["date"] for e in sent] == ["2027-02-09"]


async def test_a_question_not_sent_before_the_session_began_is_withdrawn(database: Database) -> None:
    async with world(database, now=EARLY, quiet_hours="20:00-08:00") as w:
        person = await w.participant()
        aid = await add_activity(w)
        await call(w, services.enrol, activity_id=aid, participant_id=person.id, from_date=date(2027, 2, 1))
        assert await plan(w) == 1
        w.clock.set(local(TUESDAY, 10))
        assert await withdraw_stale(w.stegvis) == 1
        [row] = await questions(w)
        assert (row.status, row.last_error) == (OutboxStatus.CANCELLED, "withdrawn: the session has begun")
        assert await plan(w) == 0  # too late to ask again
        assert w.delivered(person.telegram_chat_id) == []


# ---- the conversation, over HTTP against the sandbox ---------------------------------------------


@pytest.fixture
async def bot_at_seven(tmp_path: Path) -> AsyncIterator[BotHarness]:
    """The real bot on a frozen clock: Tuesday 9 February 2027, 07:00 in Stockholm."""
    async with start_bot(tmp_path, clock=FrozenClock(local(TUESDAY, 7))) as harness:
        yield harness



async def joined(harness: BotHarness, language: str, name: str = "Amina Yusuf") -> tuple[SandboxUser, int]:
    return await harness.joined(name, language)




async def asked(harness: BotHarness, user: SandboxUser) -> SentMessage:
    """The morning: the job plans the question, the real sender sends it at 08:00."""
    await harness.settle()
    before = len(user.messages)
    async with harness.database.sessions() as session:
        await plan_questions(session, harness.stegvis.settings, harness.stegvis.clock.now())
        await session.commit()
    harness.clock.set(local(TUESDAY, 8))
    sender = Sender(harness.stegvis, harness.bot)
    assert await sender.tick() >= 1
    await user.wait_for_messages(before + 1)
    question = user.messages[before]
    while (await user.next_reply()) is not question:
        pass  # the next reply is what follows the question
    return question


async def reports(harness: BotHarness, participant_id: int) -> list[tuple[str, dict]]:
    return [(e.type, e.payload) for e in await harness.events(participant_id) if e.flow == "coming_today"]


async def test_yes(bot_at_seven: BotHarness) -> None:
    user, pid = await joined(bot_at_seven, "ar")
    aid = await enrolled_activity(bot_at_seven, pid)
    question = await asked(bot_at_seven, user)
    ten = format_clock(local(TUESDAY, 10), LANGUAGES["ar"], TZ)
    assert question.text == t("ar", ASK, time=ten, activity="Språkcafé", place="Nygatan 19") != t("sv", ASK, time="10:00", activity="Språkcafé", place="Nygatan 19")
    assert f"{FSI}{ten}{PDI}" in question.text
    assert question.button_texts == [t("ar", YES), t("ar", NO)]

    await user.press(t("ar", YES))
    assert (await user.next_reply()).text == t("ar", SEE_YOU)
    await user.wait_for(lambda: question.edited)
    assert question.buttons == []
    ids = {"activity_id": aid, "date": "2027-02-09"}
    assert await reports(bot_at_seven, pid) == [
        ("activity_report", {**ids, "answer": "coming", "coming": True}),
        ("flow_completed", {**ids, "flow": "coming_today"}),
    ]


async def test_no_a_reason_and_a_few_words(bot_at_seven: BotHarness) -> None:
    user, pid = await joined(bot_at_seven, "sv")
    aid = await enrolled_activity(bot_at_seven, pid)
    await asked(bot_at_seven, user)
    await user.press(NO)
    why = await user.next_reply()
    assert why.text == WHY and why.button_texts == list(REASONS.values())
    await user.press(REASONS["child_sick"])
    words = await user.next_reply()
    assert words.text == WORDS
    await user.send("Min son har feber.")
    assert (await user.next_reply()).text == THANKS
    ids = {"activity_id": aid, "date": "2027-02-09"}
    assert await reports(bot_at_seven, pid) == [
        ("activity_report", {**ids, "answer": "not_coming", "coming": False}),
        ("activity_report", {**ids, "answer": "child_sick", "reason": "child_sick"}),
        ("activity_report", {**ids, "text": "Min son har feber."}),
        ("flow_completed", {**ids, "flow": "coming_today"}),
    ]


async def test_an_answer_after_the_session_began_is_recorded_late(bot_at_seven: BotHarness) -> None:
    user, pid = await joined(bot_at_seven, "so")
    aid = await enrolled_activity(bot_at_seven, pid)
    question = await asked(bot_at_seven, user)
    bot_at_seven.clock.set(local(TUESDAY, 10, 20))
    answer = await user.press(t("so", NO), message=question)
    assert answer.text is None
    assert (await user.next_reply()).text == t("so", LATE) != LATE
    await user.wait_for(lambda: question.edited)
    assert question.buttons == []
    assert await reports(bot_at_seven, pid) == [("activity_report", {"activity_id": aid, "date": "2027-02-09", "answer": "not_coming", "coming": False, "late": True})]
    conversation = await bot_at_seven.conversation(pid)
    assert conversation is not None and conversation.flow is None  # no "why?" for a session going on


async def test_a_few_words_typed_after_the_session_began_are_recorded_late(bot_at_seven: BotHarness) -> None:
    user, pid = await joined(bot_at_seven, "fa_AF")
    aid = await enrolled_activity(bot_at_seven, pid)
    await asked(bot_at_seven, user)
    await user.press(t("fa_AF", NO))
    await user.next_reply()
    await user.press(t("fa_AF", REASONS["transport"]))
    assert (await user.next_reply()).text == t("fa_AF", WORDS)
    bot_at_seven.clock.set(local(TUESDAY, 10, 5))
    await user.send("بس نیامد")
    assert (await user.next_reply()).text == t("fa_AF", THANKS)
    ids = {"activity_id": aid, "date": "2027-02-09"}
    assert await reports(bot_at_seven, pid) == [
        ("activity_report", {**ids, "answer": "not_coming", "coming": False}),
        ("activity_report", {**ids, "answer": "transport", "reason": "transport"}),
        ("activity_report", {**ids, "text": "بس نیامد", "late": True}),
        ("flow_completed", {**ids, "flow": "coming_today", "late": True}),
    ]


# ---- two sessions on one day: one message, one row each -----------------------------------------


async def two_sessions(harness: BotHarness, language: str) -> tuple[SandboxUser, int, int, int, SentMessage]:
    """Språkcafé at 10:00 and Arbetsträning at 13:00 on Tuesday: asked about in one message."""
    user, pid = await joined(harness, language)
    cafe = await enrolled_activity(harness, pid)
    training = await enrolled_activity(harness, pid, name="Arbetsträning", place="Storgatan 1", weekly=[WeeklyRule(TUE, time(13))])
    question = await asked(harness, user)
    return user, pid, cafe, training, question


def row(language: str, hour: int) -> tuple[str, str]:
    clock_text = format_clock(local(TUESDAY, hour), LANGUAGES[language], TZ)
    return t(language, ROW_LABELS["coming"], time=clock_text), t(language, ROW_LABELS["not_coming"], time=clock_text)


async def answers(harness: BotHarness, pid: int) -> list[tuple[int, str]]:
    """(activity, what) of each answer, in order: "yes", "no", a reason, "words", "skipped"."""
    found = []
    for e in await harness.events(pid):
        if e.type == "activity_report":
            what = e.payload.get("reason") or ("words" if "text" in e.payload else ("yes" if e.payload.get("coming") else "no"))
            found.append((e.payload["activity_id"], what))
        elif e.type == "activity_note_skipped":
            found.append((e.payload["activity_id"], "skipped"))
    return found


@pytest.mark.parametrize("language", ["sv", "ar", "so", "fa_AF", "ti"])
async def test_two_sessions_are_one_message_with_a_row_each(bot_at_seven: BotHarness, language: str) -> None:
    user, pid, cafe, training, question = await two_sessions(bot_at_seven, language)
    ten, one = (format_clock(local(TUESDAY, h), LANGUAGES[language], TZ) for h in (10, 13))
    texts = CATALOGS.texts(language)
    assert question.text == "\n".join((
        header(texts, 2),
        t(language, LINE, time=ten, activity="Språkcafé", place="Nygatan 19"),
        t(language, LINE, time=one, activity="Arbetsträning", place="Storgatan 1"),
        t(language, COMING),
    ))
    assert [[label for label, _data in buttons] for buttons in question.buttons] == [list(row(language, 10)), list(row(language, 13))]
    assert all(len(label) <= 20 for label in question.button_texts)
    assert [len([m for m in user.messages if m.buttons])] == [1]  # one question this morning

    # The first row, then the second, then why for the second.
    await user.press(row(language, 10)[0], message=question)
    assert (await user.next_reply()).text == t(language, SEE_YOU)
    await user.wait_for(lambda: len(question.buttons) == 1)
    assert [label for label, _ in question.buttons[0]] == list(row(language, 13))
    assert question.text.endswith(f"✅ {row(language, 10)[0]}")
    await user.press(row(language, 13)[1], message=question)
    why = await user.next_reply()
    assert why.text == t(language, WHY)
    await user.wait_for(lambda: question.buttons == [])
    await user.press(t(language, REASONS["sick"]), message=why)
    assert (await user.next_reply()).text == t(language, WORDS)
    await user.press(t(language, FLOW["words"].buttons[0].label))
    assert (await user.next_reply()).text == t(language, THANKS)
    assert await answers(bot_at_seven, pid) == [(cafe, "yes"), (training, "no"), (training, "sick"), (training, "skipped")]
    conversation = await bot_at_seven.conversation(pid)
    assert conversation is not None and conversation.flow is None  # nothing left open


async def test_the_second_row_first_then_the_first_while_why_is_open(bot_at_seven: BotHarness) -> None:
    user, pid, cafe, training, question = await two_sessions(bot_at_seven, "sv")
    await user.press(row("sv", 13)[1], message=question)
    why = await user.next_reply()
    assert why.text == WHY
    await user.wait_for(lambda: len(question.buttons) == 1)
    assert [label for label, _ in question.buttons[0]] == list(row("sv", 10))
    # The first session's row still answers; the second's "why?" stays open under it.
    await user.press(row("sv", 10)[1], message=question)
    why_first = await user.next_reply()
    assert why_first.text == WHY and why_first is not why
    await user.press(REASONS["child_sick"], message=why_first)
    assert (await user.next_reply()).text == WORDS
    await user.send("Min son har feber.")
    assert (await user.next_reply()).text == THANKS
    await user.press(REASONS["transport"], message=why)  # the second's why, still open
    assert (await user.next_reply()).text == WORDS
    await user.send("Bussen går inte.")
    assert (await user.next_reply()).text == THANKS
    assert await answers(bot_at_seven, pid) == [
        (training, "no"), (cafe, "no"), (cafe, "child_sick"), (cafe, "words"), (training, "transport"), (training, "words"),
    ]
    texts = {e.payload["activity_id"]: e.payload["text"] for e in await bot_at_seven.events(pid) if e.type == "activity_report" and "text" in e.payload}
    assert texts == {cafe: "Min son har feber.", training: "Bussen går inte."}


async def test_one_of_two_cancelled_after_the_question_late_for_one(bot_at_seven: BotHarness) -> None:
    user, pid, cafe, training, question = await two_sessions(bot_at_seven, "sv")
    bot_at_seven.clock.set(local(TUESDAY, 8, 30))
    async with bot_at_seven.database.sessions() as session:
        await services.cancel_session(session, SYSTEM, bot_at_seven.stegvis.settings, activity_id=training, day=TUESDAY, now=bot_at_seven.stegvis.clock.now())
        await session.commit()
    assert (await user.press(row("sv", 13)[0], message=question)).text == CANCELLED  # a pop-up, nothing changes
    # A made-up option on the first row's session, and a row of someone else's activity: the button does not work.
    for data in (f"s:coming_today:ask:maybe:{reference(cafe, TUESDAY)}", f"s:coming_today:ask:coming:{reference(training + 1, TUESDAY)}"):
        assert (await user.press_data(data, message=question)).text == NOT_YOURS
    await bot_at_seven.settle()
    assert await answers(bot_at_seven, pid) == [] and len(question.buttons) == 2
    # After 10:00 the first row's answer is late: recorded, thanked, the other row left as it was.
    bot_at_seven.clock.set(local(TUESDAY, 10, 15))
    await user.press(row("sv", 10)[1], message=question)
    assert (await user.next_reply()).text == LATE
    await user.wait_for(lambda: len(question.buttons) == 1)
    late = [e.payload for e in await bot_at_seven.events(pid) if e.type == "activity_report"]
    assert late == [{"activity_id": cafe, "date": "2027-02-09", "answer": "not_coming", "coming": False, "late": True}]


async def test_one_activity_twice_on_one_day_is_one_question(bot_at_seven: BotHarness) -> None:
    # Its sessions of a day are one report (the roll call and cancellations are per day too).
    user, pid = await joined(bot_at_seven, "sv")
    aid = await enrolled_activity(bot_at_seven, pid, weekly=[WeeklyRule(TUE, time(10)), WeeklyRule(TUE, time(13, 30))])
    question = await asked(bot_at_seven, user)
    assert question.text == t("sv", ASK, time="10:00", activity="Språkcafé", place="Nygatan 19")
    assert question.button_texts == [YES, NO]
    await user.press(YES, message=question)
    await user.next_reply()
    assert await answers(bot_at_seven, pid) == [(aid, "yes")]


async def test_two_sessions_planned_once_and_withdrawn_when_both_are_cancelled(database: Database) -> None:
    async with world(database, now=EARLY, quiet_hours="20:00-08:00") as w:
        both, one = await w.participant(), await w.participant()
        cafe = await add_activity(w)
        training = await add_activity(w, name="Arbetsträning", weekly=[WeeklyRule(TUE, time(13))])
        for aid in (cafe, training):
            await call(w, services.enrol, activity_id=aid, participant_id=both.id, from_date=date(2027, 2, 1))
        await call(w, services.enrol, activity_id=training, participant_id=one.id, from_date=date(2027, 2, 1))
        assert await plan(w) == 2
        assert await plan(w) == 0  # twice: nothing more
        await call(w, services.cancel_session, activity_id=cafe, day=TUESDAY)
        rows = {r.recipient_id: r for r in await questions(w)}
        assert rows[both.id].status == OutboxStatus.PENDING  # the other session is still asked about
        await call(w, services.cancel_session, activity_id=training, day=TUESDAY)
        rows = {r.recipient_id: (r.status, r.last_error) for r in await questions(w)}
        assert rows == {p.id: (OutboxStatus.CANCELLED, "withdrawn: the session was cancelled") for p in (both, one)}
        assert await plan(w) == 0  # a restart plans again: the rows' keys are taken
        w.clock.set(local(TUESDAY, 8))
        assert await w.sender().tick() == 3  # the cancellation notices only: two to `both`, one to `one`
        assert not any("Kommer du?" in text for text in w.delivered(both.telegram_chat_id) + w.delivered(one.telegram_chat_id))


async def test_a_question_planned_before_an_answer_from_the_menu_leaves_that_session_out(database: Database) -> None:
    async with world(database, now=EARLY, quiet_hours="20:00-08:00") as w:
        both, only_cafe = await w.participant(), await w.participant()
        cafe = await add_activity(w)
        training = await add_activity(w, name="Arbetsträning", weekly=[WeeklyRule(TUE, time(13))])
        for pid, aid in ((both.id, cafe), (both.id, training), (only_cafe.id, cafe)):
            await call(w, services.enrol, activity_id=aid, participant_id=pid, from_date=date(2027, 2, 1))
        assert await plan(w) == 2
        # At 07:30 both say from the menu they cannot come to Språkcafé (what /cantcome records).
        w.clock.set(local(TUESDAY, 7, 30))
        async with w.database.sessions() as session:
            for person in (both, only_cafe):
                payload = {"activity_id": cafe, "date": "2027-02-09", "source": "menu", "answer": "not_coming", "coming": False}
                await repo.append_event(session, "activity_report", person.id, payload, occurred_at=w.clock.now())
            await session.commit()
        w.clock.set(local(TUESDAY, 8))
        assert await w.sender().tick() == 1
        assert w.delivered(both.telegram_chat_id) == [t("sv", ASK, time="13:00", activity="Arbetsträning", place="Nygatan 19")]
        assert w.delivered(only_cafe.telegram_chat_id) == []
        rows = {r.recipient_id: (r.status, r.last_error) for r in await questions(w)}
        assert rows[only_cafe.id] == (OutboxStatus.CANCELLED, "withdrawn: answered from the menu")
        assert training


async def test_a_restart_between_planning_and_sending_sends_one_message(database: Database) -> None:
    async with world(database, now=EARLY, quiet_hours="20:00-08:00") as w:
        person = await w.participant()
        for name, hour in (("Språkcafé", 10), ("Arbetsträning", 13)):
            aid = await add_activity(w, name=name, weekly=[WeeklyRule(TUE, time(hour))])
            await call(w, services.enrol, activity_id=aid, participant_id=person.id, from_date=date(2027, 2, 1))
        assert await plan(w) == 1
        w.clock.set(local(TUESDAY, 7, 45))
        assert await plan(w) == 0  # the job again, as after a restart
        w.clock.set(local(TUESDAY, 8))
        assert await w.sender().tick() == 1
        assert await w.sender().tick() == 0  # a new sender (a restarted process) finds nothing left
        assert await plan(w) == 0
        [text] = w.delivered(person.telegram_chat_id)
        assert text.startswith("Idag har du 2 träffar:") and "10:00 · Språkcafé" in text and "13:00 · Arbetsträning" in text
        async with w.database.sessions() as session:
            stored = await session.get(Conversation, person.id)
        assert stored is not None
        # Both sessions' runs are in the stored state, so a press on either row answers after a restart.
        refs = [run["data"]["ref"] for run in stored.data["runs"]]
        assert [parse_reference(ref) for ref in refs] == [(aid - 1, TUESDAY), (aid, TUESDAY)]


async def test_an_old_question_a_forged_one_and_one_after_a_cancellation_record_nothing(bot_at_seven: BotHarness) -> None:
    user, pid = await joined(bot_at_seven, "sv")
    other, other_pid = await joined(bot_at_seven, "sv", "Sara Lindqvist")
    aid = await enrolled_activity(bot_at_seven, pid, other_pid)
    question = await asked(bot_at_seven, user)
    await bot_at_seven.settle()

    # Someone else's question, a made-up day, an unknown activity: the button does not work.
    for data in (f"s:coming_today:ask:coming:{reference(aid + 5, TUESDAY)}", "s:coming_today:ask:coming:x", "s:coming_today:ask:coming"):
        assert (await user.press_data(data, message=question)).text == NOT_YOURS
    # Yesterday's question and last week's.
    assert (await user.press_data(f"s:coming_today:ask:coming:{reference(aid, TUESDAY - timedelta(days=1))}", message=question)).text == OTHER_DAY
    assert (await user.press_data(f"s:coming_today:ask:coming:{reference(aid, TUESDAY - timedelta(days=7))}", message=question)).text == OTHER_DAY
    await bot_at_seven.settle()
    assert await reports(bot_at_seven, pid) == []

    # The next day, today's question is an old one.
    bot_at_seven.clock.set(local(TUESDAY + timedelta(days=1), 9))
    assert (await user.press(YES, message=question)).text == OTHER_DAY
    await bot_at_seven.settle()
    assert await reports(bot_at_seven, pid) == [] and not question.edited

    # Back on Tuesday: the session is cancelled before it begins, and the other participant presses.
    bot_at_seven.clock.set(local(TUESDAY, 8, 30))
    async with bot_at_seven.database.sessions() as session:
        await services.cancel_session(session, SYSTEM, bot_at_seven.stegvis.settings, activity_id=aid, day=TUESDAY, now=bot_at_seven.stegvis.clock.now())
        await session.commit()
    others = [m for m in other.messages if m.buttons]
    assert (await other.press(YES, message=others[-1])).text == CANCELLED
    await bot_at_seven.settle()
    assert await reports(bot_at_seven, other_pid) == []
