"""Keeping the bot token and the SMTP password out of every log line (issue 9).

aiogram builds each request's URL from the token (``/bot<token>/getUpdates``), and an exception
raised on the way can carry it, as can a library's debug line; an SMTP error could echo a
password. Rather than trust every library never to print them, every log record is cleaned
when it is made: `install` puts a record factory in front of logging's own, which runs
`Redactor` on each record — its message with its arguments filled in, the text of its exception
and its stack — so no handler, formatter or pytest's capture ever sees a secret.

`install` is called wherever settings are loaded for a process (``stegvis`` commands, `Stegvis`
itself); it keeps the secrets it was given before, so tests with several settings stay covered.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Iterable
from typing import Any

REDACTED = "[redacted]"
MIN_LENGTH = 6  # shorter "secrets" (a test's "x") would blank out ordinary words

_lock = threading.Lock()
_secrets: tuple[str, ...] = ()
_installed = False


def _forms(secret: str) -> list[str]:
    """The secret as it may appear: as it is, and base64 (SMTP AUTH LOGIN sends it so)."""
    return [secret, base64.b64encode(secret.encode()).decode()]


def redact(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class Redactor(logging.Filter):
    """A filter that cleans a record in place (and never drops one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is logging's to report, unchanged
            message = None
        if message is not None and (cleaned := redact(message)) != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # Formatted now, cleaned, and kept: formatters use exc_text when it is there.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_REDACTOR = Redactor()


def install(secrets: Iterable[str | None]) -> None:
    """Redact these secrets (None and short ones are skipped) from every log record from now on."""
    global _secrets, _installed
    wanted = {form for secret in secrets if secret and len(secret) >= MIN_LENGTH for form in _forms(secret)}
    with _lock:
        _secrets = tuple(sorted(set(_secrets) | wanted, key=len, reverse=True))  # longest first: a token before a part of it
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _REDACTOR.filter(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True


def install_for(settings: Any) -> None:
    """The secrets of a process's settings: the bot token, the SMTP password, the webhook secret."""
    install(getattr(settings, name, None) for name in ("telegram_bot_token", "smtp_password", "webhook_secret"))
