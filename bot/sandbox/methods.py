"""The Bot API methods the sandbox answers, and the checks Telegram makes on them.

`BotAPIMethods` is mixed into `BotAPISandbox`: one handler per method (sendMessage,
editMessageText, answerCallbackQuery, setMyCommands, getUpdates, setWebhook ...),
the decoding of their parameters, and the checks that make a wrong call fail as it
would against Telegram (text length, markup, callback data, blocked chats, rate
limits).
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from bot.sandbox.users import CallbackAnswer, SandboxUser, SentMessage, _CallbackQuery, _render, _utf16_len

MAX_TEXT_LENGTH = 4096  # Telegram's limit, in UTF-16 code units after entity parsing
MAX_CALLBACK_DATA = 64  # bytes of UTF-8

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

_BOT_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_LANGUAGE_RE = re.compile(r"[a-z]{2}")

_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)


class _APIError(Exception):
    """An error answer: becomes {"ok": false, "error_code": ..., "description": ...}."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after


def _bad(description: str) -> _APIError:
    return _APIError(400, f"Bad Request: {description}")


def _visible_text(text: str, parse_mode: str | None) -> str:
    """Roughly what the user sees, so markup does not count towards the length limit."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        return html.unescape(re.sub(r"<[^>]*>", "", text))
    if mode == "markdownv2":
        return re.sub(r"\\(.)", r"\1", text)
    return text


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


def _normalise_markup(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    # An empty inline keyboard is how Telegram spells "no keyboard".
    if markup is not None and not markup.get("inline_keyboard"):
        return None
    return markup


def _inline_buttons(markup: dict[str, Any] | None) -> list[list[tuple[str, str]]]:
    if not markup or "inline_keyboard" not in markup:
        return []
    return [[(b["text"], b.get("callback_data") or "") for b in row] for row in markup["inline_keyboard"]]


class BotAPIMethods:
    """The Bot API methods, mixed into `BotAPISandbox`.

    A handler takes the decoded parameters and returns the `result` of an ok answer,
    or raises `_APIError` for an error answer.
    """

    # The server's state the methods work on. BotAPISandbox.__init__ sets it up; it is
    # declared here so that this module can be read, and type-checked, on its own.
    bot_id: int
    bot_username: str
    rate_limit: float | None
    per_chat_rate_limit: float | None
    retry_after: int
    commands: dict[tuple[str, str | None], list[dict[str, Any]]]
    webhook: dict[str, Any] | None
    too_many_requests: int
    _users: dict[int, SandboxUser]
    _sent: list[SentMessage]
    _bot_messages: dict[tuple[int, int], SentMessage]
    _user_messages: dict[tuple[int, int], dict[str, Any]]
    _deleted_user_messages: set[tuple[int, int]]
    _callback_queries: dict[str, _CallbackQuery]
    _pending: list[dict[str, Any]]
    _allowed_updates: list[str] | None
    _poll_generation: int
    _last_webhook_error: tuple[int, str] | None
    _sent_times: deque[float]
    _chat_sent_times: dict[int, deque[float]]
    _pulse: asyncio.Event
    _closing: bool
    # ...and the update queue's plumbing, which the server provides.
    _notify: Callable[[], None]
    _allowed: Callable[[dict[str, Any]], bool]
    _next_message_id: Callable[[int], int]

    def _method_table(self) -> dict[str, tuple[str, Callable[[dict[str, Any]], Awaitable[Any]]]]:
        # Method names are case-insensitive in the Bot API; the table keeps Telegram's
        # spelling for `requests`.
        return {
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

    # ---- Bot API objects ----------------------------------------------------------

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
