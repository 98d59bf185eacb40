"""``stegvis flows check | publish | history | diff | rollback | diagram | preview``: thin adapters over the services.

``check``, ``diagram`` and ``preview`` read files only (no database); the others store or read
the published versions. Publishing and rolling back record the OS user who ran the command.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli.commands import Command, Commands, Context, refuse

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.features.flow_admin.services import Diff, History, Published

OPTIONS = {"path": None, "flow": None, "note": "--note", "old": "--from", "new": "--to", "to": "--to", "version": None}


def version_argument(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a version number (1, 2, 3 …; see stegvis flows history FLOW)")
    return int(text)


def add_commands(commands: Commands) -> None:
    group = commands.group("flows", help="check, publish and roll back what the bot says and asks")
    check = group.command("check", help="check flow files: errors that stop a flow, then notes per step", action=_no_database, human=str)
    check.add_argument("path", nargs="?", metavar="PATH", help="a flow file or a folder of them (default: the shipped flows)")
    check.set_defaults(command=None, handler=check_command)
    publish = group.command("publish", help="check a flow file and make it the live version in every running bot", action=publish_it, human=published_text, options=OPTIONS)
    publish.add_argument("path", metavar="PATH", help="the flow file (its name is the flow's id: onboarding.yaml)")
    publish.add_argument("--note", help="why (kept in the history)")
    history = group.command("history", help="every version of a flow: who published it, when, and why", action=history_of, human=history_text, options=OPTIONS)
    history.add_argument("flow", metavar="FLOW")
    diff = group.command("diff", help="what changed between two versions (default: the live one and the one before)", action=diff_of, human=diff_text, options=OPTIONS)
    diff.add_argument("flow", metavar="FLOW")
    diff.add_argument("--from", dest="old", type=version_argument, metavar="V")
    diff.add_argument("--to", dest="new", type=version_argument, metavar="V")
    rollback = group.command("rollback", help="publish an older version again as the new live version", action=roll_back, human=published_text, options=OPTIONS)
    rollback.add_argument("flow", metavar="FLOW")
    rollback.add_argument("--to", type=version_argument, metavar="VERSION", help="the version to go back to (default: the one before the live one)")
    rollback.add_argument("--note", help="why (kept in the history)")
    diagram = group.command("diagram", help="the flow's mermaid diagram, made from its file", action=_no_database, human=str)
    diagram.add_argument("flow", metavar="FLOW", help="a shipped flow's id, or a flow file")
    diagram.add_argument("--write", action="store_true", help="write it into docs/flows/FLOW.md between its markers")
    diagram.set_defaults(command=None, handler=diagram_command)
    preview = group.command("preview", help="every way through the flow as a transcript in one language, with example values", action=_no_database, human=str)
    preview.add_argument("flow", metavar="FLOW", help="a shipped flow's id, or a flow file")
    preview.add_argument("--language", default="sv", help="sv, ar, so, fa_AF (prs), ti …")
    preview.add_argument("--show-isolates", action="store_true", help="show the invisible right-to-left isolation marks as [FSI] … [PDI]")
    preview.set_defaults(command=None, handler=preview_command)


async def _no_database(context: Context, args: argparse.Namespace) -> Any:  # pragma: no cover - replaced by handler
    raise AssertionError("this command runs without a database")


def known_events(settings: Settings) -> frozenset[str]:
    """The event types a flow may record: what the features handle and what the shipped flows record."""
    from bot.app import Stegvis
    from flows.check import known_event_types
    from flows.library import load_flows

    from storage.database import Database

    # Only the features' registry is wanted: an in-memory database, so no file is made or opened.
    stegvis = Stegvis.create(settings, database=Database("sqlite+aiosqlite:///:memory:"))
    return known_event_types(stegvis.features.event_handlers, load_flows())


def _flow_path(flow: str) -> Path:
    from bot.features.flow_admin.services import shipped_path

    path = Path(flow)
    return path if path.suffix in (".yaml", ".yml") or path.exists() else shipped_path(flow)


def check_command(settings: Settings, args: argparse.Namespace) -> int:
    from bot.features.flow_admin.services import check_file
    from flows.check import Translations
    from flows.definition import FlowError
    from flows.library import DEFINITIONS

    target = Path(args.path) if args.path else DEFINITIONS
    if not target.exists():
        return refuse(f"PATH: no such file or folder: {target}", [], args.json)
    paths = sorted(target.glob("*.yaml")) if target.is_dir() else [target]
    if not paths:
        return refuse(f"PATH: no .yaml flow files in {target}", [], args.json)
    try:
        events = known_events(settings)
    except FlowError as error:  # a shipped flow the running bot itself would refuse (the privacy notice's version)
        return refuse(str(error), [], args.json)
    translations = Translations()
    reports = [check_file(path, translations=translations, known_events=events) for path in paths]
    failed = [r for r in reports if not r.ok]
    if args.json:
        print(json.dumps({"ok": not failed, "flows": [r.as_json() for r in reports]}, ensure_ascii=False))
    else:
        for report in reports:
            print(f"{report.file}: {'OK' if report.ok else 'ERRORS: it cannot go live'}" + (f", {len(report.notes)} notes" if report.notes else ""))
            for line in report.lines():
                print(f"  {line}")
    return 2 if failed else 0


async def publish_it(context: Context, args: argparse.Namespace) -> Published:
    from bot.features.flow_admin import services
    from bot.services import InvalidInput
    from flows.definition import FlowError

    path = Path(args.path)
    source = services.read_file(path)
    try:
        events = known_events(context.settings)
    except FlowError as error:
        raise InvalidInput(str(error), field="PATH") from None
    return await services.publish(
        context.session, context.actor, source=source, file=str(path), expected_id=path.stem, note=args.note, now=context.now, known_events=events
    )


def published_text(published: Published, settings: Settings) -> str:
    again = f" (the text of version {published.rollback_of} again)" if published.rollback_of else ""
    lines = [f"{published.flow} version {published.version} is live{again}; running bots take it within 5 seconds, conversations under way finish on their version."]
    lines += [f"  note: {note}" for note in published.notes]
    return "\n".join(lines)


async def history_of(context: Context, args: argparse.Namespace) -> History:
    from bot.features.flow_admin import services

    return await services.history(context.session, args.flow)


def history_text(history: History, settings: Settings) -> str:
    lines = []
    for v in history.versions:
        when = v.published_at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M") if v.published_at else "shipped"
        live = "  (live)" if v.version == history.live else ""
        again = f" [rollback to {v.rollback_of}]" if v.rollback_of else ""
        lines.append(f"{v.version:>4}  {when:<16}  {v.published_by:<20}  {v.note or ''}{again}{live}")
    return "\n".join(lines)


async def diff_of(context: Context, args: argparse.Namespace) -> Diff:
    from bot.features.flow_admin import services

    return await services.diff(context.session, args.flow, old=args.old, new=args.new)


def diff_text(diff: Diff, settings: Settings) -> str:
    return diff.text.rstrip("\n") or f"{diff.flow}: versions {diff.old} and {diff.new} are the same"


async def roll_back(context: Context, args: argparse.Namespace) -> Published:
    from bot.features.flow_admin import services

    return await services.rollback(context.session, context.actor, args.flow, to=args.to, note=args.note, now=context.now, known_events=known_events(context.settings))


def _load(flow: str, as_json: bool) -> tuple[Any, int]:
    from flows.definition import FlowError, load_flow

    path = _flow_path(flow)
    if not path.exists():
        return None, refuse(f"no flow {flow!r}: give a shipped flow's id or a flow file", [], as_json)
    try:
        return load_flow(path), 0
    except FlowError as error:
        return None, refuse(str(error), [], as_json)


def diagram_command(settings: Settings, args: argparse.Namespace) -> int:
    from bot.features.flow_admin.diagram import mermaid, write_into_page

    flow, refused = _load(args.flow, args.json)
    if flow is None:
        return refused
    text = mermaid(flow)
    if args.write:
        page = write_into_page(flow.id, text)
        print(json.dumps({"flow": flow.id, "written": str(page)}) if args.json else f"wrote the diagram into {page}")
    else:
        print(json.dumps({"flow": flow.id, "mermaid": text}, ensure_ascii=False) if args.json else text)
    return 0


def preview_command(settings: Settings, args: argparse.Namespace) -> int:
    from bot.features.flow_admin.preview import transcripts
    from locales.languages import parse_language

    try:
        language = parse_language(args.language)
    except ValueError as error:
        return refuse(f"--language: {error}", [], args.json)
    flow, refused = _load(args.flow, args.json)
    if flow is None:
        return refused
    paths = transcripts(flow, language.code, show_isolates=args.show_isolates)
    if args.json:
        print(json.dumps({"flow": flow.id, "language": language.code, "paths": paths}, ensure_ascii=False))
    else:
        sys.stdout.write("\n\n".join("\n".join(path) for path in paths) + "\n")
    return 0
