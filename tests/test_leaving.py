"""Leaving Stegvis: ending a participation, erasure, retention, a participant's own copy, /mydata.

Most tests are storage and service tests on a real database (milliseconds); one end-to-end
scenario on the sandbox covers what a participant sees: /mydata, the goodbye, a finished
participant writing, and an erased one who is a stranger. The erasure test fills the reports'
January (tests/test_reports.py), erases Hassan, and checks both that the reports give the same
numbers and that no text column of any table still holds his name, chat id, invite code or
voice-note file id.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.config import SettingsError, load_settings
from bot.features.leaving import erasure, export, services
from bot.features.leaving.feature import erase_expired
from bot.features.leaving.messages import GOODBYE_TEXT, FormerParticipants, GoodbyeMessage
from bot.features.leaving.router import CONFIRM, FINISHED
from bot.features.leaving.router import DESCRIPTION as MYDATA
from bot.features.participants.newcomers import NO_LINK
from bot.outbox.composers import Addressee
from bot.outbox.sender import Sender
from bot.services import SYSTEM, Conflict, InvalidInput, NotFound
from locales import LANGUAGES, Catalogs
from storage import access_log, outbox
from storage.clock import FrozenClock
from storage.database import Database
from storage.repositories import invite_hash
from storage.models import (
    Appointment, Base, ConsentRecord, Conversation, Enrolment, Event, Invite, OutboxMessage, OutboxStatus, Participant,
    ParticipantStatus, RecipientKind,
)
from tests.harness import start_bot
from tests.test_reports import HASSAN, JANUARY, NOW, Filler, Month, attendance, checkins, fill_checkins, fill_january

TZ_NAME = "Europe/Stockholm"
CATALOGS = Catalogs()
CHAT, CODE, VOICE = 987654321, "inv-hassan-7Qx", "AwACAgQAAxkBAAIBvoiceHassan"


def local(day: date, hour: int = 12) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime.combine(day, time(hour), ZoneInfo(TZ_NAME)).astimezone(timezone.utc)


async def give_hassan_a_life(database: Database) -> None:
    """What a real participant has beside the statistics: a chat, an invite, consent, a
    conversation with typed text, an appointment, messages both ways, a voice note, outbox rows."""
    async with database.sessions() as session:
        hassan = await session.get(Participant, HASSAN)
        hassan.telegram_chat_id, hassan.status, hassan.language = CHAT, ParticipantStatus.ACTIVE, "ar"
        session.add_all([
            Invite(code_hash=invite_hash(CODE), participant_id=HASSAN, created_at=NOW, expires_at=NOW + timedelta(days=14), used_at=NOW),
            ConsentRecord(participant_id=HASSAN, notice_version="2026-11", answer="agreed", recorded_at=NOW),
            Conversation(participant_id=HASSAN, flow="message", step="write", data={"runs": [{"flow": "message", "data": {"draft": "Hassan här"}}]}, updated_at=NOW),
            Appointment(participant_id=HASSAN, starts_at=NOW + timedelta(days=3), place="Hassans hem, Storgatan 1", title="Hembesök hos Hassan", created_at=NOW, updated_at=NOW),
            Event(type="participant_message", participant_id=HASSAN, occurred_at=NOW, payload={"text": "Hej, det är Hassan, ring 0701234567", "language": "ar"}),
            Event(type="participant_message", participant_id=HASSAN, occurred_at=NOW, payload={"voice": {"file_id": VOICE, "duration": 4}, "language": "ar"}),
            Event(type="caseworker_reply", participant_id=HASSAN, occurred_at=NOW, payload={"text": "Hej Hassan, jag ringer.", "caseworker_id": 1, "now": False}),
            Event(type="activity_report", participant_id=HASSAN, occurred_at=NOW, payload={"activity_id": 1, "date": "2027-01-26", "text": "Hassan är sjuk"}),
        ])
        await session.flush()
        for slot in ("3d", "1d"):
            await outbox.enqueue(session, outbox.Planned(outbox.Recipient.participant(HASSAN), "appointments.reminder", NOW, slot=slot, payload={"name": "Hassan"}), now=NOW)
        await session.commit()


async def reports(database: Database) -> Any:
    return (
        (await attendance(database, by_gender=True)).as_json(),
        (await checkins(database, JANUARY, by_gender=True)).as_json(),
        (await checkins(database, Month(2027, 2), by_gender=True)).as_json(),
    )


async def every_text(database: Database) -> list[tuple[str, str]]:
    """(table, value) for every non-empty column value of every table, as text."""
    found = []
    async with database.sessions() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                found += [(table.name, json.dumps(value, ensure_ascii=False, default=str)) for value in row if value is not None]
    return found


async def erase(database: Database, pid: int, *, confirm: bool = True, steps: Any = erasure.STEPS) -> services.Erasure:
    async with database.sessions() as session:
        result = await services.erase_participant(session, SYSTEM, participant_id=pid, confirm=confirm, now=NOW, steps=steps)
        await session.commit()
    return result


@pytest.fixture
async def january(database: Database) -> Database:
    f = Filler()
    fill_january(f)
    fill_checkins(f)
    await f.write(database)
    await give_hassan_a_life(database)
    return database


async def test_erasure_leaves_no_trace_and_the_months_reports_are_unchanged(january: Database) -> None:
    with pytest.raises(Conflict, match="participant 1 is active: end their participation first"):
        await erase(january, HASSAN)
    await end(january, HASSAN, "other_programme")
    before = await reports(january)
    assert before[0]["total"]["present"] > 0 and before[1]["total"]["sent"] > 0  # Hassan is in both
    texts = await every_text(january)
    assert any(invite_hash(CODE) in v for _t, v in texts) and any(str(CHAT) in v for _t, v in texts) and any("Hassan" in v for _t, v in texts)

    result = await erase(january, HASSAN)

    assert result.confirmed and {s.table for s in result.steps} >= {"participants", "events", "outbox", "access_log"}
    assert await reports(january) == before  # the same numbers, gender rows included
    for needle in ("Hassan", str(CHAT), CODE, invite_hash(CODE), VOICE, "0701234567", "Storgatan 1"):
        assert [(t, v) for t, v in await every_text(january) if needle in v] == [], needle
    async with january.sessions() as session:
        assert await session.get(Participant, HASSAN) is None
        [pseudonym] = (await session.scalars(select(Participant).where(Participant.status == ParticipantStatus.ERASED))).all()
        assert pseudonym.id < 0 and pseudonym.name == "" and pseudonym.telegram_chat_id is None and pseudonym.language is None
        assert pseudonym.gender == "woman"  # the reports by gender need it
        assert (pseudonym.finish_reason, pseudonym.finished_on) == ("other_programme", date(2027, 1, 27))  # the funders count it
        kept = (await session.execute(select(Event.type, Event.payload).where(Event.participant_id == pseudonym.id))).all()
        assert kept and {t for t, _p in kept} == {"activity_report", "participant_finished"}
        assert all(set(p) <= {"activity_id", "date", "coming", "reason"} for _t, p in kept)  # the free text is gone, so is the finish's "was"
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    # Erasing again, or an unknown id, or the pseudonym's id: a clear error, nothing changed.
    snapshot = await every_text(january)
    for pid in (HASSAN, 999, pseudonym.id):
        with pytest.raises(NotFound, match=f"no participant with id {pid} "):
            await erase(january, pid)
    assert await every_text(january) == snapshot


async def test_without_confirm_erasure_counts_and_changes_nothing(january: Database) -> None:
    before = await every_text(january)
    result = await erase(january, HASSAN, confirm=False)
    assert not result.confirmed
    counts = {(s.table, s.action): s.rows for s in result.steps}
    assert counts[("invites", "delete")] == 1 and counts[("outbox", "delete")] == 2 and counts[("appointments", "delete")] == 1
    assert counts[("access_log", "keep")] == 0 and counts[("attendance", "de-identify")] > 0
    assert await every_text(january) == before


async def test_an_erasure_interrupted_midway_erases_nothing(january: Database) -> None:
    await end(january, HASSAN)
    before = await every_text(january)

    async def crash(session: Any, target: Any) -> None:
        raise RuntimeError("the disk is full")

    index = [s.table for s in erasure.STEPS].index("outbox")  # after the pseudonym, the moves and the events
    steps = (*erasure.STEPS[:index], erasure.Step("outbox", "delete", "crash", erasure._one, crash), *erasure.STEPS[index:])
    with pytest.raises(RuntimeError, match="disk is full"):
        await erase(january, HASSAN, steps=steps)
    assert await every_text(january) == before


def test_every_table_is_an_erasure_step_or_holds_nothing_about_a_participant() -> None:
    # A new table must say what erasure does with it; the access log is kept, never deleted.
    assert set(Base.metadata.tables) <= erasure.covered_tables()
    [access_log] = [s for s in erasure.STEPS if s.table == "access_log"]
    assert access_log.action == "keep" and access_log.run is None


# ---- finishing --------------------------------------------------------------------------------


async def end(database: Database, pid: int, reason: str = "work", on: date | None = None, now: datetime = NOW) -> services.Finished:
    async with database.sessions() as session:
        done = await services.end_participation(session, SYSTEM, participant_id=pid, reason=services.parse_reason(reason), on=on, tz=load_settings().tz, now=now)
        await session.commit()
    return done


async def test_ending_a_participation_stops_everything_and_plans_one_goodbye(january: Database) -> None:
    done = await end(january, HASSAN, "studies", on=date(2027, 1, 27))
    assert (done.finished_on, done.reason, done.goodbye, done.withdrawn, done.enrolments_ended) == (date(2027, 1, 27), "studies", True, 2, 2)
    async with january.sessions() as session:
        hassan = await session.get(Participant, HASSAN)
        assert (hassan.status, hassan.finished_on, hassan.finish_reason) == (ParticipantStatus.FINISHED, date(2027, 1, 27), "studies")
        assert {e.left_date for e in await session.scalars(select(Enrolment).where(Enrolment.participant_id == HASSAN))} == {date(2027, 1, 27)}
        rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        assert [(r.recipient_kind, r.composer, r.status) for r in rows] == [
            ("participant", "appointments.reminder", OutboxStatus.CANCELLED), ("participant", "appointments.reminder", OutboxStatus.CANCELLED),
            (RecipientKind.FORMER.value, "leaving.goodbye", OutboxStatus.PENDING),
        ]
        assert (await session.get(Conversation, HASSAN)).data == {"runs": []}
        # The sender claims the goodbye; the former recipient kind reaches only the finished.
        [claimed] = await outbox.claim(session, worker="t", now=NOW, limit=10)
        assert claimed.composer == "leaving.goodbye"
        [addressee] = (await FormerParticipants().load(session, [HASSAN])).values()
        assert addressee.may_receive and addressee.chat_id == CHAT
        [event] = (await session.scalars(select(Event).where(Event.type == "participant_finished"))).all()
        assert event.payload == {"reason": "studies", "date": "2027-01-27", "was": "active"}
    # The month's attendance report no longer expects him after the 27th; January is as it was.
    # Ending twice: a clear error, nothing changed.
    before = await every_text(january)
    with pytest.raises(Conflict, match="already finished on 2027-01-27"):
        await end(january, HASSAN)
    assert await every_text(january) == before


async def test_bad_endings_are_refused_and_change_nothing(january: Database) -> None:
    before = await every_text(january)
    with pytest.raises(ValueError, match="must be one of work, studies, other_programme, moved, other, not 'jobb'"):
        services.parse_reason("jobb")
    with pytest.raises(InvalidInput, match="is in the future") as future:
        await end(january, HASSAN, on=date(2027, 1, 28))
    assert future.value.field == "date"
    with pytest.raises(InvalidInput, match="is before participant 1 was added"):
        await end(january, HASSAN, on=date(2020, 1, 1))
    with pytest.raises(NotFound, match="no participant with id 77"):
        await end(january, 77)
    assert await every_text(january) == before


def test_the_goodbye_is_in_their_language() -> None:
    row = OutboxMessage(id=1, recipient_id=1, payload={})
    for code in LANGUAGES:
        sprint = GoodbyeMessage(CATALOGS).compose(Addressee(1, code, True, True), None, row)
        [message] = sprint.messages
        assert message.text == CATALOGS.texts(code).gettext(GOODBYE_TEXT)
        assert code == "sv" or message.text != GOODBYE_TEXT


# ---- retention ---------------------------------------------------------------------------------


def test_a_retention_setting_must_be_a_whole_number_of_months() -> None:
    assert load_settings().retention_months == 12
    assert load_settings(retention_months="6").retention_months == 6
    for bad in ("0", "-1", "twelve", "1.5", ""):
        with pytest.raises(SettingsError, match=r"^STEGVIS_RETENTION_MONTHS: must be a whole number of months from 1 to 120"):
            load_settings(retention_months=bad)


def test_the_privacy_notice_says_the_retention_setting() -> None:
    from flows.library import load_flows
    from flows.engine import Engine

    engine = Engine(load_flows(), CATALOGS)
    for code in LANGUAGES:
        [notice] = engine.start("onboarding", language=code, variables={"name": "Amina", "retention_months": 18}, at="privacy").messages
        digits = "۱۸" if code == "fa_AF" else "18"
        assert "18" in notice.text or digits in notice.text, code
        assert "12" not in notice.text and "۱۲" not in notice.text, code


async def test_retention_erases_across_the_boundary_day_in_local_time(database: Database) -> None:
    # Today is 16 January 2028 in Stockholm. 12 months + 1 day ago: 15 January 2027; 11 months 30 days ago: 17 January 2027.
    now = local(date(2028, 1, 16), 10)
    f = Filler()
    for pid, name in ((1, "Old Finished"), (2, "New Finished"), (3, "Old Stopped"), (4, "New Stopped"), (5, "Active")):
        f.participant(pid, name, None)
    await f.write(database)
    async with database.sessions() as session:
        for pid, day in ((1, date(2027, 1, 15)), (2, date(2027, 1, 17))):
            p = await session.get(Participant, pid)
            p.status, p.finished_on, p.finish_reason = ParticipantStatus.FINISHED, day, "work"
        for pid in (3, 4):
            (await session.get(Participant, pid)).status = ParticipantStatus.STOPPED
        (await session.get(Participant, 5)).status = ParticipantStatus.ACTIVE
        # Stopped at 23:30 UTC on the 14th is 00:30 on the 15th in Stockholm: 12 months and 1 day by local date.
        session.add(Event(type="participant_stopped", participant_id=3, occurred_at=datetime(2027, 1, 14, 23, 30, tzinfo=timezone.utc), payload={}))
        # Stopped twice: the latest counts (17 January 2027, local), so not yet.
        session.add(Event(type="participant_stopped", participant_id=4, occurred_at=local(date(2026, 3, 1)), payload={}))
        session.add(Event(type="participant_stopped", participant_id=4, occurred_at=local(date(2027, 1, 17), 0), payload={}))
        await session.commit()
        due = await services.due_for_erasure(session, months=12, tz=load_settings().tz, now=now)
    assert [(d.participant_id, d.status, d.since) for d in due] == [(1, "finished", date(2027, 1, 15)), (3, "stopped", date(2027, 1, 15))]

    settings = load_settings(database_url=database.engine.url.render_as_string(hide_password=False), timezone=TZ_NAME)
    stegvis = SimpleNamespace(settings=settings, clock=FrozenClock(now), database=database)
    assert await erase_expired(stegvis) == 2
    assert await erase_expired(stegvis) == 0  # the next day's run finds nobody new
    async with database.sessions() as session:
        left = dict((await session.execute(select(Participant.name, Participant.status).where(Participant.status != ParticipantStatus.ERASED))).all())
    assert left == {"New Finished": "finished", "New Stopped": "stopped", "Active": "active"}


# ---- a participant's own copy -------------------------------------------------------------------


@pytest.mark.parametrize("code", list(LANGUAGES))
async def test_export_in_each_language(january: Database, code: str) -> None:
    async with january.sessions() as session:
        hassan = await session.get(Participant, HASSAN)
        hassan.language = code
        session.add(Event(type="participant_message", participant_id=HASSAN, occurred_at=NOW, payload={"text": "<script>alert(1)</script>", "language": code}))
        await session.commit()
        found = await export.collect(session, SYSTEM, participant_id=HASSAN, now=NOW)
    language, texts = LANGUAGES[code], CATALOGS.texts(code)
    assert [s.key for s in found.sections] == ["profile", "consents", "appointments", "activities", "attendance", "checkins", "messages", "history", "access_log"]
    page = export.as_html(found, CATALOGS, load_settings().tz)
    assert f'<html lang="{code.replace("_", "-")}" dir="{"rtl" if language.rtl else "ltr"}">' in page
    assert f"<h1>{texts.gettext(export.PAGE_TITLE)}</h1>" in page
    assert texts.gettext("Meddelanden med din handläggare") in page and texts.gettext(export.VOICE_NOTE) in page
    assert "<script>" not in page and "&lt;script&gt;" in page  # what people typed is escaped
    # Stored codes in their words: his status, a check-in's practice and places, his consent.
    for words in (export.WORDS["status"]["active"], export.WORDS["practice"]["a_lot"], export.WORDS["places"]["sfi"], export.WORDS["answer"]["agreed"], export.WORDS["gender"]["woman"]):
        assert f"<td>{texts.gettext(words)}" in page, words
    assert "a_lot" not in page and "<td>active</td>" not in page
    from babel.dates import format_date

    assert format_date(date(2027, 1, 5), "d MMMM y", locale=language.babel_locale) in page  # an enrolment's first day, in their locale
    assert "Hassan" in page and "Nygatan 19" not in page  # his own data; activities' places are not his
    if code != "sv":
        assert "Dina uppgifter i Stegvis" not in page
    data = json.loads(export.as_json(found))
    sections = {s["key"]: s for s in data["sections"]}
    assert sections["profile"]["rows"][0]["name"] == "Hassan" and sections["consents"]["rows"][0]["notice_version"] == "2026-11"
    assert {"at", "from", "text"} == set(sections["messages"]["rows"][0])


def test_export_cli_refuses_an_unwritable_path_and_a_bad_format(tmp_path: Path) -> None:
    from tests.test_appointments_cli import error_of, stegvis

    assert stegvis(tmp_path, "caseworker", "add", "--name", "Karin Lund").returncode == 0
    assert stegvis(tmp_path, "participant", "add", "--name", "Hassan", "--caseworker", "1", "--language", "ar").returncode == 0
    assert error_of(stegvis(tmp_path, "participant", "export", "1", "--output", str(tmp_path / "none" / "x.html"), "--json")) == {"error": f"--output: there is no folder {tmp_path / 'none'}"}
    assert error_of(stegvis(tmp_path, "participant", "export", "1", "--format", "pdf", "--json")) == {"error": "--format must be json or html, not 'pdf'"}
    assert error_of(stegvis(tmp_path, "participant", "erase", "5", "--json"))["error"].startswith("no participant with id 5 ")
    written = stegvis(tmp_path, "participant", "export", "1", "--output", str(tmp_path / "hassan.html"))
    assert written.returncode == 0 and 'dir="rtl"' in (tmp_path / "hassan.html").read_text(encoding="utf-8")
    ended = stegvis(tmp_path, "participant", "end", "1", "--reason", "moved", "--json")
    assert ended.returncode == 0 and json.loads(ended.stdout)["goodbye"] is False  # never joined: no chat to say goodbye in
    assert "finished" in stegvis(tmp_path, "participant", "list").stdout
    assert error_of(stegvis(tmp_path, "participant", "invite", "1", "--json"))["error"].startswith("participant 1 has finished the programme")
    import sqlite3

    with sqlite3.connect(tmp_path / "cli.sqlite3") as db:  # the link they never used no longer works
        [(expires,)] = db.execute("SELECT expires_at FROM invites").fetchall()
        assert expires.startswith("2029-06-01 10:00:00")  # expired at the moment the participation ended (12:00 in Stockholm)
    dry = stegvis(tmp_path, "participant", "erase", "1")
    assert dry.returncode == 0 and dry.stdout.startswith("Would erase participant 1 (nothing changed")
    assert stegvis(tmp_path, "participant", "list").stdout.count("Hassan") == 1


# ---- what a participant sees --------------------------------------------------------------------


async def test_mydata_the_goodbye_finished_and_then_a_stranger(tmp_path: Path) -> None:
    from bot.features.digest.content import build_digest

    async with start_bot(tmp_path, clock=FrozenClock(local(date(2027, 1, 19), 10))) as harness:
        from aiogram.types import BotCommandScopeAllPrivateChats

        for language in LANGUAGES.values():  # /mydata is in the menu, in every language
            commands = await harness.bot.get_my_commands(scope=BotCommandScopeAllPrivateChats(), language_code=language.telegram_code)
            assert [c.description for c in commands if c.command == "mydata"] == [CATALOGS.texts(language.code).gettext(MYDATA)]
        user, pid = await harness.joined("Senait Tesfay", "ti")
        ti = CATALOGS.texts("ti")
        await user.send("/mydata")
        assert (await user.next_reply()).text == ti.gettext(CONFIRM)
        await harness.settle()
        assert "data_copy_requested" in await harness.event_types(pid)
        async with harness.database.sessions() as session:
            digest = await build_digest(session, harness.stegvis.settings, caseworker_id=harness.caseworker_id, day=date(2027, 1, 20), now=harness.clock.now())
        [line] = [line for s in digest.sections for line in s.lines if line.kind == "mydata"]
        assert line.participant.id == pid and f"stegvis participant export {pid}" in line.text
        from bot.features.digest.render import render_telegram, render_text

        assert f"stegvis participant export {pid}" in render_text(digest, harness.stegvis.settings)
        assert any(f"stegvis participant export {pid}" in m.text for m in render_telegram(digest, harness.stegvis.settings))

        await end(harness.database, pid, "work", now=harness.clock.now())
        assert await Sender(harness.stegvis, harness.bot).tick() == 1
        await user.wait_for(lambda: user.messages[-1].text == ti.gettext(GOODBYE_TEXT), what="the goodbye in Tigrinya")
        await user.send("Selam")
        assert (await user.next_reply()).text == ti.gettext(FINISHED)

        async with harness.database.sessions() as session:
            await services.erase_participant(session, SYSTEM, participant_id=pid, confirm=True, now=harness.clock.now())
            await session.commit()
        await user.send("Selam")
        assert (await user.next_reply()).text == CATALOGS.in_all_languages(NO_LINK)  # a stranger: no record, nothing known about them


async def test_the_copy_lists_who_looked_at_their_data_the_export_is_logged_and_erasure_keeps_the_log(january: Database) -> None:
    async with january.sessions() as session:
        await access_log.record(session, "caseworker:1", access_log.DIGEST_SHOW, [HASSAN, HASSAN + 1], now=NOW - timedelta(days=2))
        await access_log.record(session, "cli:anna", access_log.PARTICIPANT_LIST, [HASSAN + 1], now=NOW - timedelta(days=1))
        found = await export.collect(session, SYSTEM, participant_id=HASSAN, now=NOW)
        await session.commit()
    [section] = [s for s in found.sections if s.key == "access_log"]
    assert [(who, what) for _at, who, what in section.rows] == [("caseworker:1", "digest.show")]  # not the listing that showed only someone else
    async with january.sessions() as session:
        about = await access_log.rows_about(session, HASSAN)
    assert [(r.what, r.participant_ids) for r in about] == [("digest.show", (HASSAN,)), ("participant.export", (HASSAN,))]

    await end(january, HASSAN)
    dry_run = await erase(january, HASSAN, confirm=False)
    assert {(s.table, s.action): s.rows for s in dry_run.steps}[("access_log", "keep")] == 2
    await erase(january, HASSAN)
    async with january.sessions() as session:
        assert [r.what for r in await access_log.rows_about(session, HASSAN)] == ["digest.show", "participant.export"]  # who looked stays provable
