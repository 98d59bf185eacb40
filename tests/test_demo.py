"""`stegvis demo` end to end: what it promises in the README is what it prints."""

from __future__ import annotations

from pathlib import Path

from bot.demo import run_demo
from bot.features.caseworker_messages.messages import QUICK_REPLIES
from locales import Catalogs
from flows.library import load_flows

CATALOGS = Catalogs()
STEPS = load_flows()["checkin"].steps


async def test_the_demo_walks_a_week_and_prints_the_roll_call_the_check_ins_and_the_report(tmp_path: Path) -> None:
    printed: list[str] = []
    assert await run_demo(printed.append, tmp_path) == 0
    text = "\n".join(printed)

    # The reminders, then the week of the language café.
    assert "Appointments booked for" in text and "Activity 1: Språkcafé (Röda Korset)" in text
    # Hassan said no (his child is sick) and the leader recorded him absent, the others present.
    assert "Här: 4 · Inte här: 1" in text and "❌ Hassan A." in text
    assert "Al-Khatib" not in text.split("── Lena Berg")[1].split("Friday")[0]  # a leader sees first name and initial only
    # A check-in in every language, a voice note among them.
    for language in ("sv", "ar", "so", "fa_AF", "ti"):
        assert CATALOGS.texts(language).gettext(STEPS["practice"].say) in text, language
    assert "[voice" in text and "checkin_voice_note" in text
    # The month's attendance report: one session held, four present, one absent because a child was sick.
    header, cafe, total = [row for chunk in printed for row in chunk.splitlines() if row.count(";") > 10]
    cells = dict(zip(header.split(";"), cafe.split(";")))
    assert (cells["Hållna träffar"], cells["Närvarande"], cells["Frånvarande"], cells["Frånvarande: barn sjukt"], cells["Närvarograd (%)"]) == ("1", "4", "1", "1", "80,0")
    assert total.split(";")[2] == "Alla aktiviteter"

    # Monday: Senait's message in Karin's digest, quoted as written, and Karin's quick reply in Tigrinya.
    digest = text.split("Karin's digest on Monday morning):")[1].split("stegvis reply")[0]
    assert "Behöver åtgärd:" in digest and "Senait Tesfay (id 5): skrev till dig" in digest and "(på tigrinja)" in digest
    assert CATALOGS.texts("ti").gettext(QUICK_REPLIES["come_to_office"]) in text.split("reads it in Tigrinya:")[1]
