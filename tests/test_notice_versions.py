"""The privacy notice's version follows its text (flows/notice.py, flows/notice_versions.yaml), and
active participants who agreed to another version are asked again: on their next message, and
through the outbox for those who do not write.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select

from bot.app import Stegvis
from bot.config import load_settings
from bot.features.participants import notice_again
from bot.features.participants.notice import CHANGED
from bot.outbox.sender import Sender
from flows import notice
from flows.check import check_flow
from flows.definition import Flow, FlowError
from flows.library import DEFINITIONS, load_flows
from storage.clock import FrozenClock
from storage.models import ConsentRecord, OutboxMessage, OutboxStatus, Participant
from tests.harness import start_bot

ONBOARDING = DEFINITIONS / "onboarding.yaml"
LOAD_VERSIONS = notice.load_versions  # the real one, while a test replaces it


def test_the_shipped_notice_has_a_version_and_a_changed_text_is_refused_with_how_to_add_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    versions = notice.load_versions()
    onboarding = load_flows()["onboarding"]
    assert notice.check(onboarding, versions) == [] and notice.version_of(onboarding, versions) == "2026-12"
    assert notice.check(load_flows()["reminder"], versions) == []  # only the onboarding flow has the notice

    # The text changed (one word), the buttons still say 2026-12: no version for that text.
    changed = ONBOARDING.read_text(encoding="utf-8").replace("Bara din handläggare ser dem.", "Bara din handläggare och Stegvis ser dem.")
    report = check_flow(changed, file="onboarding.yaml", expected_id="onboarding")
    [error] = [e for e in report.errors if e.where == "privacy.say"]
    flow = load_flows_from(tmp_path, changed)
    new_hash = notice.text_hash(flow.steps["privacy"].say or "")
    assert str(error) == (
        f"onboarding.yaml:14: privacy.say: the privacy notice's text has no version: add it to flows/notice_versions.yaml as a new line under versions, "
        f'e.g. "YYYY-MM": {new_hash}, and set that version as notice_version in both consent buttons'
    )
    assert report.flow is None  # never published

    # Listed as 2027-03, but the buttons still record 2026-12: each button is named.
    listed = {**versions, "2027-03": new_hash}
    assert [(e.line, e.where, e.problem) for e in notice.check(flow, listed)] == [
        (21, "privacy.agree.payload", "notice_version is '2026-12', but this notice text is version '2027-03' in flows/notice_versions.yaml"),
        (26, "privacy.decline.payload", "notice_version is '2026-12', but this notice text is version '2027-03' in flows/notice_versions.yaml"),
    ]
    fixed = load_flows_from(tmp_path, changed.replace('notice_version: "2026-12"', 'notice_version: "2027-03"'))
    assert notice.check(fixed, listed) == [] and notice.version_of(fixed, listed) == "2027-03"

    # Start-up refuses a notice text without a version.
    monkeypatch.setattr(notice, "load_versions", lambda: {"2026-12": "0" * 64})
    with pytest.raises(FlowError, match="the privacy notice's text has no version"):
        Stegvis.create(load_settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/x.sqlite3"))

    bad = tmp_path / "versions.yaml"
    bad.write_text("versions:\n  '2026-12': not-a-hash\n", encoding="utf-8")
    with pytest.raises(FlowError, match="must map each notice version to the SHA-256"):
        LOAD_VERSIONS(bad)


def load_flows_from(tmp_path: Path, text: str) -> Flow:
    from flows.definition import load_flow

    path = tmp_path / "onboarding.yaml"
    path.write_text(text, encoding="utf-8")
    return load_flow(path)


async def test_an_active_participant_who_agreed_to_an_older_notice_is_asked_again_once(tmp_path: Path) -> None:
    async with start_bot(tmp_path) as harness:
        amina, amina_id = await harness.joined("Amina Yusuf", "so")
        dawit, dawit_id = await harness.joined("Dawit Haile", "ti")
        # Both agreed to "2025-01" after their first consent: an older text than the live one.
        async with harness.database.sessions() as session:
            for pid in (amina_id, dawit_id):
                await session.execute(insert(ConsentRecord).values(participant_id=pid, notice_version="2025-01", answer="agreed", recorded_at=harness.stegvis.clock.now()))
            await session.commit()
        so = harness.stegvis.catalogs.texts("so")

        await amina.send("hej")
        assert (await amina.next_reply()).text == so.gettext(CHANGED)
        asked = await amina.next_reply()
        assert [data for row in asked.buttons for _label, data in row] == ["s:onboarding:privacy:agree", "s:onboarding:privacy:decline"]
        assert asked.text.startswith("Salaan Amina Yusuf! Stegvis")  # the notice itself, in Somali
        await amina.send("vad?")  # the notice is open: asked again by the core, not "changed" again
        again = await amina.next_reply()
        assert again.text != so.gettext(CHANGED)
        await amina.press(0, asked)  # agree
        await amina.next_reply()  # welcome
        await harness.settle()
        await amina.send("/help")
        assert (await amina.next_reply()).text != so.gettext(CHANGED)

        await dawit.send("/stop")  # /stop always works, notice or not
        await dawit.next_reply()
        await dawit.send("/start")
        await dawit.next_reply()
        await harness.settle()
        async with harness.database.sessions() as session:
            await session.execute(insert(ConsentRecord).values(participant_id=dawit_id, notice_version="2025-01", answer="agreed", recorded_at=harness.stegvis.clock.now()))
            await session.commit()
        await dawit.send("hej")
        await dawit.next_reply()
        await dawit.press(1, await dawit.next_reply())  # decline
        await dawit.next_reply()
        await harness.settle()

        async with harness.database.sessions() as session:
            consents = (await session.execute(select(ConsentRecord.participant_id, ConsentRecord.notice_version, ConsentRecord.answer).order_by(ConsentRecord.id))).all()
            statuses = dict((await session.execute(select(Participant.id, Participant.status))).all())
        assert [tuple(c) for c in consents if c[0] == amina_id] == [(amina_id, "2026-12", "agreed"), (amina_id, "2025-01", "agreed"), (amina_id, "2026-12", "agreed")]
        assert [tuple(c) for c in consents if c[0] == dawit_id][-1] == (dawit_id, "2026-12", "declined")
        assert (statuses[amina_id], statuses[dawit_id]) == ("active", "invited")  # declining the new text stops the messages


def test_flows_check_refuses_a_shipped_notice_without_a_version_in_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    monkeypatch.setattr(notice, "load_versions", lambda: {"2026-12": "0" * 64})
    assert main(["flows", "check"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("stegvis: ") and captured.err.count("\n") == 1
    assert "privacy.say: the privacy notice's text has no version" in captured.err


async def test_participants_who_do_not_write_get_the_changed_notice_through_the_outbox_once(tmp_path: Path) -> None:
    # A Tuesday morning, outside quiet hours.
    async with start_bot(tmp_path, clock=FrozenClock(datetime(2027, 1, 19, 10, 0, tzinfo=ZoneInfo("Europe/Stockholm")))) as harness:
        amina, amina_id = await harness.joined("Amina Yusuf", "so")
        await harness.joined("Sara Lind", "sv")  # agreed to the live text: no row for her below
        hassan, hassan_id = await harness.joined("Hassan Ali", "ar")
        async with harness.database.sessions() as session:
            for pid in (amina_id, hassan_id):
                await session.execute(insert(ConsentRecord).values(participant_id=pid, notice_version="2025-01", answer="agreed", recorded_at=harness.clock.now()))
            await session.commit()
        [job] = [job for job in harness.stegvis.features.jobs if job.id == "participants-notice-again"]
        await job.run(harness.stegvis)
        await job.run(harness.stegvis)  # the next tick (or another process) plans nothing twice
        async with harness.database.sessions() as session:
            rows = (await session.execute(select(OutboxMessage.recipient_id, OutboxMessage.slot).where(OutboxMessage.composer == notice_again.NOTICE_MESSAGE).order_by(OutboxMessage.recipient_id))).all()
        live = notice.version_of(harness.stegvis.engine.flows["onboarding"], notice.load_versions())
        assert [tuple(r) for r in rows] == [(amina_id, live), (hassan_id, live)]

        # Hassan writes first: asked on his message, he agrees; his planned notice is then withdrawn.
        await hassan.send("hej")
        await hassan.next_reply()
        await hassan.press(0, await hassan.next_reply())
        await hassan.next_reply()  # welcome
        await harness.settle()
        sender = Sender(harness.stegvis, harness.bot)
        assert await sender.tick() == 1
        so = harness.stegvis.catalogs.texts("so")
        assert (await amina.next_reply()).text == so.gettext(CHANGED)
        asked = await amina.next_reply()
        assert asked.text.startswith("Salaan Amina Yusuf! Stegvis") and [d for row in asked.buttons for _l, d in row] == ["s:onboarding:privacy:agree", "s:onboarding:privacy:decline"]
        await amina.press(0, asked)
        await amina.next_reply()
        await harness.settle()
        async with harness.database.sessions() as session:
            statuses = dict((await session.execute(select(OutboxMessage.recipient_id, OutboxMessage.status).where(OutboxMessage.composer == notice_again.NOTICE_MESSAGE))).all())
            consents = (await session.execute(select(ConsentRecord.participant_id, ConsentRecord.notice_version, ConsentRecord.answer).order_by(ConsentRecord.id))).all()
        assert statuses == {amina_id: OutboxStatus.SENT, hassan_id: OutboxStatus.CANCELLED}
        assert [tuple(c) for c in consents][-2:] == [(hassan_id, live, "agreed"), (amina_id, live, "agreed")]
        await job.run(harness.stegvis)  # everyone agreed to the live text now: nothing more
        assert await sender.tick() == 0
