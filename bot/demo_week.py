"""The demo's week: a language café's morning question, one absence with its reason, the leader's
roll call and Friday's practice check-in in every language (with a voice note), the month's
attendance report as the funders get it; then a participant's message, the caseworker's Monday
digest and her quick reply, read in Tigrinya.

Called by ``bot/demo.py`` after onboarding and the reminders, on the demo's frozen clock: each
moment is set by hand, the features' jobs plan what is due and the real sender sends it
(`moment`), so the demo reads the same whatever the hour it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from aiogram import Bot

from bot.app import Stegvis
from bot.features.activities import services as activities
from bot.features.activities.schedule import WeeklyRule
from bot.features.caseworker_messages.services import send_reply
from bot.features.digest.content import build_digest
from bot.features.digest.render import render_text
from bot.features.reports import services as reports
from bot.features.reports.writers import attendance_csv_table, csv_bytes
from bot.features.roll_call import services as roll_call
from bot.outbox.sender import Sender
from bot.sandbox import BotAPISandbox, SandboxUser
from bot.services import Actor
from bot.outbox.quiet_hours import from_wall
from storage.clock import FrozenClock

YES, NO = 0, 1
CHILD_SICK, NO_THANKS = 1, 0
A_LOT, A_LITTLE = 0, 1


@dataclass(frozen=True)
class Week:
    """What one demo participant does this week: the morning answer, and the check-in's answers."""

    morning: tuple[int, ...]  # buttons pressed, by position
    practice: int
    places: tuple[int, ...]  # places ticked, by position, then Klar
    face: int  # 0 😟 … 4 😄
    voice_note: bool = False


# In the order of demo.PEOPLE: Sara, Hassan, Amina, Zahra, Senait.
WEEKS = (
    Week((YES,), A_LOT, (0, 1), 3),
    Week((NO, CHILD_SICK, NO_THANKS), A_LITTLE, (3,), 2),
    Week((YES,), A_LOT, (1, 4), 4, voice_note=True),
    Week((YES,), A_LITTLE, (2,), 3),
    Week((YES,), A_LOT, (0, 3), 3),
)


async def moment(stegvis: Stegvis, bot: Bot, at: datetime) -> int:
    """The clock moves to `at`: every feature's job plans what is due, and the sender sends it."""
    clock = stegvis.clock
    assert isinstance(clock, FrozenClock)
    clock.set(at)
    for job in stegvis.features.jobs:
        await job.run(stegvis)
    return await Sender(stegvis, bot).tick()


async def activity_week(
    stegvis: Stegvis, bot: Bot, sandbox: BotAPISandbox, people: Sequence[tuple[str, int, SandboxUser]], out: Callable[[str], None]
) -> None:
    """The week of one language café, from Tuesday morning to Friday's check-in."""
    settings, actor, tz = stegvis.settings, Actor("cli", "demo"), stegvis.settings.tz
    today = stegvis.clock.now().astimezone(tz).date()
    tuesday = today + timedelta(days=(1 - today.weekday()) % 7)
    friday = tuesday + timedelta(days=3)
    async with stegvis.database.sessions() as session:
        cafe = await activities.add_activity(
            session, actor, settings, name="Språkcafé", organisation="Röda Korset", place="Nygatan 19",
            weekly=[WeeklyRule(1, time(10))], starts_on=tuesday, now=stegvis.clock.now(),
        )
        for _name, participant_id, _user in people:
            await activities.enrol(session, actor, settings, activity_id=cafe.id, participant_id=participant_id, from_date=tuesday, now=stegvis.clock.now())
        leader = await roll_call.add_leader(session, actor, settings, name="Lena Berg", activity_ids=[cafe.id], now=stegvis.clock.now())
        await session.commit()
    out(f"Activity {cafe.id}: Språkcafé (Röda Korset), Nygatan 19, tuesdays 10:00; all five enrolled. Leader: Lena Berg.")
    lena = sandbox.user(7100, "Lena", language_code="sv")
    await lena.send(f"/start {leader.invite_code}")
    await lena.next_reply()

    marks = {user.id: len(user.transcript) for _name, _pid, user in people}
    out(f"\n{tuesday:%A %Y-%m-%d} 08:00: the morning question («Kommer du?»):\n")
    await moment(stegvis, bot, from_wall(datetime.combine(tuesday, time(8)), tz))
    for (name, _pid, user), week in zip(people, WEEKS):
        await user.next_reply()
        for button in week.morning:
            await user.press(button)
            await user.next_reply()

    out(f"{tuesday:%A} 10:00: the session begins, and Lena gets the roll call; Hassan said he could not come:\n")
    await moment(stegvis, bot, from_wall(datetime.combine(tuesday, time(10)), tz))
    sheet = await lena.next_reply()
    for name, _pid, _user in people:
        if name != "Hassan Al-Khatib":
            # A button reads «⬜ Sara L.»: first name and initial only.
            index = next(i for i, label in enumerate(sheet.button_texts) if name.split()[0] in label)
            label = sheet.button_texts[index]
            await lena.press(index, message=sheet)
            await lena.wait_for(lambda: sheet.button_texts[index] != label, what=f"{name} marked present")
    await lena.press(len(sheet.button_texts) - 1, message=sheet)  # Klar: Hassan is recorded absent
    await lena.wait_for(lambda: len(sheet.button_texts) == 1, what="the roll call's summary")
    out("── Lena Berg (leader, Röda Korset) ──")
    out(lena.format_transcript())
    out(f"   roll call now reads: {sheet.text!r}\n")

    out(f"{friday:%A %Y-%m-%d} 14:00: the weekly practice check-in, one per language:\n")
    await moment(stegvis, bot, from_wall(datetime.combine(friday, time(14)), tz))
    for (name, _pid, user), week in zip(people, WEEKS):
        question = await user.next_reply()
        await user.press(week.practice, message=question)
        places = await user.next_reply()
        for place in week.places:
            ticked = places.button_texts[place]
            await user.press(place, message=places)
            await user.wait_for(lambda: places.button_texts[place] != ticked, what="the place ticked")
        if week.voice_note:
            await user.send_voice(duration=12)
            await user.next_reply()  # thanks for the voice note
            places = await user.next_reply()  # the open question again, ticks kept
        await user.press(len(places.button_texts) - 1, message=places)  # Klar
        faces = await user.next_reply()
        await user.press(week.face, message=faces)
        await user.next_reply()  # the phrase of the week, in their language
    for name, _pid, user in people:
        out(f"── {name} ──")
        out("\n".join(user.transcript[marks[user.id]:]))
        out("")

    async with stegvis.database.sessions() as session:
        month = reports.parse_month(f"{tuesday:%Y-%m}")
        report = await reports.attendance_report(session, actor, settings, month=month, now=stegvis.clock.now())
    out(f"stegvis report attendance --month {tuesday:%Y-%m} (CSV for Swedish Excel):")
    out(csv_bytes(attendance_csv_table(report), month).decode("utf-8-sig").rstrip())
    out("")


async def caseworker_morning(
    stegvis: Stegvis, bot: Bot, people: Sequence[tuple[str, int, SandboxUser]], caseworker_id: int, out: Callable[[str], None]
) -> None:
    """Friday evening Senait writes to her caseworker; Monday 07:30 Karin reads the digest and
    answers with a quick reply, which Senait reads in Tigrinya."""
    settings, tz = stegvis.settings, stegvis.settings.tz
    friday = stegvis.clock.now().astimezone(tz).date()
    monday = friday + timedelta(days=3)
    name, senait_id, senait = next(person for person in people if person[0] == "Senait Tesfay")
    mark = len(senait.transcript)
    await moment(stegvis, bot, from_wall(datetime.combine(friday, time(17)), tz))
    await senait.send("/message")
    await senait.next_reply()
    await senait.send("ሰኑይ ናብ ቤት ጽሕፈት ክመጽእ ይኽእል'ዶ?")  # "Can I come to the office on Monday?"
    await senait.next_reply()  # the receipt
    await moment(stegvis, bot, from_wall(datetime.combine(monday, time(7, 30)), tz))
    async with stegvis.database.sessions() as session:
        digest = await build_digest(session, settings, caseworker_id=caseworker_id, day=monday, now=stegvis.clock.now())
    out(f"stegvis digest show --caseworker {caseworker_id} --date {monday.isoformat()} (Karin's digest on Monday morning):")
    out(render_text(digest, settings))
    out("")
    async with stegvis.database.sessions() as session:
        await send_reply(session, Actor("cli", "demo", caseworker_id=caseworker_id), settings, participant_id=senait_id, reply="come-to-office", text=None, at_once=False, now=stegvis.clock.now())
        await session.commit()
    await moment(stegvis, bot, stegvis.clock.now())
    await senait.next_reply()
    out(f"stegvis reply --participant {senait_id} --with come-to-office: {name} reads it in Tigrinya:")
    out("\n".join(senait.transcript[mark:]))
    out("")


def demo_start(today: date) -> date:
    """The demo's Monday: the week after the one `today` is in, so every moment lies ahead."""
    return today + timedelta(days=7 - today.weekday())
