"""The outbox sender against the local Bot API sandbox, with the real aiogram Bot and a real database.

Each test books appointments straight into the tables and plans their messages with
``storage.outbox.enqueue`` (as booking does), then runs `Sender.tick()` on a frozen clock and
looks at what the sandbox received and what the outbox rows and events say.

Times are only ever checked from below: a limiter promises that sends are *at least* so far
apart, and that holds however loaded the machine is. Where a test has to wait, it waits for the
thing itself (a row's claim renewed, a message delivered) up to a generous deadline.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import Stegvis
from bot.config import SettingsError, load_settings
from bot.features.appointments.messages import CANCELLED_NOTICE, MOVED_NOTICE, REMINDER, REMINDER_FLOW, SUBJECT
from bot.outbox.sender import Sender, _Tick
from bot.sandbox import BotAPISandbox
from bot.scheduler import housekeeping, start_scheduler, withdraw_stale
from bot.telegram.rate_limiter import Priority, RateLimiter
from flows.engine import Run, Sprint, State
from storage import outbox
from storage import repositories as repo
from storage.clock import FrozenClock
from storage.database import Database
from storage.models import Appointment, AppointmentStatus, Event, OutboxMessage, OutboxStatus, Participant, ParticipantStatus
from storage.outbox import Planned, Recipient, Subject
from tests.harness import _close_without_grace_period

STOCKHOLM_MORNING = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)  # 10:00 in Stockholm
CHAT_BASE = 90_000
DEADLINE = 120.0  # seconds a test waits for something before it says what is still missing
COMPOSERS = {"reminder": REMINDER, "moved": MOVED_NOTICE, "cancelled": CANCELLED_NOTICE}
# Methods that put or change a message in a chat (what Telegram's limits count).
MESSAGE_METHODS = frozenset({"sendMessage", "editMessageText", "editMessageReplyMarkup"})


async def eventually(condition: Callable[[], bool | Awaitable[bool]], what: str, timeout: float = DEADLINE) -> None:
    """Wait until `condition` (sync or async) holds; fail saying what was still missing after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if await result if inspect.isawaitable(result) else result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {timeout:g}s for {what}")
        await asyncio.sleep(0.02)


@dataclass(frozen=True)
class Call:
    """A request that puts or changes a message, as the sandbox got it."""

    at: float  # time.monotonic() when it arrived
    method: str
    chat: int
    status: int  # the sandbox's answer: 200, 429, 403 ...


class TimedSandbox(BotAPISandbox):
    """The sandbox, also noting when each message request arrived, to which chat and how it was answered."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls: list[Call] = []

    async def _call(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        at = time.monotonic()
        status, body = await super()._call(method, params)
        name = self._methods.get(method.lower(), (method, None))[0]
        if name in MESSAGE_METHODS:
            self.calls.append(Call(at, name, int(params["chat_id"]), status))
        return status, body

    @property
    def arrivals(self) -> list[tuple[float, int]]:
        """(time, chat) of each message delivered, in the order they arrived."""
        return [(c.at, c.chat) for c in self.calls if c.method == "sendMessage" and c.status == 200]


class HeldOnTheWay(TimedSandbox):
    """A "Telegram" that the requests reach only once `released` is set: they are held on the way,
    as by a slow network, and then all arrive at once."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.released = asyncio.Event()
        self.held = 0

    async def _call(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method.lower() == "sendmessage" and not self.released.is_set():
            self.held += 1
            await self.released.wait()
        return await super()._call(method, params)


class RecordingLimiter(RateLimiter):
    """The real limiter, also noting each turn it gives: (time.monotonic(), chat, priority)."""

    def __init__(self, rate: float | None, per_chat: float | None, **kwargs: Any) -> None:
        super().__init__(rate, per_chat, **kwargs)
        self.turns: list[tuple[float, int | None, Priority]] = []

    async def acquire(self, chat_id: int | None, priority: Priority) -> None:
        await super().acquire(chat_id, priority)
        self.turns.append((time.monotonic(), chat_id, priority))


class World:
    """Stegvis on the test database, a bot talking to the sandbox, and helpers to fill the outbox."""

    def __init__(self, stegvis: Stegvis, sandbox: BotAPISandbox, clock: FrozenClock) -> None:
        self.stegvis = stegvis
        self.database = stegvis.database
        self.sandbox = sandbox
        self.clock = clock
        self.bot = stegvis.create_bot()
        _close_without_grace_period(self.bot)
        self.caseworker_id: int | None = None
        self._chats = iter(range(CHAT_BASE, CHAT_BASE + 100_000))

    def sender(self, **kwargs: Any) -> Sender:
        return Sender(self.stegvis, self.bot, **kwargs)

    async def participant(self, status: ParticipantStatus = ParticipantStatus.ACTIVE, *, in_sandbox: bool = True) -> Participant:
        now = self.clock.now()
        async with self.database.sessions() as session:
            if self.caseworker_id is None:
                self.caseworker_id = (await repo.add_caseworker(session, "Karin Lund", now=now)).id
            participant = await repo.add_participant(session, f"Person {len(self.sandbox._users)}", self.caseworker_id, "sv", now=now)
            participant.status = status
            participant.telegram_chat_id = next(self._chats)
            await session.commit()
        if in_sandbox:
            self.sandbox.user(participant.telegram_chat_id, participant.name, "sv")
        return participant

    async def appointment(self, participant: Participant, starts_in: timedelta = timedelta(days=1)) -> Appointment:
        now = self.clock.now()
        async with self.database.sessions() as session:
            appointment = Appointment(
                participant_id=participant.id,
                starts_at=now + starts_in,
                place="Nygatan 19",
                version=1,
                status=AppointmentStatus.BOOKED,
                created_at=now,
                updated_at=now,
            )
            session.add(appointment)
            await session.commit()
        return appointment

    async def reminder(
        self, appointment: Appointment, *, due_in: timedelta = timedelta(0), lead: str = "1d", version: int | None = None, kind: str = "reminder"
    ) -> OutboxMessage:
        """Plan a reminder (or a "moved"/"cancelled" notice) about the appointment, as booking does."""
        version = appointment.version if version is None else version
        planned = Planned(
            Recipient.participant(appointment.participant_id),
            COMPOSERS[kind],
            self.clock.now() + due_in,
            subject=Subject(SUBJECT, appointment.id, version),
            slot=lead if kind == "reminder" else "",
            payload={"lead": lead, "immediate": False} if kind == "reminder" else {},
        )
        async with self.database.sessions() as session:
            assert await outbox.enqueue(session, planned, now=self.clock.now())
            await session.commit()
            row = await session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == planned.key))
            assert row is not None
            return row

    async def due_reminder(self, status: ParticipantStatus = ParticipantStatus.ACTIVE) -> tuple[Participant, Appointment, OutboxMessage]:
        participant = await self.participant(status)
        appointment = await self.appointment(participant)
        return participant, appointment, await self.reminder(appointment)

    async def row(self, row_id: int) -> OutboxMessage:
        async with self.database.sessions() as session:
            row = await session.get(OutboxMessage, row_id)
            assert row is not None
            return row

    async def get(self, model: type, id_: int) -> Any:
        async with self.database.sessions() as session:
            return await session.get(model, id_)

    async def events(self, participant_id: int, type_: str | None = None) -> list[Event]:
        async with self.database.sessions() as session:
            return await repo.list_events(session, participant_id, types=type_)

    def delivered(self, chat_id: int) -> list[str]:
        return [m.text for m in self.sandbox.sent_messages() if m.chat_id == chat_id]

    async def expected(self, participant: Participant, appointment: Appointment, row: OutboxMessage) -> Sprint:
        """What the row's composer makes of it for this participant: the messages they must receive."""
        async with self.database.sessions() as session:
            addressee = (await self.stegvis.features.recipients["participant"].load(session, [participant.id]))[participant.id]
        return self.stegvis.features.composers[row.composer].compose(addressee, appointment, row)


@asynccontextmanager
async def world(
    database: Database,
    *,
    sandbox: BotAPISandbox | None = None,
    now: datetime = STOCKHOLM_MORNING,
    limiter: RateLimiter | None = None,
    **settings: Any,
) -> AsyncIterator[World]:
    """Stegvis on `database` with a frozen clock at `now`; `limiter` by default from the settings."""
    sandbox = sandbox or BotAPISandbox()
    async with sandbox:
        settings.setdefault("quiet_hours", "")
        config = load_settings(
            database_url=database.engine.url.render_as_string(hide_password=False),
            telegram_bot_token=sandbox.token,
            telegram_api_url=sandbox.url,
            telegram_bot_username=sandbox.bot_username,
            **settings,
        )
        clock = FrozenClock(now)
        stegvis = Stegvis.create(config, clock=clock, database=database, limiter=limiter)
        here = World(stegvis, sandbox, clock)
        try:
            yield here
        finally:
            await here.bot.session.close()
            await stegvis.close()


# ---- delivery ---------------------------------------------------------------------------------


async def test_due_reminders_are_delivered_once_and_marked_sent(database: Database) -> None:
    async with world(database) as w:
        due = [await w.due_reminder() for _ in range(3)]
        later_person = await w.participant()
        later = await w.reminder(await w.appointment(later_person, timedelta(days=3)), due_in=timedelta(hours=2), lead="3d")
        sender = w.sender()

        assert await sender.tick() == 3
        assert await sender.tick() == 0  # nothing twice

        for participant, appointment, row in due:
            sprint = await w.expected(participant, appointment, row)
            assert w.delivered(participant.telegram_chat_id) == [m.text for m in sprint.messages]
            stored = await w.row(row.id)
            assert stored.status == OutboxStatus.SENT
            assert stored.sent_at == w.clock.now()
            assert stored.attempts == 0
            sandbox_message = [m for m in w.sandbox.sent_messages() if m.chat_id == participant.telegram_chat_id][-1]
            assert stored.telegram_message_id == sandbox_message.message_id
            assert [m.buttons for m in [sandbox_message]] == [[[(b.label, b.data) for b in r] for r in sprint.messages[-1].buttons]]
            # The sprint's events are recorded with the sent mark, and an event saying it went out.
            recorded = await w.events(participant.id)
            assert [e.type for e in recorded] == [e.type for e in sprint.events] + ["reminder_sent"]
            assert {e.occurred_at for e in recorded} == {w.clock.now()}
            assert recorded[-1].payload == {
                "outbox_id": row.id,
                "appointment_id": appointment.id,
                "version": 1,
                "lead": "1d",
                "telegram_message_id": sandbox_message.message_id,
            }
            # The conversation now waits where the sprint left it: for the answer to the reminder.
            async with w.database.sessions() as session:
                conversation = await repo.load_conversation(session, participant.id)
            assert conversation is not None
            assert (conversation.flow, conversation.step) == (sprint.state.flow, sprint.state.step) == (REMINDER_FLOW, "ask")
            # ... and says when it was asked: when the sender stored it (a timeout counts from then).
            assert State.from_dict(conversation.data) == sprint.state.asked(w.clock.now())
        assert w.delivered(later_person.telegram_chat_id) == []
        untouched = await w.row(later.id)
        assert (untouched.status, untouched.attempts, untouched.claimed_by) == (OutboxStatus.PENDING, 0, None)


async def test_an_answer_that_comes_before_the_sent_mark_is_not_overwritten(database: Database) -> None:
    async with world(database) as w:
        participant, appointment, row = await w.due_reminder()
        # The participant pressed "I can't come" the moment the reminder arrived, before the
        # sender wrote its outcome: their conversation moved on after the message was handed over.
        flow = w.stegvis.engine.flows[REMINDER_FLOW]
        answered = State((Run(REMINDER_FLOW, flow.version, "reason", {"ref": f"{appointment.id}v1"}),))
        async with w.database.sessions() as session:
            await repo.save_conversation(
                session, participant.id, answered.flow, answered.step, answered.to_dict(), now=w.clock.now() + timedelta(seconds=1)
            )
            await session.commit()

        assert await w.sender().tick() == 1

        async with w.database.sessions() as session:
            conversation = await repo.load_conversation(session, participant.id)
        assert conversation is not None
        assert (conversation.flow, conversation.step) == (REMINDER_FLOW, "reason")
        assert State.from_dict(conversation.data) == answered
        assert (await w.row(row.id)).status == OutboxStatus.SENT


async def test_a_notice_of_several_messages_goes_out_in_order_a_second_apart(sqlite_database: Database) -> None:
    sandbox = TimedSandbox(per_chat_rate_limit=1)
    async with world(sqlite_database, sandbox=sandbox) as w:
        participant = await w.participant()
        appointment = await w.appointment(participant)
        notice = await w.reminder(appointment, kind="moved")
        sprint = await w.expected(participant, appointment, notice)
        assert len(sprint.messages) > 1
        assert await w.sender().tick() == 1

        assert w.delivered(participant.telegram_chat_id) == [m.text for m in sprint.messages]
        times = [t for t, _ in sandbox.arrivals]
        assert all(b - a >= 1.0 for a, b in pairwise(times))
        assert sandbox.too_many_requests == 0
        stored = await w.row(notice.id)
        assert stored.telegram_message_id == w.sandbox.sent_messages()[-1].message_id  # the last one
        (event,) = await w.events(participant.id, "notice_sent")
        assert event.payload["kind"] == "moved"


@pytest.mark.parametrize("status", [ParticipantStatus.STOPPED, ParticipantStatus.UNREACHABLE, ParticipantStatus.INVITED])
async def test_participants_who_are_not_active_are_never_sent_to(database: Database, status: ParticipantStatus) -> None:
    async with world(database) as w:
        participant, _, row = await w.due_reminder(status)
        sender = w.sender()
        assert await sender.tick() == 0
        assert w.sandbox.sent_messages() == []
        stored = await w.row(row.id)
        assert (stored.status, stored.attempts, stored.claimed_by) == (OutboxStatus.PENDING, 0, None)
        assert sender.stats.claimed == 0


async def test_participant_who_stopped_after_the_claim_is_not_sent_to(sqlite_database: Database) -> None:
    async with world(sqlite_database) as w:
        participant, _, row = await w.due_reminder()
        async with w.database.sessions() as session:
            claimed = await outbox.claim(session, worker="other", now=w.clock.now(), limit=10)
            await session.commit()
        assert [r.id for r in claimed] == [row.id]
        async with w.database.sessions() as session:
            (await session.get(Participant, participant.id)).status = ParticipantStatus.STOPPED  # type: ignore[union-attr]
            await session.commit()
        # The check the sender makes just before sending each quarter second's worth of rows.
        sender, run = w.sender(), _Tick()
        await sender._check_and_send(run, claimed)
        assert not run.tasks
        await run.outcomes.put(None)
        await sender._write(run)
        assert w.sandbox.sent_messages() == []
        assert (await w.row(row.id)).status == OutboxStatus.PENDING


# ---- Telegram's answers -------------------------------------------------------------------------


async def test_429_retry_after_pauses_sending_and_loses_nothing(sqlite_database: Database) -> None:
    sandbox = BotAPISandbox(rate_limit=3, retry_after=1)
    # The limiter allows more than this "Telegram" does, so it answers 429.
    async with world(sqlite_database, sandbox=sandbox, limiter=RateLimiter(100, None)) as w:
        people = [await w.due_reminder() for _ in range(6)]
        sender = w.sender()
        started = time.monotonic()
        assert await sender.tick() == 6
        assert time.monotonic() - started >= 1.0  # Telegram's retry_after was waited out
        assert sandbox.too_many_requests >= 1
        assert sender.stats.throttled == sandbox.too_many_requests
        for participant, _, row in people:
            assert len(w.delivered(participant.telegram_chat_id)) == 1
            stored = await w.row(row.id)
            assert (stored.status, stored.attempts) == (OutboxStatus.SENT, 0)  # a 429 is not a failed try


async def test_blocked_participant_becomes_unreachable_and_the_caseworker_is_told(database: Database) -> None:
    async with world(database) as w:
        participant, appointment, row = await w.due_reminder()
        second = await w.reminder(await w.appointment(participant, timedelta(days=2)), lead="2d")
        w.sandbox.user(participant.telegram_chat_id).block()
        sender = w.sender()
        assert await sender.tick() == 0

        assert (await w.get(Participant, participant.id)).status == ParticipantStatus.UNREACHABLE
        failed = await w.row(row.id)
        assert (failed.status, failed.last_error) == (OutboxStatus.FAILED, "blocked")
        assert (await w.row(second.id)).status == OutboxStatus.PENDING  # never tried; never sent while unreachable
        # Both events happen at the sender's (frozen) now; the unreachable one is written first,
        # so events in (occurred_at, id) order tell it first.
        events = await w.events(participant.id)
        assert [e.type for e in events] == ["participant_unreachable", "message_failed"]
        assert {e.occurred_at for e in events} == {w.clock.now()}
        assert events[1].payload == {
            "outbox_id": row.id,
            "composer": REMINDER,
            "subject": {"kind": SUBJECT, "id": appointment.id, "version": 1},
            "error": "blocked",
            "attempts": 1,
        }
        assert await w.sender().tick() == 0


async def test_failing_send_is_retried_with_backoff_then_marked_failed(database: Database) -> None:
    async with world(database, send_max_attempts=3) as w:
        # A chat the sandbox does not know: every send is answered 400 "chat not found".
        participant = await w.participant(in_sandbox=False)
        appointment = await w.appointment(participant, timedelta(days=2))
        row = await w.reminder(appointment)
        sender = w.sender(backoff=timedelta(seconds=10))
        start = w.clock.now()

        await sender.tick()
        first = await w.row(row.id)
        assert (first.status, first.attempts) == (OutboxStatus.PENDING, 1)
        assert first.due_at == start + timedelta(seconds=10)
        assert "chat not found" in (first.last_error or "")

        w.clock.advance(timedelta(seconds=9))
        await sender.tick()
        assert (await w.row(row.id)).attempts == 1  # not due yet

        w.clock.advance(timedelta(seconds=1))
        await sender.tick()
        second = await w.row(row.id)
        assert (second.status, second.attempts) == (OutboxStatus.PENDING, 2)
        assert second.due_at == w.clock.now() + timedelta(seconds=20)  # doubled

        w.clock.advance(timedelta(seconds=20))
        await sender.tick()
        last = await w.row(row.id)
        assert (last.status, last.attempts) == (OutboxStatus.FAILED, 3)
        (event,) = await w.events(participant.id, "message_failed")
        assert event.occurred_at == w.clock.now()
        assert event.payload["attempts"] == 3
        assert (event.payload["outbox_id"], event.payload["composer"]) == (row.id, REMINDER)
        assert event.payload["subject"] == {"kind": SUBJECT, "id": appointment.id, "version": 1}
        assert "chat not found" in event.payload["error"]
        w.clock.advance(timedelta(hours=1))
        await sender.tick()
        assert (await w.row(row.id)).attempts == 3  # failed for good


async def test_backoff_is_capped(sqlite_database: Database) -> None:
    async with world(sqlite_database, send_max_attempts=20) as w:
        participant = await w.participant(in_sandbox=False)
        row = await w.reminder(await w.appointment(participant, timedelta(days=30)))
        async with w.database.sessions() as session:
            await session.execute(OutboxMessage.__table__.update().where(OutboxMessage.id == row.id).values(attempts=12))
            await session.commit()
        await w.sender(backoff=timedelta(seconds=10), max_backoff=timedelta(hours=1)).tick()
        assert (await w.row(row.id)).due_at == w.clock.now() + timedelta(hours=1)


# ---- never at night, never stale ----------------------------------------------------------------


async def test_quiet_hours_at_send_time_push_the_row_to_the_morning(sqlite_database: Database) -> None:
    evening = datetime(2026, 11, 23, 20, 30, tzinfo=timezone.utc)  # 21:30 in Stockholm
    async with world(sqlite_database, now=evening, quiet_hours="20:00-08:00") as w:
        participant, _, row = await w.due_reminder()  # the appointment is tomorrow evening
        sender = w.sender()
        assert await sender.tick() == 0
        pushed = await w.row(row.id)
        assert pushed.status == OutboxStatus.PENDING
        assert pushed.due_at == datetime(2026, 11, 24, 7, 0, tzinfo=timezone.utc)  # 08:00 in Stockholm
        assert pushed.attempts == 0
        assert w.sandbox.sent_messages() == []

        w.clock.set(datetime(2026, 11, 24, 6, 59, tzinfo=timezone.utc))
        assert await sender.tick() == 0
        w.clock.set(datetime(2026, 11, 24, 7, 0, tzinfo=timezone.utc))
        assert await sender.tick() == 1
        assert len(w.delivered(participant.telegram_chat_id)) == 1


async def test_quiet_hours_that_last_until_the_appointment_withdraw_the_reminder(sqlite_database: Database) -> None:
    late = datetime(2026, 11, 23, 22, 0, tzinfo=timezone.utc)  # 23:00 in Stockholm
    async with world(sqlite_database, now=late, quiet_hours="20:00-08:00") as w:
        participant = await w.participant()
        row = await w.reminder(await w.appointment(participant, timedelta(hours=8)))  # 07:00 tomorrow
        assert await w.sender().tick() == 0
        stored = await w.row(row.id)
        assert stored.status == OutboxStatus.CANCELLED
        assert w.sandbox.sent_messages() == []


async def test_stale_rows_are_never_sent(sqlite_database: Database) -> None:
    async with world(sqlite_database) as w:
        person = await w.participant()
        moved = await w.appointment(person)
        old = await w.reminder(moved, version=1)
        cancelled = await w.appointment(person, timedelta(days=2))
        for_cancelled = await w.reminder(cancelled, lead="2d")
        begun = await w.appointment(person, timedelta(minutes=5))
        for_begun = await w.reminder(begun, lead="1h")
        async with w.database.sessions() as session:
            # Moved and cancelled after the rows were claimed, as a caseworker may do at any time.
            claimed = await outbox.claim(session, worker="me", now=w.clock.now(), limit=10)
            (await session.get(Appointment, moved.id)).version = 2  # type: ignore[union-attr]
            (await session.get(Appointment, cancelled.id)).status = AppointmentStatus.CANCELLED  # type: ignore[union-attr]
            await session.commit()
        assert len(claimed) == 3
        async with w.database.sessions() as session:
            await session.execute(OutboxMessage.__table__.update().values(status="pending", claimed_by=None))
            await session.commit()
        notice = await w.reminder(cancelled, kind="cancelled")
        w.clock.advance(timedelta(minutes=5))  # `begun` starts now

        assert await w.sender().tick() == 1
        assert w.delivered(person.telegram_chat_id) == [m.text for m in (await w.expected(person, cancelled, notice)).messages]
        for row, reason in ((old, "moved"), (for_cancelled, "cancelled"), (for_begun, "begun")):
            stored = await w.row(row.id)
            assert stored.status == OutboxStatus.CANCELLED
            assert reason in (stored.last_error or "")
        assert (await w.row(notice.id)).status == OutboxStatus.SENT


async def test_withdraw_stale_cancels_what_may_no_longer_go_out(database: Database) -> None:
    async with world(database) as w:
        person = await w.participant()
        current = await w.appointment(person, timedelta(days=3))
        keep = await w.reminder(current, due_in=timedelta(days=2), lead="1d")
        moved = await w.appointment(person, timedelta(days=4))
        stale = await w.reminder(moved, due_in=timedelta(days=1), lead="3d", version=1)
        async with w.database.sessions() as session:
            (await session.get(Appointment, moved.id)).version = 2  # type: ignore[union-attr]
            await session.commit()
        moved_notice = await w.reminder(moved, kind="moved", version=2)
        cancelled = await w.appointment(person, timedelta(days=5))
        of_cancelled = await w.reminder(cancelled, due_in=timedelta(days=1), lead="3d")
        cancel_notice = await w.reminder(cancelled, kind="cancelled")
        async with w.database.sessions() as session:
            (await session.get(Appointment, cancelled.id)).status = AppointmentStatus.CANCELLED  # type: ignore[union-attr]
            await session.commit()
        soon = await w.appointment(person, timedelta(hours=1))
        of_soon = await w.reminder(soon, due_in=timedelta(minutes=30), lead="30m")
        rows = (keep, stale, moved_notice, of_cancelled, cancel_notice, of_soon)

        async def statuses() -> dict[OutboxMessage, OutboxStatus]:
            return {r: (await w.row(r.id)).status for r in rows}

        assert await withdraw_stale(w.stegvis) == 2
        expected = {
            keep: OutboxStatus.PENDING,
            stale: OutboxStatus.CANCELLED,
            moved_notice: OutboxStatus.PENDING,
            of_cancelled: OutboxStatus.CANCELLED,
            cancel_notice: OutboxStatus.PENDING,
            of_soon: OutboxStatus.PENDING,
        }
        assert await statuses() == expected
        w.clock.advance(timedelta(hours=1))  # `soon` has begun
        await housekeeping(w.stegvis)
        assert await statuses() == {**expected, of_soon: OutboxStatus.CANCELLED}  # that one, and nothing else


# ---- pace ---------------------------------------------------------------------------------------


def windows(times: list[float], width: float = 1.0) -> Iterator[int]:
    """How many of `times` (sorted) each window of `width` seconds holds, starting at each of them."""
    for i, start in enumerate(times):
        yield sum(1 for t in times[i:] if t < start + width)


# A turn is noted a few microseconds after the limiter counted it; windows of turns are measured
# that much shorter, so that two turns exactly a second apart are not counted in one second.
NOTED_LATE = 0.001


async def test_sending_keeps_to_the_overall_and_per_chat_rates(sqlite_database: Database) -> None:
    sandbox = TimedSandbox(rate_limit=20, per_chat_rate_limit=1)
    limiter = RecordingLimiter(18, 1)
    async with world(sqlite_database, sandbox=sandbox, limiter=limiter) as w:
        busy = await w.participant()  # three messages due at once for one person, first in line
        for days in (1, 2, 3):
            await w.reminder(await w.appointment(busy, timedelta(days=days)), lead=f"{days}d")
        for _ in range(30):
            await w.due_reminder()
        started = time.monotonic()
        assert await w.sender().tick() == 33

        assert sandbox.too_many_requests == 0
        turns = sorted(t for t, _, _ in limiter.turns)
        assert len(turns) == 33
        assert max(windows(turns, 1.0 - NOTED_LATE)) <= 18  # never more than the rate in any one second ...
        assert turns[-1] - started >= 32 / 18  # ... so not faster than allowed
        # The busy chat's messages keep the per-chat interval, at the limiter and at "Telegram".
        busy_turns = [t for t, chat, _ in limiter.turns if chat == busy.telegram_chat_id]
        to_busy = [t for t, chat in sandbox.arrivals if chat == busy.telegram_chat_id]
        assert len(busy_turns) == len(to_busy) == 3
        assert all(b - a >= 1.0 for a, b in pairwise(busy_turns))
        assert all(b - a >= 1.0 for a, b in pairwise(to_busy))
        # ... and the others are not held up while the busy chat waits its turn.
        between = [chat for t, chat in sandbox.arrivals if to_busy[0] < t < to_busy[1]]
        assert between and busy.telegram_chat_id not in between


async def test_sends_overlap_to_reach_the_rate(sqlite_database: Database) -> None:
    """With a slow Bot API (50 ms a call) one send at a time would make 20/s; the sender keeps
    several requests in flight at once to reach its rate (100/s here)."""

    class SlowSandbox(BotAPISandbox):
        def __init__(self) -> None:
            super().__init__()
            self.in_flight = self.most_in_flight = 0

        async def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            try:
                await asyncio.sleep(0.05)
                return await super()._send_message(params)
            finally:
                self.in_flight -= 1

    sandbox = SlowSandbox()
    async with world(sqlite_database, sandbox=sandbox, send_rate=100) as w:
        for _ in range(60):
            await w.due_reminder()
        assert await w.sender().tick() == 60
        assert len(sandbox.sent_messages()) == 60
        # One send at a time would never have two at the Bot API together.
        assert sandbox.most_in_flight > 1


# ---- claims -------------------------------------------------------------------------------------


async def test_claims_are_taken_once_oldest_first(database: Database) -> None:
    async with world(database) as w:
        rows = []
        for minutes in (5, 1, 3):
            person = await w.participant()
            rows.append(await w.reminder(await w.appointment(person), due_in=timedelta(minutes=-minutes)))
        async with w.database.sessions() as session:
            first = await outbox.claim(session, worker="a", now=w.clock.now(), limit=2)
            await session.commit()
        async with w.database.sessions() as session:
            second = await outbox.claim(session, worker="b", now=w.clock.now(), limit=2)
            await session.commit()
        assert [r.id for r in first] == [rows[0].id, rows[2].id]
        assert [r.id for r in second] == [rows[1].id]
        assert all((r.status, r.claimed_by, r.claimed_at) == (OutboxStatus.SENDING, "a", w.clock.now()) for r in first)


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)  # SQLite has one writer at a time
async def test_postgres_claims_skip_rows_locked_by_another_sender(database: Database) -> None:
    async with world(database) as w:
        for _ in range(4):
            await w.due_reminder()
        async with w.database.sessions() as a, w.database.sessions() as b:
            taken_a = await outbox.claim(a, worker="a", now=w.clock.now(), limit=2)  # not yet committed
            # Without SKIP LOCKED this would wait for `a` for ever; with it, it does not wait at all.
            async with asyncio.timeout(DEADLINE):
                taken_b = await outbox.claim(b, worker="b", now=w.clock.now(), limit=10)
            await a.commit()
            await b.commit()
        assert len(taken_a) == 2 and len(taken_b) == 2
        assert not {r.id for r in taken_a} & {r.id for r in taken_b}


async def test_claims_of_a_dead_sender_are_taken_again_after_the_lease(database: Database) -> None:
    async with world(database) as w:
        participant, _, row = await w.due_reminder()
        async with w.database.sessions() as session:
            await outbox.claim(session, worker="dead", now=w.clock.now(), limit=10)
            await session.commit()
        sender = w.sender(lease=timedelta(seconds=60))
        w.clock.advance(timedelta(seconds=59))
        assert await sender.tick() == 0  # the claim may still be alive
        w.clock.advance(timedelta(seconds=2))
        assert await sender.tick() == 1
        assert sender.stats.reclaimed == 1
        assert len(w.delivered(participant.telegram_chat_id)) == 1


async def test_a_long_tick_renews_its_claims(sqlite_database: Database) -> None:
    # The ten rows of one claim are in hand while "Telegram" holds their sends; a heartbeat comes
    # every third of the lease (0.5 s).
    # "Telegram" holds the sends until the renewal is seen, so the rows stay in hand however slowly this runs.
    sandbox = HeldOnTheWay()
    async with world(sqlite_database, sandbox=sandbox, send_rate=3) as w:
        ids = [(await w.due_reminder())[2].id for _ in range(10)]
        sender = w.sender(lease=timedelta(seconds=1.5))
        claimed_at = w.clock.now()
        tick = asyncio.create_task(sender.tick())

        async def claims() -> dict[int, tuple[OutboxStatus, datetime | None]]:
            async with w.database.sessions() as session:
                rows = await session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids)))
                return {r.id: (r.status, r.claimed_at) for r in rows}

        async def all_claimed() -> bool:
            return all(status == OutboxStatus.SENDING for status, _ in (await claims()).values())

        await eventually(all_claimed, "the sender to claim the ten rows")
        w.clock.advance(timedelta(seconds=1))  # the claims were made a second ago; the lease is 1.5 s
        renewed_at = w.clock.now()

        async def renewed() -> bool:
            # Every row still in hand carries the new time: one heartbeat renews them all at once.
            held = [at for status, at in (await claims()).values() if status == OutboxStatus.SENDING]
            return bool(held) and all(at == renewed_at for at in held)

        await eventually(renewed, "a heartbeat to renew the claims still in hand")
        async with w.database.sessions() as session:
            # A second on, the renewed claims are younger than the lease; claims left as they were made would not be.
            assert claimed_at < renewed_at + timedelta(seconds=1) - sender.lease <= renewed_at
            assert await outbox.reclaim_expired(session, now=renewed_at + timedelta(seconds=1), lease=sender.lease) == 0
            await session.rollback()
        sandbox.released.set()
        async with asyncio.timeout(DEADLINE):
            assert await tick == 10
        assert len(w.sandbox.sent_messages()) == 10
        assert sender.stats.reclaimed == 0


# ---- running -----------------------------------------------------------------------------------


async def test_the_scheduler_ticks_and_stops_cleanly_handing_back_unsent_rows(sqlite_database: Database) -> None:
    async with world(sqlite_database, send_rate=5, send_interval=0.1) as w:
        rows = [(await w.due_reminder())[2] for _ in range(20)]
        sender = w.sender()
        scheduling = start_scheduler(w.stegvis, w.bot, sender)
        try:
            await eventually(lambda: len(w.sandbox.sent_messages()) >= 3, "the scheduler's ticks to send three reminders")
        finally:
            await scheduling.stop()
        assert not scheduling.scheduler.running
        stored = [await w.row(r.id) for r in rows]
        sent = len(w.sandbox.sent_messages())
        assert [r.status for r in stored].count(OutboxStatus.SENT) == sent < 20
        # The rest is handed back at once, not left claimed until the lease runs out.
        assert [(r.status, r.claimed_by) for r in stored if r.status != OutboxStatus.SENT] == [(OutboxStatus.PENDING, None)] * (20 - sent)


async def test_housekeeping_records_unanswered_appointments(sqlite_database: Database) -> None:
    async with world(sqlite_database) as w:
        person = await w.participant()
        past = await w.appointment(person, timedelta(hours=1))
        w.clock.advance(timedelta(hours=2))
        await housekeeping(w.stegvis)
        assert (await w.get(Appointment, past.id)).answer == "unanswered"
        events = await w.events(person.id)
        assert [e.type for e in events] == ["appointment_unanswered"]
        assert events[0].occurred_at == w.clock.now()


# ---- settings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("STEGVIS_SEND_RATE", "0", "STEGVIS_SEND_RATE: must be more than 0"),
        ("STEGVIS_SEND_RATE", "fast", "STEGVIS_SEND_RATE: must be a number of messages a second"),
        ("STEGVIS_SEND_RATE", "nan", "STEGVIS_SEND_RATE: must be a number of messages a second"),
        ("STEGVIS_SEND_RATE", "5000", "STEGVIS_SEND_RATE: must be at most 1000"),
        ("STEGVIS_SEND_RATE_PER_CHAT", "-1", "STEGVIS_SEND_RATE_PER_CHAT: must be more than 0"),
        ("STEGVIS_SEND_MAX_ATTEMPTS", "0", "STEGVIS_SEND_MAX_ATTEMPTS: must be more than 0"),
        ("STEGVIS_SEND_MAX_ATTEMPTS", "2.5", "STEGVIS_SEND_MAX_ATTEMPTS: must be a whole number"),
        ("STEGVIS_SEND_INTERVAL", "0", "STEGVIS_SEND_INTERVAL: must be more than 0"),
        ("STEGVIS_SEND_INTERVAL", "inf", "STEGVIS_SEND_INTERVAL: must be a number of seconds"),
        ("STEGVIS_SEND_LEASE", "0.5", "STEGVIS_SEND_LEASE: must be at least 1 second"),
    ],
)
def test_bad_sender_settings_stop_start_up_with_one_line(monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    text = str(raised.value)
    assert text.startswith(message)
    assert "\n" not in text


def test_sender_settings_have_safe_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("STEGVIS_SEND_RATE", "STEGVIS_SEND_RATE_PER_CHAT", "STEGVIS_SEND_MAX_ATTEMPTS", "STEGVIS_SEND_INTERVAL", "STEGVIS_SEND_LEASE"):
        monkeypatch.delenv(variable, raising=False)
    settings = load_settings()
    assert (settings.send_rate, settings.send_rate_per_chat, settings.send_max_attempts, settings.send_interval, settings.send_lease) == (
        25,
        1,
        5,
        2,
        60,
    )
