"""The morning message: one "coming today?" per participant per day, one row of buttons per session.

With one session that day it is the flow's own question («Idag kl. 10:00 · Språkcafé · Nygatan
19 / Kommer du?», *Ja* · *Nej*). With two or more, of one activity each or of two sessions of
different activities, it is one message listing them, and each session has its own row whose
buttons carry the time, so that a row cannot be mistaken for another::

    Idag har du 2 träffar:
    10:00 · Språkcafé · Nygatan 19
    13:30 · Arbetsträning · Storgatan 1
    Kommer du? Svara på varje rad.
    [10:00 Ja] [10:00 Nej]
    [13:30 Ja] [13:30 Nej]

Behind it there is one run of ``coming_today`` per session (each with its own ref), stacked in
the participant's state: a press on any row answers that session's run, through the
conversation core as a press on a lower run or an older message does (`Engine.answer_detached`),
and `rows.py` keeps the other rows' buttons on screen.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from bot.config import Settings
from bot.features.activities.planning import Morning
from bot.features.activities.question import COMING_TODAY, FLOW, reference, variables
from bot.outbox.composers import Addressee
from flows.engine import IDLE, Button, ButtonAddress, Engine, OutgoingMessage, Sprint
from locales import N_, Catalogs, Texts
from storage.models import OutboxMessage

LINE = N_("{time} · {activity} · {place}")
COMING = N_("Kommer du? Svara på varje rad.")
# The labels of one session's row: short (at most 20 characters), the time first so the row says
# which session it answers.
ROW_LABELS = {"coming": N_("{time} Ja"), "not_coming": N_("{time} Nej")}


def header(texts: Texts, n: int) -> str:
    return texts.ngettext("Idag har du {n} träff:", "Idag har du {n} träffar:", n)


def row_label(texts: Texts, option: str, time: str, fallback: str) -> str:
    msgid = ROW_LABELS.get(option)
    return texts.gettext(msgid, time=time) if msgid is not None else fallback


@dataclass(frozen=True)
class ComingTodayMessage:
    """``activity.coming_today``: the participant's morning question about the day's sessions (see above)."""

    engine: Engine
    catalogs: Catalogs
    settings: Settings
    kind: str = COMING_TODAY

    def compose(self, addressee: Addressee, subject: Any, row: OutboxMessage) -> Sprint:
        morning = subject
        if not isinstance(morning, Morning) or row.subject_id != morning.participant_id or row.subject_version is None:
            raise ValueError(f"outbox message {row.id} is about participant {row.subject_id}'s day, not the one given")
        day = date.fromordinal(row.subject_version)
        sessions = morning.to_ask(day, self.settings, row.due_at)
        if not sessions:
            raise ValueError(f"outbox message {row.id} has no session left to ask about (its rule should have withdrawn it)")
        code = addressee.language_code
        texts = self.catalogs.texts(code)
        tz = self.settings.tz
        state, lines, rows = IDLE, [], []
        sprint: Sprint | None = None
        for asked in sessions:
            values = variables(asked.calendar, day, texts, tz)
            # Each session's run goes on top of the one before: the stack holds them all.
            sprint = self.engine.start(FLOW, language=code, variables=values, ref=reference(asked.calendar.id, day), over=state)
            state = sprint.state
            lines.append(texts.gettext(LINE, **values))
            [question] = sprint.messages
            buttons = [button for buttons in question.buttons for button in buttons]
            rows.append(tuple(Button(row_label(texts, _option(b), values["time"], b.label), b.data) for b in buttons))
        assert sprint is not None
        if len(sessions) == 1:
            return sprint  # the flow's own question
        text = "\n".join((header(texts, len(sessions)), *lines, texts.gettext(COMING)))
        return replace(sprint, messages=(OutgoingMessage(text, tuple(rows)),))

    def sent_event(self, row: OutboxMessage, telegram_message_id: int | None) -> dict[str, Any] | None:
        day = date.fromordinal(row.subject_version or 1)
        # The activities asked about, as planned (one cancelled since is left out of the message).
        planned = (row.payload or {}).get("activity_ids", [])
        payload = {"outbox_id": row.id, "activity_ids": planned, "date": day.isoformat(), "telegram_message_id": telegram_message_id}
        return {"type": "activity_question_sent", "participant_id": row.recipient_id, "payload": payload}


def _option(button: Button) -> str:
    address = ButtonAddress.parse(button.data)
    return address.option if address is not None else ""

