"""``stegvis appointment add | move | cancel | list | attended | import``: thin adapters over the booking services.

Each parses its arguments into typed values (``bot/validation.py``), calls one service and says
in plain words what will really happen: when the participant is reminded or told, or that
nothing is sent because they have not joined yet, said /stop or blocked Stegvis.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.cli.commands import Commands, Context, id_argument, invalid_option

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.features.appointments.views import AppointmentView, MessageView

AT = {"starts_at": "--at"}
AT_HELP = "local time (STEGVIS_TIMEZONE), e.g. 2026-11-24T10:30"
CSV_HEADER = "participant_id,date,time,place,title,remind"


def add_commands(commands: Commands) -> None:
    appointment = commands.group("appointment", help="book appointments; participants are reminded before them")

    add = appointment.command("add", help="book an appointment and plan its reminders", action=book, human=booked_text, options=AT)
    add.add_argument("--participant", required=True, type=id_argument, metavar="ID")
    add.add_argument("--at", required=True, metavar="TIME", help=AT_HELP)
    add.add_argument("--place", required=True, help="where; shown to the participant (at most 200 characters)")
    add.add_argument("--title", help="what; shown to the participant, so nothing sensitive (at most 200 characters)")
    add.add_argument("--remind", action="append", metavar="LEAD", help="when to remind, e.g. 3d, 1d, 2h or 30m; repeat for more (default STEGVIS_REMINDER_LEAD_TIMES)")

    move = appointment.command("move", help="move an appointment: fresh reminders and a notice of the new time", action=move_to, human=moved_text, options=AT)
    move.add_argument("id", type=id_argument, metavar="ID")
    move.add_argument("--at", required=True, metavar="TIME", help=AT_HELP)

    cancel = appointment.command("cancel", help="cancel an appointment: reminders withdrawn, the participant told", action=cancel_it, human=cancelled_text)
    cancel.add_argument("id", type=id_argument, metavar="ID")

    listing = appointment.command("list", help="appointments with their reminders and the participant's answer", action=list_them, human=appointments_table)
    listing.add_argument("--participant", type=id_argument, metavar="ID")

    attended = appointment.command("attended", help="record whether the participant came", action=attended_it, human=attended_text)
    attended.add_argument("id", type=id_argument, metavar="ID")
    came = attended.add_mutually_exclusive_group(required=True)
    came.add_argument("--yes", dest="attended", action="store_true", help="the participant came")
    came.add_argument("--no", dest="attended", action="store_false", help="the participant did not come")

    bulk = appointment.command("import", help=f"book many from a CSV file with the header {CSV_HEADER}; all or nothing", action=import_file, human=imported_text)
    bulk.add_argument("file", metavar="FILE.csv")



@dataclass(frozen=True, repr=False)  # asyncio.run puts its result's repr in a message: keep it short
class Listing:
    appointments: list[AppointmentView]
    imported: bool = False

    def __repr__(self) -> str:
        return f"Listing({len(self.appointments)} appointments)"

    def as_json(self, tz: ZoneInfo) -> dict[str, Any]:
        shown = [a.as_json(tz) for a in self.appointments]
        return {"imported": len(shown), "appointments": shown} if self.imported else {"appointments": shown}


def _at(context: Context, text: str) -> datetime:
    from bot.validation import parse_at

    return invalid_option("starts_at", lambda: parse_at(text, context.settings.tz, now=context.now))


async def book(context: Context, args: argparse.Namespace) -> AppointmentView:
    from bot.features.appointments import booking
    from bot.validation import parse_remind

    starts_at = _at(context, args.at)
    leads = invalid_option("remind", lambda: parse_remind(args.remind)) if args.remind is not None else None
    return await booking.book(
        context.session, context.actor, context.settings, participant_id=args.participant, starts_at=starts_at, place=args.place, title=args.title, lead_times=leads, now=context.now
    )


async def move_to(context: Context, args: argparse.Namespace) -> AppointmentView:
    from bot.features.appointments import booking

    return await booking.move(context.session, context.actor, context.settings, appointment_id=args.id, starts_at=_at(context, args.at), now=context.now)


async def cancel_it(context: Context, args: argparse.Namespace) -> AppointmentView:
    from bot.features.appointments import booking

    return await booking.cancel(context.session, context.actor, context.settings, appointment_id=args.id, now=context.now)


async def attended_it(context: Context, args: argparse.Namespace) -> AppointmentView:
    from bot.features.appointments import booking

    return await booking.record_attendance(context.session, context.actor, context.settings, appointment_id=args.id, attended=args.attended, now=context.now)


async def list_them(context: Context, args: argparse.Namespace) -> Listing:
    from bot.features.appointments import booking

    return Listing(await booking.list_appointments(context.session, context.actor, context.settings, participant_id=args.participant, now=context.now))


async def import_file(context: Context, args: argparse.Namespace) -> Listing:
    from bot.features.appointments.csv_import import import_appointments

    imported = await import_appointments(context.session, context.actor, context.settings, args.file, now=context.now)
    return Listing(imported.appointments, imported=True)


# What the caseworker reads


def _clock(moment: datetime | None, tz: ZoneInfo) -> str:
    return f"{moment.astimezone(tz):%Y-%m-%d %H:%M}" if moment else "-"


def _message_line(a: AppointmentView, tz: ZoneInfo) -> str:
    current = a.current()
    parts = [f"{m.lead} {_clock(m.due_at, tz)} {m.status}" for m in current if m.kind == "reminder"]
    parts += [f"{m.kind} notice {_clock(m.due_at, tz)} {m.status}" for m in current if m.kind != "reminder"]
    return " · ".join(parts) or "none (the appointment is too close, inside quiet hours)"


def _heading(a: AppointmentView, tz: ZoneInfo) -> str:
    what = f" ({a.title})" if a.title else ""
    return f"Appointment {a.id} for participant {a.participant_id}: {_clock(a.starts_at, tz)}, {a.place}{what}"


def _unreachable(a: AppointmentView) -> str | None:
    """Why nothing about the appointment can reach the participant now, or None."""
    if a.participant_status == "invited":
        return f"Participant {a.participant_id} has not joined Stegvis yet: nothing is sent until they open their invite link and agree to the privacy notice"
    if a.participant_status == "stopped":
        return f"Participant {a.participant_id} has stopped messages from Stegvis (/stop): nothing is sent to them"
    if a.participant_status == "unreachable":
        return f"Participant {a.participant_id} has blocked Stegvis in Telegram: nothing can be sent to them"
    if a.participant_status == "finished":
        return f"Participant {a.participant_id} has finished the programme: nothing is sent to them"
    return None


# What becomes of the reminders while nothing can reach the participant (see _unreachable).
_WAITING = {
    "invited": "the reminders wait for that, and any still due then go out when they join",
    "stopped": "the reminders wait, and any still due then go out if they send /start again",
    "unreachable": "the reminders wait, and any still due then go out if they unblock Stegvis",
    "finished": "no reminder goes out",
}


def booked_text(a: AppointmentView, settings: Settings) -> str:
    text = f"{_heading(a, settings.tz)}. Booked.\nReminders ({settings.timezone}): {_message_line(a, settings.tz)}"
    why = _unreachable(a)
    if why and a.current("reminder"):
        text += f"\n{why}; {_WAITING[a.participant_status]}."
    return text


def _told(a: AppointmentView, kind: str, tz: ZoneInfo) -> str:
    why = _unreachable(a)
    if why:
        return f"\n{why}; tell them another way."
    notices: list[MessageView] = a.current(kind)
    if notices:
        return f"\nThe participant is told at {_clock(notices[0].due_at, tz)}."
    return "\nNo notice can reach the participant before the appointment (quiet hours): tell them another way."


def moved_text(a: AppointmentView, settings: Settings) -> str:
    return f"{_heading(a, settings.tz)}. Moved (version {a.version}); the old reminders are withdrawn.{_told(a, 'moved', settings.tz)}\nMessages ({settings.timezone}): {_message_line(a, settings.tz)}"


def cancelled_text(a: AppointmentView, settings: Settings) -> str:
    text = f"{_heading(a, settings.tz)}. Cancelled; reminders not yet sent are withdrawn."
    if a.starts_at <= settings.clock.now():
        return text
    return text + _told(a, "cancelled", settings.tz)


def attended_text(a: AppointmentView, settings: Settings) -> str:
    return f"{_heading(a, settings.tz)}. Recorded: {'came' if a.attended else 'did not come'}."


def appointments_table(listing: Listing, settings: Settings) -> str:
    tz = settings.tz
    if not listing.appointments:
        return "No appointments. Book one with: stegvis appointment add --participant ID --at 2026-11-24T10:30 --place TEXT"
    attended = {True: "yes", False: "no", None: "-"}
    lines = [f"{'id':>4}  {'participant':>11}  {'starts (' + settings.timezone + ')':<28} {'status':<10} {'answer':<11} {'came':<5} place"]
    for a in listing.appointments:
        lines.append(f"{a.id:>4}  {a.participant_id:>11}  {_clock(a.starts_at, tz):<28} {a.status:<10} {a.answer or '-':<11} {attended[a.attended]:<5} {a.place[:40]}")
        if a.status == "booked" or any(m.kind == "reminder" for m in a.messages):
            lines.append(f"{'':>6}messages: {_message_line(a, tz)}")
    return "\n".join(lines)


def imported_text(listing: Listing, settings: Settings) -> str:
    return f"Imported {len(listing.appointments)} appointments.\n" + appointments_table(listing, settings)
