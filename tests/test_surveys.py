"""Sending a flow to a group: the course evaluation reaches everyone once across a sender that died
mid-send (end to end against the sandbox, through the real outbox sender), stopped and invited
participants are skipped and counted, the answers come back as CSV and XLSX, and each bad
``stegvis flows start`` gets its error."""

from __future__ import annotations

import io
import sqlite3
from contextlib import closing
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.app import Stegvis
from bot.features.surveys import services
from bot.features.surveys.writers import results_csv, results_xlsx
from bot.outbox.sender import Sender
from bot.services import Actor, InvalidInput, NotFound
from flows.library import load_flows
from locales import Catalogs
from storage import outbox
from storage.clock import FrozenClock
from storage.database import Database
from storage.models import OutboxMessage, OutboxStatus
from tests.harness import BotHarness, start_bot
from tests.test_activities_cli import db, ok, stegvis, template  # noqa: F401 - fixtures
from tests.test_appointments_cli import error_of

TZ = ZoneInfo("Europe/Stockholm")
NOW = datetime(2027, 1, 19, 10, 0, tzinfo=TZ)  # a Tuesday morning, outside quiet hours
FLOWS = load_flows()
STEPS = FLOWS["course_eval"].steps
CATALOGS = Catalogs()
STAFF = Actor("cli", "test")
QUESTION = STEPS["overall"].say


def t(language: str, msgid: str) -> str:
    return CATALOGS.texts(language).gettext(msgid)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[BotHarness]:
    async with start_bot(tmp_path, clock=FrozenClock(NOW)) as running:
        yield running


async def start(harness: BotHarness, **group: object) -> services.Started:
    now = harness.stegvis.clock.now()
    async with harness.database.sessions() as session:
        started = await services.start_flow(session, STAFF, flows=FLOWS, flow="course_eval", now=now, tz=TZ, quiet=harness.stegvis.settings.quiet, **group)
        await session.commit()
    return started


def asked(user, language: str) -> int:
    return sum(1 for m in user.messages if m.text == t(language, QUESTION))


async def test_a_group_send_reaches_everyone_once_across_a_restart_and_the_answers_come_back(harness: BotHarness, tmp_path: Path) -> None:
    people = [await harness.joined(name, code) for name, code in (("Hassan Ali", "ar"), ("Amina Yusuf", "so"), ("Senait Tesfay", "ti"), ("Sara Lind", "sv"))]
    (hassan, h), (amina, a), (senait, s), (sara, _) = people
    stopped, stopped_id = await harness.joined("Dawit Haile", "ti")
    await stopped.send("/stop")
    await stopped.next_reply()
    await harness.settle()
    invited = harness.participant_id(await harness.invite("Zahra Ahmadi"))

    # Hassan first, on his own: sent at once by this process.
    first = await start(harness, participant_ids=[h])
    assert first.planned == [h]
    assert await Sender(harness.stegvis, harness.bot).tick() == 1
    await hassan.wait_for(lambda: asked(hassan, "ar") == 1, what="Hassan's question")

    # Then his caseworker's whole group: Hassan is not asked again, Dawit and Zahra are skipped.
    group = await start(harness, caseworker_id=harness.caseworker_id)
    assert group.planned == [a, s, people[3][1]] and group.already == [h]
    assert group.skipped == {"stopped": [stopped_id], "unreachable": [], "invited": [invited], "finished": [], "ended": []}

    # A sender claims the three rows and dies before sending any of them.
    async with harness.database.sessions() as session:
        claimed = await outbox.claim(session, worker="dead-process", now=NOW, limit=10)
        await session.commit()
    assert len(claimed) == 3

    # Another process, a lease later, takes them over.
    later = FrozenClock(NOW + timedelta(seconds=harness.stegvis.settings.send_lease + 1))
    again = Stegvis.create(harness.stegvis.settings, clock=later, database=Database(harness.stegvis.settings.database_url))
    bot = again.create_bot()
    try:
        assert await Sender(again, bot).tick() == 3
        assert await Sender(again, bot).tick() == 0
    finally:
        await bot.session.close()
        await again.close()
    for user, code in ((amina, "so"), (senait, "ti"), (sara, "sv")):
        await user.wait_for(lambda user=user, code=code: asked(user, code) == 1, what=f"the question in {code}")
    # And starting it again plans nothing: nobody is asked twice.
    assert (await start(harness, caseworker_id=harness.caseworker_id)).planned == []
    async with harness.database.sessions() as session:
        rows = (await session.execute(select(OutboxMessage.status).where(OutboxMessage.composer == "surveys.flow"))).scalars().all()
    assert sorted(rows) == [OutboxStatus.SENT] * 4
    assert [asked(user, code) for (user, _), code in zip(people, ("ar", "so", "ti", "sv"), strict=True)] == [1, 1, 1, 1]
    assert asked(stopped, "ti") == 0

    # Two answer it all (one writes a comment, one skips it); Senait stops after the first question.
    for user, code, comment in ((hassan, "ar", "المعلمة كانت ممتازة"), (amina, "so", None)):
        await user.press(t(code, "😄 Bra"))
        await user.wait_for(lambda user=user, code=code: user.messages[-1].text == t(code, STEPS["useful"].say), what="the second question")
        await user.press(t(code, "Lite"))
        await user.wait_for(lambda user=user, code=code: user.messages[-1].text == t(code, STEPS["pace"].say), what="the third question")
        await user.press(t(code, "Lagom"))
        await user.wait_for(lambda user=user, code=code: user.messages[-1].text == t(code, STEPS["comment"].say), what="the comment")
        if comment:
            await user.send(comment)
        else:
            await user.press(t(code, "Hoppa över"))
        await user.wait_for(lambda user=user, code=code: user.messages[-1].text == t(code, STEPS["thanks"].say), what="the thanks")
    await senait.press(t("ti", "🙁 Dåligt"))
    await senait.wait_for(lambda: senait.messages[-1].text == t("ti", STEPS["useful"].say), what="Senait's second question")
    await harness.settle()

    async with harness.database.sessions() as session:
        results = await services.flow_results(session, STAFF, flows=FLOWS, flow="course_eval", now=NOW)
    csv = results_csv(results, TZ).decode("utf-8-sig").split("\r\n")
    assert csv[0] == "Deltagare;Namn;Språk;Skickad;Klar;" + ";".join(STEPS[step].say for step in ("overall", "useful", "pace", "comment"))
    assert csv[1] == f"{h};Hassan Ali;arabiska;2027-01-19 10:00;2027-01-19 10:00;😄 Bra;Lite;Lagom;المعلمة كانت ممتازة"
    assert csv[2] == f"{a};Amina Yusuf;somaliska;2027-01-19 10:01;2027-01-19 10:00;😄 Bra;Lite;Lagom;Hoppa över"
    assert csv[3] == f"{s};Senait Tesfay;tigrinja;2027-01-19 10:01;;🙁 Dåligt;;;"
    assert csv[4].startswith(f"{people[3][1]};Sara Lind;svenska;2027-01-19 10:01;;;") and csv[5:] == [""]

    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(results_xlsx(results, NOW, TZ))).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[1][:6] == ("Deltagare", "Namn", "Språk", "Skickad", "Klar", QUESTION)
    assert values[2][:6] == (h, "Hassan Ali", "arabiska", "2027-01-19 10:00", "2027-01-19 10:00", "😄 Bra")
    assert values[2][8] == "المعلمة كانت ممتازة" and len(values) == 6


async def test_a_finished_participant_is_skipped_and_counted(harness: BotHarness) -> None:
    user, pid = await harness.joined("Amina Yusuf", "so")
    await start(harness, participant_ids=[pid])
    assert await Sender(harness.stegvis, harness.bot).tick() == 1
    await user.wait_for(lambda: asked(user, "so") == 1, what="the question")
    for label, then in (("😐 Okej", "useful"), ("Ja, mycket", "pace"), ("För snabbt", "comment"), ("Hoppa över", "thanks")):
        await user.press(t("so", label))
        await user.wait_for(lambda then=then: user.messages[-1].text == t("so", STEPS[then].say), what=then)
    await harness.settle()
    harness.clock.advance(timedelta(days=1))  # another day's send of the same flow
    started = await start(harness, participant_ids=[pid])
    assert started.planned == [] and started.skipped["finished"] == [pid]


async def test_a_flow_that_needs_a_thing_or_picks_a_language_cannot_go_to_a_group(harness: BotHarness) -> None:
    async with harness.database.sessions() as session:
        for flow, why in (
            ("reminder", "flow 'reminder' needs {day}, {place}, {time}, {title}, which a group send cannot fill in (only {name}): Stegvis starts it itself"),
            ("onboarding", "flow 'onboarding' picks a language: Stegvis starts it itself"),
        ):
            with pytest.raises(InvalidInput) as refused:
                await services.start_flow(session, STAFF, flows=FLOWS, flow=flow, caseworker_id=1, now=NOW, tz=TZ, quiet=None)
            assert (refused.value.message, refused.value.field) == (why, "flow")
        with pytest.raises(NotFound) as unknown:
            await services.start_flow(session, STAFF, flows=FLOWS, flow="survey", caseworker_id=1, now=NOW, tz=TZ, quiet=None)
        assert unknown.value.message.startswith("no flow 'survey'; the flows are: checkin, coming_today, course_eval,")


def test_flows_start_refuses_an_unknown_flow_activity_participant_or_time_and_changes_nothing(db: Path) -> None:  # noqa: F811
    flows = ("flows", "start", "course_eval")
    assert error_of(stegvis(db, "flows", "start", "nope", "--activity", "1", "--json")) == {
        "error": "no flow 'nope'; the flows are: checkin, coming_today, course_eval, language, message, onboarding, reminder"
    }
    assert error_of(stegvis(db, *flows, "--activity", "9", "--json")) == {"error": "--activity: no activity with id 9 (see: stegvis activity list)"}
    assert error_of(stegvis(db, *flows, "--caseworker", "4", "--json")) == {"error": "--caseworker: no caseworker with id 4"}
    assert error_of(stegvis(db, *flows, "--participants", "1,8,9", "--json")) == {"error": "--participants: no participant with id 8, 9 (see: stegvis participant list)"}
    assert error_of(stegvis(db, *flows, "--participants", "1,x", "--json")) == {"error": "--participants: \"x\" is not a participant id; use the number from: stegvis participant list"}
    assert error_of(stegvis(db, *flows, "--activity", "1", "--at", "2020-01-01T10:00", "--json")) == {"error": "--at: 2020-01-01 10:00 is in the past"}
    assert "one of the arguments --activity --caseworker --participants is required" in error_of(stegvis(db, *flows, "--json"))["error"]
    assert ok(db, "flows", "results", "course_eval") == {"flow": "course_eval", "questions": [
        {"step": step, "text": STEPS[step].say} for step in ("overall", "useful", "pace", "comment")
    ], "participants": [], "format": "csv", "output": None}
    # The activity's enrolled: Hassan (active) is planned, Zahra (not joined yet) skipped; then
    # Hassan is not planned again, and Dawit (stopped) is skipped.
    ok(db, "activity", "enrol", "1", "--participant", "1")
    ok(db, "activity", "enrol", "1", "--participant", "2")
    sent = ok(db, *flows, "--activity", "1", "--at", "2027-01-05T09:00")
    assert (sent["planned"], sent["already"], sent["skipped"], sent["due_at"]) == ([1], [], {"invited": [2]}, "2027-01-05T09:00:00+01:00")
    again = ok(db, *flows, "--participants", "1,3", "--at", "2027-01-05T09:00")
    assert (again["planned"], again["already"], again["skipped"]) == ([], [1], {"stopped": [3]})
    with closing(sqlite3.connect(db / "cli.sqlite3")) as connection:
        assert connection.execute("SELECT recipient_id, composer, slot, status FROM outbox").fetchall() == [(1, "surveys.flow", "course_eval:v1", "pending")]
