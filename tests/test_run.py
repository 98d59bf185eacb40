"""``stegvis run`` as an operator meets it: what each thing that keeps it from starting gets, and a clean stop.

Each refusal is one line naming what to fix (one JSON object with --json), exit code 2, never a
traceback and never a secret. In webhook mode SIGTERM stops the bot as polling mode does: the
sends under way finish, claimed outbox rows that were not sent are handed back, the webhook is
removed.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.sandbox import BotAPISandbox
from storage.database import Database
from storage.models import OutboxMessage, OutboxStatus
from tests.harness import free_port
from tests.test_sender_crash import FROZEN, fill_outbox, start_stegvis, stegvis_env, stop, wait_until

ROOT = Path(__file__).resolve().parents[1]


async def run_refused(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", *args, env=env, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def created_database(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'run.sqlite3'}"
    database = Database(url)
    await database.ensure_schema()
    await database.dispose()
    return url


@pytest.fixture
async def sandbox():
    async with BotAPISandbox(token="123456:RIGHT") as running:
        yield running


def assert_one_line(returncode: int, out: str, err: str, expected: str) -> None:
    assert returncode == 2
    assert out == ""
    assert err == f"stegvis: {expected}\n", err
    assert "Traceback" not in err


async def test_a_token_telegram_refuses_is_one_line_and_never_shown(tmp_path: Path, sandbox: BotAPISandbox) -> None:
    env = stegvis_env(await created_database(tmp_path), sandbox, TELEGRAM_BOT_TOKEN="123456:WRONGsecretpart")
    returncode, out, err = await run_refused(env)
    assert_one_line(returncode, out, err, "Telegram refused TELEGRAM_BOT_TOKEN (401 Unauthorized): copy the token @BotFather gave you again")
    assert "WRONGsecretpart" not in err
    returncode, out, _ = await run_refused(env, "--json")
    assert (returncode, json.loads(out)) == (2, {"error": "Telegram refused TELEGRAM_BOT_TOKEN (401 Unauthorized): copy the token @BotFather gave you again"})


async def test_telegram_out_of_reach_is_one_line(tmp_path: Path, sandbox: BotAPISandbox) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    env = stegvis_env(await created_database(tmp_path), sandbox, TELEGRAM_API_URL=nowhere)
    returncode, out, err = await run_refused(env)
    assert returncode == 2 and out == "" and "Traceback" not in err
    assert err.startswith(f"stegvis: cannot reach the Bot API at {nowhere} (") and err.endswith("): check the network, or TELEGRAM_API_URL\n")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("url", "line"),
    [
        ("http://bot.example.se/telegram", "the webhook URL must start with https:// (Telegram posts only to HTTPS); give --webhook a URL such as https://bot.example.se/telegram"),
        ("https://bot.example.se:8080/telegram", "the webhook URL uses port 8080, but Telegram posts only to ports 443, 80, 88 or 8443; give --webhook a URL such as https://bot.example.se/telegram"),
        ("https:///telegram", "the webhook URL has no host name; give --webhook a URL such as https://bot.example.se/telegram"),
    ],
    ids=["not-https", "port", "no-host"],
)
async def test_a_webhook_url_telegram_would_refuse_is_one_line(tmp_path: Path, sandbox: BotAPISandbox, url: str, line: str) -> None:
    # The real Bot API's rules: the sandbox (a self-hosted server) would take plain http.
    env = stegvis_env(await created_database(tmp_path), sandbox, TELEGRAM_API_URL="https://api.telegram.org")
    assert_one_line(*(await run_refused(env, "--webhook", url)), line)


async def test_a_port_in_use_is_one_line(tmp_path: Path, sandbox: BotAPISandbox) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = stegvis_env(await created_database(tmp_path), sandbox, STEGVIS_WEBHOOK_LISTEN=f"127.0.0.1:{port}")
        returncode, out, err = await run_refused(env, "--webhook", f"http://127.0.0.1:{port}/telegram")
    assert returncode == 2 and out == "" and "Traceback" not in err
    # The bot has said who it is (it asked Telegram first); then the one line, and nothing after it.
    last = err.splitlines()[-1]
    assert last.startswith(f"stegvis: cannot listen on 127.0.0.1:{port} (") and last.endswith("): free the port or set STEGVIS_WEBHOOK_LISTEN")
    assert sandbox.webhook is None  # nothing was set at Telegram


async def test_a_secret_header_that_is_not_ascii_gets_401_not_a_traceback(tmp_path: Path, sandbox: BotAPISandbox) -> None:
    url = await created_database(tmp_path)
    port = free_port()
    env = stegvis_env(url, sandbox, STEGVIS_WEBHOOK_LISTEN=f"127.0.0.1:{port}", STEGVIS_WEBHOOK_SECRET="right-secret")
    log = tmp_path / "run.log"
    bot = await start_stegvis(env, log, "--webhook", f"http://127.0.0.1:{port}/telegram")
    try:
        await wait_until(lambda: sandbox.webhook is not None, "the webhook to be set", log, bot)
        body = b'{"update_id": 1}'
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /telegram HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Telegram-Bot-Api-Secret-Token: r\xc3\xa4tt-hemlighet\r\n"
            b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
        )
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), timeout=60)
        writer.close()
        assert status.split()[1] == b"401", status
    finally:
        await stop(bot)
    assert "Traceback" not in log.read_text()


async def test_sigterm_in_webhook_mode_finishes_the_sends_hands_back_the_rest_and_removes_the_webhook(tmp_path: Path) -> None:
    url = await created_database(tmp_path)
    database = Database(url)
    total = 40
    # A slow Telegram: the sender holds a claimed batch for seconds, so SIGTERM lands mid-batch.
    async with BotAPISandbox(rate_limit=4, per_chat_rate_limit=None) as sandbox:
        await fill_outbox(database, sandbox, total, now=FROZEN)
        port = free_port()
        env = stegvis_env(url, sandbox, STEGVIS_WEBHOOK_LISTEN=f"127.0.0.1:{port}", STEGVIS_SEND_RATE="4")
        log = tmp_path / "run.log"
        bot = await start_stegvis(env, log, "--webhook", f"http://127.0.0.1:{port}/telegram")
        try:
            await wait_until(lambda: len(sandbox.sent_messages()) >= 3, "the first reminders to arrive", log, bot)
        finally:
            bot.send_signal(signal.SIGTERM)
            await asyncio.wait_for(bot.wait(), timeout=120)
        assert bot.returncode == 0, log.read_text()[-3000:]
        assert sandbox.webhook is None  # removed at Telegram on the way out
        async with database.sessions() as session:
            rows = list(await session.scalars(select(OutboxMessage)))
    await database.dispose()
    statuses = [row.status for row in rows]
    assert OutboxStatus.SENDING not in statuses  # nothing left claimed: the rest was handed back
    arrived = [message.chat_id for message in sandbox.sent_messages()]
    assert len(arrived) == len(set(arrived)) == statuses.count(OutboxStatus.SENT) < total  # what was sent is recorded, once
    assert all(row.claimed_by is None for row in rows if row.status == OutboxStatus.PENDING)
    assert "Traceback" not in log.read_text()
