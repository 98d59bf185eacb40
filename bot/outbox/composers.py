"""What a feature gives the outbox sender: composers by kind, subject rules, and recipients.

The sender knows none of them by name: it reads a row's ``composer``, ``subject_kind`` and
``recipient_kind`` and looks them up in `bot.registry.Features`.

* A `Composer` writes one kind of message (``<feature>.<message>``): the engine's sprint for it,
  in the recipient's language, and the event that says it went out.
* A `SubjectRule` says when messages about one kind of subject (a thing in the calendar, say) must not go out
  any more: `stale` just before sending, `withdraw_stale` in bulk for the housekeeping job.
* `Recipients` finds the people of one recipient kind (``participant``): their chat, their
  language, whether they may be sent to now, and what a block (403) means for them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from flows.engine import Sprint
from locales import LANGUAGES, SOURCE_LANGUAGE
from storage import outbox
from storage.models import OutboxMessage
from storage.writer import ParticipantRow


@dataclass(frozen=True)
class Addressee:
    """Someone an outbox row goes to, as the sender needs them."""

    chat_id: int | None
    language: str | None
    may_receive: bool  # False: the row stays pending, never sent (stopped, unreachable, invited)
    quiet_hours: bool  # sent only outside STEGVIS_QUIET_HOURS
    # The participant whose conversation the message continues (its state is stored when sent).
    participant: ParticipantRow | None = None

    @property
    def language_code(self) -> str:
        """The language to write in: theirs, or Swedish when they have none Stegvis speaks."""
        return self.language if self.language in LANGUAGES else SOURCE_LANGUAGE


class Composer(Protocol):
    kind: str

    def compose(self, addressee: Addressee, subject: Any, row: OutboxMessage) -> Sprint:
        """The messages of one row, in the addressee's language; pure (no IO, no clock)."""

    def sent_event(self, row: OutboxMessage, telegram_message_id: int | None) -> dict[str, Any] | None:
        """The event that records the row went out: ``{"type", "participant_id", "payload"}``, or None."""


class SubjectRule(Protocol):
    kind: str
    too_late: str  # why a message held back by quiet hours past its deadline is withdrawn

    async def load(self, session: AsyncSession, ids: Collection[int]) -> dict[int, Any]:
        """The subjects with these ids (missing ones left out)."""

    def stale(self, row: OutboxMessage, subject: Any | None, now: datetime) -> str | None:
        """Why the row must not be sent any more, or None."""

    def deadline(self, subject: Any) -> datetime | None:
        """After this, a message about the subject is of no use: one that quiet hours would hold
        until then is withdrawn instead."""

    async def withdraw_stale(self, session: AsyncSession, now: datetime) -> int:
        """Cancel every pending row about this kind of subject that `stale` would refuse."""


async def withdraw_stale_rows(rule: SubjectRule, session: AsyncSession, now: datetime) -> int:
    """`withdraw_stale` for a rule whose `load` and `stale` decide it: every pending row about the
    rule's kind of subject that `stale` refuses is withdrawn with its reason."""
    rows = await outbox.pending_about(session, rule.kind)
    subjects = await rule.load(session, {row.subject_id for row in rows if row.subject_id is not None})
    reasons = {row.id: rule.stale(row, subjects.get(row.subject_id or 0), now) for row in rows}
    return await outbox.withdraw_rows(session, {row_id: reason for row_id, reason in reasons.items() if reason is not None})


class Recipients(Protocol):
    async def load(self, session: AsyncSession, ids: Collection[int]) -> dict[int, Addressee]: ...

    async def blocked(self, session: AsyncSession, recipient_id: int, now: datetime) -> None:
        """They blocked the bot (403): record what that means for them, in the caller's session."""
