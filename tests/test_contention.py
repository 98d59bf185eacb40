"""No answer is lost while the database is busy: presses during an import, a lock, a failed commit.

Today's SQLite has one writer at a time. A caseworker's big `appointment import` (or any other
process) may hold the write lock for a moment; the bot's writer then waits (busy timeout) and
answers after the commit. A lock held longer than that makes the update fail: it is tried again,
and then the participant is asked, in their language, to try again, and the failure is logged.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.conversation.turn import APOLOGY
from locales import LANGUAGES, Catalogs
from tests.harness import BotHarness

ROOT = Path(__file__).resolve().parents[1]
CATALOGS = Catalogs()
PICK = "s:language:pick:{}"


def database_file(harness: BotHarness) -> str:
    path = harness.database.engine.url.database
    assert path, "these tests run on the harness's SQLite file"
    return path


def hold_write_lock(path: str, seconds: float, holding: threading.Event, release: threading.Event) -> threading.Thread:
    """Another connection that takes SQLite's write lock and keeps it until `release` (or `seconds`)."""

    def hold() -> None:
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("UPDATE caseworkers SET name = name")
            holding.set()
            release.wait(seconds)
            other.execute("COMMIT")
        finally:
            other.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    return thread


async def joined(harness: BotHarness, language: str = "sv"):
    code = await harness.invite("Amina Yusuf")
    user = harness.user(first_name="Amina")
    await harness.onboard(user, code, language)
    return user, harness.participant_id(code)


async def switch_language(user, code: str, timeout: float = 60) -> None:
    """/language and a press on the picker: two units of work, each answered only once stored."""
    await user.send("/language")
    await user.next_reply(timeout=timeout)
    await user.press_data(PICK.format(code))
    await user.next_reply(timeout=timeout)


async def test_presses_while_another_process_holds_the_write_lock_wait_and_are_stored(running_bot: BotHarness) -> None:
    user, participant_id = await joined(running_bot)
    holding, release = threading.Event(), threading.Event()
    locker = hold_write_lock(database_file(running_bot), 60, holding, release)
    await asyncio.to_thread(holding.wait, 30)
    seen = len(user.messages)
    await user.send("/language")
    async with asyncio.timeout(60):  # the bot has the update, and waits to store it
        while running_bot._in_flight == 0:
            await asyncio.sleep(0.01)
    assert len(user.messages) == seen  # no answer before its unit of work is stored
    release.set()
    await user.next_reply(timeout=60)
    await user.press_data(PICK.format("ar"))
    await user.next_reply(timeout=60)
    await asyncio.to_thread(locker.join, 30)
    assert (await running_bot.participant(participant_id)).language == "ar"
    assert (await running_bot.event_types(participant_id)).count("language_chosen") == 2


async def test_a_commit_that_keeps_failing_is_answered_with_an_apology_and_logged(running_bot: BotHarness, caplog: pytest.LogCaptureFixture) -> None:
    user, participant_id = await joined(running_bot, "so")
    before = await running_bot.snapshot()
    store = running_bot.stegvis.store
    # The store's thread is running already; a fresh one with a short busy timeout stands in for it.
    await store.close()
    store.busy_timeout_ms = 100
    holding, release = threading.Event(), threading.Event()
    locker = hold_write_lock(database_file(running_bot), 60, holding, release)
    await asyncio.to_thread(holding.wait, 30)
    try:
        with caplog.at_level(logging.WARNING):
            await user.send("/language")
            reply = await user.next_reply(timeout=60)
    finally:
        release.set()
        await asyncio.to_thread(locker.join, 30)
    assert reply.text == CATALOGS.texts("so").gettext(APOLOGY)
    assert any("could not be stored" in record.getMessage() for record in caplog.records)
    after = await running_bot.snapshot()
    assert after["events"] == before["events"] and after["conversations"] == before["conversations"]  # nothing half-written
    # Once the database is free again, the same command works.
    await switch_language(user, "ti")
    assert (await running_bot.participant(participant_id)).language == "ti"


async def test_button_presses_during_a_big_import_are_answered_and_recorded(running_bot: BotHarness, tmp_path: Path) -> None:
    user, participant_id = await joined(running_bot)
    first = datetime(2027, 1, 4, 8, 0)
    times = (first + timedelta(minutes=7 * i) for i in range(10_000))  # distinct, all within two years
    rows = ["participant_id,date,time,place,title,remind"]
    rows += [f"{participant_id},{t:%Y-%m-%d},{t:%H:%M},Nygatan 19,," for t in times]
    bookings = tmp_path / "bookings.csv"
    bookings.write_text("\n".join(rows) + "\n", encoding="utf-8")
    environment = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "STEGVIS_DATABASE_URL": f"sqlite:///{database_file(running_bot)}",
        "STEGVIS_FROZEN_TIME": "2026-12-01T10:00+01:00",
    }
    importing = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "appointment", "import", str(bookings), "--json",
        env=environment, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    finished = asyncio.create_task(importing.communicate())  # read its output as it comes, or it blocks
    languages = list(LANGUAGES)
    switched = 0
    while not finished.done() or switched < 3:
        await switch_language(user, languages[switched % len(languages)])
        switched += 1
    out, err = await finished
    assert importing.returncode == 0, (out[:500] + err).decode()
    assert out.decode().startswith('{"imported": 10000')
    assert (await running_bot.event_types(participant_id)).count("language_chosen") == 1 + switched
    assert (await running_bot.participant(participant_id)).language == languages[(switched - 1) % len(languages)]
