"""``stegvis demo``: the real bot against a local Bot API sandbox, with no token and no network.

It creates a demo caseworker and one participant per language, walks each through onboarding as
a person would (open the invite link, pick the language, agree to the privacy notice), books an
appointment for each, lets the real sender deliver the reminder, answers it, then lives through a
week of a language café (``bot/demo_week.py``: the morning question, an absence with its reason,
the leader's roll call, Friday's practice check-in in every language), and prints what the bot
said, what was pressed, the month's attendance report and the events stored.

The demo runs on a frozen clock from the coming Monday 09:00, moved by hand from moment to
moment (`demo_week.moment`: the features' jobs, then the real sender), so it reads the same
whatever the hour it runs. Quiet hours are off in the demo.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path

from aiogram import Bot

from bot.app import Stegvis
from bot.config import load_settings
from bot.features.appointments import booking
from bot.features.participants import services
from bot.sandbox import BotAPISandbox, SandboxUser
from bot.services import Actor
from bot.demo_week import activity_week, caseworker_morning, demo_start, moment
from bot.telegram.running import start
from storage.clock import SYSTEM_CLOCK, FrozenClock
from locales import LANGUAGES
from storage import repositories as repo

DEMO_DIR = Path("var/demo")


@dataclass(frozen=True)
class DemoPerson:
    name: str
    language: str  # what they will pick
    app_language: str | None  # what their Telegram app reports; Somali and Tigrinya have none
    title: str | None  # of their appointment
    place: str
    answer: tuple[int | str, ...]  # buttons pressed (by position) or words written to the reminder


COMING, CANT_COME, NEW_TIME = 0, 1, 2
CHILD_SICK, TRANSPORT = 1, 3
NO_THANKS = 0

PEOPLE = (
    DemoPerson("Sara Lindqvist", "sv", "sv", "Arbetsplatskörkortet", "Idrott och service, Skäggetorp centrum", (COMING,)),
    DemoPerson("Hassan Al-Khatib", "ar", "ar", None, "Jobb- och kunskapstorget, Nygatan 19", (CANT_COME, CHILD_SICK, NO_THANKS)),
    DemoPerson("Amina Yusuf", "so", "en", "Kompletterande språkträning", "Bilda, Berga", (NEW_TIME,)),
    DemoPerson("Zahra Ahmadi", "fa_AF", "fa", None, "Jobb- och kunskapstorget, Nygatan 19", (COMING,)),
    DemoPerson("Senait Tesfay", "ti", None, "Hoppfull framtid", "Stadsmissionen, Linköping", (CANT_COME, TRANSPORT, "ኣውቶቡስ የለን")),
)


async def run_demo(out: Callable[[str], None] = print, directory: Path = DEMO_DIR) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    database_file = directory / "demo.sqlite3"
    database_file.unlink(missing_ok=True)  # every demo starts from an empty database
    async with BotAPISandbox(bot_username="stegvis_demo_bot") as sandbox:
        settings = load_settings(
            database_url=f"sqlite+aiosqlite:///{database_file}",
            telegram_bot_token=sandbox.token,
            telegram_api_url=sandbox.url,
            telegram_bot_username=sandbox.bot_username,
            quiet_hours="",
        )
        monday = demo_start(SYSTEM_CLOCK.now().astimezone(settings.tz).date())  # the one real-clock read: which week to show
        stegvis = Stegvis.create(settings, clock=FrozenClock(datetime.combine(monday, time(9), tzinfo=settings.tz)))
        bot, dispatcher = await start(stegvis)
        polling = asyncio.create_task(dispatcher.start_polling(bot, handle_signals=False, polling_timeout=1, allowed_updates=dispatcher.resolve_used_update_types()))
        try:
            out(f"Stegvis demo: the real bot, polling a local Bot API sandbox at {sandbox.url}; database {database_file}\n")
            await walk_through(stegvis, bot, sandbox, out)
        finally:
            with contextlib.suppress(RuntimeError):
                await dispatcher.stop_polling()
            await polling
            await bot.session.close()
            await stegvis.close()
    return 0


async def walk_through(stegvis: Stegvis, bot: Bot, sandbox: BotAPISandbox, out: Callable[[str], None]) -> None:
    database, settings, actor = stegvis.database, stegvis.settings, Actor("cli", "demo")
    async with database.sessions() as session:
        caseworker = await services.add_caseworker(session, actor, name="Karin Lund", email="karin.lund@example.se", now=stegvis.clock.now())
        await session.commit()
    out(f"Caseworker {caseworker.caseworker_id}: {caseworker.name} (Jobb- och kunskapstorget)\n")
    users = []
    for number, person in enumerate(PEOPLE, start=1):
        async with database.sessions() as session:
            added = await services.add_participant(
                session, actor, name=person.name, caseworker_id=caseworker.caseworker_id, language=None, now=stegvis.clock.now(), invite_days=settings.invite_days
            )
            await session.commit()
        user = sandbox.user(7000 + number, person.name.split()[0], language_code=person.app_language)
        await onboard(user, added.invite.code, person)
        users.append((person, added.participant_id, user))
        native = LANGUAGES[person.language].native_name
        out(f"── {person.name} · {native} · Telegram app language: {person.app_language or 'none'} ──")
        out(f"invite link: https://t.me/{sandbox.bot_username}?start={added.invite.code}")
        out(user.format_transcript())
        out("")

    tz = stegvis.settings.tz
    # The day after tomorrow at 10:30: the 3-day reminder is overdue and goes out at once, the
    # 1-day reminder waits for tomorrow at 10:30.
    starts_at = datetime.combine(stegvis.clock.now().astimezone(tz).date() + timedelta(days=2), time(10, 30), tzinfo=tz)
    out(f"Appointments booked for {starts_at:%Y-%m-%d %H:%M} ({stegvis.settings.timezone}); the sender delivers the reminders:\n")
    onboarded = {user.id: len(user.transcript) for _, _, user in users}
    async with database.sessions() as session:
        for person, participant_id, user in users:
            await booking.book(session, actor, settings, participant_id=participant_id, starts_at=starts_at, place=person.place, title=person.title, now=stegvis.clock.now())
        await session.commit()
    await moment(stegvis, bot, stegvis.clock.now())  # the 3-day reminder is overdue: the sender sends it now
    for person, participant_id, user in users:
        await user.next_reply()
        for step in person.answer:
            if isinstance(step, int):
                await user.press(step)
            else:
                await user.send(step)
            await user.next_reply()
        out(f"── {person.name} ──")
        out("\n".join(user.transcript[onboarded[user.id]:]))
        out("")
    async with database.sessions() as session:
        listing = await booking.list_appointments(session, actor, settings, now=stegvis.clock.now())
    out("Appointments as the caseworker sees them (stegvis appointment list):")
    for appointment in (view.as_json(settings.tz) for view in listing):
        reminders = ", ".join(f"{r['lead']} {r['status']}" for r in appointment["reminders"])
        out(f"  #{appointment['id']} participant {appointment['participant_id']}: {appointment['starts_at']} · answer: {appointment['answer']} · reminders: {reminders}")
    out("")
    people = [(person.name, pid, user) for person, pid, user in users]
    await activity_week(stegvis, bot, sandbox, people, out)
    await caseworker_morning(stegvis, bot, people, caseworker.caseworker_id, out)
    async with database.sessions() as session:
        events = await repo.list_events(session)
        names = {p.id: p.name for p in await repo.list_participants(session)}
    out(f"Events stored ({len(events)}):")
    for event in events:
        where = f"{event.flow}.{event.step}" if event.flow else "-"
        local = event.occurred_at.astimezone(stegvis.settings.tz)
        out(f"  {local:%a %H:%M:%S}  {names.get(event.participant_id, '-'):<17} {event.type:<16} {where:<20} {event.payload}")


async def onboard(user: SandboxUser, code: str, person: DemoPerson) -> None:
    await user.send(f"/start {code}")
    await user.next_reply()  # the language picker
    await user.press(LANGUAGES[person.language].native_name)
    await user.next_reply()  # the privacy notice, now in their language
    await user.press(0)  # agree
    await user.next_reply()  # welcome


def main() -> int:
    logging.basicConfig(level=logging.WARNING)
    return asyncio.run(run_demo())
