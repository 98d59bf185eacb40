"""What this feature plugs into the running bot (see ``bot/registry.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.conversation.turn import Turn
from bot.features.participants import commands, events, membership, newcomers, notice, notice_again, stopped
from bot.features.participants.recipients import ParticipantRecipients
from bot.registry import COMMANDS, GATE, STOPPED, Features, Job, MenuCommand
from flows import notice as notice_versions
from locales import N_
from storage.models import ParticipantStatus

if TYPE_CHECKING:
    from bot.app import Stegvis


def register(features: Features, stegvis: Stegvis) -> None:
    features.on_event("language_chosen", events.language_chosen)
    features.on_event("consent", events.consent)
    features.recipient("participant", ParticipantRecipients())

    async def back_after_blocking(turn: Turn) -> None:
        # They wrote to us, so they have unblocked the bot.
        if turn.participant.status == ParticipantStatus.UNREACHABLE:
            turn.set_participant(status=await events.status_after_return(stegvis.store, turn.participant.id))
            turn.record("participant_reachable")

    features.on_arrival(back_after_blocking)
    # People without a record never reach the later routers; stopped participants only /start.
    features.router(GATE, membership.create_router)
    features.router(GATE + 1, newcomers.create_router)
    features.router(STOPPED, stopped.create_router)
    # After /stop's router, before the commands: a changed privacy notice comes first.
    versions = notice_versions.load_versions()
    # A notice text without a version does not start: the FlowError says what to add.
    notice_versions.version_of(stegvis.engine.flows[notice_versions.NOTICE_FLOW], versions)
    features.router(STOPPED + 5, lambda: notice.create_router(versions))
    # ... and is sent to those who do not write, through the outbox.
    features.composer(notice_again.NoticeAgainMessage(stegvis.engine, stegvis.catalogs, stegvis.variables))
    features.subject(notice_again.NoticeConsents())

    async def send_notice_again(stegvis: Stegvis) -> None:
        # The live onboarding flow's notice: a published version goes out within the hour.
        version = notice_versions.version_of(stegvis.engine.flows[notice_versions.NOTICE_FLOW], versions)
        async with stegvis.database.sessions() as session:
            await notice_again.plan(session, version, now=stegvis.clock.now())
            await session.commit()

    features.job(Job("participants-notice-again", notice_again.EVERY, send_notice_again))
    features.router(COMMANDS, commands.create_router)
    for order, (command, description) in enumerate(
        (("start", N_("Börja")), ("language", N_("Byt språk")), ("help", N_("Hjälp")), ("stop", N_("Stoppa meddelanden")))
    ):
        features.menu_command(MenuCommand(command, description, order))
