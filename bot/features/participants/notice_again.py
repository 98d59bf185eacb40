"""A changed privacy notice is sent to every active participant who agreed to another version.

The router in `notice.py` asks again when such a participant writes; this sends the notice on
Stegvis's own initiative too, so someone who only ever answers reminders is asked as well. A job
plans one outbox row per participant and version (subject ``notice``, slot the version: planning
again, in another process or after a restart, adds nothing). The rule withdraws the row once
their latest consent is to that version (they answered it on their own message first) or they
are no longer active. The composer sends the line saying the notice changed and the notice with
its two buttons, over whatever question was open, which is asked again after their answer. Quiet
hours and rate limits are the outbox's.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.participants.notice import CHANGED
from bot.outbox.composers import Addressee, withdraw_stale_rows
from flows import notice
from flows.engine import IDLE, Engine, OutgoingMessage, Sprint, State
from locales import Catalogs
from storage import outbox
from storage.models import OutboxMessage, Participant, ParticipantStatus
from storage.outbox import Planned, Recipient, Subject
from storage.writer import latest_notice_version

NOTICE_MESSAGE = "participants.notice"
SUBJECT = "notice"  # subject id: the participant asked
SENT = "notice_sent"
EVERY = 3600.0  # hourly (and at start-up): a published notice reaches everyone within the hour


async def plan(session: AsyncSession, version: str, *, now: datetime) -> int:
    """Plan the notice for every active participant whose latest consent is to another version;
    how many rows are new. Participants with no consent at all (made active by hand) are not ours to ask."""
    rows = await session.execute(select(Participant.id, latest_notice_version()).where(Participant.status == ParticipantStatus.ACTIVE))
    due = [pid for pid, agreed_to in rows if agreed_to is not None and agreed_to != version]
    planned = [Planned(Recipient.participant(pid), NOTICE_MESSAGE, now, subject=Subject(SUBJECT, pid), slot=version) for pid in due]
    return await outbox.enqueue_many(session, planned, now=now)


class NoticeConsents:
    """A notice row goes out only while its participant is active and has not agreed to (or declined) its version."""

    kind = SUBJECT
    too_late = "withdrawn: too late"  # never used: the notice has no deadline

    async def load(self, session: AsyncSession, ids: Collection[int]) -> dict[int, tuple[str, str | None]]:
        if not ids:
            return {}
        rows = await session.execute(select(Participant.id, Participant.status, latest_notice_version()).where(Participant.id.in_(sorted(ids))))
        return {pid: (status, agreed_to) for pid, status, agreed_to in rows}

    def stale(self, row: OutboxMessage, subject: Any | None, now: datetime) -> str | None:
        if subject is None or subject[0] != ParticipantStatus.ACTIVE:
            return "withdrawn: no longer active"
        if subject[1] == row.slot:
            return "withdrawn: already answered this notice"
        return None

    def deadline(self, subject: Any) -> datetime | None:
        return None  # held by quiet hours, it goes out in the morning

    async def withdraw_stale(self, session: AsyncSession, now: datetime) -> int:
        return await withdraw_stale_rows(self, session, now)


@dataclass(frozen=True)
class NoticeAgainMessage:
    """``participants.notice``: "the notice changed", then the notice and its buttons, over the open question."""

    engine: Engine
    catalogs: Catalogs
    variables: Callable[[Any], Mapping[str, Any]]
    kind: str = NOTICE_MESSAGE

    def compose(self, addressee: Addressee, subject: Any, row: OutboxMessage) -> Sprint:
        participant = addressee.participant
        assert participant is not None, "the notice goes to a participant"
        code = addressee.language_code
        open_question = State.from_dict(participant.conversation) if participant.conversation else IDLE
        sprint = self.engine.start(notice.NOTICE_FLOW, at=notice.NOTICE_STEP, language=code, variables=self.variables(participant), over=open_question)
        return replace(sprint, messages=(OutgoingMessage(self.catalogs.texts(code).gettext(CHANGED)), *sprint.messages))

    def sent_event(self, row: OutboxMessage, telegram_message_id: int | None) -> dict[str, Any] | None:
        return {"type": SENT, "participant_id": row.recipient_id, "payload": {"version": row.slot, "outbox_id": row.id, "telegram_message_id": telegram_message_id}}
