"""A flow's results as a table: one row per participant, one column per question, in Swedish.

CSV for Swedish Excel (UTF-8 with a BOM, ``;``, CRLF), or an XLSX sheet through the reports'
writer (bold header, column widths, the injected clock's time in the file).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.features.reports.writers import Column, Table, xlsx_bytes
from bot.features.surveys.services import Results
from locales.languages import LANGUAGES

FIXED = ("Deltagare", "Namn", "Språk", "Skickad", "Klar")


def results_table(results: Results, tz: ZoneInfo) -> Table:
    columns = [Column(header, "int" if header == "Deltagare" else "text") for header in FIXED]
    columns += [Column(q.text, "text") for q in results.questions]
    rows: list[list[Any]] = []
    for p in results.people:
        language = LANGUAGES[p.language].swedish_name if p.language in LANGUAGES else (p.language or "")
        rows.append([
            p.participant_id, p.name, language, _when(p.sent_at, tz), _when(p.finished_at, tz),
            *(p.answers.get(q.step, "") for q in results.questions),
        ])
    return Table(results.flow[:31], f"Svar på {results.flow}", columns, rows)


def _when(moment: datetime | None, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else ""


def results_csv(results: Results, tz: ZoneInfo) -> bytes:
    table = results_table(results, tz)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([c.header for c in table.columns])
    for row in table.rows:
        writer.writerow(["" if v is None else str(v) for v in row])
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


def results_xlsx(results: Results, now: datetime, tz: ZoneInfo) -> bytes:
    return xlsx_bytes([results_table(results, tz)], f"Svar på {results.flow}", now, tz)
