"""A changed privacy notice is shown to every active participant once, and they are asked again.

The notice's version comes from its text (`flows.notice`: the SHA-256 of the Swedish notice,
listed in ``flows/notice_versions.yaml``). When an active participant writes to Stegvis and their
latest consent was given to another version, this router answers that message with a line
saying the notice changed and the notice itself with its two buttons (the onboarding flow's
``privacy`` step, pushed over whatever question was open, which is asked again afterwards). The
answer is an ordinary ``consent`` event with the new version, so it is recorded as the first one
was; declining takes them back to invited (nothing more is sent until /start).

Only messages are answered so: a press on an older question's button is still taken as its
answer (it may say "I can't come"), and /stop always works. While the notice is the open
question, messages pass on to the core, which asks it again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiogram import F, Router
from aiogram.filters import Command, Filter, MagicData
from aiogram.types import Message
from bot.conversation.turn import Turn
from flows import notice
from locales import N_
from storage.models import ParticipantStatus

if TYPE_CHECKING:
    from bot.app import Stegvis

CHANGED = N_("Vi har ändrat texten om hur Stegvis sparar dina uppgifter. Läs den och svara igen.")


class NoticeOutdated(Filter):
    """Whether this participant's latest consent was to another version of the notice than the live one."""

    def __init__(self, versions: dict[str, str]) -> None:
        self.versions = versions
        self._live: tuple[Any, str] | None = None  # the live onboarding flow and its notice's version

    def live_version(self, stegvis: Stegvis) -> str:
        # Worked out once per live flow (a published version is a new object), not per message.
        flow = stegvis.engine.flows[notice.NOTICE_FLOW]
        if self._live is None or self._live[0] is not flow:
            self._live = (flow, notice.version_of(flow, self.versions))
        return self._live[1]

    async def __call__(self, message: Message, stegvis: Stegvis, turn: Turn | None = None, **_: Any) -> bool:
        if turn is None:
            return False
        top = turn.state.top
        if top is not None and (top.flow, top.step) == (notice.NOTICE_FLOW, notice.NOTICE_STEP):
            return False  # being asked already: the core asks it again
        # Their latest consent's version comes with the participant's row (storage/writer.py).
        agreed_to = turn.participant.notice_version
        return agreed_to is not None and agreed_to != self.live_version(stegvis)  # no consent at all: made active by hand, not ours to ask


async def ask_again(message: Message, turn: Turn, stegvis: Stegvis) -> None:
    state = await turn.tidy()
    turn.say(turn.texts.gettext(CHANGED))
    turn.take(stegvis.engine.start(notice.NOTICE_FLOW, at=notice.NOTICE_STEP, language=turn.language, variables=stegvis.variables(turn.participant), over=state))


def create_router(versions: dict[str, str]) -> Router:
    router = Router(name="notice")
    router.message.filter(MagicData(F.participant.status == ParticipantStatus.ACTIVE))
    router.message.register(ask_again, ~Command("stop"), NoticeOutdated(versions))
    return router
