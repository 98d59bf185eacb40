"""The flows' business operations: check a file, publish it, its history, a diff of two versions, a rollback.

Version 1 of a flow is the file shipped in ``flows/definitions/``; every publish adds a numbered
version (from 2) with the file's text as it was given. The live version is the newest. A rollback
publishes an older version's text again as a new version (noted as a rollback of it), so the
history only grows, a conversation's version number always means one text, and a rollback can
itself be rolled back.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import Actor, Conflict, InvalidInput, NotFound
from flows.check import Report, Translations, check_flow
from flows.definition import MAX_FILE_BYTES, Flow, load_flow, parse_flow
from flows.library import DEFINITIONS
from storage import flow_versions, live_content
from storage.flow_versions import SHIPPED
from storage.models import FlowVersion

KIND = "flows"  # the live-content kind running bots reload


@dataclass(frozen=True)
class Published:
    flow: str
    version: int
    published_by: str
    published_at: datetime | None  # None: the shipped file
    note: str | None
    rollback_of: int | None
    notes: tuple[str, ...] = ()  # the inspection's notes on what was published

    def as_json(self, tz: tzinfo) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "version": self.version,
            "published_by": self.published_by,
            "published_at": self.published_at.astimezone(tz).isoformat() if self.published_at else None,
            "note": self.note,
            "rollback_of": self.rollback_of,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class History:
    flow: str
    live: int
    versions: tuple[Published, ...]  # the shipped file first (version 1), then the published ones

    def as_json(self, tz: tzinfo) -> dict[str, Any]:
        return {"flow": self.flow, "live": self.live, "versions": [v.as_json(tz) for v in self.versions]}


@dataclass(frozen=True)
class Diff:
    flow: str
    old: int
    new: int
    text: str  # a unified diff; empty when the two are the same

    def as_json(self, tz: tzinfo) -> dict[str, Any]:
        return {"flow": self.flow, "from": self.old, "to": self.new, "diff": self.text}


def read_file(path: Path) -> bytes:
    """A flow file's bytes; the size limit holds before anything is read into memory whole."""
    try:
        size = path.stat().st_size
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror}", field="path") from None
    if size > MAX_FILE_BYTES:
        raise InvalidInput(f"{path}: file is larger than {MAX_FILE_BYTES // 1024} KiB", field="path")
    if not path.is_file():
        raise InvalidInput(f"{path} is not a file", field="path")
    return path.read_bytes()


def shipped_path(flow_id: str) -> Path:
    return DEFINITIONS / f"{flow_id}.yaml"


def check_file(path: Path, *, translations: Translations | None = None, known_events: Collection[str] | None = None) -> Report:
    try:
        source = read_file(path)
    except InvalidInput as error:
        from flows.definition import FlowError

        return Report(str(path), None, [FlowError(str(path), None, "", error.message.removeprefix(f"{path}: "))])
    return check_flow(source, file=str(path), expected_id=path.stem, translations=translations, known_events=known_events, shipped=shipped_flow(path.stem))


def shipped_flow(flow_id: str) -> Flow | None:
    """The flow as Stegvis ships it (what its code expects of the flow), if there is one."""
    path = shipped_path(flow_id)
    return load_flow(path) if path.exists() else None


async def publish(
    session: AsyncSession,
    actor: Actor,
    *,
    source: bytes,
    file: str,
    expected_id: str | None,
    note: str | None,
    now: datetime,
    translations: Translations | None = None,
    known_events: Collection[str] | None = None,
    rollback_of: int | None = None,
) -> Published:
    """Check the file and, only if it has no errors, store it as the flow's next (live) version."""
    shipped = shipped_flow(expected_id) if expected_id else None
    report = check_flow(source, file=file, expected_id=expected_id, translations=translations, known_events=known_events, shipped=shipped)
    if not report.ok or report.flow is None:
        count = len(report.errors)
        raise InvalidInput(
            f"{file} has {count} error{'s' if count != 1 else ''}; nothing was published and the live version stays as it was",
            field="path",
            problems=[str(error) for error in report.errors],
        )
    if note is not None and len(note) > 500:
        raise InvalidInput("must be at most 500 characters", field="note")
    text = source.decode("utf-8-sig") if isinstance(source, bytes) else source
    try:
        row = await flow_versions.add(session, flow=report.flow.id, text=text, note=note, published_by=actor.name, now=now, rollback_of=rollback_of)
    except IntegrityError:
        raise Conflict(f"someone else published {report.flow.id} at the same moment; run the command again", field="path") from None
    await live_content.bump(session, KIND, now)
    return replace(_published(row), notes=tuple(str(n) for n in report.notes))


async def history(session: AsyncSession, flow_id: str) -> History:
    rows = await flow_versions.history(session, flow_id)
    if not rows and not shipped_path(flow_id).exists():
        raise NotFound(f"no flow named {flow_id!r}: neither shipped nor published", field="flow")
    shipped = []
    if shipped_path(flow_id).exists():
        shipped.append(Published(flow_id, SHIPPED, "shipped with Stegvis", None, f"flows/definitions/{flow_id}.yaml", None))
    versions = (*shipped, *(_published(row) for row in rows))
    return History(flow_id, versions[-1].version, versions)


async def text_of(session: AsyncSession, flow_id: str, version: int, field: str = "version") -> str:
    if version == SHIPPED:
        path = shipped_path(flow_id)
        if not path.exists():
            raise NotFound(f"{flow_id} has no shipped file (version 1); its versions start at 2", field=field)
        return path.read_text(encoding="utf-8-sig")
    row = await flow_versions.get(session, flow_id, version)
    if row is None:
        raise NotFound(f"{flow_id} has no version {version} (see: stegvis flows history {flow_id})", field=field)
    return row.text


async def diff(session: AsyncSession, flow_id: str, *, old: int | None, new: int | None) -> Diff:
    """A unified diff of two stored versions; by default the live version against the one before it."""
    found = await history(session, flow_id)
    numbers = [v.version for v in found.versions]
    new = numbers[-1] if new is None else new
    if old is None:
        earlier = [n for n in numbers if n < new]
        if not earlier:
            raise InvalidInput(f"{flow_id} version {new} is its first; give --from", field="old")
        old = earlier[-1]
    before = await text_of(session, flow_id, old, "old")
    after = await text_of(session, flow_id, new, "new")
    lines = difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True), f"{flow_id} version {old}", f"{flow_id} version {new}")
    return Diff(flow_id, old, new, "".join(line if line.endswith("\n") else line + "\n" for line in lines))


async def rollback(
    session: AsyncSession, actor: Actor, flow_id: str, *, to: int | None, note: str | None, now: datetime, translations: Translations | None = None, known_events: Collection[str] | None = None
) -> Published:
    """Publish an older version's text again as the new live version (by default the one before the live one)."""
    found = await history(session, flow_id)
    if found.live == SHIPPED and to is None:
        raise InvalidInput(f"{flow_id} has never been published: the shipped file is live; nothing to roll back", field="flow")
    target = to if to is not None else max(v.version for v in found.versions if v.version < found.live)
    if target == found.live:
        raise InvalidInput(f"version {target} is already the live version of {flow_id}", field="to")
    text = await text_of(session, flow_id, target, "to")
    return await publish(
        session, actor, source=text.encode(), file=f"{flow_id} version {target}", expected_id=flow_id,
        note=note or f"rollback to version {target}", now=now, translations=translations, known_events=known_events, rollback_of=target,
    )


def _published(row: FlowVersion) -> Published:
    return Published(row.flow, row.version, row.published_by, row.published_at, row.note, row.rollback_of)


def versioned(row: FlowVersion) -> Flow:
    """The flow a stored version holds, numbered as stored (it was checked when it was published)."""
    flow = parse_flow(row.text, file=f"{row.flow} version {row.version}", expected_id=row.flow)
    return replace(flow, version=row.version)
