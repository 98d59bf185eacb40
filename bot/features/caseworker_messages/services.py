"""The caseworker's reply to a participant (`send_reply`): a quick reply or a free text, through the outbox.

Typed and never committing. The reply is stored as the event ``caseworker_reply`` {"reply":
"call_you"} or {"text": "..."}, plus "caseworker_id" and "now", and queued as one outbox row to
the participant (composer ``caseworker.reply``, slot ``e<event id>`` so that every reply is its
own message). Quiet hours hold it like any other message, unless ``at_once``: then it is due now
and sent even at night.

Who may reply: the participant's own caseworker. An actor that names a caseworker
(`Actor.caseworker_id`) is refused for someone else's participant; staff at the command line
without one reply on behalf of the participant's caseworker, whose id the event records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.features.caseworker_messages.messages import QUICK_REPLIES, REPLY, cli_id
from bot.outbox.quiet_hours import next_allowed_moment
from bot.services import Actor, Conflict, InvalidInput, NotFound
from storage import outbox
from storage import repositories as repo
from storage.models import Caseworker, OutboxMessage, Participant, ParticipantStatus
from storage.outbox import Planned, Recipient

MAX_TEXT = 1000  # characters of a free text: one screen on a phone, and far under Telegram's 4096
EVENT = "caseworker_reply"

WHY_NOT = {
    ParticipantStatus.STOPPED: "has said /stop: Stegvis sends them nothing",
    ParticipantStatus.UNREACHABLE: "is unreachable (they blocked the bot): a reply would never arrive",
    ParticipantStatus.INVITED: "has not joined yet: there is no chat to send a reply to",
    ParticipantStatus.FINISHED: "has finished the programme: Stegvis sends them nothing",
}


@dataclass(frozen=True)
class ReplySent:
    participant_id: int
    caseworker_id: int
    reply: str | None  # "call_you", ..., or None for a free text
    text: str | None
    at_once: bool
    event_id: int
    outbox_id: int | None
    goes_out_at: datetime  # now, or when quiet hours end (the sender holds the row until then)
    held: bool  # by quiet hours, until goes_out_at

    def as_json(self, tz: ZoneInfo) -> dict[str, Any]:
        return {
            "participant": self.participant_id, "caseworker": self.caseworker_id,
            "reply": cli_id(self.reply) if self.reply else None, "text": self.text, "now": self.at_once,
            "event_id": self.event_id, "outbox_id": self.outbox_id, "goes_out": self.goes_out_at.astimezone(tz).isoformat(timespec="minutes"), "held": self.held,
        }


def check_reply(reply: str | None, text: str | None) -> tuple[str | None, str | None]:
    """Exactly one of a quick reply's id and a free text, each acceptable; the text kept as written."""
    if (reply is None) == (text is None):
        raise InvalidInput("give either a quick reply or a free text, not both and not neither", field="reply")
    if reply is not None:
        reply = reply.replace("-", "_")
        if reply not in QUICK_REPLIES:
            allowed = ", ".join(cli_id(r) for r in QUICK_REPLIES)
            raise InvalidInput(f"unknown quick reply {cli_id(reply)!r}: use one of {allowed}", field="reply")
        return reply, None
    assert text is not None
    if not text.strip():
        raise InvalidInput("must not be empty", field="text")
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"must be at most {MAX_TEXT} characters (it has {len(text)})", field="text")
    return None, text


async def send_reply(
    session: AsyncSession, actor: Actor, settings: Settings, *, participant_id: int, reply: str | None, text: str | None, at_once: bool, now: datetime
) -> ReplySent:
    """Record the caseworker's reply and queue it to the participant; see the module docstring."""
    reply, text = check_reply(reply, text)
    participant = await session.get(Participant, participant_id)
    if participant is None:
        raise NotFound(f"no participant {participant_id}", field="participant")
    if actor.caseworker_id is not None:
        if await session.get(Caseworker, actor.caseworker_id) is None:
            raise NotFound(f"no caseworker {actor.caseworker_id}", field="caseworker")
        if participant.caseworker_id != actor.caseworker_id:
            raise Conflict(f"participant {participant_id} is not a participant of caseworker {actor.caseworker_id}: only their own caseworker replies", field="participant")
    status = ParticipantStatus(participant.status)
    if status in WHY_NOT:
        raise Conflict(f"participant {participant_id} {WHY_NOT[status]}", field="participant")
    caseworker_id = participant.caseworker_id
    said: dict[str, Any] = {"reply": reply} if reply is not None else {"text": text}
    event = await repo.append_event(session, EVENT, participant_id, {**said, "caseworker_id": caseworker_id, "now": at_once}, occurred_at=now)
    await session.flush()  # the event's id names the outbox row
    planned = Planned(
        Recipient.participant(participant_id), REPLY, now, slot=f"e{event.id}", payload={**said, "event_id": event.id}, ignore_quiet_hours=at_once,
    )
    await outbox.enqueue(session, planned, now=now)
    row = await outbox_row(session, planned.key)
    goes_out_at = now if at_once else next_allowed_moment(now, settings.quiet, settings.tz)
    return ReplySent(participant_id, caseworker_id, reply, text, at_once, event.id, row, goes_out_at, goes_out_at > now)


async def outbox_row(session: AsyncSession, key: str) -> int | None:
    return await session.scalar(select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key))
