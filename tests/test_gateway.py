"""The one send path: replies and outbox sends through one bot, one gateway and one limiter.

``bot/telegram/gateway.py`` paces every request that puts or changes a message with the app's
`RateLimiter` (``bot/telegram/rate_limiter.py``): answers to what a participant just did as
replies, the outbox sender's messages as bulk. These tests drive the real bot over HTTP against
the sandbox, which plays Telegram's limits (``rate_limit``, ``per_chat_rate_limit``, 429 with
``retry_after``) and records every message request. Times are only checked from below.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from datetime import timedelta
from itertools import count, pairwise
from typing import TypeVar

import pytest

from bot.telegram.gateway import sending_as
from bot.telegram.rate_limiter import Priority, RateLimiter
from storage.database import Database
from tests.test_sender import DEADLINE, NOTED_LATE, HeldOnTheWay, RecordingLimiter, TimedSandbox, World, eventually, windows, world

T = TypeVar("T")
_reply_chats = count(10_000)


async def within(step: Awaitable[T], what: str) -> T:
    """`step`'s result; fail saying what did not happen if it takes longer than the deadline."""
    try:
        async with asyncio.timeout(DEADLINE):
            return await step
    except TimeoutError:
        raise AssertionError(f"still waiting after {DEADLINE:g}s for {what}") from None


def people_talking(w: World, n: int) -> list[int]:
    """The chats of `n` people whose messages the bot is answering (no outbox rows for them)."""
    chats = [next(_reply_chats) for _ in range(n)]
    for chat in chats:
        w.sandbox.user(chat, f"Talker {chat}", "sv")
    return chats


async def answer_a_press(w: World, chat: int) -> None:
    """What a handler sends for one press: the question, edited to show the choice, and the next one."""
    question = await w.bot.send_message(chat, "Kommer du?")
    await w.bot.edit_message_text("Kommer du?\n— Jag kommer", chat_id=chat, message_id=question.message_id)
    await w.bot.send_message(chat, "Tack! Vi ses.")


async def test_replies_and_bulk_share_one_limiter_so_no_429_goes_unheard(sqlite_database: Database) -> None:
    # "Telegram" takes 30 a second; the app's limiter gives 15, to replies and bulk together.
    sandbox = TimedSandbox(rate_limit=30)
    limiter = RecordingLimiter(15, 1)
    async with world(sqlite_database, sandbox=sandbox, limiter=limiter) as w:
        for _ in range(20):
            await w.due_reminder()
        talkers = people_talking(w, 40)
        sender = w.sender()
        tick = asyncio.create_task(sender.tick())
        await eventually(lambda: len(sandbox.arrivals) >= 3, "the sender's first reminders")
        # Forty people press a button at once while the reminders go out.
        with sending_as(Priority.REPLY):
            replies = asyncio.gather(*(w.bot.send_message(chat, "Tack!") for chat in talkers))
        await within(replies, "the forty replies")
        assert await within(tick, "the sender's tick") == 20

        # Not one 429: none a reply got (which the sender would never hear of), none the sender got.
        assert (sandbox.too_many_requests, sender.stats.throttled) == (0, 0)
        assert all([c.chat for c in sandbox.calls].count(chat) == 1 for chat in talkers)  # each asked once
        assert all(len(w.delivered(chat)) == 1 for chat in talkers)
        # One limiter counted both: never more than its rate in any second, replies and bulk alike.
        assert {priority for _, _, priority in limiter.turns} == {Priority.REPLY, Priority.BULK}
        assert len(limiter.turns) == 60
        assert max(windows(sorted(t for t, _, _ in limiter.turns), 1.0 - NOTED_LATE)) <= 15


async def test_replies_go_before_bulk_when_both_wait(sqlite_database: Database) -> None:
    sandbox = TimedSandbox()
    async with world(sqlite_database, sandbox=sandbox, limiter=RateLimiter(2, None)) as w:
        for _ in range(4):
            await w.due_reminder()
        talkers = people_talking(w, 3)
        tick = asyncio.create_task(w.sender().tick())
        # Two reminders fill the limiter's second (2 a second); the next waits half a second for its slot.
        await sandbox.wait_for_request("sendMessage", 2, timeout=DEADLINE)
        # Three replies come while it waits: they wait too, for room in the second, and go first.
        replies = asyncio.gather(*(w.bot.send_message(chat, "Tack!") for chat in talkers))
        await within(replies, "the three replies")
        assert await within(tick, "the sender's tick") == 4

        arrived = ["reply" if chat in talkers else "bulk" for _, chat in sandbox.arrivals]
        assert arrived == ["bulk"] * 2 + ["reply"] * 3 + ["bulk"] * 2
        assert sandbox.too_many_requests == 0


async def test_a_reply_sends_a_small_burst_to_one_chat_at_once_and_waits_alone_after_it(sqlite_database: Database) -> None:
    # One message in 1050 s to a chat: whatever waits for the per-chat interval waits past the deadline.
    sandbox = TimedSandbox(per_chat_rate_limit=3)  # like Telegram, it takes a short burst in one chat
    limiter = RecordingLimiter(30, 0.001)
    async with world(sqlite_database, sandbox=sandbox, limiter=limiter) as w:
        (talker,) = people_talking(w, 1)
        await within(answer_a_press(w, talker), "an answer of three messages to one chat (it must not wait for the chat's interval)")
        assert [(c.method, c.status) for c in sandbox.calls] == [("sendMessage", 200), ("editMessageText", 200), ("sendMessage", 200)]

        # A fourth message at once is one more than the burst: it waits for the chat's bucket ...
        fourth = asyncio.create_task(w.bot.send_message(talker, "Något mer?"))
        try:
            # ... and while it waits, reminders to other chats go: it holds up no one else.
            for _ in range(2):
                await w.due_reminder()
            assert await within(w.sender().tick(), "reminders to other chats while a reply waits for its own chat") == 2
            assert not fourth.done()
            assert [c.chat for c in sandbox.calls].count(talker) == 3
        finally:
            fourth.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await fourth
        assert sandbox.too_many_requests == 0


async def test_bulk_sends_to_one_chat_keep_the_per_chat_interval_while_a_reply_bursts(sqlite_database: Database) -> None:
    sandbox = TimedSandbox(per_chat_rate_limit=3)
    limiter = RecordingLimiter(30, 1)
    async with world(sqlite_database, sandbox=sandbox, limiter=limiter) as w:
        person = await w.participant()  # three reminders due at once for one person
        for days in (1, 2, 3):
            await w.reminder(await w.appointment(person, timedelta(days=days)), lead=f"{days}d")
        (talker,) = people_talking(w, 1)
        tick = asyncio.create_task(w.sender().tick())
        await eventually(lambda: len(sandbox.arrivals) >= 1, "the first reminder")
        await within(answer_a_press(w, talker), "an answer of three messages to another chat")
        assert await within(tick, "the sender's tick") == 3

        chat = person.telegram_chat_id
        to_person = [c.at for c in sandbox.calls if c.chat == chat]
        turns = [t for t, turn_chat, _ in limiter.turns if turn_chat == chat]
        assert len(to_person) == len(turns) == 3
        # At least a second apart at the limiter, and at "Telegram" too however the requests were
        # held up on the way: the next turn to a chat counts from the answer to its last message.
        assert all(b - a >= 1.0 for a, b in pairwise(turns))
        assert all(b - a >= 1.0 for a, b in pairwise(to_person))
        assert [c.method for c in sandbox.calls if c.chat == talker] == ["sendMessage", "editMessageText", "sendMessage"]
        assert sandbox.too_many_requests == 0


async def test_after_a_429_everyone_waits_and_the_reply_is_sent_once_more_after_retry_after(
    sqlite_database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.telegram.gateway")
    sandbox = TimedSandbox(rate_limit=3, retry_after=1)
    # The limiter lets more through than this "Telegram" takes in a second, so it answers 429.
    async with world(sqlite_database, sandbox=sandbox, limiter=RateLimiter(50, None)) as w:
        person, _, _ = await w.due_reminder()
        *fillers, refused_chat, later_chat = people_talking(w, 5)
        for chat in fillers:
            await within(w.bot.send_message(chat, "Hej!"), "the replies that fill Telegram's second")
        reply = asyncio.create_task(w.bot.send_message(refused_chat, "Tack!"))
        await eventually(lambda: "asked to wait" in caplog.text, "the gateway to be told to wait")
        # Telegram asked the whole bot to wait: a reply and a reminder that start now wait as well.
        later = asyncio.create_task(w.bot.send_message(later_chat, "Hej då!"))
        sender = w.sender()
        assert await within(sender.tick(), "the sender's tick") == 1
        await within(reply, "the refused reply to be sent again")
        await within(later, "the later reply")

        (refused,) = [c for c in sandbox.calls if c.status == 429]
        assert refused.chat == refused_chat
        assert [c.status for c in sandbox.calls if c.chat == refused_chat] == [429, 200]  # once more, and only once
        assert len(w.delivered(refused_chat)) == 1
        after = [c for c in sandbox.calls if c.at > refused.at]
        assert sorted(c.chat for c in after) == sorted([refused_chat, later_chat, person.telegram_chat_id])
        assert all(c.at - refused.at >= sandbox.retry_after for c in after), "nothing goes before retry_after is over"
        assert (sandbox.too_many_requests, sender.stats.throttled) == (1, 0)  # the sender was held, never refused


async def test_requests_held_on_the_way_do_not_make_a_burst_when_they_arrive(sqlite_database: Database) -> None:
    # The limiter gives 5 turns a second, and "Telegram" takes 5 a second.
    sandbox = HeldOnTheWay(rate_limit=5)
    async with world(sqlite_database, sandbox=sandbox, limiter=RateLimiter(5, None)) as w:
        for _ in range(12):
            await w.due_reminder()
        sender = w.sender()
        tick = asyncio.create_task(sender.tick())
        await eventually(lambda: sandbox.held == 5, "five reminders on their way")
        # Turns keep coming at 5 a second; had they gone out, ten more would now be on the way. They
        # wait: a request on its way may arrive at any moment, so it still counts. (This wait can only
        # make a broken limiter pass, never a working one fail.)
        await asyncio.sleep(2)
        assert sandbox.held == 5
        sandbox.released.set()
        assert await within(tick, "the sender's tick") == 12

        arrivals = [at for at, _ in sandbox.arrivals]
        assert len(arrivals) == 12 and max(windows(arrivals)) <= 5
        assert (sandbox.too_many_requests, sender.stats.throttled) == (0, 0)
