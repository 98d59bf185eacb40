"""The funders' reports, checked cell by cell against rows and events written straight into the tables.

January 2027 in Stockholm, the clock on Wednesday 27 January at 12:00:

- activity A, Språkcafé (Röda Korset), tue 10:00 from 5 January: sessions on the 5th, 12th,
  19th and 26th, all held by now. Hassan (woman) from the 5th; Zahra (man) from the 5th, left on
  the 19th; Dawit (no gender) from the 12th, mid-month; Amina (gender "unknown") since December.
- activity B, Arbetsträning (Stadsmissionen), wed 09:00 and fri 13:00 from 1 January: the 1st
  (New Year's Day) and the 6th (Epiphany) are holidays, so its sessions are the 8th, 13th,
  15th, 20th, 22nd (cancelled), 27th (09:00: held by noon) and 29th (still to come). Faduma
  (other) from the 1st; Hassan from the 14th.

Who was there and what they said is in `fill_january`, day by day; the expected figures follow
from it by hand and are written out in each test.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
import subprocess
from contextlib import closing
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from bot.config import Settings, load_settings
from bot.features.activities.question import REPORT
from bot.features.reports import services, writers
from bot.features.reports.services import Month, attendance_report, checkin_report, parse_month
from bot.services import SYSTEM, InvalidInput, NotFound
from storage.database import Database
from storage.models import Activity, ActivityRule, Attendance, CancelledSession, Caseworker, CheckIn, Enrolment, Event, Participant
from tests import test_appointments_cli as appointments_cli
from tests.test_appointments_cli import as_json, error_of

TZ = ZoneInfo("Europe/Stockholm")
NOW = datetime(2027, 1, 27, 11, 0, tzinfo=timezone.utc)  # 12:00 in Stockholm
JANUARY = Month(2027, 1)
A, B = 1, 2
HASSAN, ZAHRA, DAWIT, AMINA, FADUMA = 1, 2, 3, 4, 5
TUE, WED, FRI = 1, 2, 4


def local(day: date, hour: int = 8, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), TZ).astimezone(timezone.utc)


def settings_for(database: Database) -> Settings:
    return load_settings(database_url=database.engine.url.render_as_string(hide_password=False), timezone="Europe/Stockholm")


class Filler:
    """Rows and events written straight into the tables, as the roll call, the check-ins and the coming-today question store them."""

    def __init__(self) -> None:
        self.rows: list[Any] = []
        self.event_ids = iter(range(1, 10_000))

    def activity(self, aid: int, name: str, organisation: str, weekly: list[tuple[int, time]], starts_on: date, *, on_holidays: bool = False, ends_on: date | None = None) -> None:
        self.rows.append(Activity(id=aid, name=name, organisation=organisation, place="Nygatan 19", duration_minutes=120, starts_on=starts_on, ends_on=ends_on, on_holidays=on_holidays, created_at=NOW, updated_at=NOW))
        self.rows += [ActivityRule(activity_id=aid, weekday=wd, local_time=at) for wd, at in weekly]

    def participant(self, pid: int, name: str, gender: str | None) -> None:
        self.rows.append(Participant(id=pid, name=name, caseworker_id=1, language="sv", gender=gender, created_at=NOW, updated_at=NOW))

    def enrol(self, aid: int, pid: int, first: date, left: date | None = None) -> None:
        self.rows.append(Enrolment(activity_id=aid, participant_id=pid, from_date=first, left_date=left, created_at=NOW, updated_at=NOW))

    def roll_call(self, aid: int, day: date, **present: bool) -> None:
        # present = {"p1": True, ...}
        for key, here in present.items():
            self.rows.append(Attendance(activity_id=aid, local_date=day, participant_id=int(key[1:]), present=here, recorded_by="leader:1", recorded_at=local(day, 12)))

    def said(self, aid: int, day: date, pid: int, *, coming: bool, reason: str | None = None, at: datetime | None = None) -> None:
        at = at or local(day, 8)
        ids = {"activity_id": aid, "date": day.isoformat()}
        self.rows.append(Event(type=REPORT, participant_id=pid, occurred_at=at, payload={**ids, "answer": "coming" if coming else "not_coming", "coming": coming}, flow="coming_today", step="ask"))
        if reason is not None:
            self.rows.append(Event(type=REPORT, participant_id=pid, occurred_at=at + timedelta(seconds=20), payload={**ids, "answer": reason, "reason": reason}, flow="coming_today", step="reason"))

    def checkin(self, pid: int, week: date, *, answered: bool = False, unanswered: bool = False, practice: str | None = None, places: list[str] | None = None, confidence: int | None = None, voice_notes: int = 0) -> None:
        sent = local(week + timedelta(days=4), 14)
        self.rows.append(
            CheckIn(
                participant_id=pid, week=week, sent_at=sent, nudged_at=None,
                answered_at=sent + timedelta(hours=1) if answered else None, unanswered_at=sent + timedelta(days=2) if unanswered else None,
                practice=practice, places=places, confidence=confidence, voice_notes=voice_notes,
            )
        )

    async def write(self, database: Database) -> None:
        async with database.sessions() as session:
            session.add(Caseworker(id=1, name="Karin Lund", email=None, created_at=NOW))
            await session.flush()
            for kind in (Participant, Activity, ActivityRule, Enrolment, CancelledSession, Attendance, Event, CheckIn):
                session.add_all([row for row in self.rows if isinstance(row, kind)])
                await session.flush()
            await session.commit()


def people(f: Filler) -> None:
    f.participant(HASSAN, "Hassan", "woman")
    f.participant(ZAHRA, "Zahra", "man")
    f.participant(DAWIT, "Dawit", None)
    f.participant(AMINA, "Amina", "unknown")
    f.participant(FADUMA, "Faduma", "other")


def fill_january(f: Filler) -> None:
    people(f)
    f.activity(A, "Språkcafé", "Röda Korset", [(TUE, time(10))], date(2027, 1, 5))
    f.activity(B, "Arbetsträning", "Stadsmissionen", [(WED, time(9)), (FRI, time(13))], date(2027, 1, 1))
    f.rows.append(CancelledSession(activity_id=B, local_date=date(2027, 1, 22), reason="Ledaren är sjuk", cancelled_at=NOW - timedelta(days=6)))
    f.enrol(A, HASSAN, date(2027, 1, 5))
    f.enrol(A, ZAHRA, date(2027, 1, 5), left=date(2027, 1, 19))
    f.enrol(A, DAWIT, date(2027, 1, 12))
    f.enrol(A, AMINA, date(2026, 12, 1))
    f.enrol(B, FADUMA, date(2027, 1, 1))
    f.enrol(B, HASSAN, date(2027, 1, 14))

    d = lambda n: date(2027, 1, n)  # noqa: E731
    # A, the 5th: Hassan there; Zahra said no, sick; Amina away without a word.
    f.roll_call(A, d(5), p1=True, p2=False, p4=False)
    f.said(A, d(5), ZAHRA, coming=False, reason="sick")
    f.said(A, d(5), HASSAN, coming=True)
    # A, the 12th: Hassan and Zahra there (Zahra had said no: both kept, she counts as present);
    # Dawit said no, his child is ill; nobody recorded Amina.
    f.roll_call(A, d(12), p1=True, p2=True, p3=False)
    f.said(A, d(12), ZAHRA, coming=False, reason="transport")
    f.said(A, d(12), DAWIT, coming=False, reason="child_sick")
    # A, the 19th: Hassan said no without a reason; Amina said no (transport) then yes after all,
    # and was away: her last word was "coming", so her absence has no reason. Dawit there.
    f.roll_call(A, d(19), p1=False, p3=True, p4=False)
    f.said(A, d(19), HASSAN, coming=False)
    f.said(A, d(19), AMINA, coming=False, reason="transport", at=local(d(19), 8))
    f.said(A, d(19), AMINA, coming=True, at=local(d(19), 9))
    # A, the 26th: no roll call at all; Hassan had said a week ahead he could not come.
    f.said(A, d(26), HASSAN, coming=False, reason="other", at=local(d(19), 15))
    # B: Faduma there on the 8th, away on the 13th (another appointment), there on the 15th, 20th, 27th;
    # Hassan (from the 14th) there on the 15th, sick on the 20th, not recorded on the 27th.
    f.roll_call(B, d(8), p5=True)
    f.roll_call(B, d(13), p5=False)
    f.said(B, d(13), FADUMA, coming=False, reason="other_appt")
    f.roll_call(B, d(15), p5=True, p1=True)
    f.roll_call(B, d(20), p5=True, p1=False)
    f.said(B, d(20), HASSAN, coming=False, reason="sick")
    f.roll_call(B, d(27), p5=True)
    # Outside January: not counted.
    f.roll_call(A, date(2026, 12, 29), p4=True)
    f.roll_call(A, date(2027, 2, 2), p1=True)
    f.said(A, date(2027, 2, 2), HASSAN, coming=False, reason="sick", at=local(d(27), 7))
    f.said(A, date(2026, 12, 29), AMINA, coming=False, reason="sick", at=local(date(2026, 12, 29)))
    f.rows.append(Event(type="activity_note_skipped", participant_id=HASSAN, occurred_at=local(d(5)), payload={"activity_id": A, "date": "2027-01-05"}))


def fill_checkins(f: Filler) -> None:
    """January's and February's check-ins (on top of `fill_january`)."""
    d = lambda m, n: date(2027, m, n)  # noqa: E731
    # January's weeks: Mondays the 4th, 11th, 18th, 25th (their Thursdays are in January).
    f.checkin(HASSAN, d(1, 4), answered=True, practice="a_lot", places=["sfi", "home"], confidence=3, voice_notes=1)
    f.checkin(HASSAN, d(1, 11), answered=True, practice="a_little", places=["home"], confidence=2)
    f.checkin(HASSAN, d(1, 18), unanswered=True)
    f.checkin(HASSAN, d(1, 25), unanswered=True)
    f.checkin(ZAHRA, d(1, 18), answered=True, practice="a_lot", places=["work"], confidence=4)  # she left A on the 19th: this week still counts
    f.checkin(DAWIT, d(1, 4), answered=True, practice="a_lot", places=["sfi"], confidence=5)  # enrolled from the 12th: not this week
    # February's weeks: Mondays the 1st, 8th, 15th, 22nd.
    f.checkin(HASSAN, d(2, 1), answered=True, practice="a_lot", places=["sfi", "language_cafe"], confidence=4, voice_notes=2)
    f.checkin(HASSAN, d(2, 8), answered=True, practice="not_this_week", places=[], confidence=5)
    f.checkin(HASSAN, d(2, 15), answered=True, practice="a_little", places=["friends"], confidence=None)
    f.checkin(HASSAN, d(2, 22))  # sent, no answer yet
    f.checkin(DAWIT, d(2, 1), answered=True, practice="a_lot", places=["work"], confidence=1)
    f.checkin(ZAHRA, d(2, 1), answered=True, practice="a_lot", places=["home"], confidence=5)  # left A: counted nowhere
    f.checkin(HASSAN, d(3, 1), answered=True, practice="a_lot", places=["sfi"], confidence=1)  # week of 4 March: March's


@pytest.fixture
async def january(database: Database) -> Database:
    f = Filler()
    fill_january(f)
    fill_checkins(f)
    await f.write(database)
    return database


async def attendance(database: Database, month: Month = JANUARY, now: datetime = NOW, **options: Any) -> services.AttendanceReport:
    async with database.sessions() as session:
        return await attendance_report(session, SYSTEM, settings_for(database), month=month, now=now, **options)


async def checkins(database: Database, month: Month, **options: Any) -> services.CheckinReport:
    async with database.sessions() as session:
        return await checkin_report(session, SYSTEM, settings_for(database), month=month, now=NOW + timedelta(days=40), **options)


def parsed(data: bytes) -> list[dict[str, str]]:
    assert data.startswith("\ufeff".encode())  # the BOM Swedish Excel needs to read UTF-8
    assert data.endswith(b"\r\n")  # CRLF line ends, as Excel writes them
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))


HEADER = [
    "Månad", "Aktivitet-id", "Aktivitet", "Organisation", "Hållna träffar", "Inställda träffar", "Kommande träffar", "Närvarande", "Frånvarande",
    "Frånvarande: sjuk", "Frånvarande: barn sjukt", "Frånvarande: annan tid", "Frånvarande: kan inte ta sig dit", "Frånvarande: något annat",
    "Frånvarande utan orsak", "Ej rapporterade", "Närvarograd (%)",
]
#                 held canc  upc  pres  abs  sick child appt trans other none unrep rate
A_ROW = ["2027-01", "1", "Språkcafé", "Röda Korset", "4", "0", "0", "4", "5", "1", "1", "0", "0", "0", "3", "4", "44,4"]
B_ROW = ["2027-01", "2", "Arbetsträning", "Stadsmissionen", "5", "1", "1", "5", "2", "1", "0", "1", "0", "0", "0", "1", "71,4"]
TOTAL = ["2027-01", "", "Alla aktiviteter", "", "9", "1", "1", "9", "7", "2", "1", "1", "0", "0", "3", "5", "56,3"]


async def test_a_month_with_everything_cell_by_cell_in_csv(january: Database) -> None:
    report = await attendance(january)
    data = writers.csv_bytes(writers.attendance_csv_table(report), report.month)
    lines = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert lines == [HEADER, A_ROW, B_ROW, TOTAL]
    assert parsed(data)[0]["Närvarograd (%)"] == "44,4"  # 4 of 9 recorded: Swedish decimal comma


async def test_the_same_month_in_xlsx_has_a_title_frozen_header_widths_and_a_sheet_per_part(january: Database, tmp_path: Path) -> None:
    report = await attendance(january, by_gender=True)
    path = tmp_path / "närvaro.xlsx"
    writers.write_file(path, writers.xlsx_bytes(writers.attendance_tables(report), "Närvaro januari 2027", NOW, TZ))
    book = load_workbook(path)
    assert book.sheetnames == ["Per aktivitet", "Per orsak", "Per kön"]
    assert book.properties.title == "Närvaro januari 2027" and book.properties.created == datetime(2027, 1, 27, 11, 0)
    main = book["Per aktivitet"]
    assert main["A1"].value == "Närvaro januari 2027" and main["A1"].font.bold
    assert [c.value for c in main[2]] == [h.removesuffix(" (%)") for h in HEADER[1:]]
    assert all(c.font.bold for c in main[2])
    assert main.freeze_panes == "D3"
    rows = [[c.value for c in row] for row in main.iter_rows(min_row=3)]
    assert rows[0] == [1, "Språkcafé", "Röda Korset", 4, 0, 0, 4, 5, 1, 1, 0, 0, 0, 3, 4, pytest.approx(4 / 9)]
    assert rows[1] == [2, "Arbetsträning", "Stadsmissionen", 5, 1, 1, 5, 2, 1, 0, 1, 0, 0, 0, 1, pytest.approx(5 / 7)]
    assert rows[2] == [None, "Alla aktiviteter", None, 9, 1, 1, 9, 7, 2, 1, 1, 0, 0, 3, 5, pytest.approx(9 / 16)]
    assert main.cell(3, 16).number_format == "0.0%"
    assert main.column_dimensions["B"].width == len("Alla aktiviteter") + 2
    assert main.column_dimensions["A"].width == len("Aktivitet-id") + 2
    reasons = [[c.value for c in row] for row in book["Per orsak"].iter_rows(min_row=3)]
    assert reasons[:6] == [[1, "Språkcafé", "Röda Korset", reason, n] for reason, n in [("sjuk", 1), ("barn sjukt", 1), ("annan tid", 0), ("kan inte ta sig dit", 0), ("något annat", 0), ("utan orsak", 3)]]
    assert len(reasons) == 3 * 6 and book["Per orsak"]["A1"].value == "Frånvaro per orsak januari 2027"
    genders = book["Per kön"]
    assert genders.freeze_panes == "D3" and genders["A1"].value == "Närvaro per kön januari 2027"
    by = {(row[0], row[3]): row[4:] for row in ([c.value for c in r] for r in genders.iter_rows(min_row=3))}
    #                                 pres abs sick child appt trans other none unrep rate
    assert by[(1, "Kvinna")] == [2, 1, 0, 0, 0, 0, 0, 1, 1, pytest.approx(2 / 3)]
    assert by[(1, "Man")] == [1, 1, 1, 0, 0, 0, 0, 0, 0, pytest.approx(1 / 2)]
    assert by[(1, "Annat")] == [0, 0, 0, 0, 0, 0, 0, 0, 0, None]
    assert by[(1, "Ej angivet")] == [1, 3, 0, 1, 0, 0, 0, 2, 3, pytest.approx(1 / 4)]  # Dawit (none) and Amina ("unknown")
    assert by[(2, "Kvinna")] == [1, 1, 1, 0, 0, 0, 0, 0, 1, pytest.approx(1 / 2)]
    assert by[(2, "Annat")] == [4, 1, 0, 0, 1, 0, 0, 0, 0, pytest.approx(4 / 5)]
    assert by[(None, "Kvinna")] == [3, 2, 1, 0, 0, 0, 0, 1, 2, pytest.approx(3 / 5)]


async def test_by_gender_in_csv_puts_each_activitys_genders_under_it(january: Database) -> None:
    report = await attendance(january, by_gender=True)
    rows = parsed(writers.csv_bytes(writers.attendance_csv_table(report), report.month))
    assert [(r["Aktivitet-id"], r["Kön"]) for r in rows[:5]] == [("1", g) for g in ("Alla", "Kvinna", "Man", "Annat", "Ej angivet")]
    woman = rows[1]
    assert (woman["Hållna träffar"], woman["Närvarande"], woman["Frånvarande utan orsak"], woman["Ej rapporterade"], woman["Närvarograd (%)"]) == ("", "2", "1", "1", "66,7")
    assert len(rows) == 3 * 5


async def test_an_empty_month_is_a_report_of_zeros(january: Database) -> None:
    report = await attendance(january, month=Month(2026, 11))  # before either activity began
    assert report.rows == ()
    assert [r for r in csv.reader(io.StringIO(writers.csv_bytes(writers.attendance_csv_table(report), report.month).decode("utf-8-sig")), delimiter=";")] == [
        HEADER, ["2026-11", "", "Alla aktiviteter", "", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", ""]
    ]
    march = await checkins(january, Month(2026, 11), activity_id=A)
    assert march.rows[0].figures.now.sent == 0 and march.rows[0].figures.confidence_change is None
    cells = parsed(writers.csv_bytes(writers.checkin_csv_table(march), march.month))
    assert cells[0]["Skickade"] == "0" and cells[0]["Säkerhet, medel (1-5)"] == "" and cells[0]["Ändring säkerhet"] == ""


async def test_organisation_and_activity_narrow_the_report_and_bad_ones_are_refused(january: Database) -> None:
    only = await attendance(january, organisation=" röda korset ")
    assert [r.activity.id for r in only.rows if r.activity] == [A] and only.organisation == "Röda Korset"
    assert [r.activity.id for r in (await attendance(january, activity_id=B)).rows if r.activity] == [B]
    with pytest.raises(InvalidInput) as refused:
        await attendance(january, organisation="Bilda")
    assert (refused.value.field, refused.value.message) == ("organisation", "no activity is run by 'Bilda'; the organisations are: Röda Korset, Stadsmissionen")
    with pytest.raises(NotFound) as missing:
        await attendance(january, activity_id=9)
    assert missing.value.field == "activity"
    with pytest.raises(InvalidInput) as mismatch:
        await attendance(january, activity_id=B, organisation="Röda Korset")
    assert mismatch.value.message == "activity 2 is run by Stadsmissionen, not Röda Korset"


async def test_early_in_the_month_only_begun_sessions_count(january: Database) -> None:
    report = await attendance(january, now=local(date(2027, 1, 12), 10, 0))  # A's session of the 12th has just begun
    a, b = report.rows
    assert (a.sessions_held, a.sessions_upcoming, a.counts.present, a.counts.absent, a.counts.unreported) == (2, 2, 3, 3, 1)
    assert (b.sessions_held, b.sessions_cancelled, b.sessions_upcoming) == (1, 1, 5)


async def test_the_month_before_and_the_change_in_the_checkins(january: Database) -> None:
    report = await checkins(january, Month(2027, 2))
    assert report.weeks == tuple(date(2027, 2, n) for n in (1, 8, 15, 22))
    a, b = report.rows
    fa = a.figures
    assert (fa.now.sent, fa.now.answered, fa.now.unanswered, fa.now.waiting) == (5, 4, 0, 1)
    assert fa.now.practice == {"a_lot": 2, "a_little": 1, "not_this_week": 1}
    assert fa.now.places == {"sfi": 1, "language_cafe": 1, "work": 1, "home": 0, "friends": 1}
    assert (fa.now.confidence_answers, fa.now.voice_notes) == (3, 2)
    assert (fa.before.sent, fa.before.answered, fa.before.confidence) == (5, 3, 3.0)
    header = ["Skickade", "Besvarade", "Obesvarade", "Väntar på svar", "Andel besvarade (%)", "Övat mycket", "Övat lite", "Inte övat",
              "Plats: SFI", "Plats: språkcafé", "Plats: arbete/praktik", "Plats: hemma", "Plats: med vänner", "Svar om säkerhet",
              "Säkerhet, medel (1-5)", "Röstmeddelanden", "Säkerhet, medel förra månaden", "Ändring säkerhet",
              "Andel besvarade förra månaden (%)", "Ändring andel besvarade (procentenheter) (%)".removesuffix(" (%)")]
    rows = parsed(writers.csv_bytes(writers.checkin_csv_table(report), report.month))
    assert list(rows[0])[4:] == header
    figures = lambda row: [row[h] for h in header]  # noqa: E731
    assert figures(rows[0]) == ["5", "4", "0", "1", "80,0", "2", "1", "1", "1", "1", "1", "0", "1", "3", "3,33", "2", "3,00", "+0,33", "60,0", "+20,0"]
    # B: Hassan from 14 January; in January only his weeks of the 11th, 18th and 25th.
    assert figures(rows[1]) == ["4", "3", "0", "1", "75,0", "1", "1", "1", "1", "1", "0", "0", "1", "2", "4,50", "2", "2,00", "+2,50", "33,3", "+41,7"]
    # All together each check-in once: Hassan's count in A and B, but once here.
    assert figures(rows[2])[:5] == ["5", "4", "0", "1", "80,0"] and rows[2]["Aktivitet"] == "Alla aktiviteter"


async def test_checkins_by_gender_and_as_xlsx(january: Database, tmp_path: Path) -> None:
    report = await checkins(january, Month(2027, 2), by_gender=True)
    a = report.rows[0]
    assert a.by_gender["woman"].now.sent == 4 and a.by_gender["not_given"].now.sent == 1 and a.by_gender["man"].now.sent == 0
    assert a.by_gender["man"].before.sent == 1  # Zahra's January week, before she left
    book = load_workbook(io.BytesIO(writers.xlsx_bytes(writers.checkin_tables(report), "Avstämningar februari 2027", NOW, TZ)))
    assert book.sheetnames == ["Per aktivitet", "Per kön"]
    sheet = book["Per aktivitet"]
    assert sheet["A1"].value == "Avstämningar februari 2027" and sheet.freeze_panes == "D3"
    headers = [c.value for c in sheet[2]]
    row = dict(zip(headers, (c.value for c in sheet[3]), strict=True))
    assert row["Säkerhet, medel (1-5)"] == pytest.approx(10 / 3) and row["Ändring säkerhet"] == pytest.approx(1 / 3)
    assert row["Ändring andel besvarade (procentenheter)"] == pytest.approx(20.0)
    assert sheet.cell(3, headers.index("Ändring säkerhet") + 1).number_format == "+0.00;-0.00;0.00"


async def test_the_check_in_week_belongs_to_the_month_of_its_thursday() -> None:
    assert Month(2027, 1).weeks() == [date(2027, 1, 4), date(2027, 1, 11), date(2027, 1, 18), date(2027, 1, 25)]
    assert Month(2027, 4).weeks() == [date(2027, 3, 29), date(2027, 4, 5), date(2027, 4, 12), date(2027, 4, 19), date(2027, 4, 26)]
    assert Month(2027, 3).weeks()[-1] == date(2027, 3, 22)  # 29 March's Thursday is 1 April
    assert (Month(2027, 1).previous, Month(2027, 12).following) == (Month(2026, 12), Month(2028, 1))


async def test_dst_months_count_sessions_on_their_local_dates(database: Database) -> None:
    f = Filler()
    people(f)
    # Sundays at 02:30: on 28 March 2027 that time is skipped (it is 03:00); Mondays at 00:30:
    # 1 November 2027 at 00:30 is 31 October 23:30 UTC, and November's.
    # 28 March 2027 is also Easter Day: the activity is held on holidays, or that session would not be one.
    f.activity(A, "Nattcafé", "Röda Korset", [(6, time(2, 30))], date(2027, 3, 1), on_holidays=True)
    f.activity(B, "Morgongrupp", "Röda Korset", [(0, time(0, 30))], date(2027, 10, 1))
    f.enrol(A, HASSAN, date(2027, 3, 1))
    f.enrol(B, HASSAN, date(2027, 10, 1))
    f.roll_call(A, date(2027, 3, 28), p1=True)
    f.roll_call(B, date(2027, 11, 1), p1=False)
    f.said(B, date(2027, 11, 1), HASSAN, coming=False, reason="sick", at=datetime(2027, 10, 31, 23, 40, tzinfo=timezone.utc))
    await f.write(database)
    march = await attendance(database, month=Month(2027, 3), now=datetime(2027, 3, 28, 1, 5, tzinfo=timezone.utc))  # 03:05 summer time
    a = march.rows[0]
    assert (a.sessions_held, a.counts.present, a.counts.unreported) == (4, 1, 3)
    october = await attendance(database, month=Month(2027, 10), now=datetime(2027, 12, 1, tzinfo=timezone.utc), activity_id=B)
    b = october.rows[0]
    assert (b.sessions_held, b.counts.absent, b.counts.unreported) == (4, 0, 4)  # the 4th, 11th, 18th, 25th; not 1 November
    november = await attendance(database, month=Month(2027, 11), now=datetime(2027, 12, 1, tzinfo=timezone.utc), activity_id=B)
    assert november.rows[0].counts.absent_by_reason["sick"] == 1 and november.rows[0].sessions_held == 5


async def test_a_holiday_is_no_session_unless_the_activity_is_held_on_holidays(sqlite_database: Database) -> None:
    f = Filler()
    people(f)
    f.activity(A, "Torsdagsgrupp", "Bilda", [(3, time(10))], date(2027, 5, 1))  # 6 May 2027 is Ascension Day
    f.activity(B, "Torsdagscafé", "Bilda", [(3, time(10))], date(2027, 5, 1), on_holidays=True)
    f.enrol(A, HASSAN, date(2027, 5, 1))
    f.enrol(B, HASSAN, date(2027, 5, 1))
    f.roll_call(A, date(2027, 5, 6), p1=True)  # a roll call on a holiday is no session of A: not counted
    await f.write(sqlite_database)
    report = await attendance(sqlite_database, month=Month(2027, 5), now=datetime(2027, 6, 1, tzinfo=timezone.utc))
    a, b = report.rows
    assert (a.sessions_held, a.counts.present, a.counts.unreported) == (3, 0, 3)
    assert (b.sessions_held, b.counts.unreported) == (4, 4)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2027-13", "'2027-13' has no month 13; months are 01 to 12"),
        ("jan", "must be a month written YYYY-MM, e.g. 2027-01, not 'jan'"),
        ("2027-1-1", "must be a month written YYYY-MM, e.g. 2027-01, not '2027-1-1'"),
        ("1999-12", "'1999-12' is before Stegvis kept any records; check the year"),
    ],
)
def test_a_month_that_is_not_one_is_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_month(text)
    assert str(refused.value) == message


def test_numbers_in_csv_are_swedish() -> None:
    assert [writers.csv_cell(v, k) for v, k in [(9 / 16, "percent"), (10 / 3, "decimal"), (-1 / 3, "change"), (125 / 3, "points"), (None, "percent"), (7, "int")]] == [
        "56,3", "3,33", "-0,33", "+41,7", "", "7"
    ]


# The command line


CLI_NOW = "2027-01-27T12:00+01:00"


def stegvis(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return appointments_cli.stegvis(tmp_path, *args, now=CLI_NOW)


@pytest.fixture(scope="module")
def cli_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("reports")
    assert stegvis(folder, "caseworker", "add", "--name", "Karin Lund").returncode == 0
    for name in ("Hassan", "Zahra"):
        assert stegvis(folder, "participant", "add", "--name", name, "--caseworker", "1").returncode == 0
    assert stegvis(folder, "activity", "add", "--name", "Språkcafé", "--organisation", "Röda Korset", "--place", "Nygatan 19", "--weekly", "tue 10:00", "--starts", "2027-01-05").returncode == 0
    assert stegvis(folder, "activity", "enrol", "1", "--participant", "1", "--from", "2027-01-05").returncode == 0
    with closing(sqlite3.connect(folder / "cli.sqlite3")) as connection, connection:
        connection.execute("INSERT INTO attendance (activity_id, local_date, participant_id, present, recorded_by, recorded_at) VALUES (1, '2027-01-05', 1, 1, 'cli:test', '2027-01-05 11:00:00')")
        connection.execute("INSERT INTO attendance (activity_id, local_date, participant_id, present, recorded_by, recorded_at) VALUES (1, '2027-01-12', 1, 0, 'cli:test', '2027-01-12 11:00:00')")
    return folder / "cli.sqlite3"


@pytest.fixture
def cli(tmp_path: Path, cli_template: Path) -> Path:
    shutil.copy(cli_template, tmp_path / "cli.sqlite3")
    return tmp_path


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != "cli.sqlite3")


def test_csv_goes_to_standard_output_with_its_bom(cli: Path) -> None:
    done = stegvis(cli, "report", "attendance", "--month", "2027-01")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("\ufeffMånad;Aktivitet-id;")
    rows = list(csv.DictReader(io.StringIO(done.stdout.removeprefix("\ufeff")), delimiter=";"))
    assert [(r["Aktivitet-id"], r["Hållna träffar"], r["Närvarande"], r["Frånvarande utan orsak"], r["Ej rapporterade"], r["Närvarograd (%)"]) for r in rows] == [
        ("1", "4", "1", "1", "2", "50,0"), ("", "4", "1", "1", "2", "50,0")
    ]


def test_xlsx_and_csv_files_are_written_and_said_so(cli: Path) -> None:
    done = stegvis(cli, "report", "checkins", "--month", "2027-01", "--format", "xlsx", "--by-gender", "--output", "avstämningar.xlsx")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == "Wrote the check-in report for 2027-01 (1 activity) to avstämningar.xlsx (XLSX).\n"
    assert load_workbook(cli / "avstämningar.xlsx").sheetnames == ["Per aktivitet", "Per kön"]
    written = as_json(stegvis(cli, "report", "attendance", "--month", "2027-01", "--output", "närvaro.csv", "--json"))
    assert (written["format"], written["output"], written["activities"][0]["present"], written["total"]["rate"]) == ("csv", "närvaro.csv", 1, 0.5)
    assert (cli / "närvaro.csv").read_bytes().startswith("\ufeffMånad;".encode())
    assert files(cli) == ["avstämningar.xlsx", "närvaro.csv"]  # no temporary file left


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("--month", "2027-13"), "--month: '2027-13' has no month 13; months are 01 to 12"),
        (("--month", "jan"), "--month must be a month written YYYY-MM, e.g. 2027-01, not 'jan'"),
        (("--month", "2027-01", "--activity", "9"), "--activity: no activity with id 9 (see: stegvis activity list)"),
        (("--month", "2027-01", "--organisation", "Bilda"), "--organisation: no activity is run by 'Bilda'; the organisations are: Röda Korset"),
        (("--month", "2027-01", "--format", "pdf"), "--format must be csv or xlsx, not 'pdf'"),
        (("--month", "2027-01", "--output", "nowhere/r.csv"), "--output: there is no folder nowhere"),
        (("--month", "2027-01", "--output", "."), "--output: . is a folder; name a file"),
        (("--month", "2027-01", "--activity", "x"), 'argument --activity: "x" is not an id; use a whole number, e.g. 7 (see: stegvis report attendance --help)'),
    ],
)
def test_each_bad_input_is_refused_and_writes_nothing(cli: Path, args: tuple[str, ...], error: str) -> None:
    for report in ("attendance", "checkins"):
        refused = error_of(stegvis(cli, "report", report, *args, *([] if "--output" in args else ["--output", "r.csv"]), "--json"))
        assert refused == {"error": error.replace("report attendance", f"report {report}")}
    assert files(cli) == []


def test_xlsx_without_a_file_is_refused_in_plain_words(cli: Path) -> None:
    done = stegvis(cli, "report", "attendance", "--month", "2027-01", "--format", "xlsx")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "stegvis: --format: an XLSX report is a file: name it with --output FILE (or use --format csv for standard output)\n"


def test_participant_edit_sets_and_clears_the_gender_and_refuses_other_values(cli: Path) -> None:
    assert as_json(stegvis(cli, "participant", "edit", "2", "--gender", "Woman", "--json")) == {"participant_id": 2, "name": "Zahra", "gender": "woman"}
    assert stegvis(cli, "participant", "edit", "2", "--gender", "none").stdout == "Participant 2 (Zahra): gender not given.\n"
    assert error_of(stegvis(cli, "participant", "edit", "2", "--gender", "kvinna", "--json")) == {
        "error": "--gender must be one of woman, man, other, unknown, none (none clears it), not 'kvinna'"
    }
    assert error_of(stegvis(cli, "participant", "edit", "9", "--gender", "man", "--json")) == {"error": "no participant with id 9 (see: stegvis participant list)"}
    with closing(sqlite3.connect(cli / "cli.sqlite3")) as connection:
        assert connection.execute("SELECT gender FROM participants WHERE id = 2").fetchone() == (None,)
        # The events name the field, never the value: a cleared gender is gone.
        assert [json.loads(p) for (p,) in connection.execute("SELECT payload FROM events WHERE type = 'participant_edited'")] == [{"fields": ["gender"]}] * 2


async def test_a_report_reads_the_events_of_its_month_through_an_index(sqlite_database: Database) -> None:
    async with sqlite_database.engine.connect() as connection:
        plan = (await connection.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT participant_id, payload FROM events WHERE type = ? AND occurred_at >= ? AND occurred_at < ?", (REPORT, "2027-01-01", "2027-02-01")
        )).fetchall()
    assert any("ix_events_type_time" in str(row) for row in plan), plan


async def test_the_same_report_is_the_same_xlsx_file(january: Database) -> None:
    """No clock but the injected one gets into the file (openpyxl's and zipfile's are replaced)."""
    report = await attendance(january)
    made = [writers.xlsx_bytes(writers.attendance_tables(report), "Närvaro januari 2027", NOW, TZ) for _ in range(2)]
    assert made[0] == made[1]
    assert made[0] != writers.xlsx_bytes(writers.attendance_tables(report), "Närvaro januari 2027", NOW + timedelta(seconds=2), TZ)
