"""The access log: its storage on SQLite and PostgreSQL (append-only by trigger), a row for every
staff listing and digest (CLI, email, the audit itself), and `stegvis audit` with its refusals.

The commands run in this process (`bot.cli.main`) on a real SQLite file with a frozen clock, so
the test costs milliseconds a command rather than a process start each.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from bot.cli import main
from storage import access_log
from storage import repositories as repo
from storage.access_log import Access
from storage.database import Database
from storage.models import AccessLog, AccessLogParticipant, CheckIn

NOW = datetime(2029, 6, 1, 10, 0, tzinfo=timezone.utc)  # a Friday, 12:00 in Stockholm


async def test_rows_are_recorded_read_back_by_participant_and_by_time_and_never_changed(database: Database) -> None:
    async with database.sessions() as session:
        await access_log.record(session, "cli:anna", access_log.PARTICIPANT_LIST, [3, 1, 3], now=NOW)
        await access_log.record(session, "cli:anna", access_log.PARTICIPANT_LIST, [], now=NOW)  # showed nobody: no row
        await access_log.record_many(session, [Access("caseworker:1", access_log.DIGEST_SEND, [1, 2], "2029-06-01 by email"), Access("caseworker:2", access_log.DIGEST_SEND, [5])], now=NOW + timedelta(hours=1))
        await session.commit()
    async with database.sessions() as session:
        about_one = await access_log.rows_about(session, 1)
        since = await access_log.rows_since(session, NOW + timedelta(minutes=30))
        assert await access_log.rows_about(session, 4) == []
    assert [(r.actor, r.what, r.detail, r.participant_ids, r.at) for r in about_one] == [
        ("cli:anna", "participant.list", None, (1,), NOW),
        ("caseworker:1", "digest.send", "2029-06-01 by email", (1,), NOW + timedelta(hours=1)),  # not participant 2: a person's copy names nobody else
    ]
    assert [(r.actor, r.participant_ids) for r in since] == [("caseworker:1", (1, 2)), ("caseworker:2", (5,))]
    assert since[0].as_json(None)["participant_ids"] == [1, 2]

    # The database itself refuses to change or remove a row, in either table.
    for statement in (
        update(AccessLog).values(actor="cli:someone else"),
        delete(AccessLog),
        update(AccessLogParticipant).values(participant_id=99),
        delete(AccessLogParticipant).where(AccessLogParticipant.participant_id == 1),
    ):
        async with database.sessions() as session:
            with pytest.raises((IntegrityError, DBAPIError), match="append-only"):
                await session.execute(statement)
    if database.engine.dialect.name == "postgresql":
        async with database.sessions() as session:
            with pytest.raises((IntegrityError, DBAPIError), match="append-only"):
                await session.execute(text("TRUNCATE access_log_participants"))
    async with database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AccessLogParticipant)) == 5
        with pytest.raises(ValueError, match="naive"):
            await access_log.record(session, "cli:anna", "x", [1], now=datetime(2029, 6, 1))


# ---- every listing and digest, through the commands -----------------------------------------------


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    code = main([*args, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


@pytest.fixture
def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli.sqlite3"
    monkeypatch.setenv("STEGVIS_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("STEGVIS_FROZEN_TIME", NOW.isoformat())
    monkeypatch.setenv("USER", "anna")
    monkeypatch.setenv("LOGNAME", "anna")
    return path


async def _fill(path: Path) -> None:
    """What the listings have to show: a message in the digest's window, a course evaluation sent."""
    database = Database(f"sqlite:///{path}", create=False)
    try:
        async with database.sessions() as session:
            await repo.append_event(session, "participant_message", 1, {"text": "Kan vi ses?", "language": "so"}, occurred_at=NOW - timedelta(hours=5))
            await repo.append_event(session, "flow_sent", 2, {"flow": "course_eval", "version": 1}, occurred_at=NOW - timedelta(hours=1))
            session.add(CheckIn(participant_id=1, week=date(2029, 5, 28), sent_at=NOW - timedelta(days=1), voice_notes=0))  # asked this week
            await session.commit()
    finally:
        await database.dispose()


async def _log(path: Path) -> list[tuple[str, str, str | None, tuple[int, ...]]]:
    database = Database(f"sqlite:///{path}", create=False)
    try:
        async with database.sessions() as session:
            return [(r.actor, r.what, r.detail, r.participant_ids) for r in await access_log.rows_since(session, NOW - timedelta(days=1))]
    finally:
        await database.dispose()


def test_every_listing_and_digest_shown_at_the_command_line_leaves_a_row_and_audit_lists_them(cli_database: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "caseworker", "add", "--name", "Karin Lund")[0] == 0
    for name in ("Amina Yusuf", "Dawit Haile"):
        assert _run(capsys, "participant", "add", "--name", name, "--caseworker", "1", "--language", "so")[0] == 0
    assert _run(capsys, "appointment", "add", "--participant", "2", "--at", "2029-06-05T10:30", "--place", "Nygatan 19")[0] == 0
    asyncio.run(_fill(cli_database))
    assert _log_now(cli_database) == []  # adding people and booking shows nothing one did not type

    listings = [
        ("participant", "list"),
        ("appointment", "list"),
        ("appointment", "list", "--participant", "1"),  # Amina has none: no row
        ("checkin", "list"),
        ("digest", "show", "--caseworker", "1"),
        ("flows", "results", "course_eval", "--format", "csv"),
    ]
    for args in listings:
        if args[0] == "flows":
            assert main(list(args)) == 0  # CSV on standard output
            capsys.readouterr()
        else:
            code, shown = _run(capsys, *args)
            assert code == 0, shown
    assert _log_now(cli_database) == [
        ("cli:anna", "participant.list", None, (1, 2)),
        ("cli:anna", "appointment.list", None, (2,)),
        ("cli:anna", "checkin.list", "week of 2029-05-28", (1,)),
        ("cli:anna", "digest.show", "caseworker 1, 2029-06-01", (1,)),  # Amina's message
        ("cli:anna", "flows.results", "course_eval", (2,)),
    ]

    code, about = _run(capsys, "audit", "--participant", "2")
    assert code == 0
    assert [(r["what"], r["participant_ids"], r["actor"]) for r in about["rows"]] == [
        ("participant.list", [2], "cli:anna"), ("appointment.list", [2], "cli:anna"), ("flows.results", [2], "cli:anna"),
    ]
    code, everything = _run(capsys, "audit", "--since", "2029-06-01")
    assert code == 0 and [r["what"] for r in everything["rows"]] == ["participant.list", "appointment.list", "checkin.list", "digest.show", "flows.results", "audit"]
    assert _log_now(cli_database)[-2:] == [("cli:anna", "audit", "participant 2", (2,)), ("cli:anna", "audit", "since 2029-06-01", (1, 2))]

    # In words: one line a row, newest last; the audit since the day showed participant 1 too.
    assert main(["audit", "--participant", "1"]) == 0
    words = capsys.readouterr().out
    assert words.splitlines()[0] == "Shown to staff, about participant 1 (4):" and "2029-06-01 12:00  cli:anna" in words

    # Bad input: a clear error, exit 2, and no row added.
    before = len(_log_now(cli_database))
    for args, error in (
        (("audit",), "name a participant (--participant ID) or a first day (--since YYYY-MM-DD)"),
        (("audit", "--participant", "9"), "--participant: no participant with id 9, and nothing in the access log about that id"),
        (("audit", "--since", "2029-06-02"), "--since: 2029-06-02 is in the future: nothing can have been seen since then"),
        (("audit", "--since", "yesterday"), '--since: "yesterday" is not a date; use YYYY-MM-DD, e.g. 2026-11-24'),
    ):
        assert _run(capsys, *args) == (2, {"error": error})
    assert len(_log_now(cli_database)) == before


def _log_now(path: Path) -> list[tuple[str, str, str | None, tuple[int, ...]]]:
    return asyncio.run(_log(path))


async def test_an_emailed_digest_is_logged_for_its_caseworker_once_sent(database: Database) -> None:
    from bot.email.smtp import SmtpServer
    from bot.features.digest_delivery.delivery import create_digests, send_emails
    from bot.features.digest_delivery.source import BuiltDigests
    from tests.test_digest_delivery import TUESDAY, caseworker_with_a_message, local, settings_for, smtp_server

    cid = await caseworker_with_a_message(database)
    with smtp_server() as (inbox, port):
        settings = settings_for(database, port)
        async with database.sessions() as session:
            await create_digests(session, settings, day=TUESDAY, now=local(TUESDAY, 7, 30))
            await session.commit()
        inbox.mode = "refuse"  # a failed attempt showed nobody anything
        await send_emails(database, BuiltDigests(), settings, SmtpServer.from_settings(settings), local(TUESDAY, 7, 30))
        async with database.sessions() as session:
            assert await access_log.rows_since(session, local(TUESDAY, 0)) == []
        inbox.mode = "accept"
        await send_emails(database, BuiltDigests(), settings, SmtpServer.from_settings(settings), local(TUESDAY, 7, 32))
    assert len(inbox.received) == 1
    async with database.sessions() as session:
        shown = [(r.actor, r.what, r.detail, r.participant_ids, r.at) for r in await access_log.rows_since(session, local(TUESDAY, 0))]
    assert shown == [(f"caseworker:{cid}", "digest.send", "2027-02-02 by email", (1,), local(TUESDAY, 7, 32))]
