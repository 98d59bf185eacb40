"""``stegvis leader add | list | invite`` and ``stegvis activity attendance``: thin adapters over the roll-call services.

``activity attendance`` joins the activities feature's ``activity`` group (`Commands.extend`),
since a caseworker thinks of it as something done to an activity.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from bot.cli.commands import Commands, Context, id_argument, invalid_option

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.features.roll_call.services import AttendanceView, LeaderListing

OPTIONS = {"activity_id": "--activity", "activity": "--activity", "day": "--date", "leader": None}


def add_commands(commands: Commands) -> None:
    leader = commands.group("leader", help="activity leaders: they take the roll call of their activities on Telegram")
    add = leader.command("add", help="add a leader of one or more activities and print their personal invite link", action=add_it, human=added_text, options=OPTIONS)
    add.add_argument("--name", required=True, help="the leader's name (they see it in their welcome)")
    add.add_argument("--activity", required=True, action="append", type=id_argument, metavar="ID", help="an activity they lead; repeat for more")
    leader.command("list", help="the leaders, their activities, and whether they have linked Telegram", action=list_them, human=leaders_table, options=OPTIONS)
    invite = leader.command("invite", help="a new invite link for a leader (lost link, new phone); the old one stops working", action=invite_it, human=invite_text, options=OPTIONS)
    invite.add_argument("id", type=id_argument, metavar="ID")

    attendance = commands.extend("activity").command(
        "attendance", help="record who was at a session and who was not (a correction changes what was recorded)", action=record_it, human=recorded_text, options=OPTIONS
    )
    attendance.add_argument("id", type=id_argument, metavar="ID")
    attendance.add_argument("--date", required=True, metavar="DATE", help="the session's day, YYYY-MM-DD")
    attendance.add_argument("--present", metavar="IDS", help="participants who were there, e.g. 3,5")
    attendance.add_argument("--absent", metavar="IDS", help="participants who were not, e.g. 7")


def parse_ids(text: str | None) -> list[int]:
    """«3,5» → [3, 5]; a blank list is no one."""
    from bot.validation import parse_id

    if text is None or not text.strip():
        return []
    ids = []
    for part in text.split(","):
        part = part.strip()
        try:
            ids.append(parse_id(part, what=None))
        except ValueError:
            raise ValueError(f"{part!r} is not a participant id; give ids separated by commas, e.g. 3,5") from None
    return ids


async def add_it(context: Context, args: argparse.Namespace) -> dict[str, Any]:
    from bot.features.roll_call import services

    view = await services.add_leader(context.session, context.actor, context.settings, name=args.name, activity_ids=args.activity, now=context.now)
    return {**view.as_json(context.settings.tz), **await _link(context.settings, view.invite_code)}


async def list_them(context: Context, args: argparse.Namespace) -> LeaderListing:
    from bot.features.roll_call import services

    return await services.list_leaders(context.session, context.actor, context.settings, now=context.now)


async def invite_it(context: Context, args: argparse.Namespace) -> dict[str, Any]:
    from bot.features.roll_call import services

    view = await services.new_invite(context.session, context.actor, context.settings, leader_id=args.id, now=context.now)
    return {**view.as_json(context.settings.tz), **await _link(context.settings, view.invite_code)}


async def record_it(context: Context, args: argparse.Namespace) -> AttendanceView:
    from bot.features.roll_call import services
    from bot.validation import parse_date

    day = invalid_option("day", lambda: parse_date(args.date))
    present = invalid_option("present", lambda: parse_ids(args.present))
    absent = invalid_option("absent", lambda: parse_ids(args.absent))
    return await services.record_attendance(context.session, context.actor, context.settings, activity_id=args.id, day=day, present=present, absent=absent, now=context.now)


async def _link(settings: Settings, code: str | None) -> dict[str, Any]:
    from bot.features.participants.cli import bot_username

    username = await bot_username(settings)
    return {"link": f"https://t.me/{username}?start={code}" if username and code else None}


# What the caseworker reads


def _link_line(result: dict[str, Any]) -> str:
    return result["link"] or f"(set TELEGRAM_BOT_TOKEN or TELEGRAM_BOT_USERNAME to get the link) code: {result['invite_code']}"


def added_text(result: dict[str, Any], settings: Settings) -> str:
    activities = ", ".join(map(str, result["activities"]))
    return (
        f"Leader {result['leader_id']} ({result['name']}) added, leading activity {activities}. "
        f"Personal invite link, valid until {result['invite_expires_at'][:10]}; they open it in Telegram:\n{_link_line(result)}"
    )


def invite_text(result: dict[str, Any], settings: Settings) -> str:
    return f"A new personal invite link for leader {result['leader_id']}, valid until {result['invite_expires_at'][:10]}; the old link no longer works:\n{_link_line(result)}"


def leaders_table(listing: LeaderListing, settings: Settings) -> str:
    if not listing.leaders:
        return "No leaders yet. Add one with: stegvis leader add --name N --activity ID"
    lines = [f"{'id':>4}  {'name':<28} {'telegram':<10} activities"]
    for leader in listing.leaders:
        linked = "linked" if leader.linked else ("invited" if leader.invite_expires_at else "no link")
        lines.append(f"{leader.id:>4}  {leader.name[:28]:<28} {linked:<10} {', '.join(map(str, leader.activities))}")
    return "\n".join(lines)


def recorded_text(view: AttendanceView, settings: Settings) -> str:
    here = [str(r.participant_id) for r in view.recorded if r.present]
    away = [str(r.participant_id) for r in view.recorded if not r.present]
    changed = [f"participant {r.participant_id} was recorded {'present' if r.previous else 'absent'} before" for r in view.recorded if r.previous is not None and r.previous != r.present]
    lines = [f"Activity {view.activity_id} ({view.activity}) on {view.day.isoformat()}: present {', '.join(here) or 'none'}; absent {', '.join(away) or 'none'} (recorded by {view.by})."]
    lines += [f"Corrected: {line}." for line in changed]
    return "\n".join(lines)
