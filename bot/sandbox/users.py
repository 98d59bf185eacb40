"""The participants the sandbox plays, and what they see.

`SandboxUser` is a person in a private chat with the bot: it sends messages, presses
buttons, blocks the bot and waits for replies, keeping a readable transcript.
`SentMessage` and `CallbackAnswer` are the bot's messages and callback answers as a
test sees them, and `_render` is how a bot message reads in a transcript.
"""

from __future__ import annotations

import itertools
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn, Protocol

_COMMAND_RE = re.compile(r"(?<!\S)/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?")


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


def _utf16_len(text: str) -> int:
    # Telegram measures lengths and entity offsets in UTF-16 code units.
    return len(text.encode("utf-16-le")) // 2


def _command_entities(text: str) -> list[dict[str, Any]]:
    return [
        {"type": "bot_command", "offset": _utf16_len(text[: m.start()]), "length": _utf16_len(m.group())}
        for m in _COMMAND_RE.finditer(text)
    ]


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


class _Sandbox(Protocol):
    """What a participant needs from the sandbox it talks through (`BotAPISandbox`).

    Named here rather than imported so that this module does not depend on server.py,
    which depends on it.
    """

    _query_ids: itertools.count[int]
    _callback_queries: dict[str, _CallbackQuery]

    def _enqueue(self, payload: dict[str, Any]) -> dict[str, Any]: ...

    async def _push_update(self, payload: dict[str, Any]) -> None: ...

    async def _wait_until(self, predicate: Callable[[], bool], timeout: float) -> None: ...

    def _new_user_message(self, user: SandboxUser, content: dict[str, Any]) -> dict[str, Any]: ...

    def _bot_user_json(self) -> dict[str, Any]: ...

    def _message_json(self, message: SentMessage, *, nested: bool = False) -> dict[str, Any]: ...


class SandboxUser:
    """A Telegram user talking to the bot in a private chat (chat.id == user.id).

    `messages` holds the bot's messages to this chat in the order sent (deleted ones
    stay, flagged `deleted`); `transcript` is a readable log of the conversation.
    While `blocked`, the user cannot send or press (RuntimeError), as in Telegram.
    """

    def __init__(
        self, sandbox: _Sandbox, user_id: int, first_name: str, language_code: str | None
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
