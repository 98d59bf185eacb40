"""Pacing what Stegvis sends to Telegram: one limiter for replies and bulk sends alike.

Telegram allows a bot about 30 messages a second in all and about one a second to one chat, and
answers 429 with ``retry_after`` above that, for the whole bot. So every message, a reply to a
button press as much as a message from the outbox, takes its turn here (``bot.telegram.gateway``):

* **Overall:** never more than ``rate`` sends within any one second (a sliding window, as
  Telegram's limit behaves), bulk sends spaced evenly so they do not bunch.
* **Replies first:** a reply to what a participant just did waits only for room in the window
  (and its own chat's burst); bulk sends wait while any reply is waiting for the window.
* **Per chat:** bulk sends to one chat go at least ``1/per_chat`` seconds apart (plus 5 % for
  network jitter); replies may use a small burst (an edit and the next question at once) from a
  bucket that refills at ``per_chat`` a second, so a conversation never waits a second in the
  middle of an answer.
* **As it goes out:** a request counts again from when it goes out until a second after its
  answer (`issue`), as it may reach Telegram at any time in between: requests whose turns came
  evenly but that arrive together (after a busy moment, a slow connection) still keep to ``rate``.
  For the same reason a chat's interval counts from the answer to its last message.
* **429:** everything pauses for ``retry_after``.

`rate` None means no limit (to measure the rest of the stack).
"""

from __future__ import annotations

import asyncio
import enum
import math
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

# Arrival times at Telegram jitter by a few milliseconds, so two sends to one chat exactly
# 1/rate apart can land inside one second there; a small margin avoids a 429 for that.
PER_CHAT_MARGIN = 1.05
REPLY_BURST = 3  # messages a reply may send to one chat at once: the edit, a notice, the next question
_FORGET_AFTER = 10_000  # chats remembered before those idle long enough are forgotten


class Priority(enum.Enum):
    REPLY = "reply"  # an answer to what a person just did
    BULK = "bulk"  # the outbox: messages Stegvis sends on its own


class RateLimiter:
    def __init__(self, rate: float | None, per_chat: float | None, *, burst: int = REPLY_BURST) -> None:
        self.rate = rate
        self.per_chat = per_chat
        self._interval = 1.0 / rate if rate else 0.0
        self._window = max(1, math.floor(rate)) if rate else 0
        self._recent: deque[float] = deque()  # monotonic times of the turns given in the last second
        self._in_flight: dict[object, int | None] = {}  # requests on their way to Telegram, and their chats
        self._answered: deque[float] = deque()  # monotonic times of the answers of the last second
        self._next = 0.0  # monotonic time of the next free bulk slot
        self._paused_until = 0.0
        self._chat_interval = PER_CHAT_MARGIN / per_chat if per_chat else 0.0
        self._burst = max(1, burst)
        self._chats: dict[int, tuple[float, float]] = {}  # chat → (last send, reply tokens left then)
        self._replies_waiting = 0
        self._no_replies_waiting = asyncio.Event()
        self._no_replies_waiting.set()
        self._chat_locks: dict[int, tuple[asyncio.Lock, int]] = {}

    async def acquire(self, chat_id: int | None, priority: Priority) -> None:
        """Wait until a message to `chat_id` may go now, and count it as sent."""
        if priority is Priority.REPLY:
            # Its own chat's bucket first: a reply waiting for that holds up no send to other chats.
            await self._chat_room(chat_id, reply=True)
            self._replies_waiting += 1
            self._no_replies_waiting.clear()
            try:
                await self._window_room()
            finally:
                self._replies_waiting -= 1
                if not self._replies_waiting:
                    self._no_replies_waiting.set()
            self._next = max(self._next, time.monotonic()) + self._interval  # bulk spacing counts it
        else:
            while True:
                await self._chat_room(chat_id, reply=False)
                await self._bulk_slot()
                if self._chat_ready(chat_id):
                    break  # else a reply to this chat went while this waited for its slot
        self._sent(chat_id)

    async def issue(self, chat_id: int | None = None) -> object:
        """The last check, as the request goes out: never more than `rate` that may arrive within one second.

        A request reaches Telegram some time between going out and its answer coming back, and
        requests given their turns evenly can arrive together (after a busy moment, a slow
        connection). So one that is on its way, or was answered less than a second ago, may
        have arrived in the same second as this one will: while `rate` of those exist, this waits.
        Hand the returned token to `done` when the answer is in; the chat's interval then counts
        from the answer, so the next message to `chat_id` cannot arrive less than it after this one.
        """
        token = object()
        if not self._window:
            self._in_flight[token] = chat_id
            return token
        while True:
            now = time.monotonic()
            answered = self._answered
            while answered and answered[0] <= now - 1.0:
                answered.popleft()
            if len(answered) + len(self._in_flight) < self._window:
                self._in_flight[token] = chat_id
                return token
            # Room comes when an answer turns a second old, or sooner when one comes in.
            await asyncio.sleep(min(answered[0] + 1.0 - now, 0.005) if answered else 0.005)

    def done(self, token: object) -> None:
        if token not in self._in_flight:
            return
        chat_id = self._in_flight.pop(token)
        now = time.monotonic()
        self._answered.append(now)
        if chat_id in self._chats:
            _last, tokens = self._chats[chat_id]
            self._chats[chat_id] = (now, tokens)

    def pause(self, seconds: float) -> None:
        """Telegram answered 429: nothing is sent for `seconds`."""
        until = time.monotonic() + seconds
        self._paused_until = max(self._paused_until, until)
        self._next = max(self._next, self._paused_until)

    @asynccontextmanager
    async def chat(self, chat_id: int) -> AsyncIterator[None]:
        """Hold a chat, so that one sender's messages to it go one at a time and in order."""
        lock, users = self._chat_locks.get(chat_id, (asyncio.Lock(), 0))
        self._chat_locks[chat_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._chat_locks[chat_id]
            if users <= 1:
                del self._chat_locks[chat_id]
            else:
                self._chat_locks[chat_id] = (lock, users - 1)

    # ---- the waits ----------------------------------------------------------------------------

    async def _wait_pause(self) -> None:
        while (wait := self._paused_until - time.monotonic()) > 0:
            await asyncio.sleep(wait)

    def _window_full(self, now: float) -> bool:
        if not self._window:
            return False
        recent = self._recent
        while recent and recent[0] <= now - 1.0:
            recent.popleft()
        return len(recent) >= self._window

    async def _window_room(self) -> None:
        while True:
            await self._wait_pause()
            now = time.monotonic()
            if not self._window_full(now):
                return
            await asyncio.sleep(self._recent[0] + 1.0 - now)

    async def _bulk_slot(self) -> None:
        while True:
            await self._wait_pause()
            await self._no_replies_waiting.wait()
            if self._interval:
                # Reserve a slot, then sleep until it: waiters queue up in order without a lock.
                now = time.monotonic()
                slot = max(self._next, now)
                self._next = slot + self._interval
                if slot > now:
                    await asyncio.sleep(slot - now)
            now = time.monotonic()
            if self._paused_until > now or self._replies_waiting:
                continue  # Telegram asked everyone to wait, or a reply came first: queue again
            if self._window_full(now):
                # Wait for room, then queue again for a spaced slot: waiters that all woke when the
                # window freed would otherwise go together, and repeat a burst every second.
                await asyncio.sleep(self._recent[0] + 1.0 - now)
                continue
            return

    async def _chat_room(self, chat_id: int | None, *, reply: bool) -> None:
        if chat_id is None or not self._chat_interval:
            return
        while True:
            last, tokens = self._chats.get(chat_id, (-math.inf, float(self._burst)))
            now = time.monotonic()
            if reply:
                available = min(float(self._burst), tokens + (now - last) / self._chat_interval)
                wait = 0.0 if available >= 1.0 else (1.0 - available) * self._chat_interval
            else:
                wait = last + self._chat_interval - now
            if wait <= 0:
                return
            await asyncio.sleep(wait)

    def _chat_ready(self, chat_id: int | None) -> bool:
        if chat_id is None or not self._chat_interval:
            return True
        last, _tokens = self._chats.get(chat_id, (-math.inf, float(self._burst)))
        return time.monotonic() >= last + self._chat_interval

    def _sent(self, chat_id: int | None) -> None:
        now = time.monotonic()
        if self._window:
            self._recent.append(now)
        if chat_id is None or not self._chat_interval:
            return
        last, tokens = self._chats.get(chat_id, (-math.inf, float(self._burst)))
        available = min(float(self._burst), tokens + (now - last) / self._chat_interval)
        self._chats[chat_id] = (now, max(0.0, available - 1.0))
        if len(self._chats) > _FORGET_AFTER:
            idle = self._burst * self._chat_interval
            self._chats = {chat: state for chat, state in self._chats.items() if now - state[0] < idle}
