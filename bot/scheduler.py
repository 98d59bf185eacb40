"""APScheduler drives the outbox: a sender tick every ``STEGVIS_SEND_INTERVAL`` seconds, housekeeping every 5 minutes.

The scheduler keeps no state of its own (no job store): what is due lives in the outbox table,
so a restart only means the next tick comes from a new process.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from aiogram import Bot
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.app import Stegvis
from bot.appointments import record_unanswered
from bot.sender import Sender
from storage import outbox
from storage.models import utcnow

log = logging.getLogger(__name__)

SENDER_JOB = "outbox-sender"
HOUSEKEEPING_JOB = "outbox-housekeeping"
HOUSEKEEPING_EVERY = timedelta(minutes=5)


class _SkippedTickFilter(logging.Filter):
    """A tick that runs longer than the interval (a big batch) makes APScheduler skip the next
    one and say so at WARNING every interval; that is the design (max_instances=1), not news."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not (
            "maximum number of running instances reached" in str(record.msg)
            and any(getattr(arg, "id", None) == SENDER_JOB for arg in args)
        )


async def housekeeping(stegvis: Stegvis, now: datetime | None = None) -> int:
    """Withdraw appointment messages that may no longer go out, and record appointments that
    began without an answer as unanswered; returns how many messages were withdrawn."""
    now = now or utcnow()
    async with stegvis.database.sessions() as session:
        withdrawn = await outbox.withdraw_late(session, now)
        await session.commit()
    if withdrawn:
        log.info("outbox: withdrew %d messages whose appointment moved, was cancelled or has begun", withdrawn)
    unanswered = await record_unanswered(stegvis.database, stegvis.settings, now)
    if unanswered:
        log.info("appointments recorded as unanswered: %s", ", ".join(map(str, unanswered)))
    return withdrawn


class _Housekeeping:
    """The housekeeping job, which shutdown lets finish instead of cutting off mid-transaction."""

    def __init__(self, stegvis: Stegvis) -> None:
        self.stegvis = stegvis
        self.running: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.running.add(task)
        try:
            await housekeeping(self.stegvis)
        except asyncio.CancelledError:
            # Only at shutdown; nothing is lost, the next start does it again.
            log.info("housekeeping interrupted by shutdown; it runs again at the next start")
        finally:
            self.running.discard(task)

    async def finish(self, timeout: float = 10.0) -> None:
        if self.running:
            await asyncio.wait(self.running, timeout=timeout)


@dataclass
class Scheduling:
    scheduler: AsyncIOScheduler
    sender: Sender
    housekeeping: _Housekeeping

    async def stop(self) -> None:
        """Let the messages being sent finish and hand the rest back, then stop the scheduler."""
        self.scheduler.pause()
        await self.sender.stop()
        await self.housekeeping.finish()
        # Shutting down cancels a tick still running after the sender's grace period; its rows
        # are taken again after the lease.
        self.scheduler.shutdown(wait=False)
        await asyncio.sleep(0)  # AsyncIOScheduler shuts down in a callback on the loop: let it run


def start_scheduler(stegvis: Stegvis, bot: Bot, sender: Sender | None = None) -> Scheduling:
    """Start ticking on the running event loop; the first tick and housekeeping run at once."""
    sender = sender or Sender(stegvis, bot)
    # APScheduler logs every job run (every two seconds) and its own start-up at INFO, which
    # would bury everything else `stegvis run` logs; the line below says the sender started.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    scheduler_log = logging.getLogger("apscheduler.scheduler")
    if not any(isinstance(f, _SkippedTickFilter) for f in scheduler_log.filters):
        scheduler_log.addFilter(_SkippedTickFilter())
    chores = _Housekeeping(stegvis)
    scheduler = AsyncIOScheduler(timezone=timezone.utc)
    now = datetime.now(timezone.utc)
    # max_instances=1: never two ticks at once in one process; coalesce: a late tick runs once;
    # misfire_grace_time=None: a tick that comes late (busy loop) still runs.
    scheduler.add_job(
        sender.tick,
        IntervalTrigger(seconds=stegvis.settings.send_interval),
        id=SENDER_JOB,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
        next_run_time=now,
    )
    scheduler.add_job(
        # A bound coroutine method: APScheduler runs only coroutine functions on the event loop.
        chores.run,
        IntervalTrigger(seconds=HOUSEKEEPING_EVERY.total_seconds()),
        id=HOUSEKEEPING_JOB,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
        next_run_time=now,
    )
    scheduler.start()
    # Everything made so far (imports: aiogram's types, pydantic schemas, SQLAlchemy) lives as
    # long as the process. Left to the garbage collector, each full collection walks all of it and
    # holds up the event loop for tens of milliseconds, after which the sends due meanwhile reach
    # Telegram together and can count as one burst against its limit. Collect first, so that no
    # garbage is kept for good.
    gc.collect()
    gc.freeze()
    log.info(
        "outbox sender %s: a tick every %gs, up to %g messages/s (%g/s per chat)",
        sender.worker,
        stegvis.settings.send_interval,
        stegvis.settings.send_rate,
        stegvis.settings.send_rate_per_chat,
    )
    return Scheduling(scheduler, sender, chores)
