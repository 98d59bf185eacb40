"""Loading flow files: every shipped flow loads, and every broken one fails with the message an
administrator needs (``file:line: field: problem``).

Each file in ``tests/data/broken_flows/`` starts with ``# error: <the exact message>``. To cover a
new mistake, add a file there; the message is the specification, so write the one you would want
to read at the moment you made that mistake.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml
from babel.messages.extract import extract

from flows.check import Translations, check_flow, known_event_types
from flows.definition import MAX_BUTTONS, MAX_LABEL, MAX_TEXT, Flow, FlowError, TextEntry, load_flow, parse_flow
from flows.extract import extract_flow
from flows.library import DEFINITIONS, load_flows

BROKEN = Path(__file__).resolve().parent / "data" / "broken_flows"
BROKEN_FILES = sorted(BROKEN.glob("*.yaml"))
SHIPPED = sorted(DEFINITIONS.glob("*.yaml"))
PREFIX = "# error: "

GOOD = """\
spec: 1
flow: example
start: ask
variables: [name]
steps:
  ask:
    say: Hej {name}! Kommer du på tisdag?
    buttons:
      - {id: come, label: Ja, next: thanks, event: attendance, payload: {answer: coming, day: 2, sure: true}}
      - {id: away, label: Nej}
  thanks:
    say: Tack!
    end: true
"""


def expected_error(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith(PREFIX), f"{path.name}: the first line must be '{PREFIX}<the exact message>'"
    return first[len(PREFIX):]


# --- broken flows -----------------------------------------------------------------------------


def test_there_are_broken_flows() -> None:
    assert len(BROKEN_FILES) >= 20


@pytest.fixture(scope="module")
def translations() -> Translations:
    return Translations()


@pytest.mark.parametrize("path", BROKEN_FILES, ids=[p.stem for p in BROKEN_FILES])
def test_broken_flow_fails_with_its_message(path: Path, translations: Translations) -> None:
    # `stegvis flows check` runs these: the file's own errors first, then those that need the
    # catalogs (a message too long in some language) and the events Stegvis knows.
    expected = expected_error(path)
    report = check_flow(path.read_bytes(), file=path.name, translations=translations, known_events=known_event_types((), load_flows()))
    assert report.flow is None and report.errors, f"{path.name} was accepted"
    assert str(report.errors[0]) == expected
    # The parts are there for tools (an admin page could underline the line).
    error = report.errors[0]
    assert error.file == path.name
    assert expected.startswith(f"{path.name}:{error.line}: " if error.line else f"{path.name}: ")
    assert expected.endswith(error.problem)
    if error.line:  # the line is inside the file
        assert 1 <= error.line <= len(path.read_text(encoding="utf-8").splitlines()) + 1


def test_a_broken_flow_in_the_folder_stops_loading(tmp_path: Path) -> None:
    (tmp_path / "example.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "wrong_spec.yaml").write_bytes((BROKEN / "wrong_spec.yaml").read_bytes().replace(b"flow: broken", b"flow: wrong_spec"))
    with pytest.raises(FlowError, match=r"wrong_spec\.yaml:2: spec: unsupported version 2"):
        load_flows(tmp_path)


def test_not_utf8() -> None:
    source = "spec: 1\nflow: x\nstart: ask\nsteps:\n  ask:\n    say: Välkommen\n    end: true\n".encode("latin-1")
    with pytest.raises(FlowError) as caught:
        parse_flow(source, file="latin1.yaml")
    assert str(caught.value) == "latin1.yaml:6: not UTF-8 text (column 11 is in another encoding); save the file as UTF-8"


def test_a_utf8_byte_order_mark_is_fine() -> None:
    assert parse_flow(b"\xef\xbb\xbf" + GOOD.encode(), file="bom.yaml").id == "example"


def test_flow_id_must_match_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "welcome.yaml"
    path.write_text(GOOD, encoding="utf-8")
    with pytest.raises(FlowError) as caught:
        load_flow(path)
    assert str(caught.value) == f"{path}:2: flow: 'example' must match the file name 'welcome'"
    renamed = tmp_path / "example.yaml"
    path.rename(renamed)
    assert load_flow(renamed).id == "example"


def test_file_too_large() -> None:
    with pytest.raises(FlowError) as caught:
        parse_flow(b"#" * (256 * 1024 + 1), file="huge.yaml")
    assert str(caught.value) == "huge.yaml: file is larger than 256 KiB"


def test_say_too_long() -> None:
    source = GOOD.replace("say: Tack!", "say: " + "a" * (MAX_TEXT + 1))
    with pytest.raises(FlowError) as caught:
        parse_flow(source, file="long.yaml")
    assert str(caught.value) == f"long.yaml:12: steps.thanks.say: is {MAX_TEXT + 1} characters; at most {MAX_TEXT}"


def test_limits_are_inclusive() -> None:
    buttons = "\n".join(f"      - {{id: b{i}, label: '{'x' * MAX_LABEL}'}}" for i in range(MAX_BUTTONS))
    source = f"spec: 1\nflow: x\nstart: ask\nsteps:\n  ask:\n    say: '{'a' * MAX_TEXT}'\n    buttons:\n{buttons}\n"
    flow = parse_flow(source)
    assert len(flow.steps["ask"].buttons) == MAX_BUTTONS


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("true", "unsupported version True"),  # YAML true is not the number 1
        ("'1'", "unsupported version '1'"),
        ("1.0", "unsupported version 1.0"),
    ],
)
def test_spec_must_be_the_number_one(value: str, problem: str) -> None:
    with pytest.raises(FlowError) as caught:
        parse_flow(GOOD.replace("spec: 1", f"spec: {value}"), file="x.yaml")
    assert str(caught.value) == f"x.yaml:1: spec: {problem}; this Stegvis reads spec 1 (the old format) or format 2"


@pytest.mark.parametrize(
    ("start", "message"),
    [
        ("[ask]", "x.yaml:3: start: must be an id (use a-z, 0-9 and _, starting with a letter, at most 16 characters), not a list"),
        ("", "x.yaml:3: start: must be an id (use a-z, 0-9 and _, starting with a letter, at most 16 characters), not empty"),
        ("Ask", "x.yaml:3: start: 'Ask' is not an id: use a-z, 0-9 and _, starting with a letter, at most 16 characters"),
        ("thank", "x.yaml:3: start: no step named 'thank' (did you mean 'thanks'?)"),
    ],
)
def test_start_must_name_a_step(start: str, message: str) -> None:
    with pytest.raises(FlowError) as caught:
        parse_flow(GOOD.replace("start: ask", f"start: {start}"), file="x.yaml")
    assert str(caught.value) == message


def test_errors_are_value_errors_with_parts() -> None:
    with pytest.raises(ValueError) as caught:
        parse_flow(GOOD.replace("label: Nej", "label: ''"), file="x.yaml")
    error = caught.value
    assert isinstance(error, FlowError)
    assert (error.file, error.line, error.where, error.problem) == ("x.yaml", 10, "steps.ask.buttons[1].label", "must be a non-empty text")


# --- good flows -------------------------------------------------------------------------------


def test_a_good_flow_loads_with_everything_in_it() -> None:
    flow = parse_flow(GOOD, file="example.yaml", expected_id="example")
    assert (flow.id, flow.start, flow.variables, flow.file) == ("example", "ask", frozenset({"name"}), "example.yaml")
    ask = flow.steps["ask"]
    assert ask.say == "Hej {name}! Kommer du på tisdag?"
    assert ask.waits and not flow.steps["thanks"].waits
    come, away = ask.buttons
    assert (come.id, come.label, come.next, come.event, come.payload) == ("come", "Ja", "thanks", "attendance", {"answer": "coming", "day": 2, "sure": True})
    assert (away.next, away.event, away.payload) == (None, "answered", {})  # the defaults
    assert flow.steps["thanks"].end


TYPED = """\
spec: 1
flow: typed
start: ask
entries: [again]
steps:
  ask:
    say: Varför?
    text_input: {event: reason_given, next: thanks, max_length: 200}
    buttons:
      - {id: skip, label: Nej tack, next: thanks}
  again:
    say: Skriv igen.
    text_input:
      max_length: 1000
  thanks:
    say: Tack!
    end: true
"""


def test_a_text_input_step_with_and_without_buttons() -> None:
    flow = parse_flow(TYPED, file="typed.yaml", expected_id="typed")
    assert flow.entries == ("again",)
    ask, again = flow.steps["ask"], flow.steps["again"]
    assert ask.waits and again.waits
    assert ask.text_input == TextEntry("reason_given", "thanks", 200, 8)
    assert [b.id for b in ask.buttons] == ["skip"]
    assert again.text_input == TextEntry("answered", None, 1000, 13)  # the defaults: the flow ends after the text
    assert again.buttons == ()
    assert not flow.steps["thanks"].waits


def test_event_names_may_be_longer_than_ids() -> None:
    source = GOOD.replace("event: attendance", "event: appointment_decline_reason")
    assert parse_flow(source).steps["ask"].buttons[0].event == "appointment_decline_reason"


def test_literal_braces_and_texts_in_quotes() -> None:
    source = GOOD.replace("say: Tack!", "say: '{{Tack}}: vi ses!'")
    assert parse_flow(source).steps["thanks"].say == "{{Tack}}: vi ses!"


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_flow_loads(path: Path) -> None:
    flow = load_flow(path)
    assert flow.id == path.stem
    assert flow.start in flow.steps
    # Every step can be reached from the start or another entry: a step nobody reaches is a mistake in waiting.
    reached, todo = set(), [flow.start, *flow.entries]
    while todo:
        step = flow.steps[todo.pop()]
        if step.id in reached:
            continue
        reached.add(step.id)
        typed = [step.text_input.next] if step.text_input else []
        timed = [step.timeout.next] if step.timeout else []  # a reminder is reached by waiting
        todo += [target for target in [step.next, *(b.next for b in step.buttons), *typed, *timed] if target]
    assert reached == set(flow.steps), f"unreachable steps in {path.name}: {set(flow.steps) - reached}"


def test_library_loads_the_shipped_flows() -> None:
    flows = load_flows()
    assert set(flows) == {path.stem for path in SHIPPED} >= {"onboarding", "language", "reminder"}
    assert all(isinstance(flow, Flow) for flow in flows.values())


# --- extraction for translators -----------------------------------------------------------------


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_extraction_yields_every_text_with_its_line_and_a_comment(path: Path) -> None:
    flow = load_flow(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    with path.open("rb") as fileobj:
        found = list(extract_flow(fileobj, keywords=(), comment_tags=(), options={}))
    expected = {step.say for step in flow.steps.values() if step.say} | {b.label for s in flow.steps.values() for b in s.buttons}
    expected |= {s.several.done for s in flow.steps.values() if s.several is not None}
    assert {message for _line, _func, message, _comments in found} == expected
    for line, funcname, message, comments in found:
        assert funcname is None
        source_line = lines[line - 1].strip()
        # The line is where the text is written: the say: or label: line (a |- block starts there),
        # or a button written on one line, {id: ..., label: ...}.
        first_words = message.splitlines()[0][:20]
        assert source_line.startswith(("say:", "label:", "- {", "several:")), (line, source_line)
        assert first_words in source_line or source_line.endswith(("|-", "|", ">")), (line, source_line, message)
        [comment] = comments
        assert comment.startswith(f"flow step: {flow.id}.")


def test_extraction_through_babel() -> None:
    """What ``pybabel extract`` does with the mapping in babel.cfg."""
    path = DEFINITIONS / "onboarding.yaml"
    with path.open("rb") as fileobj:
        found = list(extract("flows.extract:extract_flow", fileobj, comment_tags=("flow step",)))
    by_text = {message: (line, comments) for line, message, comments, _context in found}
    assert by_text["Ja, jag godkänner"] == (21, ["flow step: onboarding.privacy.agree"])
    assert by_text["Nej"] == (26, ["flow step: onboarding.privacy.decline"])
    privacy = next(message for message in by_text if message.startswith("Hej {name}!"))
    assert by_text[privacy] == (14, ["flow step: onboarding.privacy"])
    assert privacy.endswith("Godkänner du det?")  # a |- block keeps its inner newlines, not the last one


def test_extraction_points_at_the_say_line_wherever_it_is() -> None:
    source = b"spec: 1\nflow: x\nstart: a\nsteps:\n  a:\n    end: true\n    say: Hej\n"
    fileobj = io.BytesIO(source)
    fileobj.name = "x.yaml"  # type: ignore[attr-defined]
    assert list(extract_flow(fileobj, (), (), {})) == [(7, None, "Hej", ["flow step: x.a"])]


def test_extraction_of_a_broken_flow_names_the_file() -> None:
    path = BROKEN / "seven_buttons.yaml"
    with path.open("rb") as fileobj, pytest.raises(FlowError, match=rf"^{path}:9: steps\.ask\.buttons: has 7 buttons"):
        list(extract_flow(fileobj, (), (), {}))


def test_shipped_flows_are_plain_yaml() -> None:
    # No anchors, aliases or tags: administrators edit these by hand and diff them in review.
    for path in SHIPPED:
        for token in yaml.scan(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader):
            assert not isinstance(token, (yaml.AnchorToken, yaml.AliasToken, yaml.TagToken)), (path.name, token)


# --- several choices and rows of buttons --------------------------------------------------------

SEVERAL = """\
spec: 1
flow: example
start: where
steps:
  where:
    say: Var övade du?
    several: {event: places, key: places, next: faces, done: Klar}
    buttons:
      - {id: sfi, label: SFI}
      - {id: home, label: Hemma}
  faces:
    say: Hur känns det?
    layout: row
    buttons:
      - {id: f1, label: "😟"}
      - {id: f5, label: "😄"}
"""


def test_a_several_step_and_a_row_of_buttons_load_with_everything_in_them() -> None:
    flow = parse_flow(SEVERAL)
    where, faces = flow.steps["where"], flow.steps["faces"]
    assert where.waits and where.several is not None
    assert (where.several.event, where.several.key, where.several.next, where.several.done) == ("places", "places", "faces", "Klar")
    assert [b.id for b in where.buttons] == ["sfi", "home"] and where.layout == "column"
    assert faces.layout == "row" and faces.several is None
    # The Done label is a text to translate, like the choices' labels.
    assert ("Klar", "example.where.done") in {(text, where_) for _line, text, where_ in flow.texts()}


def test_a_several_steps_key_defaults_to_chosen() -> None:
    flow = parse_flow(SEVERAL.replace("key: places, ", ""))
    assert flow.steps["where"].several.key == "chosen"


def test_a_row_holds_six_buttons_and_a_several_step_five_choices() -> None:
    six = "\n".join(f"      - {{id: f{n}, label: '{n}'}}" for n in range(6))
    parse_flow(SEVERAL.split("  faces:")[0] + "  faces:\n    say: Hur?\n    layout: row\n    buttons:\n" + six + "\n")
    five = "\n".join(f"      - {{id: p{n}, label: P{n}}}" for n in range(5))
    start = SEVERAL.split("    buttons:\n      - {id: sfi")[0]
    flow = parse_flow(start + "    buttons:\n" + five + "\n" + "  faces:" + SEVERAL.split("  faces:")[1])
    assert len(flow.steps["where"].buttons) == 5


def test_the_phrases_of_the_week_load_and_cycle() -> None:
    from datetime import date, timedelta

    from flows.phrases import of_week, shipped

    listed = shipped()
    assert len(listed) >= 4 and all(p.phrase and p.meaning for p in listed)
    monday = date(2027, 1, 18)
    weeks = [of_week(monday + timedelta(days=7 * n)) for n in range(len(listed) + 1)]
    assert len({p.phrase for p in weeks[:-1]}) == len(listed)  # every phrase once, one a week
    assert weeks[-1] == weeks[0]  # then again from the top


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("phrases: []\n", "phrases.yaml:1: phrases: must be a list of at least one phrase"),
        ("words: []\n", "phrases.yaml: must be a mapping with the one field phrases"),
        ("phrases:\n  - phrase: Hej\n", "phrases.yaml:2: phrases[0]: needs exactly the texts phrase and meaning"),
        ("phrases:\n  - {phrase: Hej, meaning: '{x}'}\n", "phrases.yaml:2: phrases[0].meaning: braces are not allowed (it is filled into the flow's text)"),
    ],
)
def test_a_broken_phrases_file_says_where(source: str, message: str) -> None:
    from flows.phrases import parse_phrases

    with pytest.raises(ValueError) as caught:
        parse_phrases(source)
    assert str(caught.value) == message


def test_the_meanings_of_the_phrases_are_extracted_for_translators() -> None:
    from flows.phrases import PHRASES, shipped

    with PHRASES.open("rb") as fileobj:
        found = list(extract_flow(fileobj, keywords=(), comment_tags=(), options={}))
    assert [message for _line, _func, message, _comments in found] == [p.meaning for p in shipped()]
    lines = PHRASES.read_text(encoding="utf-8").splitlines()
    for line, _func, message, comments in found:
        assert message in lines[line - 1]
        assert comments[0].startswith("the meaning of the phrase of the week «")
