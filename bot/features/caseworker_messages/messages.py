"""What the caseworker's replies read like to the participant, and the composer that writes them.

A quick reply is one of five catalog messages, so it arrives in the participant's own language.
A free text is the caseworker's Swedish exactly as written, under one line in the participant's
language that says so. Both go through the outbox (composer ``caseworker.reply``); the row's
payload is ``{"reply": "call_you"}`` or ``{"text": "..."}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.outbox.composers import Addressee
from flows.engine import IDLE, OutgoingMessage, Sprint
from locales import N_, Catalogs
from storage.models import OutboxMessage

REPLY = "caseworker.reply"

# The quick replies: the id stored in events, the id on the command line, and the text (a msgid).
QUICK_REPLIES: dict[str, str] = {
    "call_you": N_("Jag ringer dig idag."),
    "stays_booked": N_("Din tid gäller som bokad."),
    "come_to_office": N_("Kom till kontoret, tack."),
    "noted": N_("Tack, jag har noterat det."),
    "new_time": N_("Jag bokar en ny tid och hör av mig."),
}
FREE_TEXT_INTRO = N_("Ett meddelande från din handläggare, på svenska:")


def cli_id(reply: str) -> str:
    """``call_you`` → ``call-you``: how the command line names a quick reply."""
    return reply.replace("_", "-")


@dataclass(frozen=True)
class ReplyMessage:
    """``caseworker.reply``: a quick reply in the participant's language, or free Swedish text introduced."""

    catalogs: Catalogs
    kind: str = REPLY

    def compose(self, addressee: Addressee, subject: Any, row: OutboxMessage) -> Sprint:
        code = addressee.language_code
        texts = self.catalogs.texts(code)
        payload = row.payload or {}
        if "reply" in payload:
            text = texts.gettext(QUICK_REPLIES[payload["reply"]])
        else:
            text = f"{texts.gettext(FREE_TEXT_INTRO)}\n{payload['text']}"
        # It asks nothing: whatever question was open stays open.
        return Sprint(IDLE, code, (OutgoingMessage(text),), keep_state=True)

    def sent_event(self, row: OutboxMessage, telegram_message_id: int | None) -> dict[str, Any] | None:
        payload = {"outbox_id": row.id, "kind": "caseworker_reply", "telegram_message_id": telegram_message_id}
        return {"type": "notice_sent", "participant_id": row.recipient_id, "payload": payload}
