"""Flow administration: the format's migration, conditions, the check and its inspection, publishing,
history, diff and rollback in the database, the live-content counter, diagrams and the preview.

The live bot taking a new version mid-conversation is tests/test_flow_admin_live.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.features.flow_admin import diagram, services
from bot.features.flow_admin.feature import reload_flows
from bot.features.flow_admin.preview import transcripts
from bot.services import SYSTEM, Actor, InvalidInput
from flows.check import Translations, check_flow, known_event_types
from flows.definition import FlowError, Flow, Step, parse_flow
from flows.engine import Engine, FlowLoop, Press, State
from flows.formats import FORMAT
from flows.library import DEFINITIONS, load_flows
from locales import Catalogs
from locales.languages import LANGUAGES
from storage import live_content
from storage.database import Database

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2027, 2, 15, 9, 0, tzinfo=timezone.utc)
ADMIN = Actor("cli", "anna")
SHIPPED = sorted(DEFINITIONS.glob("*.yaml"))

OLD_FORMAT = """\
spec: 1
flow: example
start: ask
steps:
  ask:
    say: Kommer du?
    buttons:
      - {id: come, label: Ja, next: thanks}
      - {id: away, label: Nej, event: attendance}
    text_input: {max_length: 50}
  thanks:
    say: Tack!
    end: true
"""

ROUTED = """\
format: 2
flow: example
start: ask
steps:
  ask:
    say: Har du övat?
    event: checkin_practice
    buttons:
      - {id: a_lot, label: Mycket, next: route}
      - {id: none, label: Inte alls, next: route}
  route:
    say: Tack.
    next:
      - {if: {ask: none}, go: next_time}
      - {go: well_done}
  next_time:
    say: Nästa vecka kanske!
    end: true
  well_done:
    say: Bra jobbat!
    end: true
"""


@pytest.fixture(scope="module")
def translations() -> Translations:
    return Translations()


@pytest.fixture(scope="module")
def catalogs() -> Catalogs:
    return Catalogs()


# --- the format and its migration -----------------------------------------------------------------


def test_a_format_1_file_is_migrated_as_it_is_read() -> None:
    flow = parse_flow(OLD_FORMAT, file="example.yaml")
    assert flow.format == 1
    ask = flow.steps["ask"]
    # Format 1's silent default, written out by the migration: it records what it always did.
    assert [b.event for b in ask.buttons] == ["answered", "attendance"]
    assert ask.text_input is not None and ask.text_input.event == "answered"
    # The lines still point into the file as written.
    assert ask.buttons[0].line == 8


def test_format_2_asks_every_answer_to_name_its_event() -> None:
    source = OLD_FORMAT.replace("spec: 1", f"format: {FORMAT}")
    with pytest.raises(FlowError) as caught:
        parse_flow(source, file="example.yaml")
    assert str(caught.value) == "example.yaml:8: steps.ask.buttons[0]: records no event: give the step an event (what every answer here records) or this button its own"
    fixed = source.replace("    buttons:\n", "    event: attendance\n    buttons:\n", 1).replace("text_input: {max_length: 50}", "text_input: {max_length: 50, event: note}")
    flow = parse_flow(fixed, file="example.yaml")
    assert [b.event for b in flow.steps["ask"].buttons] == ["attendance", "attendance"]
    assert flow.steps["ask"].text_input.event == "note"  # type: ignore[union-attr]


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_the_shipped_flows_are_in_the_newest_format(path: Path) -> None:
    assert path.read_text(encoding="utf-8").count(f"\nformat: {FORMAT}\n") == 1
    assert parse_flow(path.read_bytes(), file=path.name).format == FORMAT


def test_the_migration_changes_nothing_a_participant_sees_or_records(catalogs: Catalogs) -> None:
    old = parse_flow(OLD_FORMAT, file="example.yaml")
    new = parse_flow(OLD_FORMAT.replace("spec: 1", "format: 2").replace("next: thanks}", "next: thanks, event: answered}").replace("{max_length: 50}", "{max_length: 50, event: answered}"), file="example.yaml")
    for flow in (old, new):
        engine = Engine({"example": flow}, catalogs)
        started = engine.start("example", language="sv")
        pressed = engine.resume(started.state, Press("s:example:ask:come"), language="sv")
        assert [(e.type, e.payload) for e in pressed.events] == [("answered", {"answer": "come"}), ("flow_completed", {"flow": "example"})]


# --- conditions on earlier answers, and the engine's loop guard ---------------------------------------


@pytest.mark.parametrize(("answer", "said"), [("none", "Nästa vecka kanske!"), ("a_lot", "Bra jobbat!")])
def test_a_condition_on_an_earlier_answer_picks_the_way(catalogs: Catalogs, answer: str, said: str) -> None:
    engine = Engine({"example": parse_flow(ROUTED, file="example.yaml")}, catalogs)
    started = engine.start("example", language="sv")
    done = engine.resume(started.state, Press(f"s:example:ask:{answer}"), language="sv")
    assert [m.text for m in done.messages] == ["Tack.", said]
    assert not done.state.waiting


def test_a_flow_that_goes_round_without_asking_is_stopped_with_a_clear_error(catalogs: Catalogs) -> None:
    # The checks refuse such a file (tests/data/broken_flows/silent_loop.yaml); one built in code is stopped by the engine.
    steps = {"first": Step("first", "Bra.", next="second"), "second": Step("second", "Vi ses.", next="first")}
    engine = Engine({"loop": Flow("loop", "first", steps)}, catalogs)
    with pytest.raises(FlowLoop) as caught:
        engine.start("loop", language="sv")
    assert str(caught.value) == "flow 'loop' version 1 went round the steps first -> second -> first without asking anything; fix it and run: stegvis flows check"


# --- the check and the inspection ----------------------------------------------------------------------


def test_every_shipped_flow_passes_the_check(translations: Translations) -> None:
    known = known_event_types((), load_flows())
    for path in SHIPPED:
        report = check_flow(path.read_bytes(), file=path.name, expected_id=path.stem, translations=translations, known_events=known)
        assert report.ok, report.lines()


def test_the_inspection_reports_per_step(tmp_path: Path) -> None:
    source = ROUTED.replace(
        "  well_done:",
        "  lost:\n    say: Ingen kommer hit.\n    end: true\n"
        "  circle:\n    say: Igen?\n    event: again\n    buttons:\n      - {id: yes_again, label: Ja, next: circle}\n"
        "  well_done:",
    ).replace("    say: Har du övat?", "    say: '" + "Hej och välkommen! " * 12 + "'").replace("label: Inte alls", "label: Inte alls den här veckan tyvärr")
    source = source.replace("next_time:\n    say: Nästa vecka kanske!\n    end: true", "next_time:\n    say: Nästa vecka kanske!\n    next: circle")
    # No catalogs at all: every text is untranslated, in every language Stegvis offers (and any added).
    report = check_flow(source, file="example.yaml", translations=Translations(tmp_path, [*LANGUAGES, "en"]))
    assert report.ok, report.lines()
    notes = [str(note) for note in report.notes]
    assert "example.yaml:19: steps.lost: unreachable: no way from the start (or an entry) leads here" in notes
    assert "example.yaml:22: steps.circle: dead end: from here the conversation can never finish (every way leads back to a question)" in notes
    assert "example.yaml:16: steps.next_time: dead end: from here the conversation can never finish (every way leads back to a question)" in notes
    assert "example.yaml:6: steps.ask.say: the first message is 227 characters; a first message over 200 is read by few" in notes
    assert "example.yaml:10: steps.ask: the label 'Inte alls den här veckan tyvärr' is 31 characters in sv; over 20 it wraps on a phone" in notes
    for code in ("ar", "so", "fa_AF", "ti", "en"):
        assert f"example.yaml:12: steps.route: {code}: 'Tack.' has no translation yet: it is shown in Swedish (run python -m locales.update, then translate)" in notes
    assert not any(note.startswith("example.yaml:12: steps.route: sv:") for note in notes)


def test_unreviewed_translations_are_noted(translations: Translations) -> None:
    report = check_flow((DEFINITIONS / "onboarding.yaml").read_bytes(), file="onboarding.yaml", translations=translations)
    assert "onboarding.yaml:21: steps.privacy: ar: the translation of 'Ja, jag godkänner' is not reviewed yet" in [str(n) for n in report.notes]


def test_a_5_mb_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as out:
        out.write(b"format: 2\n" + b"# " + b"x" * (5 * 1024 * 1024) + b"\n")
    report = services.check_file(path)
    assert [str(e) for e in report.errors] == [f"{path}: file is larger than 256 KiB"]


def test_check_on_the_command_line_exits_2_and_names_file_line_and_field(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_bytes((ROOT / "tests/data/broken_flows/condition_unknown_answer.yaml").read_bytes())
    (tmp_path / "example.yaml").write_text(ROUTED, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STEGVIS_", "TELEGRAM_"))}
    env["STEGVIS_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'none.sqlite3'}"
    done = subprocess.run([sys.executable, "-m", "bot", "flows", "check", str(tmp_path), "--json"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert done.returncode == 2, done.stderr
    assert not (tmp_path / "none.sqlite3").exists()  # a check needs no database and makes none
    result = json.loads(done.stdout)
    assert result["ok"] is False
    broken, example = result["flows"]
    assert broken["errors"] == [f"{tmp_path / 'broken.yaml'}:15: steps.route.next[0].if.ask: 'maybe' is not an answer of the step 'ask' (its answers: come, away)"]
    assert example["ok"] is True and example["errors"] == []


# --- publishing, history, diff, rollback ---------------------------------------------------------------


def onboarding_with(welcome: str) -> bytes:
    text = (DEFINITIONS / "onboarding.yaml").read_text(encoding="utf-8")
    start = text.index("  welcome:\n    say: |-\n")
    stop = text.index("    end: true", start)
    return (text[:start] + f"  welcome:\n    say: {welcome}\n" + text[stop:]).encode()


async def test_publish_history_diff_and_rollback(sqlite_database: Database, translations: Translations) -> None:
    async with sqlite_database.sessions() as session:
        assert await live_content.revisions(session) == {}
        first = await services.publish(session, ADMIN, source=onboarding_with("Välkommen!"), file="onboarding.yaml", expected_id="onboarding", note="shorter welcome", now=NOW, translations=translations)
        second = await services.publish(session, ADMIN, source=onboarding_with("Hej och välkommen!"), file="onboarding.yaml", expected_id="onboarding", note=None, now=NOW + timedelta(hours=1), translations=translations)
        await session.commit()
    assert (first.version, second.version) == (2, 3)
    # A text with no translation yet is shown in Swedish, and the inspection says so.
    assert "onboarding.yaml:31: steps.welcome: ar: 'Välkommen!' has no translation yet: it is shown in Swedish (run python -m locales.update, then translate)" in first.notes
    async with sqlite_database.sessions() as session:
        assert await live_content.revisions(session) == {"flows": 2}
        history = await services.history(session, "onboarding")
        assert [(v.version, v.published_by, v.published_at, v.note) for v in history.versions] == [
            (1, "shipped with Stegvis", None, "flows/definitions/onboarding.yaml"),
            (2, "anna", NOW, "shorter welcome"),
            (3, "anna", NOW + timedelta(hours=1), None),
        ]
        assert history.live == 3
        diff = await services.diff(session, "onboarding", old=None, new=None)
        assert (diff.old, diff.new) == (2, 3)
        assert diff.text.splitlines()[:2] == ["--- onboarding version 2", "+++ onboarding version 3"]
        assert "-    say: Välkommen!" in diff.text.splitlines() and "+    say: Hej och välkommen!" in diff.text.splitlines()
        back = await services.rollback(session, ADMIN, "onboarding", to=None, note=None, now=NOW + timedelta(hours=2), translations=translations)
        await session.commit()
    assert (back.version, back.rollback_of, back.note) == (4, 2, "rollback to version 2")
    async with sqlite_database.sessions() as session:
        assert (await services.diff(session, "onboarding", old=2, new=4)).text == ""
        to_shipped = await services.rollback(session, SYSTEM, "onboarding", to=1, note="back to the shipped text", now=NOW + timedelta(hours=3), translations=translations)
        await session.commit()
        assert (await services.text_of(session, "onboarding", to_shipped.version)) == (DEFINITIONS / "onboarding.yaml").read_text(encoding="utf-8")
        assert await live_content.revisions(session) == {"flows": 4}


async def test_a_failing_publish_leaves_the_live_version_as_it_was(sqlite_database: Database, translations: Translations) -> None:
    async with sqlite_database.sessions() as session:
        await services.publish(session, ADMIN, source=onboarding_with("Välkommen!"), file="onboarding.yaml", expected_id="onboarding", note=None, now=NOW, translations=translations)
        await session.commit()
    broken = onboarding_with("Välkommen {namn}!")
    async with sqlite_database.sessions() as session:
        with pytest.raises(InvalidInput) as caught:
            await services.publish(session, ADMIN, source=broken, file="onboarding.yaml", expected_id="onboarding", note=None, now=NOW, translations=translations)
        await session.commit()
    assert caught.value.message == "onboarding.yaml has 1 error; nothing was published and the live version stays as it was"
    assert caught.value.problems == ["onboarding.yaml:31: steps.welcome.say: unknown placeholder {namn} (declared variables: name, retention_months)"]
    async with sqlite_database.sessions() as session:
        history = await services.history(session, "onboarding")
        assert history.live == 2 and await live_content.revisions(session) == {"flows": 1}


async def test_a_rollback_with_nothing_to_go_back_to_says_so(sqlite_database: Database) -> None:
    async with sqlite_database.sessions() as session:
        with pytest.raises(InvalidInput) as caught:
            await services.rollback(session, ADMIN, "onboarding", to=None, note=None, now=NOW)
    assert caught.value.message == "onboarding has never been published: the shipped file is live; nothing to roll back"


async def test_the_reload_hook_makes_the_newest_version_live_and_keeps_the_older_ones(sqlite_database: Database, catalogs: Catalogs, translations: Translations) -> None:
    class Running:  # what the hook reads of a running bot: its engine and database
        engine = Engine(load_flows(), catalogs)
        database = sqlite_database

    async with sqlite_database.sessions() as session:
        await services.publish(session, ADMIN, source=onboarding_with("Välkommen!"), file="onboarding.yaml", expected_id="onboarding", note=None, now=NOW, translations=translations)
        await session.commit()
    shipped = Running.engine.flows["onboarding"]
    await reload_flows(Running, 1)
    live = Running.engine.flows["onboarding"]
    assert live.version == 2 and live.steps["welcome"].say == "Välkommen!"
    assert Running.engine.versions[("onboarding", 1)] is shipped
    # A run that started on version 1 walks version 1.
    on_shipped = State(tuple(Running.engine.start("onboarding", language="sv", variables={"name": "Amina", "retention_months": 12}, at="privacy").state.runs))
    assert on_shipped.top is not None and on_shipped.top.version == 2
    old_run = State((on_shipped.top.__class__("onboarding", 1, "privacy", {}),))
    finished = Running.engine.resume(old_run, Press("s:onboarding:privacy:agree"), language="sv", variables={"name": "Amina", "retention_months": 12})
    assert finished.messages[0].text.startswith("Tack! Här får du påminnelser")


# --- diagrams and the preview ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_the_committed_diagram_is_made_from_the_flow_file(path: Path) -> None:
    flow = parse_flow(path.read_bytes(), file=path.name)
    assert diagram.committed(flow.id) == diagram.block(flow), (
        f"docs/flows/{flow.id}.md has a diagram that does not match {path.name}; run: stegvis flows diagram {flow.id} --write"
    )


def test_the_diagram_shows_conditions() -> None:
    text = diagram.mermaid(parse_flow(ROUTED, file="example.yaml"))
    assert "    route --> next_time: if ask is none" in text.splitlines()
    assert "    route --> well_done: otherwise" in text.splitlines()
    assert "    ask --> route: presses «Mycket» (checkin_practice)" in text.splitlines()


def test_the_preview_walks_every_way_in_the_language_with_the_isolates_shown(catalogs: Catalogs) -> None:
    flow = parse_flow((DEFINITIONS / "checkin.yaml").read_bytes(), file="checkin.yaml")
    ways = transcripts(flow, "ar", show_isolates=True, catalogs=catalogs)
    # 3 amounts (two of them ask where) × 5 faces.
    assert len(ways) == 15
    first = "\n".join(ways[0])
    assert first.startswith("— way 1 of 15: checkin in ar:")
    assert "«[FSI]Hur mår du?[PDI]»" in first
    assert "\u2068" not in first
    assert ways[0][-1] == "  (the end)"
    plain = transcripts(flow, "ar", catalogs=catalogs)
    assert "«\u2068Hur mår du?\u2069»" in "\n".join(plain[0])


async def test_bump_counts_each_change_once_on_either_database(database: Database) -> None:
    async with database.sessions() as session:
        assert await live_content.bump(session, "flows", NOW) == 1
        assert await live_content.bump(session, "flows", NOW + timedelta(seconds=1)) == 2
        assert await live_content.bump(session, "translations", NOW) == 1
        await session.commit()
    async with database.sessions() as session:
        assert await live_content.revisions(session) == {"flows": 2, "translations": 1}


def test_a_published_flow_must_fit_the_code_that_starts_it(tmp_path: Path, translations: Translations) -> None:
    text = (DEFINITIONS / "checkin.yaml").read_text(encoding="utf-8")
    changed = text.replace("entries: [nudge]\n", "").replace("variables: [phrase, meaning]", "variables: [phrase, meaning, week]")
    path = tmp_path / "checkin.yaml"
    path.write_text(changed, encoding="utf-8")
    report = services.check_file(path, translations=translations)
    assert [str(e) for e in report.errors] == [
        f"{path}: variables: Stegvis fills in only meaning, phrase for the flow checkin; {{week}} would have no value",
        f"{path}: entries: Stegvis starts the flow checkin at the step 'nudge' too: keep that step and list it under entries",
    ]


def test_a_button_of_a_step_only_an_older_version_has_is_still_known(catalogs: Catalogs) -> None:
    shipped = parse_flow((DEFINITIONS / "onboarding.yaml").read_bytes(), file="onboarding.yaml")
    renamed = onboarding_with("Välkommen!").decode().replace("  welcome:", "  hello:").replace("next: welcome", "next: hello")
    engine = Engine({"onboarding": shipped}, catalogs)
    engine.publish(replace(parse_flow(renamed, file="onboarding.yaml"), version=2))
    assert "welcome" not in engine.flows["onboarding"].steps
    assert engine.has_step("onboarding", "welcome") and engine.has_step("onboarding", "hello")
    assert not engine.has_step("onboarding", "nowhere")


def test_a_published_text_with_no_translation_yet_is_shown_in_swedish(catalogs: Catalogs) -> None:
    engine = Engine(load_flows(), catalogs)
    engine.publish(replace(parse_flow(onboarding_with("Välkommen till Stegvis!"), file="onboarding.yaml"), version=2))
    started = engine.start("onboarding", language="ar", variables={"name": "Amina", "retention_months": 12}, at="privacy")
    done = engine.resume(started.state, Press("s:onboarding:privacy:agree"), language="ar", variables={"name": "Amina", "retention_months": 12})
    # Swedish, never empty; in an Arabic chat the Latin letters are isolated as every Latin run is.
    assert [m.text for m in done.messages] == ["\u2068Välkommen till Stegvis\u2069!"]


def test_format_1_may_also_be_written_as_format() -> None:
    flow = parse_flow(OLD_FORMAT.replace("spec: 1", "format: 1"), file="example.yaml")
    assert flow.format == 1 and flow.steps["ask"].buttons[0].event == "answered"


async def test_the_poller_calls_a_kinds_hooks_at_start_and_when_its_revision_moves_and_retries_a_failure(sqlite_database: Database) -> None:
    from bot.live_reload import LiveReloader
    from bot.registry import Features

    calls: list[tuple[str, int]] = []
    failing = [True]

    async def flows_hook(stegvis: object, revision: int) -> None:
        calls.append(("flows", revision))

    async def translations_hook(stegvis: object, revision: int) -> None:
        calls.append(("translations", revision))
        if failing[0]:
            failing[0] = False
            raise RuntimeError("the catalog is being written")

    class Running:
        database = sqlite_database
        features = Features()

    Running.features.on_live_change("flows", flows_hook)
    Running.features.on_live_change("translations", translations_hook)
    poller = LiveReloader()
    await poller.poll(Running)  # at start: every kind once, at revision 0; the failing hook is tried again next time
    assert calls == [("flows", 0), ("translations", 0)]
    await poller.poll(Running)
    assert calls[2:] == [("translations", 0)]
    await poller.poll(Running)  # nothing moved
    assert len(calls) == 3
    async with sqlite_database.sessions() as session:
        await live_content.bump(session, "translations", NOW)
        await session.commit()
    await poller.poll(Running)
    assert calls[3:] == [("translations", 1)]


TIMED = """\
format: 2
flow: timed
start: ask
steps:
  ask:
    say: Kommer du?
    event: attendance
    buttons:
      - {id: come, label: Ja}
    timeout: {after: 2d, next: nudge}
  nudge:
    say: En liten påminnelse. Kommer du?
    event: attendance
    buttons:
      - {id: come, label: Ja}
  last:
    say: Sista frågan.
    event: attendance
    buttons:
      - {id: come, label: Ja, next: last}
    timeout: {after: 90m, event: attendance_unanswered}
"""


def test_timeouts_in_the_inspection_and_the_diagram(tmp_path: Path) -> None:
    report = check_flow(TIMED, file="timed.yaml", translations=Translations(tmp_path, list(LANGUAGES)))
    assert report.ok, report.lines()
    notes = [str(note) for note in report.notes]
    # The reminder is reached by waiting (not unreachable); it never times out itself: a note.
    assert not any("steps.nudge: unreachable" in note for note in notes)
    assert "timed.yaml:10: steps.ask.timeout: the reminder 'nudge' has no timeout of its own: for someone who never answers, the conversation stays open (end it with timeout: {after: ..., event: ...})" in notes
    # A question whose only way out is its timeout's event is not a dead end (but nobody reaches it).
    assert "timed.yaml:16: steps.last: unreachable: no way from the start (or an entry) leads here" in notes
    assert not any("steps.last: dead end" in note for note in notes)
    assert report.flow is not None
    drawn = diagram.mermaid(report.flow)
    assert "    ask --> nudge: no answer after 2d" in drawn
    assert "    last --> [*]: no answer after 90m (attendance_unanswered)" in drawn


def test_the_preview_shows_a_timeout_once(catalogs: Catalogs) -> None:
    flow = parse_flow((DEFINITIONS / "course_eval.yaml").read_bytes(), file="course_eval.yaml")
    ways = transcripts(flow, "sv", catalogs=catalogs)
    # 3 × 3 × 3 × 2 answered ways, one through the reminder (first answers only), one unanswered.
    assert len(ways) == 56
    assert ways[-1][1:] == [
        "  bot: Hej! Vad tyckte du om kursen?", "       [😄 Bra]  [😐 Okej]  [🙁 Dåligt]", "  (no answer after 24h)",
        "  bot: En liten påminnelse: vad tyckte du om kursen?", "       [😄 Bra]  [😐 Okej]  [🙁 Dåligt]", "  (no answer after 24h)",
        "  (recorded: evaluation_unanswered)", "  (the end)",
    ]
    assert "  participant: 😄 Bra" in ways[-2] and ways[-2][3] == "  (no answer after 24h)"
