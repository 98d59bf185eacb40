"""The sandbox's Bot API server: `BotAPISandbox`, its lifecycle, HTTP handling, the
update queue (long polling reads it, a webhook drains it) and the dispatch to the
methods. The methods are in methods.py, a single webhook delivery in webhook.py."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from aiohttp import ClientSession, web

from bot.sandbox.methods import BotAPIMethods, _APIError, _decode_params
from bot.sandbox.users import CallbackAnswer, SandboxUser, SentMessage, _CallbackQuery
from bot.sandbox.webhook import WEBHOOK_TIMEOUT, WebhookClient

log = logging.getLogger(__name__)

# Telegram's default when allowed_updates was never given (or given as []).
_NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


def _update_type(update: dict[str, Any]) -> str:
    return next(key for key in update if key != "update_id")


class BotAPISandbox(BotAPIMethods, WebhookClient):
    """Fake Bot API server plus the users that talk to the bot. See the package docstring."""

    def __init__(
        self,
        token: str = "123456:SANDBOX",
        bot_username: str = "stegvis_sandbox_bot",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limit: float | None = None,
        per_chat_rate_limit: float | None = None,
        retry_after: int = 1,
    ) -> None:
        self.token = token
        self.bot_username = bot_username
        self.bot_id = int(token.split(":", 1)[0])
        self.host = host
        self.port = port
        self.rate_limit = rate_limit
        self.per_chat_rate_limit = per_chat_rate_limit
        self.retry_after = retry_after

        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.commands: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
        self.webhook: dict[str, Any] | None = None
        self.webhook_errors: list[int] = []  # HTTP status of failed deliveries; 0 = no answer
        self.too_many_requests = 0

        self._users: dict[int, SandboxUser] = {}
        self._sent: list[SentMessage] = []
        self._bot_messages: dict[tuple[int, int], SentMessage] = {}
        self._user_messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._deleted_user_messages: set[tuple[int, int]] = set()
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._callback_queries: dict[str, _CallbackQuery] = {}
        self._query_ids = itertools.count(4_000_000_000_000_000_001)
        self._update_ids = itertools.count(1)
        self._pending: list[dict[str, Any]] = []  # unconfirmed updates, oldest first
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._in_flight: int | None = None  # update_id being POSTed to the webhook
        self._last_webhook_error: tuple[int, str] | None = None
        self._sent_times: deque[float] = deque()
        self._chat_sent_times: dict[int, deque[float]] = {}

        # A "pulse": an Event that is set and replaced on every state change. Waiters
        # re-check their condition on each pulse. Unlike asyncio.Condition it can be
        # signalled from synchronous code (user.block()) without taking a lock.
        self._pulse = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._http: ClientSession | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._url: str | None = None

        self._methods = self._method_table()

    # ---- lifecycle ----------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL for `TelegramAPIServer.from_base`, e.g. "http://127.0.0.1:54321"."""
        if self._url is None:
            raise RuntimeError("BotAPISandbox is not started; call `await sandbox.start()` first")
        return self._url

    async def start(self) -> None:
        self._closing = False
        self._pulse = asyncio.Event()  # bind to the running loop (tests get a loop each)
        self._http = ClientSession()
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_http)
        app.router.add_route("*", "/{tail:.*}", self._handle_unknown_path)
        # handler_cancellation: when aiogram abandons a long poll (stop_polling), the
        # server side stops waiting too instead of holding the update batch.
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        host, port = self._runner.addresses[0][:2]
        self.port = port
        self._url = f"http://{host}:{port}"
        self._webhook_task = asyncio.create_task(self._webhook_loop(), name="sandbox-webhook")

    async def stop(self) -> None:
        self._closing = True
        self._notify()  # long polls and waiters return now
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            try:
                await self._webhook_task
            except asyncio.CancelledError:
                pass
            self._webhook_task = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._http is not None:
            await self._http.close()
            self._http = None
        self._url = None

    async def __aenter__(self) -> BotAPISandbox:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ---- public helpers -----------------------------------------------------------

    def user(self, user_id: int, first_name: str = "Test", language_code: str | None = None) -> SandboxUser:
        """The participant with this id (created on first use; later calls return the
        same object unchanged). Creating a user makes its private chat known."""
        if user_id not in self._users:
            self._users[user_id] = SandboxUser(self, user_id, first_name, language_code)
        return self._users[user_id]

    def sent_messages(self) -> list[SentMessage]:
        """All messages the bot sent, to every chat, in the order sent."""
        return list(self._sent)

    @property
    def callback_answers(self) -> dict[str, CallbackAnswer]:
        """answerCallbackQuery calls so far, by callback_query_id."""
        return {qid: q.answer for qid, q in self._callback_queries.items() if q.answer is not None}

    async def wait_for_request(self, method: str, count: int = 1, timeout: float = 5.0) -> None:
        """Wait until the bot has called `method` (e.g. "getUpdates") `count` times in
        total — e.g. to know that polling has started."""

        def called() -> bool:
            return sum(1 for name, _ in self.requests if name.lower() == method.lower()) >= count

        try:
            await self._wait_until(called, timeout)
        except TimeoutError:
            raise AssertionError(f"the bot did not call {method} {count} time(s) within {timeout}s") from None

    # ---- HTTP ---------------------------------------------------------------------

    async def _handle_http(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        raw: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    raw.update(body)
            else:  # multipart/form-data or application/x-www-form-urlencoded
                for key, value in (await request.post()).items():
                    if isinstance(value, web.FileField):
                        value.file.seek(0, 2)
                        value = {"filename": value.filename, "content_type": value.content_type, "size": value.file.tell()}
                    raw[key] = value
        status, body = await self._call(request.match_info["method"], _decode_params(raw))
        return web.json_response(body, status=status)

    async def _handle_unknown_path(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)

    async def _call(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        name, handler = self._methods.get(method.lower(), (method, None))
        self.requests.append((name, params))
        self._notify()
        if handler is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        try:
            result = await handler(params)
        except _APIError as error:
            body: dict[str, Any] = {"ok": False, "error_code": error.code, "description": error.description}
            if error.retry_after is not None:
                body["parameters"] = {"retry_after": error.retry_after}
            return error.code, body
        except Exception as error:  # a sandbox bug must not look like a Bot API answer
            log.exception("sandbox failed on %s %r", name, params)
            return 500, {"ok": False, "error_code": 500, "description": f"Internal Server Error: {error!r}"}
        return 200, {"ok": True, "result": result}

    # ---- state plumbing -----------------------------------------------------------

    def _notify(self) -> None:
        self._pulse.set()
        self._pulse = asyncio.Event()

    async def _wait_until(self, predicate: Callable[[], bool], timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                if self._closing:
                    raise RuntimeError("the sandbox was stopped")
                await self._pulse.wait()

    def _enqueue(self, payload: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": next(self._update_ids), **payload}
        self._pending.append(update)
        self._notify()
        return update

    async def _push_update(self, payload: dict[str, Any]) -> None:
        update = self._enqueue(payload)
        if self.webhook is None:
            return
        # With a webhook, wait for the delivery so tests can assert right after send().
        update_id = update["update_id"]

        def delivered() -> bool:
            return self.webhook is None or (
                self._in_flight != update_id and all(u["update_id"] != update_id for u in self._pending)
            )

        try:
            await self._wait_until(delivered, WEBHOOK_TIMEOUT + 5)
        except TimeoutError:
            raise AssertionError(f"update {update_id} was not delivered to the webhook") from None

    def _allowed(self, update: dict[str, Any]) -> bool:
        kind = _update_type(update)
        if self._allowed_updates:
            return kind in self._allowed_updates
        return kind not in _NOT_BY_DEFAULT

    def _next_message_id(self, chat_id: int) -> int:
        # Private chats share one message-id sequence for both sides, as in Telegram.
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def _new_user_message(self, user: SandboxUser, content: dict[str, Any]) -> dict[str, Any]:
        message_id = self._next_message_id(user.id)
        message = {
            "message_id": message_id,
            "from": user._user_json(),
            "chat": user._chat_json(),
            "date": int(time.time()),
            **content,
        }
        self._user_messages[(user.id, message_id)] = message
        return message

    # ---- webhook delivery ---------------------------------------------------------

    async def _webhook_loop(self) -> None:
        while not self._closing:
            if self.webhook is None or not self._pending:
                await self._pulse.wait()
                continue
            update = self._pending.pop(0)
            if not self._allowed(update):
                self._notify()
                continue
            self._in_flight = update["update_id"]
            try:
                await self._deliver(self.webhook, update)
            finally:
                self._in_flight = None
                self._notify()
