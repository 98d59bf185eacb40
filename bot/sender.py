"""The outbox sender: sends due outbox messages to Telegram at a safe pace and records what became of each.

One `Sender.tick()` claims due rows and commits the claim before anything is sent, sends them
through a `RateLimiter`, and commits each outcome (sent, retry later, failed, withdrawn,
postponed) right after it is known. The database is the truth: a process that dies leaves its
rows claimed, and after the lease another tick takes them again. So every due message is sent at
least once, and the only ones sent twice are those Telegram had accepted when the process died
but that were not yet recorded as sent (``docs/sending.md``). APScheduler calls `tick()` every
``STEGVIS_SEND_INTERVAL`` seconds (``bot/scheduler.py``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import secrets
import socket
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramForbiddenError, TelegramRetryAfter
from sqlalchemy import select

from bot.app import Stegvis
from bot.conversation import keyboard, mark_unreachable, record
from bot.reminders.messages import compose
from bot.reminders.timing import next_allowed_moment
from flows.engine import Sprint
from storage import outbox
from storage import repositories as repo
from storage.models import Appointment, OutboxMessage, Participant, ParticipantStatus, utcnow

log = logging.getLogger(__name__)

# A message Telegram keeps answering 429 for goes back to pending after this many waits, so that
# one tick never spins on it; waiting is not a failed try.
MAX_THROTTLES_PER_MESSAGE = 10
# Arrival times at Telegram jitter by a few milliseconds, so two sends to one chat exactly
# 1/rate apart can land inside one second there; a small margin avoids a 429 for that.
PER_CHAT_MARGIN = 1.05


class RateLimiter:
    """Paces sends: evenly spaced at the overall rate, never more than the rate within any one
    second, a minimum interval per chat, and a pause of everything when Telegram answers 429.

    Spacing alone is not enough: when the event loop is busy for a moment, several sends whose
    slots passed meanwhile wake together, and Telegram counts a burst like that inside one second.
    So each send also checks the sends of the last second (a sliding window, as Telegram's limit
    behaves) and waits when there were already ``rate`` of them. `rate` None means no limit (to
    measure the sender itself).
    """

    def __init__(self, rate: float | None, per_chat: float | None) -> None:
        self.rate = rate
        self.per_chat = per_chat
        self._interval = 1.0 / rate if rate else 0.0
        self._window = max(1, math.floor(rate)) if rate else 0
        self._recent: deque[float] = deque()  # monotonic times of the sends of the last second
        self._next = 0.0  # monotonic time of the next free slot
        self._paused_until = 0.0
        self._chat_interval = PER_CHAT_MARGIN / per_chat if per_chat else 0.0
        self._chat_next: dict[int, float] = {}
        self._chat_locks: dict[int, tuple[asyncio.Lock, int]] = {}

    async def acquire(self) -> None:
        """Wait for the next overall slot (and for the end of a pause)."""
        while True:
            now = time.monotonic()
            if self._paused_until > now:
                await asyncio.sleep(self._paused_until - now)
                continue
            if not self._interval:
                return
            # Reserve a slot, then sleep until it: waiters queue up in order without a lock.
            slot = max(self._next, now)
            self._next = slot + self._interval
            if slot > now:
                await asyncio.sleep(slot - now)
            now = time.monotonic()
            if self._paused_until > now:
                continue  # Telegram asked everyone to wait while this slot was pending: queue again
            recent = self._recent
            while recent and recent[0] <= now - 1.0:
                recent.popleft()
            if len(recent) >= self._window:
                await asyncio.sleep(recent[0] + 1.0 - now)
                continue
            recent.append(now)
            return

    def pause(self, seconds: float) -> None:
        """Telegram answered 429: nothing is sent for `seconds`."""
        until = time.monotonic() + seconds
        self._paused_until = max(self._paused_until, until)
        self._next = max(self._next, self._paused_until)

    @property
    def paused(self) -> bool:
        return self._paused_until > time.monotonic()

    @asynccontextmanager
    async def chat(self, chat_id: int) -> AsyncIterator[None]:
        """Hold a chat, so that its messages go one at a time and in order."""
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

    async def chat_turn(self, chat_id: int) -> None:
        """Wait until the per-chat interval since the last message to this chat has passed."""
        wait = self._chat_next.get(chat_id, 0.0) - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    def sent_to(self, chat_id: int) -> None:
        if not self._chat_interval:
            return
        now = time.monotonic()
        self._chat_next[chat_id] = now + self._chat_interval
        if len(self._chat_next) > 10_000:  # forget chats whose interval is over
            self._chat_next = {chat: t for chat, t in self._chat_next.items() if t > now}


# ---- what became of a row, written by one writer task ----------------------------------------


@dataclass
class _Sent:
    row: OutboxMessage
    sprint: Sprint
    telegram_message_id: int | None
    handed_at: datetime  # just before the first message went to Telegram


@dataclass
class _Failed:
    row: OutboxMessage
    error: str


@dataclass
class _Blocked:
    row: OutboxMessage


@dataclass
class _Cancelled:
    row: OutboxMessage
    reason: str


@dataclass
class _Postponed:
    row: OutboxMessage
    due_at: datetime


@dataclass
class _Released:
    row: OutboxMessage


_Outcome = _Sent | _Failed | _Blocked | _Cancelled | _Postponed | _Released


@dataclass
class SenderStats:
    """Counters since the sender was made, for logs and the bench."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    blocked: int = 0
    cancelled: int = 0
    postponed: int = 0
    released: int = 0
    throttled: int = 0  # 429 answers
    reclaimed: int = 0
    lost_outcomes: int = 0  # outcomes that could not be written; those rows are sent again after the lease

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def worker_name() -> str:
    """Who holds a claim: host, process and a random part (pids are reused after a restart)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass
class _Tick:
    """One tick's moving parts."""

    outcomes: asyncio.Queue[_Outcome | None] = field(default_factory=asyncio.Queue)
    held: dict[int, OutboxMessage] = field(default_factory=dict)  # claimed, outcome not yet written
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    blocked: set[int] = field(default_factory=set)  # participants who answered 403 in this tick
    queued: int = 0  # delivery tasks that have not yet started to send
    room: asyncio.Event = field(default_factory=asyncio.Event)


class Sender:
    """Claims due outbox rows and sends them; see the module docstring. One tick at a time per process."""

    def __init__(
        self,
        stegvis: Stegvis,
        bot: Bot,
        *,
        limiter: RateLimiter | None = None,
        worker: str | None = None,
        max_attempts: int | None = None,
        lease: timedelta | None = None,
        batch_size: int | None = None,
        concurrency: int = 64,
        backoff: timedelta = timedelta(seconds=10),
        max_backoff: timedelta = timedelta(hours=1),
        request_timeout: int = 30,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        settings = stegvis.settings
        self.stegvis = stegvis
        self.bot = bot
        self.limiter = limiter or RateLimiter(settings.send_rate, settings.send_rate_per_chat)
        self.worker = worker or worker_name()
        self.max_attempts = max_attempts or settings.send_max_attempts
        self.lease = lease or timedelta(seconds=settings.send_lease)
        rate = self.limiter.rate
        # A claim is about a second of sending: enough to keep the pace, little to hand back, and
        # loading it does not hold up the event loop (and so the pace) for long.
        self.batch_size = batch_size or (min(max(int(rate), 10), 500) if rate else 500)
        # Appointments are read again for each quarter second of sending, just before it is sent.
        self.chunk_size = max(1, min(self.batch_size, int(rate / 4) if rate else 100))
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.request_timeout = request_timeout
        self.clock = clock
        self.stats = SenderStats()
        self._concurrency = asyncio.Semaphore(concurrency)
        self._lock = asyncio.Lock()
        # This process's writes take turns here. SQLite has one writer at a time, and a connection
        # that finds the database locked sleeps in steps of up to 100 ms; waiting on an asyncio
        # lock instead costs nothing. (Other processes still meet SQLite's busy timeout.)
        self._writing = asyncio.Lock()
        self._stopping = False

    # ---- the tick ---------------------------------------------------------------------------

    async def tick(self) -> int:
        """Send everything due now; returns how many messages were sent."""
        if self._stopping:
            return 0
        async with self._lock:
            sent_before, claimed_before = self.stats.sent, self.stats.claimed
            run = _Tick()
            writer = asyncio.create_task(self._write(run), name="outbox-writer")
            heartbeat = asyncio.create_task(self._heartbeat(run), name="outbox-heartbeat")
            try:
                while not self._stopping:
                    rows = await self._claim(run)
                    if not rows:
                        break
                    await self._dispatch(run, rows)
            finally:
                # Every claimed row gets its outcome written, even when claiming failed half-way.
                if run.tasks:
                    await asyncio.gather(*run.tasks, return_exceptions=True)
                await run.outcomes.put(None)
                await writer
                heartbeat.cancel()
            sent = self.stats.sent - sent_before
            if self.stats.claimed > claimed_before:
                log.info("outbox: %d sent this tick; since start %s", sent, self.stats.as_dict())
            return sent

    async def stop(self, timeout: float = 10.0) -> None:
        """Finish the messages already being sent, hand the rest back (pending), and stop ticking."""
        self._stopping = True
        try:
            async with asyncio.timeout(timeout):
                async with self._lock:
                    pass
        except TimeoutError:
            log.warning("outbox: sends still running at shutdown; their rows are taken again after the lease")

    async def _claim(self, run: _Tick) -> list[OutboxMessage]:
        now = self.clock()
        async with self._writing, self.stegvis.database.sessions() as session:
            reclaimed = await outbox.reclaim_expired(session, now=now, lease=self.lease)
            rows = await outbox.claim(session, worker=self.worker, now=now, limit=self.batch_size)
            await session.commit()  # the claim is durable before anything is sent
        if reclaimed:
            self.stats.reclaimed += reclaimed
            log.warning("outbox: %d messages claimed by a sender that stopped are due again", reclaimed)
        self.stats.claimed += len(rows)
        run.held.update((row.id, row) for row in rows)
        return rows

    async def _dispatch(self, run: _Tick, rows: Sequence[OutboxMessage]) -> None:
        for start in range(0, len(rows), self.chunk_size):
            # Keep about one chunk waiting for its turn: the next one is checked just before it goes.
            while run.queued >= self.chunk_size:
                run.room.clear()
                await run.room.wait()
            chunk = rows[start : start + self.chunk_size]
            if self._stopping:
                for row in rows[start:]:
                    run.outcomes.put_nowait(_Released(row))
                return
            await self._check_and_send(run, chunk)

    async def _check_and_send(self, run: _Tick, chunk: Sequence[OutboxMessage]) -> None:
        """Re-read the participants and appointments, then send what may still be sent now."""
        participant_ids = {row.participant_id for row in chunk}
        appointment_ids = {row.appointment_id for row in chunk if row.appointment_id is not None}
        async with self.stegvis.database.sessions() as session:
            participants = {p.id: p for p in await session.scalars(select(Participant).where(Participant.id.in_(participant_ids)))}
            appointments = {}
            if appointment_ids:
                found = await session.scalars(select(Appointment).where(Appointment.id.in_(appointment_ids)))
                appointments = {a.id: a for a in found}
        settings = self.stegvis.settings
        now = self.clock()
        allowed = next_allowed_moment(now, settings.quiet, settings.tz)
        for row in chunk:
            participant = participants.get(row.participant_id)
            appointment = appointments.get(row.appointment_id) if row.appointment_id is not None else None
            stale = outbox.stale_reason(row, appointment, now)
            if participant is None or participant.status != ParticipantStatus.ACTIVE or participant.id in run.blocked:
                run.outcomes.put_nowait(_Released(row))  # stays pending; never sent while not active
            elif stale:
                run.outcomes.put_nowait(_Cancelled(row, stale))
            elif allowed > now:
                if appointment is not None and allowed >= appointment.starts_at:
                    run.outcomes.put_nowait(_Cancelled(row, "withdrawn: quiet hours last until the appointment"))
                else:
                    run.outcomes.put_nowait(_Postponed(row, allowed))
            elif participant.telegram_chat_id is None:
                run.outcomes.put_nowait(_Failed(row, "the participant has no Telegram chat"))
            else:
                try:
                    sprint = compose(self.stegvis, participant, appointment, row)
                except Exception as error:  # noqa: BLE001 - one bad message must not stop the others
                    log.exception("outbox: could not compose message %s", row.id)
                    run.outcomes.put_nowait(_Failed(row, f"could not compose: {error!r}"))
                    continue
                run.queued += 1
                task = asyncio.create_task(self._deliver(run, row, participant, sprint))
                run.tasks.add(task)
                task.add_done_callback(run.tasks.discard)
                # Composing takes a while; let the sends already waiting go at their time.
                await asyncio.sleep(0)

    def _left_queue(self, run: _Tick) -> None:
        run.queued -= 1
        if run.queued < self.chunk_size:
            run.room.set()

    async def _deliver(self, run: _Tick, row: OutboxMessage, participant: Participant, sprint: Sprint) -> None:
        chat_id = participant.telegram_chat_id
        assert chat_id is not None
        queued = True
        handed_at = self.clock()
        try:
            async with self.limiter.chat(chat_id):
                message_id: int | None = None
                for index, message in enumerate(sprint.messages):
                    throttles = 0
                    while True:
                        await self.limiter.chat_turn(chat_id)
                        async with self._concurrency:
                            await self.limiter.acquire()
                            if queued:
                                queued = False
                                self._left_queue(run)
                            if index == 0 and (self._stopping or participant.id in run.blocked):
                                run.outcomes.put_nowait(_Released(row))
                                return
                            if index == 0:
                                handed_at = self.clock()
                            try:
                                sent = await self.bot.send_message(
                                    chat_id, message.text, reply_markup=keyboard(message), request_timeout=self.request_timeout
                                )
                            except TelegramRetryAfter as error:
                                # Telegram's limit is for the whole bot: everyone waits, then this one goes again.
                                self.stats.throttled += 1
                                self.limiter.pause(error.retry_after)
                                throttles += 1
                                if throttles >= MAX_THROTTLES_PER_MESSAGE:
                                    run.outcomes.put_nowait(_Postponed(row, self.clock()))
                                    return
                                continue
                        self.limiter.sent_to(chat_id)
                        message_id = sent.message_id
                        break
                run.outcomes.put_nowait(_Sent(row, sprint, message_id, handed_at))
        except TelegramForbiddenError:
            run.blocked.add(participant.id)
            run.outcomes.put_nowait(_Blocked(row))
        except TelegramAPIError as error:
            run.outcomes.put_nowait(_Failed(row, f"{type(error).__name__}: {error.message}"))
        except Exception as error:  # noqa: BLE001 - network errors, timeouts: try again later
            run.outcomes.put_nowait(_Failed(row, f"{type(error).__name__}: {error}"))
        finally:
            if queued:
                self._left_queue(run)

    # ---- writing outcomes -------------------------------------------------------------------

    async def _heartbeat(self, run: _Tick) -> None:
        """Renew the claims of rows still in hand, so a long tick is not mistaken for a dead one."""
        every = self.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(every)
            try:
                async with self._writing, self.stegvis.database.sessions() as session:
                    await outbox.renew_claims(session, list(run.held), worker=self.worker, now=self.clock())
                    await session.commit()
            except Exception:  # noqa: BLE001 - the next beat tries again
                log.exception("outbox: could not renew claims")

    async def _write(self, run: _Tick) -> None:
        """Write outcomes as they come, many per commit when they come fast (one writer: SQLite)."""
        done = False
        while not done:
            first = await run.outcomes.get()
            batch: list[_Outcome] = []
            if first is None:
                done = True
            else:
                batch.append(first)
            while not run.outcomes.empty() and len(batch) < 500:
                more = run.outcomes.get_nowait()
                if more is None:
                    done = True
                else:
                    batch.append(more)
            if batch:
                await self._write_batch(run, batch)

    async def _write_batch(self, run: _Tick, batch: list[_Outcome]) -> None:
        try:
            await self._apply(batch)
        except Exception:  # noqa: BLE001
            log.exception("outbox: could not record %d outcomes together; recording them one by one", len(batch))
            for outcome in batch:
                try:
                    await self._apply([outcome])
                except Exception:  # noqa: BLE001
                    log.exception("outbox: could not record what became of message %s", outcome.row.id)
                    if isinstance(outcome, _Sent):
                        # Never send it twice because its conversation state could not be stored.
                        try:
                            async with self._writing, self.stegvis.database.sessions() as session:
                                await outbox.mark_sent(session, outcome.row, outcome.telegram_message_id, self.clock())
                                await session.commit()
                            continue
                        except Exception:  # noqa: BLE001
                            log.exception("outbox: could not mark message %s sent", outcome.row.id)
                    self.stats.lost_outcomes += 1
        for outcome in batch:
            run.held.pop(outcome.row.id, None)

    async def _apply(self, batch: Sequence[_Outcome]) -> None:
        now = self.clock()
        async with self._writing, self.stegvis.database.sessions() as session:
            wanted = {o.row.participant_id for o in batch if isinstance(o, (_Sent, _Blocked))}
            participants = {}
            if wanted:
                participants = {p.id: p for p in await session.scalars(select(Participant).where(Participant.id.in_(wanted)))}
            counts = SenderStats()
            sent = [o for o in batch if isinstance(o, _Sent)]
            states: dict[int, tuple[str | None, str | None, dict[str, Any], datetime]] = {}
            for outcome in sent:
                sprint = outcome.sprint
                if sprint.events or sprint.keep_state:
                    earlier = states.pop(outcome.row.participant_id, None)
                    if earlier is not None:  # keep the order of this participant's states
                        await repo.save_conversations_dated(session, {outcome.row.participant_id: earlier})
                    await record(session, participants[outcome.row.participant_id], sprint)
                else:
                    # All record() would do is save the new state: done below for all of them at once.
                    state = sprint.state
                    states[outcome.row.participant_id] = (state.flow, state.step, state.data, outcome.handed_at)
            await repo.save_conversations_dated(session, states)
            await outbox.mark_sent_many(session, [(o.row, o.telegram_message_id) for o in sent], now)
            counts.sent = len(sent)
            for outcome in batch:
                row = outcome.row
                if isinstance(outcome, _Sent):
                    continue
                elif isinstance(outcome, _Failed):
                    if row.attempts + 1 >= self.max_attempts:
                        log.warning("outbox: message %s failed for good after %d tries: %s", row.id, row.attempts + 1, outcome.error)
                        await outbox.mark_failed(session, row, outcome.error, now)
                        counts.failed += 1
                    else:
                        delay = min(self.backoff * 2**row.attempts, self.max_backoff)
                        await outbox.retry_later(session, row, outcome.error, now + delay)
                        counts.retried += 1
                elif isinstance(outcome, _Blocked):
                    participant = participants[row.participant_id]
                    if participant.status != ParticipantStatus.UNREACHABLE:
                        await mark_unreachable(session, participant)  # commits what came before too
                    await outbox.mark_failed(session, row, "blocked", now)
                    counts.blocked += 1
                elif isinstance(outcome, _Cancelled):
                    await outbox.cancel(session, row, outcome.reason)
                    counts.cancelled += 1
                elif isinstance(outcome, _Postponed):
                    await outbox.postpone(session, row, outcome.due_at)
                    counts.postponed += 1
                else:
                    await outbox.release(session, row)
                    counts.released += 1
            await session.commit()
        for name, value in counts.as_dict().items():
            setattr(self.stats, name, getattr(self.stats, name) + value)
