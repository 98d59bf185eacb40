"""``stegvis reply``: a caseworker's quick reply or free text to a participant, a thin adapter over `send_reply`.

At the command line Stegvis's staff act: without ``--caseworker`` the reply goes out on behalf of
the participant's own caseworker; with ``--caseworker ID`` it is refused for another
caseworker's participant (as a caseworker acting for themselves would be).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import TYPE_CHECKING

from bot.cli.commands import Command, Commands, Context, id_argument

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.features.caseworker_messages.services import ReplySent

OPTIONS = {"participant": "--participant", "reply": "--with", "text": "--text", "caseworker": "--caseworker"}
REPLY_IDS = ("call-you", "stays-booked", "come-to-office", "noted", "new-time")


def add_commands(commands: Commands) -> None:
    reply = commands.top("reply", help="answer a participant: a quick reply in their language, or a free text in Swedish")
    reply.add_argument("--json", action="store_true", help="print one JSON object")
    reply.add_argument("--participant", type=id_argument, metavar="ID", required=True)
    reply.add_argument("--with", dest="reply", metavar="REPLY", help=f"a quick reply: {', '.join(REPLY_IDS)}")
    reply.add_argument("--text", help="your own words, sent in Swedish as written (at most 1000 characters)")
    reply.add_argument("--now", action="store_true", help="send at once, even in quiet hours")
    reply.add_argument("--caseworker", type=id_argument, metavar="ID", help="reply as this caseworker: refused for another caseworker's participant")
    reply.set_defaults(command=Command(send_it, sent_text, OPTIONS))


async def send_it(context: Context, args: argparse.Namespace) -> ReplySent:
    from bot.features.caseworker_messages import services

    actor = replace(context.actor, caseworker_id=args.caseworker) if args.caseworker is not None else context.actor
    return await services.send_reply(
        context.session, actor, context.settings, participant_id=args.participant, reply=args.reply, text=args.text, at_once=args.now, now=context.now
    )


def sent_text(sent: ReplySent, settings: Settings) -> str:
    what = f"quick reply {sent.reply.replace('_', '-')}" if sent.reply else f"a free text of {len(sent.text or '')} characters"
    at = sent.goes_out_at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M")
    when = f"goes out now ({at}), quiet hours or not" if sent.at_once else f"goes out at {at}" + (", when quiet hours end" if sent.held else "")
    return f"Reply to participant {sent.participant_id} (caseworker {sent.caseworker_id}): {what}, {when}. Event {sent.event_id}, outbox message {sent.outbox_id}."
