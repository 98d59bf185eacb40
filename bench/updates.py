"""How many updates a second Stegvis handles, next to bare aiogram Dispatchers fed the same updates.

Usage::

    PYTHONPATH=. .venv/bin/python bench/updates.py [--participants 200] [--rounds 5]
        [--concurrency 1|50] [--trials 3] [--database sqlite|URL] [--profile FILE]
        [--scenario language|checkin]

What it measures: updates per second through ``Dispatcher.feed_update`` for three dispatchers,
each with a Bot whose session answers every Bot API call in memory, so no side pays for HTTP:

- full stack: ``Stegvis.create(settings).create_dispatcher()`` with its real middlewares,
  participant lookup, flow engine, catalogs, event log and a commit per update, on a temporary
  SQLite file or the database URL given (PostgreSQL: in a schema of its own, dropped afterwards);
- plain bare: a bare Dispatcher that answers each message and each press, the framework's ceiling;
- fair bare: a bare Dispatcher that makes the Bot API calls the full stack makes for each update
  (sendMessage with the picker's keyboard for /language; answerCallbackQuery, editMessageText
  and sendMessage for the press; sendMessage for the text), so full / fair bare is the price
  of Stegvis's own work.

The updates are what active participants send, round after round: every participant's /language,
then every participant's press on the language picker, then every participant's free text.
They are fed as aiogram's polling loop feeds them with ``tasks_concurrency_limit=N``: one task per
update, at most ``--concurrency`` N in flight, the next started as soon as one finishes. With N at
most the number of participants, a participant's next update starts only after all the others'
between it and their previous one, so the two are in flight together only when the previous one
took longer than those (a stall); the bench counts such overlaps, and Stegvis keeps them in
order itself (``bot/telegram/ordering.py``), as it must for real polling. Every pass counts the Bot API calls by method and checks them
against what each side must make (5 per participant-round on the full stack and the fair bare
side, 3 on the plain one); a line starting with WARNING says when counts, order or errors are off.

The sides run ``--trials`` times each, interleaved (full, plain, fair, full, ...), so a drift of
the shared machine touches all of them; the figures are min / median / max and ratios of medians.
Target: full / fair bare >= 0.50 with 50 in flight, >= 0.30 fed one at a time.

``--scenario checkin``: the weekly practice check-in answered instead, five presses a
participant-round: «Mycket», two places ticked (each redraws the message in place), «Klar» and
a face; 13 Bot API calls (5 answerCallbackQuery, 5 editMessageText, 3 sendMessage). Before each
pass every participant is sent a new week's check-in as the outbox sender would (composer, event
handler, CheckIn row, conversation state), untimed; each round is a participant of its own, as a
participant answers one check-in a week.

Roll-call taps (``--leaders N``, default 20; 0 skips them): N leaders each lead an activity of 10
participants whose session began this morning, and press their roll call as a leader does: a
tap on every participant, then *Klar*, round after round (``--rounds``), the leaders' presses
interleaved. Each tap stores an attendance row and its event and edits the buttons
(answerCallbackQuery + editMessageReplyMarkup); *Klar* marks the rest absent and edits the
message (answerCallbackQuery + editMessageText). The fair bare side makes the same calls with the
same keyboard; the section prints taps/s for both, min / median / max, and the ratio.

``--profile FILE`` runs one more full-stack pass under cProfile, writes FILE (pstats) and prints
the 25 functions with the most cumulative time. cProfile sees the main thread only: on SQLite the
statements themselves run in aiosqlite's worker thread and show up as the event loop waiting.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import itertools
import platform
import pstats
import statistics
import sys
import sysconfig
import tempfile
import time
import traceback
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiogram import Bot, Dispatcher, F, Router  # noqa: E402
from aiogram.client.session.base import BaseSession  # noqa: E402
from aiogram.dispatcher.event.bases import UNHANDLED  # noqa: E402
from aiogram.filters import Command  # noqa: E402
from aiogram.methods import EditMessageText, SendMessage, TelegramMethod  # noqa: E402
from aiogram.types import InlineKeyboardButton as _Button  # noqa: E402
from aiogram.types import CallbackQuery, Chat, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update, User  # noqa: E402

# Stegvis's own names are used by full_stack() and seed() only: the app's internals are being
# reshaped, and the bench should then need a change in those two functions and nowhere else.
from bot.app import Stegvis  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.scheduler import settle_memory  # noqa: E402
from bot.telegram.rate_limiter import RateLimiter  # noqa: E402
from storage import repositories as repo  # noqa: E402
from storage.clock import FrozenClock  # noqa: E402
from storage.database import Database  # noqa: E402
from storage.models import ParticipantStatus  # noqa: E402
from storage.writer import apply_changes, participants_by_id  # noqa: E402

TOKEN = "42:BENCH"
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)
# Participants of their own for the warm-up, so every timed participant starts each trial alike.
WARM_UP_PARTICIPANTS = 10
TARGETS = {1: 0.30, 50: 0.50}  # full / fair bare, by updates in flight

# What the full stack sends today, copied so the fair bare side makes calls of the same size.
PICKER = "Välj språk.\nاختر اللغة.\nDooro luqadda.\nزبان را انتخاب کنید.\nቋንቋ ምረጽ።"
LANGUAGES = (("sv", "Svenska"), ("ar", "العربية"), ("so", "Soomaali"), ("fa_AF", "دری"), ("ti", "ትግርኛ"))
CHOSEN = "Svenska"
CONFIRMED = "Nu skriver jag på svenska."
IDLE_REPLY = "Jag kan inte läsa fria meddelanden. Skriv /help för hjälp, eller kontakta din handläggare."

# Bot API calls per leader-round of the roll call: a tap on each of 10 participants, then Klar.
ROLL_CALL_CALLS = Counter(answerCallbackQuery=11, editMessageReplyMarkup=10, editMessageText=1)
# Bot API calls per participant-round: /language, the press and the text together.
SAME_AS_STEGVIS = Counter(sendMessage=3, answerCallbackQuery=1, editMessageText=1)
PLAIN = Counter(sendMessage=2, answerCallbackQuery=1)


# The bench's only contact with Stegvis. -----------------------------------------------------------


@dataclass
class FullStack:
    app: Any  # handed back to seed() only
    dispatcher: Dispatcher
    dialect: str
    bot: Callable[[BaseSession], Bot]  # a bot as the app makes it (its gateway attached) over a session
    describe: Callable[[], str]  # what the app's store did, for the report


@asynccontextmanager
async def full_stack(url: str) -> AsyncIterator[FullStack]:
    """Stegvis as ``stegvis run`` builds it, on an empty, migrated database at `url`.

    The gateway's limiter is unlimited here: the bench measures the stack, not Telegram's pace.
    """
    settings = load_settings(database_url=url, telegram_bot_token=TOKEN)
    schema = database = None
    if url.startswith("postgresql"):
        # A schema of its own, dropped afterwards: the bench never touches anyone's tables.
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        admin = Database(url)
        async with admin.engine.begin() as connection:
            await connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
        await admin.dispose()
        database = Database(url, connect_args={"server_settings": {"search_path": schema}})
    stegvis = Stegvis.create(settings, clock=FrozenClock(NOW), database=database, limiter=RateLimiter(None, None))
    try:
        await stegvis.database.ensure_schema()
        yield FullStack(stegvis, stegvis.create_dispatcher(), stegvis.database.dialect, stegvis.create_bot, lambda: describe_store(stegvis))
    finally:
        if schema:
            async with stegvis.database.engine.begin() as connection:
                await connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        await stegvis.close()


def describe_store(stegvis: Stegvis) -> str:
    store = stegvis.store
    commits = getattr(store, "commits", None)
    return f"{type(store).__name__}" + (f", {commits} commits" if commits is not None else "")


async def seed(app: Stegvis, count: int) -> list[int]:
    """`count` active participants who write in Swedish, each in a private chat; their chat ids."""
    async with app.database.sessions() as session:
        caseworker = await repo.add_caseworker(session, "Bench", now=NOW)
        chat_ids = []
        for number in range(count):
            participant = await repo.add_participant(session, f"Deltagare {number}", caseworker.id, "sv", now=NOW)
            participant.telegram_chat_id = 100_000 + number
            participant.status = ParticipantStatus.ACTIVE
            chat_ids.append(participant.telegram_chat_id)
        await session.commit()
    return chat_ids


async def open_checkins(app: Stegvis, chat_ids: list[int], week: int) -> None:
    """Each of these participants gets the check-in of the `week`-th week after NOW's, as the
    outbox sender delivers it: the composer's sprint, its events' handlers (the CheckIn row)
    and the conversation state, in one transaction. A newer week closes the older ones."""
    from datetime import timedelta

    from flows.engine import State
    from storage.models import OutboxMessage, Participant
    from bot.features.checkins.messages import SUBJECT, WEEKLY
    from bot.outbox.composers import Addressee
    from sqlalchemy import select

    monday = NOW.date() - timedelta(days=NOW.weekday()) + timedelta(weeks=week)
    composer = app.features.composers[WEEKLY]
    async with app.database.sessions() as session:
        ids = list(await session.scalars(select(Participant.id).where(Participant.telegram_chat_id.in_(chat_ids))))
        people = await participants_by_id(session, ids)
        for pid, person in people.items():
            row = OutboxMessage(id=0, recipient_id=pid, subject_kind=SUBJECT, subject_id=pid, subject_version=monday.toordinal(), composer=WEEKLY)
            sprint = composer.compose(Addressee(person.telegram_chat_id, "sv", True, False, person), None, row)
            await apply_changes(session, app.conversations.changes_for(person, sprint, State.from_dict(person.conversation), NOW))
        await session.commit()

ROLL_CALL_GROUP = 10  # participants in each leader's activity (Arbetsplatskörkortet's groups are 8-10)


async def seed_roll_calls(app: Stegvis, chat_ids: list[int], leaders: int) -> list[tuple[int, int, list[int]]]:
    """`leaders` leaders, each of one weekly activity whose session began an hour before NOW, with
    ROLL_CALL_GROUP of these participants enrolled; (leader's chat, activity id, participant ids) each."""
    from datetime import time as clock_time

    from sqlalchemy import select

    from bot.features.activities import services as activities
    from bot.features.activities.schedule import WeeklyRule
    from bot.features.roll_call import services as roll_call
    from bot.services import SYSTEM
    from storage.models import Leader, Participant

    tz = app.settings.tz
    began = (NOW.astimezone(tz) - timedelta(hours=1))
    seeded = []
    async with app.database.sessions() as session:
        ids = dict((await session.execute(select(Participant.telegram_chat_id, Participant.id).where(Participant.telegram_chat_id.in_(chat_ids)))).all())
        for number in range(leaders):
            group = [ids[chat] for chat in chat_ids[number * ROLL_CALL_GROUP : (number + 1) * ROLL_CALL_GROUP]]
            activity = await activities.add_activity(
                session, SYSTEM, app.settings, name=f"Grupp {number}", organisation="Bench", place="Nygatan 19",
                weekly=[WeeklyRule(began.weekday(), clock_time(began.hour, began.minute))], starts_on=began.date() - timedelta(days=28), now=NOW,
            )
            for pid in group:
                await activities.enrol(session, SYSTEM, app.settings, activity_id=activity.id, participant_id=pid, from_date=began.date() - timedelta(days=28), now=NOW)
            leader = await roll_call.add_leader(session, SYSTEM, app.settings, name=f"Ledare {number}", activity_ids=[activity.id], now=NOW)
            (await session.get(Leader, leader.id)).telegram_chat_id = 900_000 + number  # as if linked
            seeded.append((900_000 + number, activity.id, group))
        await session.commit()
    return seeded


# --------------------------------------------------------------------------------------------------


class InMemorySession(BaseSession):
    """Answers every Bot API call at once, as Telegram would, and counts them by method."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()
        self.message_ids = itertools.count(1000)

    async def make_request(self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None) -> Any:
        self.calls[method.__api_method__] += 1
        if isinstance(method, (SendMessage, EditMessageText)):
            chat_id = method.chat_id or 1
            return Message(message_id=next(self.message_ids), date=NOW, chat=Chat(id=chat_id, type="private"), text=method.text)
        return True

    async def stream_content(self, *args: Any, **kwargs: Any):  # pragma: no cover - never used here
        raise NotImplementedError

    async def close(self) -> None:
        pass


_update_ids = itertools.count(1)


def _person(chat_id: int) -> tuple[User, Chat]:
    return User(id=chat_id, is_bot=False, first_name="P", language_code="sv"), Chat(id=chat_id, type="private")


def language_command(chat_id: int) -> Update:
    user, chat = _person(chat_id)
    command = Message(message_id=1, date=NOW, chat=chat, from_user=user, text="/language",
                      entities=[{"type": "bot_command", "offset": 0, "length": 9}])
    return Update(update_id=next(_update_ids), message=command)


def picker_press(chat_id: int) -> Update:
    user, chat = _person(chat_id)
    picker = Message(message_id=2, date=NOW, chat=chat, text=PICKER.split("\n")[0])
    press = CallbackQuery(id=str(next(_update_ids)), from_user=user, chat_instance="1", message=picker, data="s:language:pick:sv")
    return Update(update_id=next(_update_ids), callback_query=press)


def free_text(chat_id: int) -> Update:
    user, chat = _person(chat_id)
    return Update(update_id=next(_update_ids), message=Message(message_id=3, date=NOW, chat=chat, from_user=user, text="hej"))


CHECKIN_PRESSES = ("practice:a_lot", "places:sfi", "places:home", "places:done", "confidence:f4")
CHECKIN_CALLS = Counter(answerCallbackQuery=5, editMessageText=5, sendMessage=3)
CHECKIN_PLAIN = Counter(answerCallbackQuery=5)
CHECKIN_NEXT = {"practice": ("Var övade du? Välj en eller flera, tryck sedan på Klar.", ("sfi", "language_cafe", "work", "home", "friends", "done"), False),
                "places": ("Hur säker känner du dig när du pratar svenska?", ("f1", "f2", "f3", "f4", "f5"), True),
                "confidence": ("Tack för ditt svar! Veckans fras:\n«Hur mår du?»\nSå frågar man hur någon har det.", (), False)}


def checkin_press(chat_id: int, press: str, ref: str) -> Update:
    user, chat = _person(chat_id)
    question = Message(message_id=4, date=NOW, chat=chat, text="Har du övat svenska den här veckan?")
    callback = CallbackQuery(id=str(next(_update_ids)), from_user=user, chat_instance="1", message=question, data=f"s:checkin:{press}:{ref}")
    return Update(update_id=next(_update_ids), callback_query=callback)


def make_checkin_updates(chat_ids: list[int], ref: str) -> list[Update]:
    """Each participant answers their check-in; a press for everyone before the next press."""
    return [checkin_press(chat_id, press, ref) for press in CHECKIN_PRESSES for chat_id in chat_ids]

def roll_call_press(chat_id: int, data: str) -> Update:
    user, chat = _person(chat_id)
    sheet = Message(message_id=4, date=NOW, chat=chat, text="Upprop")
    press = CallbackQuery(id=str(next(_update_ids)), from_user=user, chat_instance="1", message=sheet, data=data)
    return Update(update_id=next(_update_ids), callback_query=press)


def make_taps(seeded: list[tuple[int, int, list[int]]], rounds: int) -> list[Update]:
    """Every leader taps each participant, then Klar, round after round; the leaders' presses interleaved."""
    from bot.features.roll_call.sheet import DONE, data

    day = NOW.date()
    updates: list[Update] = []
    for _ in range(rounds):
        for index in range(ROLL_CALL_GROUP + 1):
            for chat_id, activity_id, group in seeded:
                what = group[index] if index < len(group) else DONE
                updates.append(roll_call_press(chat_id, data(activity_id, day, what)))
    return updates


def make_updates(chat_ids: list[int], rounds: int) -> list[Update]:
    updates: list[Update] = []
    for _ in range(rounds):
        # One kind for everyone before the next kind: a participant's next update comes
        # len(chat_ids) places later, so it is rarely in flight beside their previous one.
        for kind in (language_command, picker_press, free_text):
            updates += [kind(chat_id) for chat_id in chat_ids]
    return updates


def chat_of(update: Update) -> int:
    return update.message.chat.id if update.message else update.callback_query.from_user.id


@dataclass
class Pass:
    seconds: float
    calls: Counter[str]
    unhandled: int = 0
    overlaps: int = 0
    errors: list[BaseException] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # each update's, from its start to its end


async def feed(dispatcher: Dispatcher, bot: Bot, updates: list[Update], in_flight: int, profiler: cProfile.Profile | None = None) -> Pass:
    """Feed `updates` as the polling loop does: a task each, at most `in_flight` running at once."""
    session: InMemorySession = bot.session  # type: ignore[assignment]
    session.calls.clear()
    result = Pass(0.0, session.calls)
    slots = asyncio.Semaphore(in_flight)
    busy: Counter[int] = Counter()
    tasks: set[asyncio.Task[None]] = set()

    async def one(update: Update) -> None:
        chat = chat_of(update)
        result.overlaps += busy[chat] > 0
        busy[chat] += 1
        began = time.perf_counter()
        try:
            if await dispatcher.feed_update(bot, update) is UNHANDLED:
                result.unhandled += 1
        except Exception as error:  # noqa: BLE001 - counted and reported; the pass goes on
            result.errors.append(error)
        finally:
            result.latencies.append(time.perf_counter() - began)
            busy[chat] -= 1
            slots.release()

    gc.collect()  # the previous pass's garbage is not this pass's cost
    if profiler:
        profiler.enable()
    started = time.perf_counter()
    for update in updates:
        await slots.acquire()
        task = asyncio.create_task(one(update))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks)
    result.seconds = time.perf_counter() - started
    if profiler:
        profiler.disable()
    result.calls = Counter(session.calls)
    return result


def fair_bare_taps_dispatcher() -> Dispatcher:
    """The roll call's Bot API calls, with a keyboard of the same size, and nothing else."""
    router = Router()

    @router.callback_query()
    async def on_press(callback: CallbackQuery) -> None:
        await callback.answer()
        assert isinstance(callback.message, Message)
        if (callback.data or "").endswith(":d"):
            await callback.message.edit_text("Upprop: Grupp · 09:00 · söndag 22 november\nHär: 10 · Inte här: 0", reply_markup=InlineKeyboardMarkup(inline_keyboard=[[_Button(text="Ändra", callback_data="rc:1:9822:o")]]))
            return
        buttons = [_Button(text=f"✅ Deltagare {n} D.", callback_data=f"rc:1:9822:{n}") for n in range(ROLL_CALL_GROUP)]
        rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)] + [[_Button(text="Klar", callback_data="rc:1:9822:d")]]
        await callback.message.edit_reply_markup(reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    return dispatcher


def plain_bare_dispatcher() -> Dispatcher:
    router = Router()

    @router.message()
    async def on_message(message: Message) -> None:
        await message.answer("ok")

    @router.callback_query()
    async def on_press(callback: CallbackQuery) -> None:
        await callback.answer()

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    return dispatcher


def fair_checkin_dispatcher() -> Dispatcher:
    """The Bot API calls the full stack makes for a check-in's presses, made bare."""
    router = Router()

    def keyboard(step: str, options: tuple[str, ...], row: bool, ref: str) -> InlineKeyboardMarkup | None:
        buttons = [InlineKeyboardButton(text=option, callback_data=f"s:checkin:{step}:{option}:{ref}") for option in options]
        return InlineKeyboardMarkup(inline_keyboard=[buttons] if row else [[b] for b in buttons]) if buttons else None

    @router.callback_query()
    async def on_press(callback: CallbackQuery, bot: Bot) -> None:
        await callback.answer()
        assert isinstance(callback.message, Message) and callback.data
        _s, _flow, step, option, ref = callback.data.split(":")
        if step == "places" and option != "done":  # a tick: the same question, redrawn
            text, options, row = CHECKIN_NEXT["practice"]
            await callback.message.edit_text(text, reply_markup=keyboard("places", options, row, ref))
            return
        await callback.message.edit_text(f"{callback.message.text}\n\n✅ {option}", reply_markup=None)
        text, options, row = CHECKIN_NEXT[step]
        following = {"practice": "places", "places": "confidence", "confidence": "phrase"}[step]
        await bot.send_message(callback.message.chat.id, text, reply_markup=keyboard(following, options, row, ref))

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    return dispatcher


def fair_bare_dispatcher() -> Dispatcher:
    router = Router()

    @router.message(Command("language"))
    async def on_language(message: Message) -> None:
        # Built for each send, as Stegvis builds it from the flow's step.
        rows = [[InlineKeyboardButton(text=label, callback_data=f"s:language:pick:{code}")] for code, label in LANGUAGES]
        await message.answer(PICKER, reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))

    @router.message(F.text)
    async def on_text(message: Message) -> None:
        await message.answer(IDLE_REPLY)

    @router.callback_query()
    async def on_press(callback: CallbackQuery, bot: Bot) -> None:
        await callback.answer()
        assert isinstance(callback.message, Message)
        await callback.message.edit_text(f"{callback.message.text}\n\n✅ {CHOSEN}", reply_markup=None)
        await bot.send_message(callback.message.chat.id, CONFIRMED)

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    return dispatcher


@dataclass
class Side:
    name: str
    dispatcher: Dispatcher
    per_round: Counter[str]  # Bot API calls per participant-round
    bot: Bot = field(init=False)
    passes: list[Pass] = field(default_factory=list)

    make_bot: Callable[[BaseSession], Bot] | None = None
    # Run before each pass, untimed (the check-ins sent): its number, 0 for the warm-up.
    prepare: Callable[[int], Any] | None = None

    def __post_init__(self) -> None:
        self.bot = (self.make_bot or (lambda session: Bot(TOKEN, session=session)))(InMemorySession())

    def rates(self, count: int) -> list[float]:
        return [count / p.seconds for p in self.passes]


def expected(per_round: Counter[str], participant_rounds: int) -> Counter[str]:
    return Counter({method: n * participant_rounds for method, n in per_round.items()})


def calls_text(calls: Counter[str]) -> str:
    return f"{sum(calls.values()):5d} (" + ", ".join(f"{method} {n}" for method, n in sorted(calls.items())) + ")"


def problems(side: Side, label: str, done: Pass, participant_rounds: int) -> list[str]:
    """What is off about one pass, one line each; nothing when it did what it should."""
    lines = []
    want = expected(side.per_round, participant_rounds)
    if done.calls != want:
        lines.append(f"WARNING: {side.name}, {label}: {calls_text(done.calls)} Bot API calls, expected {calls_text(want)}")
    if done.overlaps:
        lines.append(f"WARNING: {side.name}, {label}: {done.overlaps} updates started while the same participant had one in flight (a stall; the counts say whether the order held)")
    if done.unhandled:
        lines.append(f"WARNING: {side.name}, {label}: {done.unhandled} updates unhandled")
    if done.errors:
        kinds = Counter(describe(error) for error in done.errors)
        lines.append(f"WARNING: {side.name}, {label}: {len(done.errors)} updates raised: "
                     + "; ".join(f"{n} x {kind}" for kind, n in kinds.most_common()))
    return lines


def describe(error: BaseException) -> str:
    """One line: the error, and the deepest place in this repository it came through."""
    ours = [frame for frame in traceback.extract_tb(error.__traceback__) if Path(frame.filename).is_relative_to(REPO)]
    where = f" (via {Path(ours[-1].filename).relative_to(REPO)}:{ours[-1].lineno} {ours[-1].name})" if ours else ""
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}{where}"


def spread(values: Iterable[float], fmt: str) -> str:
    values = sorted(values)
    return "  ".join(format(v, fmt) for v in (values[0], statistics.median(values), values[-1]))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


REPO = Path(__file__).resolve().parent.parent
STDLIB = Path(sysconfig.get_paths()["stdlib"])
PACKAGE_LAYERS = {"pydantic_core": "pydantic", "pydantic_settings": "pydantic", "magic_filter": "aiogram"}


def layer(key: tuple[str, int, str]) -> str | None:
    """The layer a profiled function belongs to; None for a builtin that any layer may call."""
    filename, _, name = key
    if filename == "~":
        for needle, found in (("pydantic_core", "pydantic"), ("greenlet", "greenlet (switching)"),
                              ("epoll", "event loop waiting (epoll)"), ("sqlite3", "sqlite3 (main thread)")):
            if needle in name:
                return found
        return None
    path = Path(filename)
    if "site-packages" in path.parts:
        package = path.parts[path.parts.index("site-packages") + 1].split(".")[0]
        return PACKAGE_LAYERS.get(package, package)
    if path.is_relative_to(REPO):
        top = path.relative_to(REPO).parts[0]
        return "bench harness" if top == "bench" else f"stegvis {top}/"
    if path.is_relative_to(STDLIB):
        module = path.relative_to(STDLIB).parts[0].removesuffix(".py")
        return "asyncio" if module in ("asyncio", "selectors") else f"stdlib {module}"
    return "other"


def internal_time_by_layer(stats: pstats.Stats) -> Counter[str]:
    """Seconds spent in each layer's own code; a generic builtin's time goes to the layer that called it.

    Internal time holds up where cumulative time does not: SQLAlchemy's greenlet switches leave
    frames open that cProfile never sees return, so every cumulative figure above a query is inflated.
    """
    spent: Counter[str] = Counter()
    for key, (_, _, internal, _, callers) in stats.stats.items():  # type: ignore[attr-defined]
        own = layer(key)
        if own is not None or not callers:
            spent[own or "builtins"] += internal
            continue
        for caller, figures in callers.items():
            spent[layer(caller) or "builtins"] += figures[2]
    return spent


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=1, help="updates in flight at once (aiogram's polling runs each as a task)")
    parser.add_argument("--trials", type=int, default=3, help="timed passes of each side, interleaved")
    parser.add_argument("--database", default="sqlite", help="sqlite (a temporary file) or a database URL")
    parser.add_argument("--leaders", type=int, default=20, help="leaders tapping their roll call in a section of its own (0: none)")
    parser.add_argument("--profile", metavar="FILE", help="one more full-stack pass under cProfile: write FILE (pstats), print the top 25")
    parser.add_argument("--scenario", choices=("language", "checkin"), default="language",
                        help="language: /language, the picker's press, a text; checkin: the weekly check-in's five presses")
    args = parser.parse_args()
    checkin = args.scenario == "checkin"
    if min(args.participants, args.rounds, args.concurrency, args.trials) < 1:
        parser.error("--participants, --rounds, --concurrency and --trials must be at least 1")

    participant_rounds = args.participants * args.rounds
    kinds = len(CHECKIN_PRESSES) if checkin else 3
    count = participant_rounds * kinds
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in ("aiogram", "SQLAlchemy"))
    what = "check-in presses" if checkin else "kinds"
    print(f"updates a trial:   {count} ({args.participants} participants x {args.rounds} rounds x {kinds} {what}), "
          f"{args.concurrency} in flight, {args.trials} trials interleaved")
    print(f"software:          Python {platform.python_version()}, {versions}")
    warnings: list[str] = []
    if args.concurrency > args.participants:
        warnings.append(f"WARNING: {args.concurrency} in flight but only {args.participants} participants: "
                        "one participant's updates run together, out of order")
        print(warnings[-1])

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.sqlite3" if args.database == "sqlite" else args.database
        async with full_stack(url) as stack:
            print(f"database:          {stack.dialect} ({'temporary file' if args.database == 'sqlite' else 'given URL'})", flush=True)
            if checkin:
                # A participant answers one check-in a week: each round is a participant of its own.
                chat_ids = await seed(stack.app, WARM_UP_PARTICIPANTS + participant_rounds)
                warm_ids, timed_ids = chat_ids[:WARM_UP_PARTICIPANTS], chat_ids[WARM_UP_PARTICIPANTS:]
                def week_ref(number: int) -> str:
                    from datetime import timedelta

                    from bot.features.checkins.weeks import reference

                    return reference(NOW.date() - timedelta(days=NOW.weekday()) + timedelta(weeks=number))

                refs = {n: week_ref(n) for n in range(args.trials + 2)}
                warm_up = make_checkin_updates(warm_ids, refs[0])
                passes = {n: make_checkin_updates(timed_ids, refs[n]) for n in range(1, args.trials + 2)}
                updates = passes[1]
                full_calls, plain_calls, fair = CHECKIN_CALLS, CHECKIN_PLAIN, fair_checkin_dispatcher()

                async def prepare(number: int) -> None:
                    await open_checkins(stack.app, warm_ids if number == 0 else timed_ids, number)
            else:
                chat_ids = await seed(stack.app, WARM_UP_PARTICIPANTS + args.participants)
                warm_up = make_updates(chat_ids[:WARM_UP_PARTICIPANTS], 1)
                updates = make_updates(chat_ids[WARM_UP_PARTICIPANTS:], args.rounds)
                passes = {}
                full_calls, plain_calls, fair = SAME_AS_STEGVIS, PLAIN, fair_bare_dispatcher()
                prepare = None
            sides = [Side("full stack", stack.dispatcher, full_calls, make_bot=stack.bot, prepare=prepare),
                     Side("plain bare", plain_bare_dispatcher(), plain_calls),
                     Side("fair bare", fair, full_calls)]

            for side in sides:  # caches, connections, lazily built routers; one at a time
                if side.prepare:
                    await side.prepare(0)
                warnings += problems(side, "warm-up", await feed(side.dispatcher, side.bot, warm_up, 1), WARM_UP_PARTICIPANTS)
            settle_memory()  # as `stegvis run` does once it has started
            for trial in range(1, args.trials + 1):
                figures = []
                for side in sides:
                    if side.prepare:
                        await side.prepare(trial)
                    done = await feed(side.dispatcher, side.bot, passes.get(trial, updates), args.concurrency)
                    side.passes.append(done)
                    warnings += problems(side, f"trial {trial}", done, participant_rounds)
                    figures.append(f"{side.name} {count / done.seconds:6.0f}")
                print(f"trial {trial}:           " + "   ".join(figures) + "  updates/s", flush=True)
            print(f"store:             {stack.describe()}")

            taps_sides: list[Side] = []
            leaders = min(args.leaders, args.participants // ROLL_CALL_GROUP)
            if leaders:
                seeded = await seed_roll_calls(stack.app, chat_ids[WARM_UP_PARTICIPANTS:], leaders)
                taps = make_taps(seeded, args.rounds)
                taps_sides = [Side("full stack", stack.dispatcher, ROLL_CALL_CALLS, make_bot=stack.bot), Side("fair bare", fair_bare_taps_dispatcher(), ROLL_CALL_CALLS)]
                for side in taps_sides:
                    warnings += problems(side, "roll-call warm-up", await feed(side.dispatcher, side.bot, make_taps(seeded[:1], 1), 1), 1)
                print(f"roll-call taps:    {len(taps)} a trial ({leaders} leaders x {args.rounds} rounds x {ROLL_CALL_GROUP} taps and Klar), {args.concurrency} in flight")
                for trial in range(1, args.trials + 1):
                    figures = []
                    for side in taps_sides:
                        done = await feed(side.dispatcher, side.bot, taps, args.concurrency)
                        done.overlaps = 0  # a leader's taps queue behind each other (ordering.py) when more are in flight than leaders
                        side.passes.append(done)
                        warnings += problems(side, f"roll-call trial {trial}", done, leaders * args.rounds)
                        figures.append(f"{side.name} {len(taps) / done.seconds:6.0f}")
                    print(f"taps trial {trial}:      " + "   ".join(figures) + "  taps/s", flush=True)

            profiled = None
            if args.profile:
                profiler = cProfile.Profile()
                if sides[0].prepare:
                    await sides[0].prepare(args.trials + 1)
                profiled = await feed(stack.dispatcher, sides[0].bot, passes.get(args.trials + 1, updates), args.concurrency, profiler)
                warnings += problems(sides[0], "profiled pass", profiled, participant_rounds)
                profiler.dump_stats(args.profile)

    print()
    print("Bot API calls a trial (the warm-up's apart):")
    for side in sides:
        want = expected(side.per_round, participant_rounds)
        made = {calls_text(p.calls) for p in side.passes}
        print(f"  {side.name:<11} {' / '.join(sorted(made))}  expected {sum(want.values())}  "
              f"warm-up {sum(expected(side.per_round, WARM_UP_PARTICIPANTS).values())}")
    print()
    print(f"{'updates/s':<19} {'min':>6}  {'median':>6}  {'max':>6}")
    for side in sides:
        print(f"  {side.name:<17} {spread(side.rates(count), '6.0f')}")
    print()
    print(f"{'update latency ms':<19} {'p50':>6}  {'p99':>6}  {'max':>6}   (all trials)")
    for side in sides:
        latencies = [ms * 1000 for p in side.passes for ms in p.latencies]
        print(f"  {side.name:<17} " + "  ".join(f"{percentile(latencies, q):6.1f}" for q in (0.50, 0.99, 1.0)))
    full, plain, fair = (statistics.median(side.rates(count)) for side in sides)
    print()
    print(f"{'ratio':<19} {'of medians':>10}   per trial: min  median  max")
    for name, other, median in (("full / plain bare", sides[1], plain), ("full / fair bare", sides[2], fair)):
        per_trial = [f / o for f, o in zip(sides[0].rates(count), other.rates(count))]
        print(f"  {name:<17} {full / median:10.2f}              {spread(per_trial, '4.2f')}")
    target = TARGETS.get(args.concurrency)
    if target is None:
        print(f"target:            full / fair bare >= 0.50 with 50 in flight, >= 0.30 one at a time (none set for {args.concurrency})")
    else:
        verdict = "met" if full / fair >= target else "NOT met"
        print(f"target:            full / fair bare >= {target:.2f} with {args.concurrency} in flight: {verdict} ({full / fair:.2f})")

    if taps_sides:
        tap_count = len(taps)
        print()
        print(f"{'roll-call taps/s':<19} {'min':>6}  {'median':>6}  {'max':>6}")
        for side in taps_sides:
            print(f"  {side.name:<17} {spread(side.rates(tap_count), '6.0f')}")
        print(f"{'tap latency ms':<19} {'p50':>6}  {'p99':>6}  {'max':>6}   (all trials)")
        for side in taps_sides:
            latencies = [ms * 1000 for p in side.passes for ms in p.latencies]
            print(f"  {side.name:<17} " + "  ".join(f"{percentile(latencies, q):6.1f}" for q in (0.50, 0.99, 1.0)))
        full_taps, fair_taps = (statistics.median(side.rates(tap_count)) for side in taps_sides)
        print(f"  full / fair bare  {full_taps / fair_taps:10.2f}   (a tap: the leader, then 2 reads at once, then one unit of work)")

    if profiled is not None:
        print()
        print(f"profiled pass:     {count / profiled.seconds:.0f} updates/s under cProfile (not comparable); stats in {args.profile}")
        print("                   cProfile sees the main thread only: SQLite's own work runs in aiosqlite's thread.")
        print("                   Cumulative times above a query are inflated (greenlet switches); internal times hold.")
        stats = pstats.Stats(args.profile, stream=sys.stdout)
        spent = internal_time_by_layer(stats)
        total = sum(spent.values())
        print()
        print(f"internal time by layer, main thread ({total:.2f} s, {total / count * 1000:.2f} ms an update):")
        for name, seconds in spent.most_common():
            if seconds / total >= 0.005:
                print(f"  {name:<30} {seconds:6.2f} s  {seconds / total:4.0%}")
        stats.sort_stats("cumulative").print_stats(25)
        print("the same pass, the 25 functions with the most internal time:")
        stats.sort_stats("tottime").print_stats(25)

    if warnings:
        print()
        print("\n".join(warnings))


if __name__ == "__main__":
    asyncio.run(main())
