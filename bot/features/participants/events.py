"""What the participant's own answers change: their language, their consent, their coming back.

Registered for the engine's ``language_chosen`` and the onboarding flow's ``consent`` events, and
as an arrival hook that runs before every update of a participant.
"""

from __future__ import annotations

from sqlalchemy import insert, select

from flows.engine import FlowEvent
from storage.models import ConsentAnswer, ConsentRecord, ParticipantStatus
from storage.writer import Changes, ParticipantRow, Reader


def language_chosen(changes: Changes, participant: ParticipantRow, event: FlowEvent) -> None:
    changes.set_participant(language=event.payload["language"])


def consent(changes: Changes, participant: ParticipantRow, event: FlowEvent) -> None:
    """A consent record with the notice version the participant was shown; agreeing makes them
    active, declining a changed notice takes an active participant back to invited (nothing is
    sent to them until they agree again, after /start)."""
    answer = ConsentAnswer(event.payload["answer"])
    changes.statements.append(
        insert(ConsentRecord).values(participant_id=participant.id, notice_version=str(event.payload["notice_version"]), answer=answer, recorded_at=changes.now)
    )
    if answer == ConsentAnswer.AGREED:
        changes.set_participant(status=ParticipantStatus.ACTIVE)
    elif participant.status == ParticipantStatus.ACTIVE:
        changes.set_participant(status=ParticipantStatus.INVITED)


async def status_after_return(reader: Reader, participant_id: int) -> ParticipantStatus:
    """Active again if their latest consent agreed, else back to invited (onboarding again)."""
    rows = await reader.fetch(
        select(ConsentRecord.answer)
        .where(ConsentRecord.participant_id == participant_id)
        .order_by(ConsentRecord.recorded_at.desc(), ConsentRecord.id.desc())
        .limit(1)
    )
    agreed = bool(rows) and rows[0][0] == ConsentAnswer.AGREED
    return ParticipantStatus.ACTIVE if agreed else ParticipantStatus.INVITED
