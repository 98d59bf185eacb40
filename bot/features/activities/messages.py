"""What a participant is sent about an activity: that a session is cancelled.

The notice's outbox subject is the cancellation (``activity_session``, the cancelled session's
id), loaded by `subjects.SessionSubjects` as a `CancelledDay`: the activity's name and place and
the session's start. The notice asks nothing, so the sprint keeps whatever question was open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.outbox.composers import Addressee
from flows.engine import IDLE, OutgoingMessage, Sprint
from locales import N_, Catalogs
from locales.format import format_clock, format_day
from storage.models import OutboxMessage

SUBJECT = "activity_session"
SESSION_CANCELLED = "activity.session_cancelled"

CANCELLED_TEXT = N_("Träffen {day} kl. {time} med {activity} på {place} är inställd.")
REASON_TEXT = N_("Orsak: {reason}")


@dataclass(frozen=True)
class CancelledDay:
    """A cancelled session as its notice shows it (the subject of the notice's outbox rows)."""

    id: int  # the cancelled session's
    activity_id: int
    activity: str
    place: str
    day: date
    starts_at: datetime  # the day's first session, UTC
    reason: str | None
    enrolled: frozenset[int]  # participants enrolled on that day


@dataclass(frozen=True)
class SessionCancelledMessage:
    """``activity.session_cancelled``: «Träffen tisdag 9 februari kl. 10:00 med Språkcafé på Nygatan 19 är inställd.» (+ «Orsak: …»)."""

    catalogs: Catalogs
    tz: ZoneInfo
    kind: str = SESSION_CANCELLED

    def compose(self, addressee: Addressee, subject: Any, row: OutboxMessage) -> Sprint:
        cancelled = subject
        if not isinstance(cancelled, CancelledDay) or row.subject_id != cancelled.id:
            raise ValueError(f"outbox message {row.id} is about cancelled session {row.subject_id}, not the one given")
        code = addressee.language_code
        texts = self.catalogs.texts(code)
        language = texts.language
        lines = [
            texts.gettext(
                CANCELLED_TEXT,
                day=format_day(cancelled.starts_at, language, self.tz),
                time=format_clock(cancelled.starts_at, language, self.tz),
                activity=cancelled.activity,
                place=cancelled.place,
            )
        ]
        if cancelled.reason:
            lines.append(texts.gettext(REASON_TEXT, reason=cancelled.reason))
        return Sprint(IDLE, code, (OutgoingMessage("\n".join(lines)),), keep_state=True)

    def sent_event(self, row: OutboxMessage, telegram_message_id: int | None) -> dict[str, Any] | None:
        payload = {"outbox_id": row.id, "cancelled_session_id": row.subject_id, "kind": "session_cancelled", "telegram_message_id": telegram_message_id}
        return {"type": "notice_sent", "participant_id": row.recipient_id, "payload": payload}
