"""The bot token and the SMTP password never reach a log line (bot/redaction.py).

Logging is captured at DEBUG for everything (aiogram, aiohttp, asyncio, smtplib, Stegvis) while
representative paths run: a command that asks an unreachable Telegram for the bot's name, the
bot against the sandbox (a participant joins, a request to a Bot API that redirects forever fails
with the URL, the token in it, in its logged traceback), and an email digest to an SMTP server that refuses the
mail (a wrong password is not tried: aiosmtpd answers it only after the client's 30 s
timeout). The captured text, and what reached standard error, must not contain either secret.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot import redaction
from storage.database import Database
from tests.harness import start_bot

TOKEN = "123456:AAH-secret-Token_xyz987"
PASSWORD = "smtp-hemligt-42"


class _Redirect(BaseHTTPRequestHandler):
    """A Bot API that sends every request back to itself: aiohttp gives up with TooManyRedirects,
    whose text is the request's URL, with the token in it, which aiogram puts in its error."""

    def _again(self) -> None:
        self.send_response(307)
        self.send_header("Location", self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _again

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        pass  # not on standard error


@contextmanager
def redirecting_bot_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_record_is_cleaned_in_its_message_arguments_exception_and_stack(caplog: pytest.LogCaptureFixture) -> None:
    redaction.install([TOKEN, None, "abc"])  # None and a too-short secret are skipped
    caplog.set_level(logging.DEBUG)
    log = logging.getLogger("tests.redaction")
    log.debug("GET %s", f"https://api.telegram.org/bot{TOKEN}/getMe")
    try:
        raise RuntimeError(f"Cannot fetch https://api.telegram.org/bot{TOKEN}/getUpdates")
    except RuntimeError:
        log.exception("polling failed")
    log.warning("stack", stack_info=True, extra={"unused": TOKEN})
    log.info("abc stays: %d%%", 5)
    assert TOKEN not in caplog.text and "bot[redacted]/getMe" in caplog.text
    assert "RuntimeError: Cannot fetch https://api.telegram.org/bot[redacted]/getUpdates" in caplog.text
    assert "abc stays: 5%" in caplog.text
    assert redaction.redact(f"x{TOKEN}y") == "x[redacted]y"


def test_command_bot_and_smtp_paths_log_no_token_and_no_password(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from bot.cli import main

    caplog.set_level(logging.DEBUG)
    with redirecting_bot_api() as api:
        # A command: the invite link needs the bot's name, and the request to Telegram fails
        # with an error whose text is its URL, the token in it.
        monkeypatch.setenv("STEGVIS_DATABASE_URL", f"sqlite:///{tmp_path}/cli.sqlite3")
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("TELEGRAM_API_URL", api)
        monkeypatch.setenv("STEGVIS_SMTP_PASSWORD", PASSWORD)
        assert main(["caseworker", "add", "--name", "Karin Lund"]) == 0
        assert main(["participant", "add", "--name", "Amina", "--caseworker", "1"]) == 0
        assert "could not ask Telegram for the bot's name: HTTP Client says - TooManyRedirects" in caplog.text
        assert f"{api}/bot[redacted]/getMe" in caplog.text  # it was there, and is no more
        secrets = asyncio.run(_bot_and_smtp(tmp_path, api))
    printed = capsys.readouterr()
    assert "Amina" in printed.out
    for secret in (TOKEN, PASSWORD, *secrets):
        assert secret not in caplog.text and secret not in printed.err and secret not in printed.out
    assert "Failed to reach the Bot API" in caplog.text and caplog.text.count("/bot[redacted]/getMe") >= 3  # the command's two and the bot's


async def _bot_and_smtp(tmp_path: Path, api: str) -> list[str]:
    """Runs the bot and the email paths; returns the secrets they had (the sandbox's token, the SMTP passwords)."""
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    from bot.email.smtp import SmtpServer
    from bot.features.digest_delivery.delivery import create_digests, send_emails
    from bot.features.digest_delivery.source import BuiltDigests
    from tests.test_digest_delivery import TUESDAY, caseworker_with_a_message, local, settings_for, smtp_server

    async with start_bot(tmp_path) as harness:
        redaction.install([harness.stegvis.settings.telegram_bot_token])
        await harness.joined("Dawit Haile", "ti")
        bot = Bot(harness.stegvis.settings.telegram_bot_token or "", session=AiohttpSession(api=TelegramAPIServer.from_base(api)))
        try:
            await bot.get_me()
        except Exception:  # noqa: BLE001 - the point is what its log line says
            logging.getLogger("tests.redaction").exception("Failed to reach the Bot API")
        finally:
            await bot.session.close()
        assert harness.stegvis.settings.telegram_bot_token

    database = Database(f"sqlite+aiosqlite:///{tmp_path}/mail.sqlite3", create=True)
    await database.ensure_schema()
    await caseworker_with_a_message(database)
    with smtp_server() as (inbox, port):
        settings = settings_for(database, port)
        redaction.install([settings.smtp_password])
        async with database.sessions() as session:
            await create_digests(session, settings, day=TUESDAY, now=local(TUESDAY, 7, 30))
            await session.commit()
        inbox.mode = "refuse"  # logged in with the password, then the mail is refused and retried
        await send_emails(database, BuiltDigests(), settings, SmtpServer.from_settings(settings), local(TUESDAY, 7, 30))
    await database.dispose()
    assert inbox.logins and not inbox.received
    return [harness.stegvis.settings.telegram_bot_token or "", settings.telegram_bot_token or "", settings.smtp_password or ""]
