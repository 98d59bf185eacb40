"""APScheduler drives the outbox and the features' chores: a sender tick every ``STEGVIS_SEND_INTERVAL``
seconds, the outbox's housekeeping and every job a feature registered.

The scheduler keeps no state of its own (no job store): what is due lives in the database, so a
restart only means the next tick comes from a new process.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiogram import Bot
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.app import Stegvis
from bot.live_reload import JOB_ID as LIVE_JOB
from bot.live_reload import POLL_SECONDS
from bot.outbox.sender import Sender
from bot.registry import Job
from storage.clock import SYSTEM_CLOCK

log = logging.getLogger(__name__)

SENDER_JOB = "outbox-sender"
HOUSEKEEPING_EVERY = 300.0  # seconds


class _SkippedTickFilter(logging.Filter):
    """A tick that runs longer than the interval (a big batch) makes APScheduler skip the next
    one and say so at WARNING every interval; that is the design (max_instances=1), not news."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not (
            "maximum number of running instances reached" in str(record.msg)
            and any(getattr(arg, "id", None) == SENDER_JOB for arg in args)
        )


async def withdraw_stale(stegvis: Stegvis) -> int:
    """Withdraw pending messages that may no longer go out, by each subject's own rule."""
    withdrawn = 0
    async with stegvis.database.sessions() as session:
        now = stegvis.clock.now()
        for rule in stegvis.features.subjects.values():
            withdrawn += await rule.withdraw_stale(session, now)
        await session.commit()
    if withdrawn:
        log.info("outbox: withdrew %d messages whose subject changed or is over", withdrawn)
    return withdrawn


async def housekeeping(stegvis: Stegvis) -> None:
    """Every chore at once, as at start-up: the outbox's, then each feature's jobs."""
    await withdraw_stale(stegvis)
    for job in stegvis.features.jobs:
        await job.run(stegvis)


class _Chores:
    """The scheduled chores, which shutdown lets finish instead of cutting off mid-transaction."""

    def __init__(self, stegvis: Stegvis) -> None:
        self.stegvis = stegvis
        self.running: set[asyncio.Task[None]] = set()

    def job(self, name: str, chore: Callable[[Stegvis], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            task = asyncio.current_task()
            assert task is not None
            self.running.add(task)
            try:
                await chore(self.stegvis)
            except asyncio.CancelledError:
                # Only at shutdown; nothing is lost, the next start does it again.
                log.info("%s interrupted by shutdown; it runs again at the next start", name)
            except Exception:  # noqa: BLE001 - the next run tries again
                log.exception("%s failed; it runs again at its next time", name)
            finally:
                self.running.discard(task)

        return run

    async def finish(self, timeout: float = 10.0) -> None:
        if self.running:
            await asyncio.wait(self.running, timeout=timeout)


@dataclass
class Scheduling:
    scheduler: AsyncIOScheduler
    sender: Sender
    chores: _Chores

    async def stop(self) -> None:
        """Let the messages being sent finish and hand the rest back, then stop the scheduler."""
        self.scheduler.pause()
        await self.sender.stop()
        await self.chores.finish()
        # Shutting down cancels a tick still running after the sender's grace period; its rows
        # are taken again after the lease.
        self.scheduler.shutdown(wait=False)
        await asyncio.sleep(0)  # AsyncIOScheduler shuts down in a callback on the loop: let it run


def start_scheduler(stegvis: Stegvis, bot: Bot, sender: Sender | None = None) -> Scheduling:
    """Start ticking on the running event loop; the first tick and every chore run at once."""
    sender = sender or Sender(stegvis, bot)
    # APScheduler logs every job run (every two seconds) and its own start-up at INFO, which
    # would bury everything else `stegvis run` logs; the line below says the sender started.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    scheduler_log = logging.getLogger("apscheduler.scheduler")
    if not any(isinstance(f, _SkippedTickFilter) for f in scheduler_log.filters):
        scheduler_log.addFilter(_SkippedTickFilter())
    chores = _Chores(stegvis)
    scheduler = AsyncIOScheduler(timezone="UTC")
    # APScheduler runs on the real time, whatever clock Stegvis is given: a first run at a frozen
    # clock's moment would come days late, or make it count every interval missed since then.
    now = SYSTEM_CLOCK.now()
    # Content published while the bot runs (a new flow version) is polled for here.
    jobs = [Job(LIVE_JOB, POLL_SECONDS, stegvis.live.poll), Job("outbox-housekeeping", HOUSEKEEPING_EVERY, withdraw_stale), *stegvis.features.jobs]
    # max_instances=1: never two at once in one process; coalesce: a late run runs once;
    # misfire_grace_time=None: a run that comes late (busy loop) still runs.
    options = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None, "next_run_time": now}
    scheduler.add_job(sender.tick, IntervalTrigger(seconds=stegvis.settings.send_interval), id=SENDER_JOB, **options)
    for job in jobs:
        # A coroutine function: APScheduler runs only coroutine functions on the event loop.
        scheduler.add_job(chores.job(job.id, job.run), IntervalTrigger(seconds=job.every_seconds), id=job.id, **options)
    scheduler.start()
    log.info(
        "outbox sender %s: a tick every %gs, up to %g messages/s (%g/s per chat)",
        sender.worker,
        stegvis.settings.send_interval,
        stegvis.settings.send_rate,
        stegvis.settings.send_rate_per_chat,
    )
    return Scheduling(scheduler, sender, chores)


def settle_memory() -> None:
    """Everything made at start-up (aiogram's types, pydantic schemas, SQLAlchemy) lives as long as
    the process. Left to the garbage collector, each full collection walks all of it and holds up
    the event loop for tens of milliseconds, after which the sends due meanwhile reach Telegram
    together and can count as one burst against its limit. Collect once, then freeze it."""
    gc.collect()
    gc.freeze()
