"""The outbox sender: sends due outbox messages at a safe pace and records what became of each.

One `Sender.tick()` claims due rows and commits the claim before anything is sent, sends them
through the bot (whose `bot.telegram.gateway.Gateway` paces every request, bulk after replies),
and commits each outcome (sent, retry later, failed, withdrawn, postponed) right after it is
known. The database is the truth: a process that dies leaves its rows claimed, and after the
lease another tick takes them again. So every due message is sent at least once, and the only
ones sent twice are those Telegram had accepted when the process died but that were not yet
recorded as sent (``docs/sending.md``). APScheduler calls `tick()` every ``STEGVIS_SEND_INTERVAL``
seconds (``bot/scheduler.py``).

Nothing here knows what a message is about: each row's composer, subject rule and recipients are
looked up by kind in what the features registered (``bot/outbox/composers.py``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramForbiddenError, TelegramRetryAfter

from bot.app import Stegvis
from bot.outbox.composers import Addressee
from bot.outbox.quiet_hours import next_allowed_moment
from bot.telegram.gateway import sending_as
from bot.telegram.rate_limiter import Priority
from bot.telegram.rendering import keyboard
from flows.engine import Sprint, State
from storage import outbox
from storage import repositories as repo
from storage.models import OutboxMessage
from storage.writer import apply_changes

log = logging.getLogger(__name__)

# A message Telegram keeps answering 429 for goes back to pending after this many waits, so that
# one tick never spins on it; waiting is not a failed try.
MAX_THROTTLES_PER_MESSAGE = 10


# ---- what became of a row, written by one writer task ----------------------------------------


@dataclass
class _Sent:
    row: OutboxMessage
    addressee: Addressee
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
    addressee: Addressee


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
    blocked: set[tuple[str, int | None]] = field(default_factory=set)  # recipients who answered 403 in this tick
    queued: int = 0  # delivery tasks that have not yet started to send
    room: asyncio.Event = field(default_factory=asyncio.Event)


class Sender:
    """Claims due outbox rows and sends them; see the module docstring. One tick at a time per process."""

    def __init__(
        self,
        stegvis: Stegvis,
        bot: Bot,
        *,
        worker: str | None = None,
        max_attempts: int | None = None,
        lease: timedelta | None = None,
        batch_size: int | None = None,
        concurrency: int = 64,
        backoff: timedelta = timedelta(seconds=10),
        max_backoff: timedelta = timedelta(hours=1),
        request_timeout: int = 30,
    ) -> None:
        settings = stegvis.settings
        self.stegvis = stegvis
        self.features = stegvis.features
        self.bot = bot
        self.limiter = stegvis.limiter  # the bot's gateway paces with it; here only to hold chats in order
        self.worker = worker or worker_name()
        self.max_attempts = max_attempts or settings.send_max_attempts
        self.lease = lease or timedelta(seconds=settings.send_lease)
        rate = self.limiter.rate
        # A claim is about a second of sending: enough to keep the pace, little to hand back, and
        # loading it does not hold up the event loop (and so the pace) for long.
        self.batch_size = batch_size or (min(max(int(rate), 10), 500) if rate else 500)
        # Subjects are read again for each quarter second of sending, just before it is sent.
        self.chunk_size = max(1, min(self.batch_size, int(rate / 4) if rate else 100))
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.request_timeout = request_timeout
        self.clock = stegvis.clock
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
        now = self.clock.now()
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
        """Read the recipients and subjects again, then send what may still be sent now."""
        recipients: dict[tuple[str, int | None], Addressee] = {}
        subjects: dict[tuple[str | None, int | None], Any] = {}
        async with self.stegvis.database.sessions() as session:
            for kind in {row.recipient_kind for row in chunk}:
                resolver = self.features.recipients.get(kind)
                if resolver is not None:
                    ids = {row.recipient_id for row in chunk if row.recipient_kind == kind and row.recipient_id is not None}
                    recipients.update(((kind, rid), addressee) for rid, addressee in (await resolver.load(session, ids)).items())
            for kind in {row.subject_kind for row in chunk if row.subject_kind is not None}:
                rule = self.features.subjects.get(kind)
                if rule is not None:
                    ids = {row.subject_id for row in chunk if row.subject_kind == kind and row.subject_id is not None}
                    subjects.update(((kind, sid), subject) for sid, subject in (await rule.load(session, ids)).items())
        settings = self.stegvis.settings
        now = self.clock.now()
        allowed = next_allowed_moment(now, settings.quiet, settings.tz)
        for row in chunk:
            recipient = (row.recipient_kind, row.recipient_id)
            addressee = recipients.get(recipient)
            composer = self.features.composers.get(row.composer)
            rule = self.features.subjects.get(row.subject_kind) if row.subject_kind is not None else None
            subject = subjects.get((row.subject_kind, row.subject_id))
            stale = rule.stale(row, subject, now) if rule is not None else None
            deadline = rule.deadline(subject) if rule is not None and subject is not None else None
            if addressee is None or not addressee.may_receive or recipient in run.blocked:
                run.outcomes.put_nowait(_Released(row))  # stays pending; never sent while they may not receive
            elif composer is None or (row.subject_kind is not None and rule is None):
                run.outcomes.put_nowait(_Failed(row, f"no composer {row.composer!r} or no rule for subjects {row.subject_kind!r} is registered"))
            elif stale:
                run.outcomes.put_nowait(_Cancelled(row, stale))
            elif addressee.quiet_hours and allowed > now and not outbox.ignores_quiet_hours(row):
                if deadline is not None and allowed >= deadline:
                    run.outcomes.put_nowait(_Cancelled(row, rule.too_late if rule is not None else "withdrawn: too late"))
                else:
                    run.outcomes.put_nowait(_Postponed(row, allowed))
            elif addressee.chat_id is None:
                run.outcomes.put_nowait(_Failed(row, "the recipient has no Telegram chat"))
            else:
                try:
                    sprint = composer.compose(addressee, subject, row)
                except Exception as error:  # noqa: BLE001 - one bad message must not stop the others
                    log.exception("outbox: could not compose message %s", row.id)
                    run.outcomes.put_nowait(_Failed(row, f"could not compose: {error!r}"))
                    continue
                run.queued += 1
                task = asyncio.create_task(self._deliver(run, row, addressee, sprint))
                run.tasks.add(task)
                task.add_done_callback(run.tasks.discard)
                # Composing takes a while; let the sends already waiting go at their time.
                await asyncio.sleep(0)

    def _left_queue(self, run: _Tick) -> None:
        run.queued -= 1
        if run.queued < self.chunk_size:
            run.room.set()

    async def _deliver(self, run: _Tick, row: OutboxMessage, addressee: Addressee, sprint: Sprint) -> None:
        chat_id = addressee.chat_id
        assert chat_id is not None
        recipient = (row.recipient_kind, row.recipient_id)
        queued = True
        handed_at = self.clock.now()
        try:
            async with self.limiter.chat(chat_id):
                message_id: int | None = None
                for index, message in enumerate(sprint.messages):
                    throttles = 0
                    while True:
                        async with self._concurrency:
                            # Our turn at the limiter first, so that a sender told to stop while
                            # waiting hands the row back instead of sending it.
                            await self.limiter.acquire(chat_id, Priority.BULK)
                            if queued:
                                queued = False
                                self._left_queue(run)
                            if index == 0 and (self._stopping or recipient in run.blocked):
                                run.outcomes.put_nowait(_Released(row))
                                return
                            if index == 0:
                                handed_at = self.clock.now()
                            try:
                                with sending_as(Priority.BULK, paced=True):
                                    sent = await self.bot.send_message(
                                        chat_id, message.text, reply_markup=keyboard(message), request_timeout=self.request_timeout,
                                        parse_mode="HTML" if message.html else None,
                                    )
                            except TelegramRetryAfter:
                                # Telegram's limit is for the whole bot: the gateway paused everyone;
                                # this one goes again after the pause.
                                self.stats.throttled += 1
                                throttles += 1
                                if throttles >= MAX_THROTTLES_PER_MESSAGE:
                                    run.outcomes.put_nowait(_Postponed(row, self.clock.now()))
                                    return
                                continue
                        message_id = sent.message_id
                        break
                run.outcomes.put_nowait(_Sent(row, addressee, sprint, message_id, handed_at))
        except TelegramForbiddenError:
            run.blocked.add(recipient)
            run.outcomes.put_nowait(_Blocked(row, addressee))
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
                    await outbox.renew_claims(session, list(run.held), worker=self.worker, now=self.clock.now())
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
                                await outbox.mark_sent_many(session, [(outcome.row, outcome.telegram_message_id, None)], self.clock.now())
                                await session.commit()
                            continue
                        except Exception:  # noqa: BLE001
                            log.exception("outbox: could not mark message %s sent", outcome.row.id)
                    self.stats.lost_outcomes += 1
        for outcome in batch:
            run.held.pop(outcome.row.id, None)

    async def _apply(self, batch: Sequence[_Outcome]) -> None:
        now = self.clock.now()
        conversations = self.stegvis.conversations
        async with self._writing, self.stegvis.database.sessions() as session:
            counts = SenderStats()
            sent = [o for o in batch if isinstance(o, _Sent)]
            states: dict[int, tuple[str | None, str | None, dict[str, Any], datetime]] = {}
            for outcome in sent:
                participant = outcome.addressee.participant
                if participant is None:
                    continue  # a message that continues no conversation
                changes = conversations.changes_for(participant, outcome.sprint, State.from_dict(participant.conversation), now)
                if changes.events or changes.statements or changes.participant or outcome.sprint.keep_state:
                    earlier = states.pop(participant.id, None)
                    if earlier is not None:  # keep the order of this participant's states
                        await repo.save_conversations_dated(session, {participant.id: earlier})
                    await apply_changes(session, changes)
                elif changes.conversation is not None:
                    # Dated when it was handed to Telegram: an answer that came back faster than
                    # this write keeps its newer state. Written below for all of them at once.
                    states[participant.id] = (*changes.conversation, outcome.handed_at)
            await repo.save_conversations_dated(session, states)
            await outbox.mark_sent_many(session, [(o.row, o.telegram_message_id, self._sent_event(o)) for o in sent], now)
            counts.sent = len(sent)
            for outcome in batch:
                row = outcome.row
                if isinstance(outcome, _Sent):
                    continue
                elif isinstance(outcome, _Failed):
                    if row.attempts + 1 >= self.max_attempts:
                        log.warning("outbox: message %s failed for good after %d tries: %s", row.id, row.attempts + 1, outcome.error)
                        await outbox.mark_failed(session, row, outcome.error, now=now)
                        counts.failed += 1
                    else:
                        delay = min(self.backoff * 2**row.attempts, self.max_backoff)
                        await outbox.retry_later(session, row, outcome.error, now + delay)
                        counts.retried += 1
                elif isinstance(outcome, _Blocked):
                    resolver = self.features.recipients.get(row.recipient_kind)
                    if resolver is not None and row.recipient_id is not None:
                        await resolver.blocked(session, row.recipient_id, now)
                    await outbox.mark_failed(session, row, "blocked", now=now)
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

    def _sent_event(self, outcome: _Sent) -> dict[str, Any] | None:
        composer = self.features.composers.get(outcome.row.composer)
        return composer.sent_event(outcome.row, outcome.telegram_message_id) if composer is not None else None
