"""``stegvis activity add | list | sessions | enrol | leave | cancel-session``: thin adapters over the activity services.

Each parses its arguments into typed values (``bot/validation.py``, ``parsing.py``), calls one
service and says in plain words what happens: who is told about a cancelled session, and who is
not and why.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bot.cli.commands import Commands, Context, id_argument, invalid_option

if TYPE_CHECKING:
    from datetime import date

    from bot.config import Settings
    from bot.features.activities.views import ActivityListing, ActivityView, CancellationView, EnrolmentView, SessionListing

OPTIONS = {"starts_on": "--starts", "ends_on": "--ends", "from_date": "--from", "first": "--from", "last": "--to", "day": "--date", "activity": None}
WEEKLY_HELP = 'a weekday and a local time (STEGVIS_TIMEZONE), e.g. "tue 10:00" or "torsdag 13:30"; repeat for more'


def add_commands(commands: Commands) -> None:
    activity = commands.group("activity", help="weekly group activities: enrol participants, cancel a session and they are told")

    add = activity.command("add", help="add a weekly activity", action=add_it, human=added_text, options=OPTIONS)
    add.add_argument("--name", required=True, help="what it is called; shown to participants (at most 200 characters)")
    add.add_argument("--organisation", required=True, help="who runs it, e.g. Röda Korset")
    add.add_argument("--place", required=True, help="where; shown to participants")
    add.add_argument("--weekly", required=True, action="append", metavar="'DAY HH:MM'", help=WEEKLY_HELP)
    add.add_argument("--duration", metavar="LENGTH", help="how long each session lasts, 15m to 12h, e.g. 90m, 2h or 1h30m (default 2h)")
    add.add_argument("--starts", metavar="DATE", help="the first day, YYYY-MM-DD (default today)")
    add.add_argument("--ends", metavar="DATE", help="the last day, YYYY-MM-DD (default none)")
    add.add_argument("--on-holidays", action="store_true", help="also held on Swedish public holidays (Midsummer Eve, Christmas Eve and New Year's Eve included)")

    activity.command("list", help="the activities with their weekly times and who is enrolled", action=list_them, human=activities_table, options=OPTIONS)

    sessions = activity.command("sessions", help="the sessions of an activity, cancelled ones marked", action=sessions_of, human=sessions_table, options=OPTIONS)
    sessions.add_argument("id", type=id_argument, metavar="ID")
    sessions.add_argument("--from", dest="first", metavar="DATE", help="from this day, YYYY-MM-DD (default today)")
    sessions.add_argument("--to", dest="last", metavar="DATE", help="to this day, YYYY-MM-DD (default four weeks on)")

    enrol = activity.command("enrol", help="enrol a participant: they are told when a session is cancelled", action=enrol_it, human=enrolled_text, options=OPTIONS)
    enrol.add_argument("id", type=id_argument, metavar="ID")
    enrol.add_argument("--participant", required=True, type=id_argument, metavar="ID")
    enrol.add_argument("--from", dest="from_date", metavar="DATE", help="the first day they take part, YYYY-MM-DD (default today)")

    leave = activity.command("leave", help="a participant leaves the activity from today", action=leave_it, human=left_text, options=OPTIONS)
    leave.add_argument("id", type=id_argument, metavar="ID")
    leave.add_argument("--participant", required=True, type=id_argument, metavar="ID")

    cancel = activity.command("cancel-session", help="cancel the session on a date: every enrolled participant is told", action=cancel_it, human=cancelled_text, options=OPTIONS)
    cancel.add_argument("id", type=id_argument, metavar="ID")
    cancel.add_argument("--date", required=True, metavar="DATE", help="the session's day, YYYY-MM-DD")
    cancel.add_argument("--reason", help="why; shown to participants, so nothing sensitive (at most 200 characters)")



def _date(field: str, text: str | None) -> date | None:
    from bot.validation import parse_date

    return invalid_option(field, lambda: parse_date(text)) if text is not None else None


async def add_it(context: Context, args: argparse.Namespace) -> ActivityView:
    from bot.features.activities import services
    from bot.features.activities.parsing import parse_duration, parse_weekly

    weekly = [invalid_option("weekly", lambda text=text: parse_weekly(text)) for text in args.weekly]
    duration = invalid_option("duration", lambda: parse_duration(args.duration)) if args.duration is not None else services.DEFAULT_DURATION
    return await services.add_activity(
        context.session, context.actor, context.settings,
        name=args.name, organisation=args.organisation, place=args.place, weekly=weekly, duration=duration,
        starts_on=_date("starts_on", args.starts), ends_on=_date("ends_on", args.ends), on_holidays=args.on_holidays, now=context.now,
    )


async def list_them(context: Context, args: argparse.Namespace) -> ActivityListing:
    from bot.features.activities import services

    return await services.list_activities(context.session, context.actor, context.settings, now=context.now)


async def sessions_of(context: Context, args: argparse.Namespace) -> SessionListing:
    from bot.features.activities import services

    first, last = _date("first", args.first), _date("last", args.last)
    return await services.sessions_of(context.session, context.actor, context.settings, activity_id=args.id, first=first, last=last, now=context.now)


async def enrol_it(context: Context, args: argparse.Namespace) -> EnrolmentView:
    from bot.features.activities import services

    first = _date("from_date", args.from_date)
    return await services.enrol(context.session, context.actor, context.settings, activity_id=args.id, participant_id=args.participant, from_date=first, now=context.now)


async def leave_it(context: Context, args: argparse.Namespace) -> EnrolmentView:
    from bot.features.activities import services

    return await services.leave(context.session, context.actor, context.settings, activity_id=args.id, participant_id=args.participant, now=context.now)


async def cancel_it(context: Context, args: argparse.Namespace) -> CancellationView:
    from bot.features.activities import services

    day = _date("day", args.date)
    assert day is not None  # --date is required
    return await services.cancel_session(context.session, context.actor, context.settings, activity_id=args.id, day=day, reason=args.reason, now=context.now)


# What the caseworker reads


def _heading(a: ActivityView) -> str:
    ends = f" to {a.ends_on.isoformat()}" if a.ends_on else ""
    holidays = ", also on holidays" if a.on_holidays else ""
    return f"Activity {a.id}: {a.name} ({a.organisation}) at {a.place}, {' and '.join(a.weekly)} for {a.duration_minutes} min, from {a.starts_on.isoformat()}{ends}{holidays}"


def added_text(a: ActivityView, settings: Settings) -> str:
    return f"{_heading(a)}.\nSee its sessions with: stegvis activity sessions {a.id}"


def activities_table(listing: ActivityListing, settings: Settings) -> str:
    if not listing.activities:
        return 'No activities. Add one with: stegvis activity add --name TEXT --organisation TEXT --place TEXT --weekly "tue 10:00"'
    lines = []
    for a in listing.activities:
        lines.append(_heading(a))
        lines.append(f"    enrolled: {', '.join(map(str, a.enrolled)) or 'nobody yet'}")
    return "\n".join(lines)


def sessions_table(listing: SessionListing, settings: Settings) -> str:
    from bot.features.activities.views import shown

    head = f"{_heading(listing.activity)}.\nSessions {listing.first.isoformat()} to {listing.last.isoformat()} ({settings.timezone}):"
    if not listing.sessions:
        return head + "\n    none"
    tz = settings.tz
    rows = [f"    {shown(s.starts_at, tz)}-{s.ends_at.astimezone(tz):%H:%M}" + (f"  CANCELLED{': ' + s.reason if s.reason else ''}" if s.cancelled else "") for s in listing.sessions]
    return "\n".join([head, *rows])


def enrolled_text(e: EnrolmentView, settings: Settings) -> str:
    text = f"Participant {e.participant_id} is enrolled in activity {e.activity_id} ({e.activity}) from {e.from_date.isoformat()}."
    if e.participant_status == "invited":
        text += " They have not joined Stegvis yet: they are told nothing until they open their invite link."
    elif e.participant_status == "unreachable":
        text += " They blocked Stegvis: nothing reaches them."
    elif e.participant_status == "finished":
        text += " They have finished the programme: nothing reaches them."
    return text


def left_text(e: EnrolmentView, settings: Settings) -> str:
    assert e.left_date is not None
    return f"Participant {e.participant_id} has left activity {e.activity_id} ({e.activity}); not enrolled from {e.left_date.isoformat()} on."


def cancelled_text(c: CancellationView, settings: Settings) -> str:
    from bot.features.activities.views import shown

    tz = settings.tz
    times = " and ".join(shown(s.starts_at, tz) for s in c.sessions)
    lines = [f"Cancelled: {times} of activity {c.activity.id} ({c.activity.name})" + (f", reason: {c.reason}." if c.reason else ".")]
    told = [n for n in c.notices if n.due_at is not None]
    if told:
        lines.append("Told: " + ", ".join(f"participant {n.participant_id} at {n.due_at.astimezone(tz):%Y-%m-%d %H:%M}" for n in told if n.due_at is not None))
    lines += [f"Not told: participant {n.participant_id} {n.why_not}; reach them another way" for n in c.notices if n.due_at is None]
    if not c.notices:
        lines.append("Nobody is enrolled that day: no one to tell.")
    return "\n".join(lines)


