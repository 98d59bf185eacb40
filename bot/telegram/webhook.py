"""Receiving updates over a webhook: Telegram's secret-token header is checked before anything else.

aiogram compares the header as text in constant time, which raises on a header
that is not ASCII: the caller got a 500 and the log a traceback. Here the comparison is of
bytes, in constant time, and anything but the right secret gets 401.
"""

from __future__ import annotations

import hmac

from aiogram import Bot
from aiogram.webhook.aiohttp_server import SimpleRequestHandler


class SecretCheckedRequestHandler(SimpleRequestHandler):
    def verify_secret(self, telegram_secret_token: str, bot: Bot) -> bool:
        expected = (self.secret_token or "").encode()
        given = telegram_secret_token.encode("utf-8", "surrogateescape")
        return hmac.compare_digest(given, expected)
