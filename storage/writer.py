"""The hot path's storage: one Telegram update's reads and writes, each in one hand-off, committed in groups.

An update needs the participant behind the chat with their conversation (one read), sometimes a
feature's read (is this appointment still booked?), and then writes one unit of work, `Changes`:
its events, the participant's changed columns, the new conversation state, and the features'
own statements (SQLAlchemy Core, e.g. an appointment's answer). `Changes` is data, so the same
unit of work is written by either store here, and by `apply_changes` inside any open session
(the outbox sender's).

* `SQLiteStore`: one thread owns one ``sqlite3`` connection. Requests queue up; the thread takes
  every request waiting, answers the reads, then writes all waiting units of work in one
  transaction (``BEGIN IMMEDIATE``, a ``SAVEPOINT`` per unit, one ``COMMIT``), and only then
  tells each caller its unit is committed. Fifty participants pressing at once cost one commit,
  not fifty, and the event loop never waits on the database. The core statements are plain SQL
  written once below; a feature's statements go through a SQLAlchemy connection on the same
  ``sqlite3`` connection, so they are checked, typed Core like everywhere else.
* `EngineStore`: the same through SQLAlchemy's async engine, one transaction per unit (PostgreSQL).

A unit whose commit fails (the database stayed locked beyond the busy timeout, the disk is full)
is tried again; if it still fails the caller gets `CommitFailed` and answers with an apology:
nothing is silently dropped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Executable, Row, create_engine, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.pool import StaticPool

from storage.database import SQLITE_BUSY_TIMEOUT_MS
from storage.repositories import dialect_insert
from storage.models import ConsentRecord, Conversation, Event, Participant, ParticipantStatus

log = logging.getLogger(__name__)

# Columns of a participant a unit of work may change; anything else is a programming error.
PARTICIPANT_COLUMNS = frozenset({"language", "status"})
COMMIT_TRIES = 3
MAX_BATCH = 256


class CommitFailed(Exception):
    """A unit of work could not be committed after its tries; the caller apologises to the person."""


@dataclass(frozen=True)
class ParticipantRow:
    """The person behind a chat, as an update needs them, with their stored conversation."""

    id: int
    name: str
    caseworker_id: int
    language: str | None
    status: ParticipantStatus
    telegram_chat_id: int | None
    conversation: dict[str, Any] | None  # the engine's state as stored (State.to_dict), or None
    # The privacy notice's version of their latest consent (None: none recorded), read with the
    # row so that asking again after a changed notice costs no read of its own.
    notice_version: str | None = None


@dataclass(frozen=True)
class NewEvent:
    type: str
    payload: dict[str, Any]
    flow: str | None = None
    step: str | None = None


@dataclass
class Changes:
    """One update's unit of work for one participant: written together, or not at all."""

    participant_id: int
    now: datetime
    events: list[NewEvent] = field(default_factory=list)
    participant: dict[str, Any] = field(default_factory=dict)
    # The conversation to store: (flow, step, data) of the new state; None leaves it as it is.
    conversation: tuple[str | None, str | None, dict[str, Any]] | None = None
    statements: list[Executable] = field(default_factory=list)

    def event(self, type: str, payload: dict[str, Any] | None = None, *, flow: str | None = None, step: str | None = None) -> None:
        self.events.append(NewEvent(type, {} if payload is None else payload, flow, step))

    def set_participant(self, **columns: Any) -> None:
        unknown = columns.keys() - PARTICIPANT_COLUMNS
        if unknown:
            raise ValueError(f"a unit of work cannot change the participant's {sorted(unknown)}")
        self.participant.update(columns)

    @property
    def empty(self) -> bool:
        return not (self.events or self.participant or self.conversation is not None or self.statements)


class Reader(Protocol):
    async def fetch(self, statement: Executable) -> Sequence[Row[Any]]:
        """The rows of a feature's SELECT (SQLAlchemy Core)."""


class SessionReader:
    """An open session as a `Reader`, so a scheduled job or a service reads what a press reads."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def fetch(self, statement: Executable) -> Sequence[Row[Any]]:
        return (await self.session.execute(statement)).all()


class Store(Reader, Protocol):
    async def participant_by_chat(self, chat_id: int) -> ParticipantRow | None: ...

    async def apply(self, changes: Changes) -> None:
        """Write the unit of work; returns once it is committed, or raises CommitFailed."""

    async def close(self) -> None: ...


# ---- the same unit of work through SQLAlchemy (PostgreSQL, and any open session) ----------------


def latest_notice_version() -> Any:
    """Each participant's latest consent's notice version, as a subquery correlated to `Participant`."""
    return (
        select(ConsentRecord.notice_version)
        .where(ConsentRecord.participant_id == Participant.id)
        .order_by(ConsentRecord.recorded_at.desc(), ConsentRecord.id.desc())
        .limit(1)
        .correlate(Participant)
        .scalar_subquery()
    )


def _participant_query() -> Any:
    return select(
        Participant.id, Participant.name, Participant.caseworker_id, Participant.language, Participant.status, Participant.telegram_chat_id, Conversation.data,
        latest_notice_version(),
    ).outerjoin(Conversation, Conversation.participant_id == Participant.id)


def _row(values: Sequence[Any]) -> ParticipantRow:
    pid, name, caseworker_id, language, status, chat_id, data, notice_version = values
    return ParticipantRow(pid, name, caseworker_id, language, ParticipantStatus(status), chat_id, data, notice_version)


async def participants_by_id(connection: AsyncConnection | AsyncSession, ids: Sequence[int]) -> dict[int, ParticipantRow]:
    """These participants with their conversations, as the hot path reads one (for the outbox sender)."""
    if not ids:
        return {}
    rows = await connection.execute(_participant_query().where(Participant.id.in_(sorted(set(ids)))))
    return {row[0]: _row(row) for row in rows}


async def apply_changes(connection: AsyncConnection | AsyncSession, changes: Changes) -> None:
    """Write `changes` in the caller's transaction (the caller commits)."""
    now = changes.now
    if changes.events:
        rows = [{"type": e.type, "participant_id": changes.participant_id, "occurred_at": now, "payload": e.payload, "flow": e.flow, "step": e.step} for e in changes.events]
        await connection.execute(insert(Event), rows)
    if changes.participant:
        await connection.execute(update(Participant).where(Participant.id == changes.participant_id).values(**changes.participant, updated_at=now))
    if changes.conversation is not None:
        flow, step, data = changes.conversation
        values = {"flow": flow, "step": step, "data": data, "updated_at": now}
        upsert = dialect_insert(connection)(Conversation)
        await connection.execute(
            upsert.values(participant_id=changes.participant_id, **values).on_conflict_do_update(index_elements=[Conversation.participant_id], set_=values)
        )
    for statement in changes.statements:
        await connection.execute(statement)


class EngineStore:
    """The hot path through SQLAlchemy's async engine: one transaction per unit of work."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def participant_by_chat(self, chat_id: int) -> ParticipantRow | None:
        async with self.engine.connect() as connection:
            found = (await connection.execute(_participant_query().where(Participant.telegram_chat_id == chat_id))).first()
        return _row(found) if found is not None else None

    async def fetch(self, statement: Executable) -> Sequence[Row[Any]]:
        async with self.engine.connect() as connection:
            return (await connection.execute(statement)).all()

    async def apply(self, changes: Changes) -> None:
        for attempt in range(1, COMMIT_TRIES + 1):
            try:
                async with self.engine.begin() as connection:
                    await apply_changes(connection, changes)
                return
            except Exception as error:  # noqa: BLE001 - any failure: try again, then tell the caller
                if attempt == COMMIT_TRIES or isinstance(error, IntegrityError):  # a broken rule stays broken
                    raise CommitFailed(f"{type(error).__name__}: {error}") from error
                log.warning("could not commit an update for participant %s (try %d): %s", changes.participant_id, attempt, error)
                await asyncio.sleep(0.05 * attempt)

    async def close(self) -> None:
        pass


# ---- SQLite: one thread, plain SQL, group commit ----------------------------------------------

# SQLAlchemy's SQLite DateTime storage format, so rows written here read back like any other.
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"
_SELECT_PARTICIPANT = (
    "SELECT p.id, p.name, p.caseworker_id, p.language, p.status, p.telegram_chat_id, c.data, "
    "(SELECT r.notice_version FROM consent_records AS r WHERE r.participant_id = p.id ORDER BY r.recorded_at DESC, r.id DESC LIMIT 1) "
    "FROM participants AS p LEFT JOIN conversations AS c ON c.participant_id = p.id WHERE p.telegram_chat_id = ?"
)
_INSERT_EVENT = "INSERT INTO events (type, participant_id, occurred_at, payload, flow, step) VALUES (?, ?, ?, ?, ?, ?)"
_UPSERT_CONVERSATION = (
    "INSERT INTO conversations (participant_id, flow, step, data, updated_at) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (participant_id) DO UPDATE SET flow = excluded.flow, step = excluded.step, data = excluded.data, updated_at = excluded.updated_at"
)
_UPDATE_PARTICIPANT = {
    columns: f"UPDATE participants SET {', '.join(f'{name} = ?' for name in columns)}, updated_at = ? WHERE id = ?"
    for columns in (("language",), ("status",), ("language", "status"))
}


def _sqlite_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to the store; attach a time zone first")
    return moment.astimezone(timezone.utc).strftime(_SQLITE_TIME)


def _value(value: Any) -> Any:
    return value.value if isinstance(value, ParticipantStatus) else value


@dataclass
class _Request:
    kind: str  # "participant", "fetch" or "apply"
    argument: Any
    future: asyncio.Future[Any]


class SQLiteStore:
    """The hot path on SQLite: see the module docstring. Start with `start()` on the event loop."""

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS, synchronous: str = "NORMAL") -> None:
        self.path = str(path)
        self.busy_timeout_ms = busy_timeout_ms
        self.synchronous = synchronous
        self._requests: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.commits = 0  # transactions committed, for the bench: units / commits is the grouping

    def start(self) -> None:
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        ready: queue.SimpleQueue[BaseException | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, args=(ready,), name="stegvis-sqlite-writer", daemon=True)
        self._thread.start()
        problem = ready.get()
        if problem is not None:
            self._thread = None
            raise problem

    async def participant_by_chat(self, chat_id: int) -> ParticipantRow | None:
        return await self._ask("participant", chat_id)

    async def fetch(self, statement: Executable) -> Sequence[Row[Any]]:
        return await self._ask("fetch", statement)

    async def apply(self, changes: Changes) -> None:
        await self._ask("apply", changes)

    async def close(self) -> None:
        thread = self._thread
        if thread is None:
            return
        self._requests.put(None)
        await asyncio.to_thread(thread.join)
        self._thread = None

    def _ask(self, kind: str, argument: Any) -> asyncio.Future[Any]:
        if self._thread is None:
            self.start()
        assert self._loop is not None
        future = self._loop.create_future()
        self._requests.put(_Request(kind, argument, future))
        return future

    # ---- in the thread --------------------------------------------------------------------

    def _serve(self, ready: queue.SimpleQueue[BaseException | None]) -> None:
        try:
            raw = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, cached_statements=64)
            for pragma in (f"PRAGMA busy_timeout={self.busy_timeout_ms}", "PRAGMA journal_mode=WAL", f"PRAGMA synchronous={self.synchronous}", "PRAGMA foreign_keys=ON"):
                raw.execute(pragma)
            # Features' statements: SQLAlchemy Core on this very connection, in our transactions.
            engine = create_engine("sqlite://", creator=lambda: raw, poolclass=StaticPool)
            core = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except BaseException as error:  # noqa: BLE001 - handed to start(), which raises it
            ready.put(error)
            return
        ready.put(None)
        try:
            while True:
                first = self._requests.get()
                if first is None:
                    return
                batch = [first]
                while len(batch) < MAX_BATCH:
                    try:
                        more = self._requests.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        self._requests.put(None)  # stop after this batch
                        break
                    batch.append(more)
                self._handle(raw, core, batch)
        finally:
            core.close()
            engine.dispose()
            raw.close()
            # Anything asked after close() was called would otherwise wait for ever.
            left = []
            while True:
                try:
                    request = self._requests.get_nowait()
                except queue.Empty:
                    break
                if request is not None:
                    left.append((request.future, None, CommitFailed("the store was closed before this was written")))
            if left:
                self._answer(left)

    def _handle(self, raw: sqlite3.Connection, core: Any, batch: list[_Request]) -> None:
        answers: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        writes = []
        for request in batch:
            if request.kind == "apply":
                writes.append(request)
                continue
            try:
                if request.kind == "participant":
                    found = raw.execute(_SELECT_PARTICIPANT, (request.argument,)).fetchone()
                    answers.append((request.future, _sqlite_row(found) if found else None, None))
                else:
                    answers.append((request.future, core.execute(request.argument).all(), None))
            except Exception as error:  # noqa: BLE001 - the caller gets it
                answers.append((request.future, None, error))
        if answers:  # reads first: they need not wait for the commit below
            self._answer(answers)
        if writes:
            self._answer(self._write(raw, core, writes))

    def _write(self, raw: sqlite3.Connection, core: Any, writes: list[_Request]) -> list[tuple[asyncio.Future[Any], Any, BaseException | None]]:
        for attempt in range(1, COMMIT_TRIES + 1):
            outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
            try:
                raw.execute("BEGIN IMMEDIATE")
                for request in writes:
                    raw.execute("SAVEPOINT unit")
                    try:
                        _write_unit(raw, core, request.argument)
                        raw.execute("RELEASE unit")
                        outcomes.append((request.future, None, None))
                    except sqlite3.OperationalError:
                        raise  # the database, not this unit: the whole group is tried again
                    except Exception as error:  # noqa: BLE001 - this unit only; the others go on
                        raw.execute("ROLLBACK TO unit")
                        raw.execute("RELEASE unit")
                        log.exception("an update for participant %s could not be written", request.argument.participant_id)
                        outcomes.append((request.future, None, CommitFailed(f"{type(error).__name__}: {error}")))
                raw.execute("COMMIT")
                self.commits += 1
                return outcomes
            except sqlite3.Error as error:
                if raw.in_transaction:
                    raw.execute("ROLLBACK")
                if attempt == COMMIT_TRIES:
                    log.error("could not commit %d updates after %d tries: %s", len(writes), attempt, error)
                    return [(request.future, None, CommitFailed(f"{type(error).__name__}: {error}")) for request in writes]
                log.warning("could not commit %d updates (try %d): %s", len(writes), attempt, error)
                time.sleep(0.05 * attempt)
        raise AssertionError("unreachable")

    def _answer(self, answers: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(_settle, answers)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass


def _sqlite_row(found: Sequence[Any]) -> ParticipantRow:
    pid, name, caseworker_id, language, status, chat_id, data, notice_version = found
    return ParticipantRow(pid, name, caseworker_id, language, ParticipantStatus(status), chat_id, json.loads(data) if data else None, notice_version)


def _write_unit(raw: sqlite3.Connection, core: Any, changes: Changes) -> None:
    now = _sqlite_time(changes.now)
    pid = changes.participant_id
    if changes.events:
        raw.executemany(_INSERT_EVENT, [(e.type, pid, now, json.dumps(e.payload), e.flow, e.step) for e in changes.events])
    if changes.participant:
        columns = tuple(name for name in ("language", "status") if name in changes.participant)
        raw.execute(_UPDATE_PARTICIPANT[columns], (*(_value(changes.participant[name]) for name in columns), now, pid))
    if changes.conversation is not None:
        flow, step, data = changes.conversation
        raw.execute(_UPSERT_CONVERSATION, (pid, flow, step, json.dumps(data), now))
    for statement in changes.statements:
        core.execute(statement)


def _settle(answers: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, value, error in answers:
        if future.done():  # its caller was cancelled meanwhile
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)
