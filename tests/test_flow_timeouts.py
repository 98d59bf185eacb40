"""A flow step's timeout in the running bot (bot/features/flow_timeouts/), end to end against the
sandbox through the real outbox sender: the course evaluation is sent, nobody answers, the clock
moves 24 hours and the job runs; the reminder arrives, one participant answers it and the answer
is stored as the first question's; one who answered just before the sender ticked gets no
reminder; one who never answers is recorded unanswered 24 hours later, with no message. Planning
again (the next tick, a new process) adds nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.features.flow_timeouts.feature import plan_timeouts, time_out_due
from bot.features.flow_timeouts.messages import TIMEOUT_MESSAGE
from bot.features.surveys import services
from bot.outbox.sender import Sender
from flows.engine import Engine, Press, State
from flows.library import load_flows
from locales import Catalogs
from storage.clock import FrozenClock
from storage.models import OutboxMessage, OutboxStatus
from tests.harness import BotHarness, start_bot
from tests.test_surveys import CATALOGS, FLOWS, NOW, STAFF, STEPS, TZ  # the same survey, sent on the same Tuesday morning

WAIT = 20.0  # seconds: a generous deadline on a busy machine


def t(language: str, msgid: str) -> str:
    return CATALOGS.texts(language).gettext(msgid)


def said(user, language: str, step: str) -> int:
    return sum(1 for m in user.messages if m.text == t(language, STEPS[step].say))


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[BotHarness]:
    async with start_bot(tmp_path, clock=FrozenClock(NOW)) as running:
        yield running


async def timeout_rows(harness: BotHarness) -> list[tuple[int | None, OutboxStatus]]:
    async with harness.database.sessions() as session:
        rows = (await session.execute(select(OutboxMessage.recipient_id, OutboxMessage.status).where(OutboxMessage.composer == TIMEOUT_MESSAGE).order_by(OutboxMessage.id))).all()
    return [(pid, OutboxStatus(status)) for pid, status in rows]


async def test_no_answer_gets_the_reminder_once_then_unanswered(harness: BotHarness) -> None:
    people = [await harness.joined(name, code) for name, code in (("Amina Yusuf", "so"), ("Sara Lind", "sv"), ("Hassan Ali", "ar"))]
    (amina, a), (sara, s), (hassan, h) = people
    async with harness.database.sessions() as session:
        await services.start_flow(session, STAFF, flows=FLOWS, flow="course_eval", participant_ids=[a, s, h], now=NOW, tz=TZ, quiet=harness.stegvis.settings.quiet)
        await session.commit()
    sender = Sender(harness.stegvis, harness.bot)
    assert await sender.tick() == 3
    for user, code in ((amina, "so"), (sara, "sv"), (hassan, "ar")):
        await user.wait_for(lambda user=user, code=code: said(user, code, "overall") == 1, WAIT, f"the question in {code}")
    # The question was asked when it went out: due 24 hours later, not before.
    stored = State.from_dict((await harness.conversation(a)).data)
    assert harness.stegvis.engine.due_at(stored) == NOW + timedelta(hours=24)
    harness.clock.advance(timedelta(hours=23, minutes=59))
    await time_out_due(harness.stegvis)
    assert await timeout_rows(harness) == []

    # A day later: the job plans one row each; again (the next tick, or a new process's engine) adds nothing.
    harness.clock.advance(timedelta(minutes=1))
    await time_out_due(harness.stegvis)
    await time_out_due(harness.stegvis)
    async with harness.database.sessions() as session:
        assert await plan_timeouts(session, Engine(load_flows(), Catalogs()), harness.clock.now()) == 0
        await session.commit()
    assert await timeout_rows(harness) == [(a, OutboxStatus.PENDING), (s, OutboxStatus.PENDING), (h, OutboxStatus.PENDING)]

    # Hassan answers the question before the sender ticks: his reminder is withdrawn, never sent.
    await hassan.press(t("ar", "😄 Bra"))
    await hassan.wait_for(lambda: said(hassan, "ar", "useful") == 1, WAIT, "Hassan's second question")
    await harness.settle()
    harness.clock.advance(timedelta(hours=1))  # the sender was down for an hour
    assert await sender.tick() == 2
    for user, code in ((amina, "so"), (sara, "sv")):
        await user.wait_for(lambda user=user, code=code: said(user, code, "reminder") == 1, WAIT, f"the reminder in {code}")
    assert said(hassan, "ar", "reminder") == 0
    assert await timeout_rows(harness) == [(a, OutboxStatus.SENT), (s, OutboxStatus.SENT), (h, OutboxStatus.CANCELLED)]
    assert await sender.tick() == 0
    # The reminder is the open question now, asked when it went out: its day counts from then.
    reminded = State.from_dict((await harness.conversation(s)).data)
    assert reminded.step == "reminder" and harness.stegvis.engine.due_at(reminded) == harness.clock.now() + timedelta(hours=24)
    await time_out_due(harness.stegvis)
    assert len(await timeout_rows(harness)) == 3

    # Amina answers the reminder and the rest: her answer is the first question's.
    await amina.press(t("so", "😐 Okej"))
    for label, then in (("Ja, mycket", "pace"), ("För snabbt", "comment"), ("Hoppa över", "thanks")):
        await amina.wait_for(lambda then=then: amina.messages[-1].text == t("so", STEPS[{"pace": "useful", "comment": "pace", "thanks": "comment"}[then]].say), WAIT, then)
        await amina.press(t("so", label))
    await amina.wait_for(lambda: amina.messages[-1].text == t("so", STEPS["thanks"].say), WAIT, "the thanks")
    await harness.settle()

    # Another day: Sara never answered the reminder either. Recorded unanswered, nothing sent.
    before = len(sara.messages)
    harness.clock.advance(timedelta(hours=23, minutes=59))
    await time_out_due(harness.stegvis)
    assert len(await timeout_rows(harness)) == 3
    harness.clock.advance(timedelta(minutes=1))
    await time_out_due(harness.stegvis)
    assert await timeout_rows(harness) == [(a, OutboxStatus.SENT), (s, OutboxStatus.SENT), (h, OutboxStatus.CANCELLED), (s, OutboxStatus.PENDING)]
    assert await sender.tick() == 1
    await harness.settle()
    assert len(sara.messages) == before
    assert (await harness.conversation(s)).data == {"runs": []}
    types = await harness.event_types(s)
    since = types[types.index("flow_sent"):]  # after the onboarding
    assert since == ["flow_sent", "flow_timed_out", "evaluation_unanswered", "flow_timed_out"], since  # no flow_completed
    harness.clock.advance(timedelta(hours=24))
    await time_out_due(harness.stegvis)
    assert len(await timeout_rows(harness)) == 4  # nothing more for anyone

    async with harness.database.sessions() as session:
        results = await services.flow_results(session, STAFF, flows=FLOWS, flow="course_eval", now=harness.clock.now())
    answers = {person.participant_id: person.answers for person in results.people}
    assert [q.step for q in results.questions] == ["overall", "useful", "pace", "comment"]
    assert answers[a] == {"overall": "😐 Okej", "useful": "Ja, mycket", "pace": "För snabbt", "comment": "Hoppa över"}
    assert answers[h] == {"overall": "😄 Bra"} and answers[s] == {}


# --- the engine's side, without the bot (milliseconds) ----------------------------------------

ENGINE = Engine(FLOWS, CATALOGS)


def test_only_the_visible_question_times_out_and_only_once_its_time_is_known() -> None:
    sent = ENGINE.start("course_eval", language="so", variables={"name": "Amina"})
    assert sent.state.top is not None and sent.state.top.asked_at is None
    assert ENGINE.due_at(sent.state) is None  # not stored yet: no time, no timeout
    stored = sent.state.asked(NOW)
    assert ENGINE.due_at(stored) == NOW + timedelta(hours=24)
    assert State.from_dict(stored.to_dict()) == stored
    # /language over the open survey: the picker has no timeout, so nothing is due until it is answered.
    over = ENGINE.start("language", language="so", variables={"name": "Amina"}, over=stored, now=NOW + timedelta(hours=1))
    assert ENGINE.due_at(over.state) is None
    unchanged = ENGINE.time_out(over.state, NOW + timedelta(days=3), language="so", variables={"name": "Amina"})
    assert (unchanged.state, unchanged.messages, unchanged.events) == (over.state, (), ())
    # The picker answered: the survey's question is asked again, and its day counts from then.
    later = NOW + timedelta(hours=2)
    back = ENGINE.resume(over.state, Press("s:language:pick:so"), language="so", variables={"name": "Amina"}, now=later)
    assert back.state.step == "overall" and ENGINE.due_at(back.state) == later + timedelta(hours=24)


def test_a_stored_asking_time_that_cannot_be_read_is_no_timeout() -> None:
    raw = {"runs": [{"flow": "course_eval", "version": 1, "step": "overall", "data": {}, "asked_at": "yesterday"}]}
    assert ENGINE.due_at(State.from_dict(raw)) is None
    naive = {"runs": [{**raw["runs"][0], "asked_at": "2027-01-19T10:00:00"}]}  # no offset: which 10:00?
    assert ENGINE.due_at(State.from_dict(naive)) is None


# --- planning on SQLite and PostgreSQL (no bot) --------------------------------------------------


async def test_planning_once_per_question_and_withdrawn_once_it_moved_on(database) -> None:
    from bot.features.flow_timeouts.messages import ConversationTimeouts
    from storage import repositories as repo
    from storage.models import ParticipantStatus

    async with database.sessions.begin() as session:
        caseworker = await repo.add_caseworker(session, "Karin", "karin@example.se", now=NOW)
        ids = []
        for name, status in (("Amina", ParticipantStatus.ACTIVE), ("Sara", ParticipantStatus.ACTIVE), ("Dawit", ParticipantStatus.STOPPED)):
            participant = await repo.add_participant(session, name, caseworker.id, language="so", now=NOW)
            participant.status = status
            ids.append(participant.id)
        await session.flush()
        asked = ENGINE.start("course_eval", language="so", variables={"name": "x"}).state.asked(NOW)
        for pid in ids:
            await repo.save_conversation(session, pid, asked.flow, asked.step, asked.to_dict(), now=NOW)
    amina, sara, dawit = ids
    due = NOW + timedelta(hours=24)
    async with database.sessions.begin() as session:
        assert await plan_timeouts(session, ENGINE, due - timedelta(seconds=1)) == 0  # not yet
        assert await plan_timeouts(session, ENGINE, due) == 2  # not Dawit: he said /stop
        assert await plan_timeouts(session, ENGINE, due + timedelta(minutes=5)) == 0  # the same questions
    async with database.sessions.begin() as session:
        rows = (await session.execute(select(OutboxMessage).where(OutboxMessage.composer == TIMEOUT_MESSAGE).order_by(OutboxMessage.id))).scalars().all()
        assert [(r.recipient_id, r.due_at, r.payload["step"], r.status) for r in rows] == [(amina, due, "overall", OutboxStatus.PENDING), (sara, due, "overall", OutboxStatus.PENDING)]
        assert not any(r.payload.get("ignore_quiet_hours") for r in rows)  # a reminder is a message: quiet hours hold it
        # Sara answers: her row is stale; the housekeeping withdraws it, Amina's stays.
        answered = ENGINE.resume(asked, Press("s:course_eval:overall:good"), language="so", variables={"name": "x"}).state.asked(due)
        await repo.save_conversation(session, sara, answered.flow, answered.step, answered.to_dict(), now=due)
    async with database.sessions.begin() as session:
        assert await ConversationTimeouts().withdraw_stale(session, due) == 1
    async with database.sessions() as session:
        statuses = dict((await session.execute(select(OutboxMessage.recipient_id, OutboxMessage.status).where(OutboxMessage.composer == TIMEOUT_MESSAGE))).all())
    assert statuses == {amina: OutboxStatus.PENDING, sara: OutboxStatus.CANCELLED}
    # Amina's reminder went out and she never answered: the row that ends it sends nothing, so
    # quiet hours do not hold it.
    reminded = ENGINE.time_out(asked, due, language="so", variables={"name": "x"}).state
    async with database.sessions.begin() as session:
        await repo.save_conversation(session, amina, reminded.flow, reminded.step, reminded.to_dict(), now=due)
        assert await plan_timeouts(session, ENGINE, due + timedelta(hours=24)) == 1
        last = (await session.execute(select(OutboxMessage).where(OutboxMessage.composer == TIMEOUT_MESSAGE).order_by(OutboxMessage.id.desc()))).scalars().first()
        assert (last.recipient_id, last.payload["step"], last.payload.get("ignore_quiet_hours")) == (amina, "reminder", True)
