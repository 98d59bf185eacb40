"""The webhook client side of the sandbox: how an update reaches the bot's webhook.

`WebhookClient` is mixed into `BotAPISandbox`. It POSTs one update to the webhook URL
as Telegram does (JSON body, secret token header), runs a method call the bot put in
its reply, and records a failed delivery where `webhook_errors` and getWebhookInfo
show it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout, MultipartReader

from bot.sandbox.methods import _decode_params

log = logging.getLogger(__name__)

WEBHOOK_TIMEOUT = 10.0  # seconds the sandbox waits for the bot's webhook to answer


class WebhookClient:
    """Delivery of updates to the bot's webhook, mixed into `BotAPISandbox`."""

    # The server's state and dispatch the deliveries use; BotAPISandbox sets them up.
    webhook_errors: list[int]
    _last_webhook_error: tuple[int, str] | None
    _http: ClientSession | None
    _call: Callable[[str, dict[str, Any]], Awaitable[tuple[int, dict[str, Any]]]]

    def _webhook_failed(self, status: int, message: str) -> None:
        # Telegram would retry later; the sandbox records it and drops the update.
        self.webhook_errors.append(status)
        self._last_webhook_error = (int(time.time()), message)
        log.info("webhook delivery failed: %s", message)

    async def _deliver(self, webhook: dict[str, Any], update: dict[str, Any]) -> None:
        assert self._http is not None
        headers = {"Content-Type": "application/json"}
        if webhook["secret_token"]:
            headers["X-Telegram-Bot-Api-Secret-Token"] = webhook["secret_token"]
        try:
            async with self._http.post(
                webhook["url"],
                data=json.dumps(update, ensure_ascii=False).encode(),
                headers=headers,
                timeout=ClientTimeout(total=WEBHOOK_TIMEOUT),
            ) as response:
                if not 200 <= response.status < 300:
                    self._webhook_failed(response.status, f"Wrong response from the webhook: {response.status} {response.reason}")
                    return
                reply = await self._read_webhook_reply(response)
        except (ClientError, TimeoutError, ValueError) as error:
            self._webhook_failed(0, f"Connection failed: {type(error).__name__}: {error}")
            return
        # A bot may answer a webhook with a method call in the response body.
        if reply and isinstance(reply.get("method"), str):
            method = reply.pop("method")
            status, body = await self._call(method, _decode_params(reply))
            if status != 200:
                log.info("method %s from the webhook answer failed: %s", method, body.get("description"))

    @staticmethod
    async def _read_webhook_reply(response: Any) -> dict[str, Any] | None:
        if response.content_type.startswith("multipart/"):
            reply: dict[str, Any] = {}
            async for part in MultipartReader(response.headers, response.content):
                if isinstance(part, MultipartReader) or part.name is None:
                    continue
                if part.filename:
                    reply[part.name] = {"filename": part.filename, "size": len(await part.read())}
                else:
                    reply[part.name] = await part.text()
            return reply
        if response.content_type == "application/json":
            body = await response.json()
            return body if isinstance(body, dict) else None
        return None
