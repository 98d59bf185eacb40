"""``stegvis translations export | import | status``: the translators' files and how far each language is.

A thin adapter over `services`: export writes the file whole or not at all (to ``--output`` or,
for po, standard output), import reads the file and hands its bytes to the service, which
stores every entry or none.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli.commands import Commands, Context

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.features.translations.services import Exported, ImportResult, Status


def add_commands(commands: Commands) -> None:
    group = commands.group("translations", help="the translators' files: export a language, import it translated, see what is missing")
    export = group.command("export", help="one language's texts in flow order, with flow, step, Swedish, a note and the length limit beside each", action=export_it, human=exported_text)
    export.add_argument("--language", required=True, metavar="CODE", help="the language to translate into, e.g. ti")
    export.add_argument("--format", default="po", metavar="po|xlsx", help="po (gettext, default) or xlsx (needs --output)")
    export.add_argument("--output", metavar="FILE", help="write to FILE (replaced whole); without it a po file goes to standard output")
    imported = group.command("import", help="check a translated po or xlsx file and make its translations live; one bad entry and nothing changes", action=import_it, human=imported_text, options={"file": None})
    imported.add_argument("file", metavar="FILE")
    imported.add_argument("--language", metavar="CODE", help="refuse the file unless it is in this language")
    group.command("status", help="per language: texts translated, still unreviewed, missing", action=status_it, human=status_text)


@dataclass(frozen=True)
class Written:
    exported: Exported
    output: Path | None

    def as_json(self, tz: Any) -> dict[str, Any]:
        return {**self.exported.as_json(), "output": str(self.output) if self.output else None}


async def export_it(context: Context, args: argparse.Namespace) -> Written:
    from bot.features.reports.writers import check_writable, write_file
    from bot.features.translations.services import export_translations
    from bot.services import InvalidInput

    output = Path(args.output) if args.output else None
    if output is None and args.format == "xlsx":
        raise InvalidInput("xlsx needs --output FILE", field="format")
    if output is not None and (why := check_writable(output)) is not None:
        raise InvalidInput(why, field="output")
    exported = await export_translations(context.session, context.actor, language=args.language, format=args.format, now=context.now)
    if output is not None:
        write_file(output, exported.content)
    return Written(exported, output)


def exported_text(result: Written, settings: Settings) -> str | bytes:
    e = result.exported
    if result.output is None:
        return e.content
    return f"wrote {result.output}: {e.texts} texts in {e.language}, {e.translated} translated"


async def import_it(context: Context, args: argparse.Namespace) -> ImportResult:
    from bot.features.translations.services import import_translations
    from bot.services import InvalidInput

    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InvalidInput(f"{path}: cannot be read ({error.strerror or error})", field="file") from None
    return await import_translations(context.session, context.actor, name=str(path), data=data, now=context.now, language=args.language)


def imported_text(result: ImportResult, settings: Settings) -> str:
    lines = [f"imported {result.imported} translations into {result.language} from {result.file} ({result.unreviewed} marked unreviewed); live in running bots within seconds"]
    if result.left_empty:
        lines.append(f"{result.left_empty} left empty: not translated yet, nothing changed for them")
    if result.fuzzy:
        lines.append(f"{result.fuzzy} marked fuzzy: left out, as gettext would")
    return "\n".join(lines)


async def status_it(context: Context, args: argparse.Namespace) -> Status:
    from bot.features.translations.services import translation_status

    return await translation_status(context.session, context.actor)


def status_text(result: Status, settings: Settings) -> str:
    lines = [f"{'language':<10} {'translated':>10} {'unreviewed':>10} {'missing':>8}   of {result.texts} texts"]
    lines += [f"{s.language + ' ' + s.name:<10} {s.translated:>10} {s.unreviewed:>10} {s.missing:>8}" for s in result.languages]
    return "\n".join(lines)
