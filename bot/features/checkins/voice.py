"""A voice note while a check-in is open, or later in the check-in's week: it counts as practice.

This router comes before the conversation core's catch-all (which would answer «I cannot listen
to voice messages») and takes only voice messages of a participant who has an open check-in
run, or whose check-in of this week was sent and not given up on. It records
``checkin_voice_note`` with Telegram's file id and the duration (never the audio), counts it on
the CheckIn row, thanks them, and asks the open question again, so the check-in goes on where
it was.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiogram import Router
from aiogram.filters import Filter
from aiogram.types import Message

from bot.conversation.core import Conversations
from bot.conversation.turn import Turn
from bot.features.checkins import events, store, weeks
from bot.features.checkins.messages import FLOW, VOICE_THANKS
from flows.engine import FlowEvent
from storage.writer import ParticipantRow


async def open_week(turn: Turn, conversations: Conversations, tz: ZoneInfo) -> str | None:
    """The ref of the check-in a voice note now counts for, or None."""
    state = await turn.tidy()  # check-ins that no longer answer are dropped first
    for run in reversed(state.runs):
        if run.flow == FLOW and run.ref is not None:
            return run.ref
    this_week = weeks.week_of(turn.now, tz)
    checkins = (await store.of_participants(conversations.store, {turn.participant.id}))[turn.participant.id]
    current = next((c for c in checkins if c.week == this_week), None)
    if current is not None and current.unanswered_at is None:
        return weeks.reference(this_week)
    return None


class CheckinVoice(Filter):
    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz

    async def __call__(self, message: Message, turn: Turn, conversations: Conversations) -> bool | dict[str, str]:
        if message.voice is None:
            return False
        ref = await open_week(turn, conversations, self.tz)
        return {"checkin_ref": ref} if ref is not None else False


def create_router(tz: ZoneInfo) -> Router:
    async def voice_note(message: Message, turn: Turn, conversations: Conversations, checkin_ref: str) -> None:
        voice = message.voice
        assert voice is not None
        monday = weeks.parse_reference(checkin_ref)
        assert monday is not None
        payload = {"week": monday.isoformat(), "file_id": voice.file_id, "duration": voice.duration}
        participant: ParticipantRow = turn.participant
        turn.changes.event("checkin_voice_note", payload, flow=FLOW)
        events.voice_note(turn.changes, participant, FlowEvent("checkin_voice_note", payload, FLOW, None))
        turn.say(turn.texts.gettext(VOICE_THANKS))
        state = turn.state
        if state.top is not None:  # the open question again, right under the thanks
            values = await conversations.variables_for(participant, state.top, turn.texts)
            turn.take(conversations.engine.repeat(state, language=turn.language, variables=values))

    router = Router(name="checkins-voice")
    router.message.register(voice_note, CheckinVoice(tz))
    return router
