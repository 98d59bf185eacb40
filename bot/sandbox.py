"""A local stand-in for Telegram's Bot API server, for the demo, the tests and the benches.

`BotAPISandbox` is a small aiohttp server that speaks enough of the Bot API HTTP
protocol for the *real* aiogram stack to run against it unchanged (long polling,
webhooks, messages with inline keyboards, callback queries, commands), and it also
plays the Telegram users (`SandboxUser`) so a test can drive the bot as a person would::

    async with BotAPISandbox() as sandbox:
        bot = Bot(sandbox.token,
                  session=AiohttpSession(api=TelegramAPIServer.from_base(sandbox.url)))
        ...start polling or set a webhook...
        anna = sandbox.user(1001, "Anna", language_code="sv")
        await anna.send("/start ABC123")
        welcome = await anna.next_reply()
        answer = await anna.press("Svenska")
        print("\\n".join(anna.transcript))

Only 127.0.0.1 is ever involved: the server binds to loopback and webhooks may only
point at 127.0.0.1/localhost, so nothing here can reach the internet.

Deliberate simplifications (compared with Telegram):
* only private chats (chat.id == user.id) exist; a chat is known once `sandbox.user(id)`
  has created the user, any other chat_id is "chat not found";
* parse_mode is not applied: the stored text is exactly what the bot sent (markup
  included), it is only stripped of HTML tags to measure its length;
* one webhook delivery at a time, in update order (Telegram may use up to 40).
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import logging
import re
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn
from urllib.parse import urlsplit

from aiohttp import ClientError, ClientSession, ClientTimeout, MultipartReader, web

__all__ = ["BotAPISandbox", "CallbackAnswer", "SandboxUser", "SentMessage"]

log = logging.getLogger(__name__)

MAX_TEXT_LENGTH = 4096  # Telegram's limit, in UTF-16 code units after entity parsing
MAX_CALLBACK_DATA = 64  # bytes of UTF-8
WEBHOOK_TIMEOUT = 10.0  # seconds the sandbox waits for the bot's webhook to answer

# Telegram's default when allowed_updates was never given (or given as []).
_NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

# Form fields that are plain strings. Every other field aiogram sends is JSON-encoded
# (numbers, booleans, and the nested objects reply_markup, commands, scope, ...), so the
# sandbox JSON-decodes everything except these, which may legitimately look like JSON
# (a message text "123" must stay a string).
_STRING_PARAMS = frozenset(
    {
        "text", "caption", "parse_mode", "callback_query_id", "url", "secret_token",
        "language_code", "action", "inline_message_id", "business_connection_id",
        "message_effect_id", "ip_address", "emoji", "title", "description",
        "short_description", "name", "query", "game_short_name", "payload", "currency",
        "provider_token", "start_parameter", "file_id",
    }
)

# An inline button must carry one of these, otherwise Telegram rejects the keyboard.
_BUTTON_ACTIONS = frozenset(
    {
        "callback_data", "url", "web_app", "login_url", "switch_inline_query",
        "switch_inline_query_current_chat", "switch_inline_query_chosen_chat",
        "copy_text", "callback_game", "pay",
    }
)

_CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice",
        "upload_voice", "upload_document", "choose_sticker", "find_location",
        "record_video_note", "upload_video_note",
    }
)

_COMMAND_RE = re.compile(r"(?<!\S)/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?")
_BOT_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_LANGUAGE_RE = re.compile(r"[a-z]{2}")

_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)


@dataclass
class SentMessage:
    """A message the bot sent; edits and deletions update the same object in place."""

    message_id: int
    chat_id: int
    text: str
    buttons: list[list[tuple[str, str]]] = field(default_factory=list)
    """Inline keyboard as rows of (text, callback_data); "" for url/other buttons."""
    date: int = 0  # unix time, as in the Bot API
    edited: bool = False
    deleted: bool = False
    reply_markup: dict[str, Any] | None = None  # raw markup (inline or reply keyboard)
    parse_mode: str | None = None
    entities: list[dict[str, Any]] | None = None
    reply_to_message_id: int | None = None
    edit_date: int | None = None

    @property
    def button_texts(self) -> list[str]:
        """Inline button labels, row-major (the order `press(index)` uses)."""
        return [text for row in self.buttons for text, _ in row]


@dataclass
class CallbackAnswer:
    """What the bot passed to answerCallbackQuery."""

    text: str | None
    show_alert: bool = False
    url: str | None = None


@dataclass
class _CallbackQuery:
    user: SandboxUser
    data: str
    answer: CallbackAnswer | None = None


class _APIError(Exception):
    """An error answer: becomes {"ok": false, "error_code": ..., "description": ...}."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after


def _bad(description: str) -> _APIError:
    return _APIError(400, f"Bad Request: {description}")


def _utf16_len(text: str) -> int:
    # Telegram measures lengths and entity offsets in UTF-16 code units.
    return len(text.encode("utf-16-le")) // 2


def _visible_text(text: str, parse_mode: str | None) -> str:
    """Roughly what the user sees, so markup does not count towards the length limit."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        return html.unescape(re.sub(r"<[^>]*>", "", text))
    if mode == "markdownv2":
        return re.sub(r"\\(.)", r"\1", text)
    return text


def _command_entities(text: str) -> list[dict[str, Any]]:
    return [
        {"type": "bot_command", "offset": _utf16_len(text[: m.start()]), "length": _utf16_len(m.group())}
        for m in _COMMAND_RE.finditer(text)
    ]


def _decode_params(raw: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str) and key not in _STRING_PARAMS:
            try:
                value = json.loads(value)
            except ValueError:
                pass  # e.g. chat_id="@channel": keep the string
        params[key] = value
    return params


def _int_param(params: dict[str, Any], name: str, *, required: bool = True) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise _bad(f"{name} is empty")
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _bad(f"invalid {name} specified") from None


def _update_type(update: dict[str, Any]) -> str:
    return next(key for key in update if key != "update_id")


def _normalise_markup(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    # An empty inline keyboard is how Telegram spells "no keyboard".
    if markup is not None and not markup.get("inline_keyboard"):
        return None
    return markup


def _inline_buttons(markup: dict[str, Any] | None) -> list[list[tuple[str, str]]]:
    if not markup or "inline_keyboard" not in markup:
        return []
    return [[(b["text"], b.get("callback_data") or "") for b in row] for row in markup["inline_keyboard"]]


def _render(text: str, markup: dict[str, Any] | None) -> str:
    line = text.replace("\n", " ⏎ ")
    if markup and markup.get("inline_keyboard"):
        line += " " + " ".join(
            "[" + " | ".join(b["text"] for b in row) + "]" for row in markup["inline_keyboard"]
        )
    elif markup and markup.get("keyboard"):
        line += " ⌨" + " ".join(
            "[" + " | ".join(b["text"] if isinstance(b, dict) else str(b) for b in row) + "]"
            for row in markup["keyboard"]
        )
    return line


def _file_ids(prefix: str) -> dict[str, str]:
    # Shaped like Telegram's: a long opaque file_id and a short file_unique_id.
    return {
        "file_id": prefix + "AgIAAxkBAAI" + secrets.token_urlsafe(45)[:60],
        "file_unique_id": "AQAD" + secrets.token_urlsafe(9)[:12],
    }


class SandboxUser:
    """A Telegram user talking to the bot in a private chat (chat.id == user.id).

    `messages` holds the bot's messages to this chat in the order sent (deleted ones
    stay, flagged `deleted`); `transcript` is a readable log of the conversation.
    While `blocked`, the user cannot send or press (RuntimeError), as in Telegram.
    """

    def __init__(
        self, sandbox: BotAPISandbox, user_id: int, first_name: str, language_code: str | None
    ) -> None:
        self._sandbox = sandbox
        self.id = user_id
        self.first_name = first_name
        self.language_code = language_code
        self.blocked = False
        self.messages: list[SentMessage] = []
        self.transcript: list[str] = []
        # next_reply() returns messages[_cursor]; every user action moves the cursor to
        # the end, so "the next reply" is always one sent after the user's last action.
        self._cursor = 0

    def __repr__(self) -> str:
        return f"SandboxUser(id={self.id}, first_name={self.first_name!r})"

    # ---- what the user does -------------------------------------------------------

    async def send(self, text: str) -> None:
        """Send a text message; "/start CODE" arrives with a bot_command entity.

        With polling it returns once the update is queued; with a webhook, once the
        bot's webhook has answered the delivery (so `webhook_errors` is up to date).
        """
        if not text:
            raise ValueError("a Telegram message cannot be empty")
        content: dict[str, Any] = {"text": text}
        if entities := _command_entities(text):
            content["entities"] = entities
        await self._send(f"› user: {text}", content)

    async def send_sticker(self, emoji: str = "👍") -> None:
        sticker = {
            **_file_ids("CAAC"), "type": "regular", "width": 512, "height": 512,
            "is_animated": False, "is_video": False, "emoji": emoji,
            "set_name": "SandboxStickers", "file_size": 23_456,
            "thumbnail": {**_file_ids("AAMC"), "width": 128, "height": 128, "file_size": 4_567},
        }
        await self._send(f"› user: [sticker {emoji}]", {"sticker": sticker})

    async def send_photo(self, caption: str | None = None) -> None:
        sizes = [(90, 51, 1_234), (320, 180, 15_678), (800, 450, 61_234), (1280, 720, 123_456)]
        content: dict[str, Any] = {
            "photo": [
                {**_file_ids("AgAC"), "width": w, "height": h, "file_size": size}
                for w, h, size in sizes
            ]
        }
        if caption:
            content["caption"] = caption
        await self._send(f"› user: [photo]{' ' + caption if caption else ''}", content)

    async def send_voice(self, duration: int = 3) -> None:
        voice = {**_file_ids("AwAC"), "duration": duration, "mime_type": "audio/ogg", "file_size": 3_000 * duration}
        await self._send(f"› user: [voice {duration}s]", {"voice": voice})

    async def send_document(
        self, file_name: str = "document.pdf", mime_type: str = "application/pdf", caption: str | None = None
    ) -> None:
        document = {**_file_ids("BQAC"), "file_name": file_name, "mime_type": mime_type, "file_size": 42_424}
        content: dict[str, Any] = {"document": document}
        if caption:
            content["caption"] = caption
        await self._send(f"› user: [document {file_name}]{' ' + caption if caption else ''}", content)

    async def press(
        self, button: str | int, message: SentMessage | None = None, *, timeout: float = 5.0
    ) -> CallbackAnswer:
        """Press an inline button and return the bot's answerCallbackQuery.

        `button` is the button's text or its row-major index; `message` defaults to the
        newest (not deleted) bot message to this user that has an inline keyboard.
        Raises AssertionError if there is no such button or the bot does not answer
        the callback query within `timeout` seconds.
        """
        if message is None:
            message = self._newest(with_keyboard=True)
            if message is None:
                self._fail(f"cannot press {button!r}: no bot message with an inline keyboard")
        flat = [b for row in message.buttons for b in row]
        if isinstance(button, int):
            if not 0 <= button < len(flat):
                self._fail(f"cannot press button #{button}: message {message.message_id} has {len(flat)} buttons {message.button_texts}")
            text, data = flat[button]
        else:
            matches = [b for b in flat if b[0] == button]
            if not matches:
                self._fail(f"cannot press {button!r}: message {message.message_id} has buttons {message.button_texts}")
            text, data = matches[0]
        if not data:
            self._fail(f"cannot press {text!r}: it is not a callback button (no callback_data)")
        return await self._callback(message, data, f"› pressed: {text}", timeout)

    async def press_data(
        self, data: str, message: SentMessage | None = None, *, timeout: float = 5.0
    ) -> CallbackAnswer:
        """Send a callback query with arbitrary (forged or outdated) `data`.

        `message` defaults to the newest bot message with an inline keyboard, else the
        newest bot message. Waits for the answer like `press`.
        """
        if message is None:
            message = self._newest(with_keyboard=True) or self._newest(with_keyboard=False)
            if message is None:
                self._fail(f"cannot send callback data {data!r}: the bot has sent no message")
        return await self._callback(message, data, f"› pressed (data): {data}", timeout)

    def block(self) -> None:
        """Block the bot: sends/edits to this chat get 403 until `unblock()`.

        Like Telegram, the bot gets a my_chat_member update (member → kicked).
        """
        if not self.blocked:
            self.blocked = True
            self.transcript.append("› blocked the bot")
            self._sandbox._enqueue(self._member_update("member", "kicked"))

    def unblock(self) -> None:
        if self.blocked:
            self.blocked = False
            self.transcript.append("› unblocked the bot")
            self._sandbox._enqueue(self._member_update("kicked", "member"))

    # ---- waiting for the bot ------------------------------------------------------

    async def next_reply(self, timeout: float = 5.0) -> SentMessage:
        """The first bot message sent after this user's last action.

        Consecutive calls without a user action in between return the following
        messages one by one. Raises AssertionError (with the transcript) on timeout.
        """
        await self.wait_for(lambda: len(self.messages) > self._cursor, timeout, "a reply from the bot")
        message = self.messages[self._cursor]
        self._cursor += 1
        return message

    async def wait_for_messages(self, count: int, timeout: float = 5.0) -> list[SentMessage]:
        """Wait until this chat holds at least `count` bot messages in total (deleted
        ones included) and return all of them (a copy of `messages`)."""
        await self.wait_for(lambda: len(self.messages) >= count, timeout, f"{count} bot message(s)")
        return list(self.messages)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0, what: str = "a condition") -> None:
        """Wait until `predicate()` is true; it is re-checked whenever the sandbox state
        changes (a message sent, edited or deleted, a callback answered, a request...).
        Handy after `press` to wait for the edit: `await u.wait_for(lambda: msg.edited)`.
        """
        try:
            await self._sandbox._wait_until(predicate, timeout)
        except TimeoutError:
            self._fail(f"timed out after {timeout}s waiting for {what}")

    def format_transcript(self) -> str:
        return "\n".join(self.transcript) or "(nothing happened)"

    # ---- internals ----------------------------------------------------------------

    def _fail(self, problem: str) -> NoReturn:
        raise AssertionError(f"{self!r}: {problem}\n--- transcript ---\n{self.format_transcript()}")

    def _newest(self, *, with_keyboard: bool) -> SentMessage | None:
        for message in reversed(self.messages):
            if not message.deleted and (message.buttons or not with_keyboard):
                return message
        return None

    def _user_json(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    def _chat_json(self) -> dict[str, Any]:
        return {"id": self.id, "type": "private", "first_name": self.first_name}

    async def _send(self, line: str, content: dict[str, Any]) -> None:
        if self.blocked:
            raise RuntimeError(f"{self!r} has blocked the bot; call unblock() first")
        self.transcript.append(line)
        self._cursor = len(self.messages)
        message = self._sandbox._new_user_message(self, content)
        await self._sandbox._push_update({"message": message})

    async def _callback(self, message: SentMessage, data: str, line: str, timeout: float) -> CallbackAnswer:
        if message.chat_id != self.id:
            self._fail(f"message {message.message_id} belongs to chat {message.chat_id}, not to this user")
        if message.deleted:
            self._fail(f"message {message.message_id} was deleted, there is nothing to press")
        if self.blocked:
            raise RuntimeError(f"{self!r} has blocked the bot; call unblock() first")
        sandbox = self._sandbox
        query_id = str(next(sandbox._query_ids))
        query = sandbox._callback_queries[query_id] = _CallbackQuery(self, data)
        self.transcript.append(line)
        self._cursor = len(self.messages)
        await sandbox._push_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": self._user_json(),
                    "message": sandbox._message_json(message),
                    "chat_instance": str(-7_000_000_000 - self.id),
                    "data": data,
                }
            }
        )
        await self.wait_for(lambda: query.answer is not None, timeout, f"the bot to answer callback query {data!r}")
        assert query.answer is not None
        return query.answer

    def _member_update(self, old: str, new: str) -> dict[str, Any]:
        sandbox = self._sandbox
        now = int(time.time())
        bot_user = sandbox._bot_user_json()
        old_member: dict[str, Any] = {"status": old, "user": bot_user}
        new_member: dict[str, Any] = {"status": new, "user": bot_user}
        for member in (old_member, new_member):
            if member["status"] == "kicked":
                member["until_date"] = 0  # forever
        return {
            "my_chat_member": {
                "chat": self._chat_json(),
                "from": self._user_json(),
                "date": now,
                "old_chat_member": old_member,
                "new_chat_member": new_member,
            }
        }


class BotAPISandbox:
    """Fake Bot API server plus the users that talk to the bot. See the module docstring."""

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

        self._methods: dict[str, tuple[str, Callable[[dict[str, Any]], Awaitable[Any]]]] = {
            name.lower(): (name, handler)
            for name, handler in {
                "getMe": self._get_me,
                "getUpdates": self._get_updates,
                "sendMessage": self._send_message,
                "editMessageText": self._edit_message_text,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "deleteMessage": self._delete_message,
                "answerCallbackQuery": self._answer_callback_query,
                "sendChatAction": self._send_chat_action,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "close": self._true,
                "logOut": self._true,
            }.items()
        }

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

    def _bot_user_json(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": "Stegvis Sandbox", "username": self.bot_username}

    def _message_json(self, message: SentMessage, *, nested: bool = False) -> dict[str, Any]:
        user = self._users[message.chat_id]
        data: dict[str, Any] = {
            "message_id": message.message_id,
            "from": self._bot_user_json(),
            "chat": user._chat_json(),
            "date": message.date,
            "text": message.text,
        }
        if message.entities:
            data["entities"] = message.entities
        if message.edit_date:
            data["edit_date"] = message.edit_date
        if message.reply_markup and "inline_keyboard" in message.reply_markup:
            data["reply_markup"] = message.reply_markup
        if message.reply_to_message_id and not nested:
            key = (message.chat_id, message.reply_to_message_id)
            if key in self._bot_messages:
                data["reply_to_message"] = self._message_json(self._bot_messages[key], nested=True)
            elif key in self._user_messages:
                data["reply_to_message"] = self._user_messages[key]
        return data

    # ---- validation shared by the methods ----------------------------------------

    def _chat(self, params: dict[str, Any]) -> SandboxUser:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise _bad("chat_id is empty")
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            raise _bad("chat not found") from None
        user = self._users.get(chat_id)
        if user is None:
            raise _bad("chat not found")
        return user

    @staticmethod
    def _check_not_blocked(user: SandboxUser) -> None:
        if user.blocked:
            raise _APIError(403, "Forbidden: bot was blocked by the user")

    @staticmethod
    def _check_text(text: Any, parse_mode: str | None) -> str:
        if text is None:
            raise _bad("message text is empty")
        text = str(text)
        visible = _visible_text(text, parse_mode)
        if not visible.strip():
            raise _bad("message text is empty")
        if _utf16_len(visible) > MAX_TEXT_LENGTH:
            raise _bad("message is too long")
        return text

    @staticmethod
    def _check_markup(markup: Any, *, inline_only: bool = False) -> dict[str, Any] | None:
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            if inline_only:
                raise _bad("inline keyboard expected")
            return markup
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad("can't parse inline keyboard markup JSON object")
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise _bad("can't parse inline keyboard button: Text must be a String")
                if "callback_data" in button:
                    data = button["callback_data"]
                    if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
                        raise _bad("BUTTON_DATA_INVALID")
                elif not _BUTTON_ACTIONS & button.keys():
                    raise _bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
        return markup

    def _check_rate(self, chat_id: int) -> None:
        now = time.monotonic()

        def over(window: deque[float], limit: float | None) -> bool:
            while window and window[0] <= now - 1.0:  # sliding one-second window
                window.popleft()
            return limit is not None and len(window) >= limit

        chat_window = self._chat_sent_times.setdefault(chat_id, deque())
        if over(self._sent_times, self.rate_limit) or over(chat_window, self.per_chat_rate_limit):
            self.too_many_requests += 1
            raise _APIError(429, f"Too Many Requests: retry after {self.retry_after}", retry_after=self.retry_after)
        if self.rate_limit is not None:
            self._sent_times.append(now)
        if self.per_chat_rate_limit is not None:
            chat_window.append(now)

    def _reply_target(self, user: SandboxUser, params: dict[str, Any]) -> int | None:
        reply = params.get("reply_parameters")
        if isinstance(reply, dict):
            message_id, allow = reply.get("message_id"), bool(reply.get("allow_sending_without_reply"))
        else:
            message_id, allow = params.get("reply_to_message_id"), bool(params.get("allow_sending_without_reply"))
        if message_id is None:
            return None
        key = (user.id, int(message_id))
        exists = (key in self._bot_messages and not self._bot_messages[key].deleted) or (
            key in self._user_messages and key not in self._deleted_user_messages
        )
        if exists:
            return int(message_id)
        if allow:
            return None
        raise _bad("message to be replied not found")

    def _message_to_edit(self, params: dict[str, Any]) -> tuple[SandboxUser, SentMessage]:
        if params.get("inline_message_id"):
            raise _bad("message to edit not found")  # no inline mode in the sandbox
        user = self._chat(params)
        message_id = _int_param(params, "message_id")
        message = self._bot_messages.get((user.id, message_id))  # type: ignore[arg-type]
        if message is None or message.deleted:
            if (user.id, message_id) in self._user_messages:
                raise _bad("message can't be edited")
            raise _bad("message to edit not found")
        self._check_not_blocked(user)
        return user, message

    def _edited(self, user: SandboxUser, message: SentMessage) -> dict[str, Any]:
        message.edited = True
        message.edit_date = int(time.time())
        message.buttons = _inline_buttons(message.reply_markup)
        user.transcript.append(f"‹ bot edited: {_render(message.text, message.reply_markup)}")
        self._notify()
        return self._message_json(message)

    # ---- Bot API methods ----------------------------------------------------------

    async def _true(self, params: dict[str, Any]) -> bool:
        return True

    async def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            **self._bot_user_json(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise _APIError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = _int_param(params, "offset", required=False)
        limit = min(max(_int_param(params, "limit", required=False) or 100, 1), 100)
        timeout = max(_int_param(params, "timeout", required=False) or 0, 0)
        if isinstance(params.get("allowed_updates"), list):
            self._allowed_updates = params["allowed_updates"]  # sticky, as in Telegram
        if offset:
            # Updates below a positive offset are confirmed (forgotten); a negative offset
            # keeps only the last -offset updates.
            self._pending = [u for u in self._pending if u["update_id"] >= offset] if offset > 0 else self._pending[offset:]
        # Only one getUpdates may wait at a time: a newer one ends the older with 409.
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if generation != self._poll_generation:
                raise _APIError(409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running")
            if self.webhook is not None:
                raise _APIError(409, "Conflict: can't use getUpdates method while webhook is active")
            self._pending = [u for u in self._pending if self._allowed(u)]
            if self._pending or self._closing:
                return self._pending[:limit]
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return []
            try:
                async with asyncio.timeout(remaining):
                    await self._pulse.wait()
            except TimeoutError:
                pass

    async def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self._chat(params)
        parse_mode = params.get("parse_mode") or None
        text = self._check_text(params.get("text"), parse_mode)
        markup = self._check_markup(params.get("reply_markup"))
        reply_to = self._reply_target(user, params)
        self._check_not_blocked(user)
        self._check_rate(user.id)
        message = SentMessage(
            message_id=self._next_message_id(user.id),
            chat_id=user.id,
            text=text,
            buttons=_inline_buttons(markup),
            date=int(time.time()),
            reply_markup=markup,
            parse_mode=parse_mode,
            entities=params.get("entities") or None,
            reply_to_message_id=reply_to,
        )
        self._bot_messages[(user.id, message.message_id)] = message
        self._sent.append(message)
        user.messages.append(message)
        user.transcript.append(f"‹ bot: {_render(text, markup)}")
        self._notify()
        return self._message_json(message)

    async def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any]:
        user, message = self._message_to_edit(params)
        parse_mode = params.get("parse_mode") or None
        text = self._check_text(params.get("text"), parse_mode)
        # Like Telegram: an edit without reply_markup removes the inline keyboard.
        markup = _normalise_markup(self._check_markup(params.get("reply_markup"), inline_only=True))
        entities = params.get("entities") or None
        old_markup = _normalise_markup(message.reply_markup)
        if (text, parse_mode, entities, markup) == (message.text, message.parse_mode, message.entities, old_markup):
            raise _bad(_NOT_MODIFIED)
        message.text, message.parse_mode, message.entities, message.reply_markup = text, parse_mode, entities, markup
        return self._edited(user, message)

    async def _edit_message_reply_markup(self, params: dict[str, Any]) -> dict[str, Any]:
        user, message = self._message_to_edit(params)
        markup = _normalise_markup(self._check_markup(params.get("reply_markup"), inline_only=True))
        if markup == _normalise_markup(message.reply_markup):
            raise _bad(_NOT_MODIFIED)
        message.reply_markup = markup
        return self._edited(user, message)

    async def _delete_message(self, params: dict[str, Any]) -> bool:
        user = self._chat(params)
        key = (user.id, _int_param(params, "message_id"))
        bot_message = self._bot_messages.get(key)  # type: ignore[arg-type]
        if bot_message is not None and not bot_message.deleted:
            bot_message.deleted = True
            user.transcript.append(f"‹ bot deleted: {_render(bot_message.text, None)}")
        elif key in self._user_messages and key not in self._deleted_user_messages:
            self._deleted_user_messages.add(key)  # type: ignore[arg-type]
        else:
            raise _bad("message to delete not found")
        self._notify()
        return True

    async def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        query = self._callback_queries.get(str(params.get("callback_query_id") or ""))
        if query is None or query.answer is not None:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        text = params.get("text") or None
        query.answer = CallbackAnswer(text=text, show_alert=bool(params.get("show_alert")), url=params.get("url"))
        kind = "answer (alert)" if query.answer.show_alert else "answer"
        query.user.transcript.append(f"‹ {kind}: {text if text is not None else '(no text)'}")
        self._notify()
        return True

    async def _send_chat_action(self, params: dict[str, Any]) -> bool:
        user = self._chat(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        self._check_not_blocked(user)
        return True

    @staticmethod
    def _commands_key(params: dict[str, Any]) -> tuple[str, str | None]:
        scope = params.get("scope") or {"type": "default"}
        if not isinstance(scope, dict) or not isinstance(scope.get("type"), str):
            raise _bad("can't parse BotCommandScope JSON object")
        language = params.get("language_code") or None
        if language is not None and not _LANGUAGE_RE.fullmatch(language):
            # Telegram only takes two-letter ISO 639-1 codes here ("sv", not "sv-SE").
            raise _bad("invalid language code specified")
        return scope["type"], language

    async def _set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        cleaned = []
        for command in commands:
            if not isinstance(command, dict) or not _BOT_COMMAND_RE.fullmatch(str(command.get("command", ""))):
                raise _bad("BOT_COMMAND_INVALID")
            description = command.get("description")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": command["command"], "description": description})
        key = self._commands_key(params)
        if cleaned:
            self.commands[key] = cleaned
        else:
            self.commands.pop(key, None)  # an empty list clears, as deleteMyCommands
        return True

    async def _get_my_commands(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return [dict(c) for c in self.commands.get(self._commands_key(params), [])]

    async def _delete_my_commands(self, params: dict[str, Any]) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    async def _set_webhook(self, params: dict[str, Any]) -> bool:
        url = str(params.get("url") or "")
        if not url:  # Telegram: setWebhook with an empty url removes the webhook
            return await self._delete_webhook(params)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise _bad("bad webhook: the sandbox only delivers to http(s) URLs")
        if parts.hostname not in ("127.0.0.1", "localhost"):
            # Tests must never reach the internet.
            raise _bad("bad webhook: the sandbox only delivers to 127.0.0.1 or localhost")
        secret = params.get("secret_token")
        if secret is not None:
            secret = str(secret)
            if not _SECRET_RE.fullmatch(secret):
                raise _bad("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._pending.clear()
        if isinstance(params.get("allowed_updates"), list):
            self._allowed_updates = params["allowed_updates"]
        self.webhook = {"url": url, "secret_token": secret}
        self._last_webhook_error = None
        self._notify()
        return True

    async def _delete_webhook(self, params: dict[str, Any]) -> bool:
        if params.get("drop_pending_updates"):
            self._pending.clear()
        self.webhook = None
        self._notify()
        return True

    async def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self.webhook["url"] if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook:
            info["max_connections"] = 1
            info["ip_address"] = "127.0.0.1"
        if self._last_webhook_error:
            info["last_error_date"], info["last_error_message"] = self._last_webhook_error
        if self._allowed_updates:
            info["allowed_updates"] = list(self._allowed_updates)
        return info

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
