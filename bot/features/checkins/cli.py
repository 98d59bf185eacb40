"""``stegvis checkin schedule | list``: thin adapters over the check-in services."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bot.cli.commands import Commands, Context, id_argument, invalid_option

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.features.checkins.services import ScheduleView, WeekListing

OPTIONS = {"activity": "--activity", "participant": "--participant", "at": "--at", "week": "--week"}


def add_commands(commands: Commands) -> None:
    checkin = commands.group("checkin", help="the weekly practice check-in: when it comes, who answered")

    schedule = checkin.command("schedule", help="when the check-in comes for a participant or an activity's participants", action=schedule_it, human=scheduled_text, options=OPTIONS)
    who = schedule.add_mutually_exclusive_group(required=True)
    who.add_argument("--activity", type=id_argument, metavar="ID")
    who.add_argument("--participant", type=id_argument, metavar="ID", help="a participant's own time wins over their activity's")
    when = schedule.add_mutually_exclusive_group(required=True)
    when.add_argument("--at", metavar="'DAY HH:MM'", help='a weekday and a local time, e.g. "thu 10:00" or "torsdag 10:00"')
    when.add_argument("--default", action="store_true", help="clear it: the activity's time, else STEGVIS_CHECKIN_TIME")

    listing = checkin.command("list", help="who was asked in a week, who answered, who did not", action=list_it, human=listing_text, options=OPTIONS)
    listing.add_argument("--week", metavar="YYYY-Www", help="an ISO week, e.g. 2027-W03 (default this week)")


async def schedule_it(context: Context, args: argparse.Namespace) -> ScheduleView:
    from bot.features.activities.parsing import parse_weekly
    from bot.features.checkins import services

    moment = None
    if args.at is not None:
        rule = invalid_option("at", lambda: parse_weekly(args.at))
        moment = (rule.weekday, rule.at)
    return await services.schedule(
        context.session, context.actor, context.settings, activity_id=args.activity, participant_id=args.participant, moment=moment, now=context.now
    )


async def list_it(context: Context, args: argparse.Namespace) -> WeekListing:
    from bot.features.checkins import services, weeks

    week = invalid_option("week", lambda: weeks.parse_week(args.week)) if args.week is not None else None
    return await services.list_week(context.session, context.actor, context.settings, week=week, now=context.now)


def scheduled_text(s: ScheduleView, settings: Settings) -> str:
    who = f"{s.kind.capitalize()} {s.id}"
    when = f"gets the check-in on {s.at}" if s.at else f"is back to the default ({s.default} unless an activity says otherwise)"
    again = f"; {s.replanned} of this week's check-ins not yet sent will come at the new time" if s.replanned else ""
    return f"{who} {when}{again}."


def listing_text(listing: WeekListing, settings: Settings) -> str:
    from bot.features.checkins import weeks

    tz = settings.tz
    if not listing.rows:
        return f"No check-ins in {weeks.iso_week(listing.week)}."
    lines = [f"Check-ins in {weeks.iso_week(listing.week)} (week of {listing.week.isoformat()}):"]
    for r in listing.rows:
        at = r.due_or_sent.astimezone(tz).strftime("%a %H:%M") if r.due_or_sent else "-"
        answers = ", ".join(str(part) for part in (r.practice, "+".join(r.places or []) or None, f"confidence {r.confidence}" if r.confidence else None, f"{r.voice_notes} voice notes" if r.voice_notes else None) if part)
        nudged = " nudged" if r.nudged_at else ""
        lines.append(f"  {r.participant_id:>5}  {r.name[:30]:<30}  {r.status:<10} {'due' if r.status == 'planned' else 'sent'} {at}{nudged}  {answers}")
    return "\n".join(lines)
