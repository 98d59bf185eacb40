"""The roll call as an outbox message to a leader: its composer, its subject's rule, and leaders as recipients.

A row is ``roll_call.sheet`` to recipient ``leader:<id>`` about the subject ``activity_roll_call``
(the activity's id, the day's ordinal as the version): one per leader per activity per day. It
goes at the session's start whatever the quiet hours: a leader is staff at the session, and a
roll call held back until it is over is of no use. It is withdrawn when the day is cancelled, is
no longer a session day, the leader no longer leads the activity, or the day is over (the roll
call of an earlier day is still open with /rollcall).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.roll_call.sheet import DAYS_BACK, ActivityRoll, load_activities, sheet
from bot.outbox.composers import Addressee, withdraw_stale_rows
from flows.engine import IDLE, Sprint
from locales import Catalogs
from storage.models import Leader, OutboxMessage
from storage.writer import SessionReader

SUBJECT = "activity_roll_call"
SHEET = "roll_call.sheet"


@dataclass(frozen=True)
class RollCallSheet:
    """``roll_call.sheet``: «Upprop: Språkcafé · 10:00 · tisdag 9 februari» with a button per participant and *Klar*."""

    catalogs: Catalogs
    tz: ZoneInfo
    kind: str = SHEET

    def compose(self, addressee: Addressee, subject: Any, row: OutboxMessage) -> Sprint:
        roll = subject
        if not isinstance(roll, ActivityRoll) or row.subject_id != roll.id or row.subject_version is None:
            raise ValueError(f"outbox message {row.id} is about activity {row.subject_id}, not the one given")
        code = addressee.language_code
        message = sheet(roll.on(date.fromordinal(row.subject_version), self.tz), self.catalogs.texts(code), self.tz)
        return Sprint(IDLE, code, (message,), keep_state=True)

    def sent_event(self, row: OutboxMessage, telegram_message_id: int | None) -> dict[str, Any] | None:
        day = date.fromordinal(row.subject_version or 1)
        payload = {"outbox_id": row.id, "leader_id": row.recipient_id, "activity_id": row.subject_id, "date": day.isoformat(), "telegram_message_id": telegram_message_id}
        return {"type": "roll_call_sent", "participant_id": None, "payload": payload}  # a leader is no participant


class RollCallSubjects:
    kind = SUBJECT
    too_late = "withdrawn: the day is over"

    def __init__(self, tz: ZoneInfo, today: Any) -> None:
        self.tz = tz
        self._today = today  # a callable giving today's local date, for how much attendance to read

    async def load(self, session: AsyncSession, ids: Collection[int]) -> dict[int, ActivityRoll]:
        return await load_activities(SessionReader(session), ids, self._today() - timedelta(days=DAYS_BACK))

    def stale(self, row: OutboxMessage, subject: Any | None, now: datetime) -> str | None:
        roll = subject
        if roll is None or row.subject_version is None:
            return "withdrawn: the activity no longer exists"
        day = date.fromordinal(row.subject_version)
        if day in roll.cancelled:
            return "withdrawn: the session was cancelled"
        if roll.starts_at(day, self.tz) is None:
            return "withdrawn: no longer a session day"
        if now.astimezone(self.tz).date() > day:
            return self.too_late
        if row.recipient_id not in roll.leaders:
            return "withdrawn: the leader no longer leads the activity"
        return None

    def deadline(self, subject: Any) -> datetime | None:
        return None  # leaders' messages do not wait for quiet hours

    async def withdraw_stale(self, session: AsyncSession, now: datetime) -> int:
        return await withdraw_stale_rows(self, session, now)


class LeaderRecipients:
    """Leaders as recipients: their chat once linked, their language, and no quiet hours."""

    async def load(self, session: AsyncSession, ids: Collection[int]) -> dict[int, Addressee]:
        if not ids:
            return {}
        rows = await session.execute(select(Leader.id, Leader.telegram_chat_id, Leader.language).where(Leader.id.in_(sorted(ids))))
        # A leader not linked yet: the row stays pending until they link, or the day is over.
        return {lid: Addressee(chat_id=chat_id, language=language, may_receive=chat_id is not None, quiet_hours=False) for lid, chat_id, language in rows}

    async def blocked(self, session: AsyncSession, recipient_id: int, now: datetime) -> None:
        """Nothing to record on a leader: the row is failed ("blocked"), which staff can see in the outbox."""
