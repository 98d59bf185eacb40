"""Messages to and from the caseworker: /message end to end over HTTP against the sandbox (a text,
a voice note, a sticker, cancel; hard texts stored exactly as written), the caseworker's quick
reply arriving in each of the five languages through the real sender, quiet hours holding a reply
and ``at_once`` (``--now``) not, free text under its introduction line, the refusals of
`send_reply` on SQLite and PostgreSQL, and ``stegvis reply``'s exit codes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from bot.config import load_settings
from bot.features.caseworker_messages import services
from bot.features.caseworker_messages.messages import FREE_TEXT_INTRO, QUICK_REPLIES
from bot.features.caseworker_messages.writing import DESCRIPTION, NOT_A_MESSAGE
from bot.features.participants import services as participants
from bot.outbox.sender import Sender
from bot.services import Actor, Conflict, InvalidInput, NotFound
from flows.engine import LONG_TEXT
from flows.library import load_flows
from locales import LANGUAGES, Catalogs
from storage.clock import FrozenClock
from storage.database import Database
from storage.models import Event, OutboxMessage, OutboxStatus, Participant, ParticipantStatus
from tests.harness import BotHarness, start_bot
from tests.test_activities_cli import db, ok, snapshot, stegvis, template  # noqa: F401 - fixtures
from tests.test_appointments_cli import error_of

TZ = ZoneInfo("Europe/Stockholm")
DAY = date(2027, 1, 19)  # a Tuesday
CATALOGS = Catalogs()
STEPS = load_flows()["message"].steps
STAFF = Actor("cli", "test")


def t(language: str, msgid: str, **values: object) -> str:
    return CATALOGS.texts(language).gettext(msgid, **values)


def local(hour: int, minute: int = 0) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, hour, minute, tzinfo=TZ)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[BotHarness]:
    async with start_bot(tmp_path, clock=FrozenClock(local(10))) as running:
        yield running


async def messages_of(harness: BotHarness, pid: int) -> list[dict]:
    await harness.settle()
    return [e.payload for e in await harness.events(pid) if e.type == "participant_message"]


async def test_write_a_text_a_voice_note_a_sticker_and_cancel(harness: BotHarness) -> None:
    amina, amina_id = await harness.joined("Amina Yusuf", "ar")
    # The menu entry is in /help in her language.
    await amina.send("/help")
    assert t("ar", DESCRIPTION) in (await amina.next_reply()).text

    await amina.send("/message")
    asked = await amina.next_reply()
    assert asked.text == t("ar", STEPS["write"].say) and asked.button_texts == [t("ar", "Avbryt")]
    # A sticker: the question again under a hint, nothing stored.
    await amina.send_sticker()
    assert (await amina.next_reply()).text == t("ar", NOT_A_MESSAGE)
    assert (await amina.next_reply()).text == asked.text
    assert await messages_of(harness, amina_id) == []
    await amina.send("Jag är sjuk i dag, kan vi ses på fredag?")
    assert (await amina.next_reply()).text == t("ar", STEPS["received"].say)

    await amina.send("/message")
    await amina.next_reply()
    await amina.send_voice(duration=7)
    assert (await amina.next_reply()).text == t("ar", STEPS["received"].say)

    await amina.send("/message")
    await amina.next_reply()
    await amina.press(t("ar", "Avbryt"))
    assert (await amina.next_reply()).text == t("ar", STEPS["cancelled"].say)
    # Once the question is closed, a text is not a message to the caseworker any more.
    await amina.send("Hallå?")
    await amina.next_reply()

    text, voice = await messages_of(harness, amina_id)
    assert text == {"text": "Jag är sjuk i dag, kan vi ses på fredag?", "language": "ar"}
    assert voice["language"] == "ar" and voice["voice"]["duration"] == 7 and voice["voice"]["file_id"].startswith("AwAC") and set(voice) == {"voice", "language"}
    assert "participant_message_cancelled" in await harness.event_types(amina_id)


@pytest.mark.parametrize(
    "written",
    [
        "<script>alert('x')</script> <b>fet</b> *markdown* _kursiv_",
        "\u200fسلام \u202bمرحبا\u202c 123\u200e",
        "🙂🙂🙏",
        "x" * 1000,
    ],
    ids=["html-and-markdown", "rtl-marks", "emoji-only", "at-the-limit"],
)
async def test_hard_texts_are_stored_exactly_as_written(harness: BotHarness, written: str) -> None:
    user, pid = await harness.joined("Zahra Ahmadi", "fa_AF")
    await user.send("/message")
    await user.next_reply()
    await user.send(written)
    assert (await user.next_reply()).text == t("fa_AF", STEPS["received"].say)
    assert await messages_of(harness, pid) == [{"text": written, "language": "fa_AF"}]


async def test_over_the_limit_is_asked_again_and_stores_nothing(harness: BotHarness) -> None:
    user, pid = await harness.joined("Hodan Ali", "so")
    await user.send("/message")
    asked = await user.next_reply()
    await user.send("y" * 4000)
    again = await user.next_reply()
    assert again.text.endswith(asked.text) and str(LONG_TEXT) in again.text  # «too long: at most 1000 characters», then the question
    assert await messages_of(harness, pid) == []
    await user.send("kort")  # the question is still open
    assert (await user.next_reply()).text == t("so", STEPS["received"].say)
    assert await messages_of(harness, pid) == [{"text": "kort", "language": "so"}]


async def reply(harness: BotHarness, pid: int, **kwargs: object) -> services.ReplySent:
    async with harness.database.sessions() as session:
        sent = await services.send_reply(session, STAFF, harness.stegvis.settings, participant_id=pid, now=harness.clock.now(), **{"reply": None, "text": None, "at_once": False, **kwargs})
        await session.commit()
    return sent


async def test_a_quick_reply_arrives_in_each_of_the_five_languages(harness: BotHarness) -> None:
    people = [(code, *(await harness.joined(f"Person {code}", code))) for code in LANGUAGES]
    sender = Sender(harness.stegvis, harness.bot)
    for (code, user, pid), quick in zip(people, QUICK_REPLIES, strict=True):
        sent = await reply(harness, pid, reply=quick)
        assert sent.reply == quick and sent.caseworker_id == harness.caseworker_id
    assert await sender.tick() == len(LANGUAGES)
    for (code, user, pid), quick in zip(people, QUICK_REPLIES, strict=True):
        await user.wait_for(lambda user=user, code=code, quick=quick: user.messages[-1].text == t(code, QUICK_REPLIES[quick]), what=f"the reply in {code}")
        if code != "sv":
            assert t(code, QUICK_REPLIES[quick]) != QUICK_REPLIES[quick]  # translated, not the Swedish
        [event] = [e for e in await harness.events(pid) if e.type == "caseworker_reply"]
        assert event.payload == {"reply": quick, "caseworker_id": harness.caseworker_id, "now": False}


async def test_quiet_hours_hold_a_reply_and_now_does_not_free_text_has_its_introduction(harness: BotHarness) -> None:
    dawit, pid = await harness.joined("Dawit Tesfay", "ti")
    harness.clock.set(local(21))  # inside the default quiet hours 20:00-08:00
    sender = Sender(harness.stegvis, harness.bot)
    held = await reply(harness, pid, reply="noted")
    assert (held.held, held.goes_out_at) == (True, local(8).replace(day=DAY.day + 1))
    assert await sender.tick() == 0  # held until 08:00
    words = "Vi ses på torsdag kl. 10 <b>på kontoret</b>."
    insisted = await reply(harness, pid, text=words, at_once=True)
    assert (insisted.held, insisted.goes_out_at) == (False, local(21))
    assert await sender.tick() == 1  # insisted on: sent at night
    await dawit.wait_for(lambda: dawit.messages[-1].text == f"{t('ti', FREE_TEXT_INTRO)}\n{words}", what="the free text")
    assert t("ti", FREE_TEXT_INTRO) != FREE_TEXT_INTRO
    harness.clock.set(local(8) .replace(day=DAY.day + 1))
    assert await sender.tick() == 1
    await dawit.wait_for(lambda: dawit.messages[-1].text == t("ti", QUICK_REPLIES["noted"]), what="the held reply, in the morning")
    replies = [e.payload for e in await harness.events(pid) if e.type == "caseworker_reply"]
    assert replies == [{"reply": "noted", "caseworker_id": harness.caseworker_id, "now": False}, {"text": words, "caseworker_id": harness.caseworker_id, "now": True}]


# ---- the service's refusals, on SQLite and PostgreSQL -------------------------------------------


async def test_refusals_queue_nothing(database: Database) -> None:
    settings, now = load_settings(), local(10)
    async with database.sessions() as session:
        karin = (await participants.add_caseworker(session, STAFF, name="Karin Lund", email=None, now=now)).caseworker_id
        other = (await participants.add_caseworker(session, STAFF, name="Per Berg", email=None, now=now)).caseworker_id
        ids = {}
        for name, status in (("Hassan", ParticipantStatus.ACTIVE), ("Zahra", ParticipantStatus.STOPPED), ("Dawit", ParticipantStatus.UNREACHABLE), ("Amina", ParticipantStatus.INVITED)):
            ids[name] = (await participants.add_participant(session, STAFF, name=name, caseworker_id=karin, language="so", now=now, invite_days=14)).participant_id
            await session.execute(update(Participant).where(Participant.id == ids[name]).values(status=status, telegram_chat_id=500 + ids[name]))
        await session.commit()

    async def refused(actor: Actor, pid: int, **kwargs: object) -> str:
        async with database.sessions() as session:
            with pytest.raises((Conflict, NotFound, InvalidInput)) as caught:
                await services.send_reply(session, actor, settings, participant_id=pid, now=now, **{"reply": None, "text": None, "at_once": False, **kwargs})
            await session.rollback()
        return f"{type(caught.value).__name__}: {caught.value.field}: {caught.value.message}"

    assert await refused(STAFF, ids["Zahra"], reply="noted") == f"Conflict: participant: participant {ids['Zahra']} has said /stop: Stegvis sends them nothing"
    assert await refused(STAFF, ids["Dawit"], reply="noted") == f"Conflict: participant: participant {ids['Dawit']} is unreachable (they blocked the bot): a reply would never arrive"
    assert await refused(STAFF, ids["Amina"], reply="noted") == f"Conflict: participant: participant {ids['Amina']} has not joined yet: there is no chat to send a reply to"
    assert await refused(STAFF, 999, reply="noted") == "NotFound: participant: no participant 999"
    as_other = Actor("caseworker", "per", caseworker_id=other)
    assert await refused(as_other, ids["Hassan"], reply="noted") == f"Conflict: participant: participant {ids['Hassan']} is not a participant of caseworker {other}: only their own caseworker replies"
    assert await refused(Actor("caseworker", "x", caseworker_id=77), ids["Hassan"], reply="noted") == "NotFound: caseworker: no caseworker 77"
    assert await refused(STAFF, ids["Hassan"], reply="hello") == "InvalidInput: reply: unknown quick reply 'hello': use one of call-you, stays-booked, come-to-office, noted, new-time"
    assert await refused(STAFF, ids["Hassan"]) == "InvalidInput: reply: give either a quick reply or a free text, not both and not neither"
    assert await refused(STAFF, ids["Hassan"], reply="noted", text="hej") == "InvalidInput: reply: give either a quick reply or a free text, not both and not neither"
    assert await refused(STAFF, ids["Hassan"], text=" \n ") == "InvalidInput: text: must not be empty"
    assert await refused(STAFF, ids["Hassan"], text="z" * 1001) == "InvalidInput: text: must be at most 1000 characters (it has 1001)"
    async with database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        assert await session.scalar(select(func.count()).select_from(Event).where(Event.type == "caseworker_reply")) == 0
        # Their own caseworker may; two replies are two messages.
        as_karin = Actor("caseworker", "karin", caseworker_id=karin)
        for _ in range(2):
            sent = await services.send_reply(session, as_karin, settings, participant_id=ids["Hassan"], reply="call-you", text=None, at_once=True, now=now)
        await session.commit()
        rows = list(await session.scalars(select(OutboxMessage)))
    assert [(r.composer, r.recipient_id, r.status, r.payload["reply"], r.payload["ignore_quiet_hours"]) for r in rows] == [("caseworker.reply", ids["Hassan"], OutboxStatus.PENDING, "call_you", True)] * 2
    assert sent.reply == "call_you" and sent.caseworker_id == karin


# ---- the command line ---------------------------------------------------------------------------


def test_reply_on_the_command_line(db: Path) -> None:
    sent = ok(db, "reply", "--participant", "1", "--with", "come-to-office")
    assert (sent["participant"], sent["caseworker"], sent["reply"], sent["text"], sent["now"]) == (1, 1, "come-to-office", None, False)
    sent = ok(db, "reply", "--participant", "1", "--text", "Ring mig när du kan.", "--now", "--caseworker", "1")
    assert (sent["reply"], sent["text"], sent["now"]) == (None, "Ring mig när du kan.", True)
    human = stegvis(db, "reply", "--participant", "1", "--with", "noted")
    assert human.returncode == 0 and human.stdout.startswith("Reply to participant 1 (caseworker 1): quick reply noted, goes out at 2027-01-04 12:00. Event ")
    night = stegvis(db, "reply", "--participant", "1", "--with", "noted", now="2027-01-04T22:30+01:00")
    assert night.returncode == 0 and "quick reply noted, goes out at 2027-01-05 08:00, when quiet hours end." in night.stdout
    night = ok(db, "reply", "--participant", "1", "--with", "noted", "--now", now="2027-01-04T22:30+01:00")
    assert (night["now"], night["held"], night["goes_out"]) == (True, False, "2027-01-04T22:30+01:00")


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("--participant", "1", "--with", "hi"), "--with: unknown quick reply 'hi': use one of call-you, stays-booked, come-to-office, noted, new-time"),
        (("--participant", "1"), "--with: give either a quick reply or a free text, not both and not neither"),
        (("--participant", "1", "--with", "noted", "--text", "hej"), "--with: give either a quick reply or a free text, not both and not neither"),
        (("--participant", "1", "--text", "   "), "--text must not be empty"),
        (("--participant", "1", "--text", "a" * 4000), "--text must be at most 1000 characters (it has 4000)"),
        (("--participant", "3", "--with", "noted"), "--participant: participant 3 has said /stop: Stegvis sends them nothing"),
        (("--participant", "2", "--with", "noted"), "--participant: participant 2 has not joined yet: there is no chat to send a reply to"),
        (("--participant", "9", "--with", "noted"), "--participant: no participant 9"),
        (("--participant", "1", "--with", "noted", "--caseworker", "5"), "--caseworker: no caseworker 5"),
    ],
)
def test_bad_input_is_refused_with_exit_2_and_changes_nothing(db: Path, args: tuple[str, ...], error: str) -> None:
    before = snapshot(db)
    assert error_of(stegvis(db, "reply", *args, "--json")) == {"error": error}
    plain = stegvis(db, "reply", *args)
    assert (plain.returncode, plain.stderr.strip()) == (2, f"stegvis: {error}")
    assert snapshot(db) == before


def test_a_missing_participant_option_is_a_usage_error(db: Path) -> None:
    result = stegvis(db, "reply", "--with", "noted", "--json")
    assert result.returncode == 2 and "--participant" in error_of(result)["error"]


async def test_a_voice_note_for_the_caseworker_during_an_open_check_in_is_theirs_and_the_check_in_goes_on(tmp_path: Path) -> None:
    from datetime import time

    from bot.features.activities import services as activities
    from bot.features.activities.schedule import WeeklyRule
    from bot.features.checkins.feature import checkins as checkin_job
    from bot.services import SYSTEM

    friday = date(2027, 1, 22)
    async with start_bot(tmp_path, clock=FrozenClock(datetime(2027, 1, 22, 9, tzinfo=TZ))) as harness:
        hassan, pid = await harness.joined("Hassan Ali", "so")
        settings, now = harness.stegvis.settings, harness.clock.now()
        async with harness.database.sessions() as session:
            aid = (await activities.add_activity(session, SYSTEM, settings, name="Språkcafé", organisation="Röda Korset", place="Nygatan 19", weekly=[WeeklyRule(1, time(10))], starts_on=date(2027, 1, 4), now=now)).id
            await activities.enrol(session, SYSTEM, settings, activity_id=aid, participant_id=pid, from_date=date(2027, 1, 11), now=now)
            await session.commit()
        harness.clock.set(datetime(friday.year, friday.month, friday.day, 14, tzinfo=TZ))
        await checkin_job(harness.stegvis)
        assert await Sender(harness.stegvis, harness.bot).tick() == 1
        await hassan.wait_for(lambda: bool(hassan.messages and hassan.messages[-1].buttons), what="the check-in")
        checkin = hassan.messages[-1]
        await hassan.send("/message")
        await hassan.next_reply()
        await hassan.send_voice(duration=4)
        assert (await hassan.next_reply()).text == t("so", STEPS["received"].say)
        assert (await hassan.next_reply()).text == checkin.text  # the check-in's question again
        types = await harness.event_types(pid)
        assert "participant_message" in types and "checkin_voice_note" not in types
        await hassan.send_voice(duration=5)  # now the check-in is the open question: practice, not a message
        await harness.settle()
        types = await harness.event_types(pid)
        assert types.count("participant_message") == 1 and "checkin_voice_note" in types
