"""The weekly practice check-in on a real database (SQLite and PostgreSQL): who gets one and
when, the CheckIn row kept from the events, the nudge sent exactly once even across a restart,
giving up on an unanswered one, and old or second answers changing nothing."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.app import Stegvis
from bot.config import SettingsError, load_settings
from bot.features.activities import services as activities
from bot.features.activities.schedule import WeeklyRule
from bot.features.checkins import services, weeks
from bot.features.checkins.feature import checkins as checkin_job
from bot.features.checkins.messages import CLOSED, NUDGE, WEEKLY, CheckinRefs
from bot.features.checkins.planning import plan_checkins
from bot.outbox.sender import Sender
from bot.services import SYSTEM, NotFound
from flows.engine import Press, State
from storage.database import Database
from storage.models import CheckIn, OutboxMessage, OutboxStatus, Participant, ParticipantStatus
from storage.writer import ParticipantRow, SessionReader
from tests.test_sender import World, world

TZ = ZoneInfo("Europe/Stockholm")
MONDAY = date(2027, 1, 18)  # ISO week 2027-W03
FRIDAY = MONDAY + timedelta(days=4)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


# ---- weeks and times, pure ---------------------------------------------------------------------


def test_a_week_is_named_by_its_monday_and_its_ref_fits_callback_data() -> None:
    assert weeks.reference(MONDAY) == "2027W03" and weeks.parse_reference("2027W03") == MONDAY
    assert weeks.reference(date(2026, 12, 28)) == "2026W53" and weeks.parse_reference("2026W53") == date(2026, 12, 28)
    assert weeks.parse_reference("2027W54") is None and weeks.parse_reference("7v2") is None and weeks.parse_reference(None) is None
    assert weeks.week_of(local(MONDAY + timedelta(days=6), 23, 59), TZ) == MONDAY
    assert weeks.week_of(local(MONDAY, 0, 0), TZ) == MONDAY


@pytest.mark.parametrize(
    ("text", "error"),
    [("2027-W3", '"2027-W3" is not an ISO week; use YYYY-Www, e.g. 2027-W03'), ("2027-W54", '"2027-W54" is not an ISO week; use YYYY-Www, e.g. 2027-W03'), ("2027-01-18", '"2027-01-18" is not an ISO week; use YYYY-Www, e.g. 2027-W03')],
)
def test_a_bad_week_says_how_to_write_one(text: str, error: str) -> None:
    with pytest.raises(ValueError) as caught:
        weeks.parse_week(text)
    assert str(caught.value) == error
    assert weeks.parse_week("2027-w03") == MONDAY


def test_the_participants_time_wins_over_the_activitys_and_the_earliest_activity_over_the_default() -> None:
    default = (4, time(14))
    assert weeks.chosen_moment((3, time(10)), [(0, time(9))], default) == (3, time(10))
    assert weeks.chosen_moment(None, [(2, time(9)), (0, time(16))], default) == (0, time(16))
    assert weeks.chosen_moment(None, [], default) == default


def test_the_check_in_time_is_local_on_both_sides_of_summer_time() -> None:
    before, after = date(2027, 3, 22), date(2027, 3, 29)  # summer time begins on 28 March 2027
    assert weeks.due_at(before, (4, time(14)), TZ) == datetime(2027, 3, 26, 13, tzinfo=timezone.utc)
    assert weeks.due_at(after, (4, time(14)), TZ) == datetime(2027, 4, 2, 12, tzinfo=timezone.utc)


@pytest.mark.parametrize(("value", "problem"), [("fri", '"fri" has no time'), ("funday 14:00", '"funday" is not a weekday'), ("fri 25:00", "25:00")])
def test_a_bad_checkin_time_setting_is_a_clear_error(value: str, problem: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(checkin_time=value)
    assert "STEGVIS_CHECKIN_TIME" in str(caught.value) and problem in str(caught.value)
    assert load_settings(checkin_time="torsdag 10:30").checkin_at == (3, time(10, 30))
    assert load_settings().checkin_at == (4, time(14))


# ---- on a real database ------------------------------------------------------------------------


async def enrolled(w: World, *people: Participant, **overrides: object) -> int:
    values: dict = {"name": "Språkcafé", "organisation": "Röda Korset", "place": "Nygatan 19", "weekly": [WeeklyRule(1, time(10))], "starts_on": date(2027, 1, 4)}
    values.update(overrides)
    now = w.clock.now()
    async with w.database.sessions() as session:
        aid = (await activities.add_activity(session, SYSTEM, w.stegvis.settings, now=now, **values)).id
        for person in people:
            await activities.enrol(session, SYSTEM, w.stegvis.settings, activity_id=aid, participant_id=person.id, from_date=date(2027, 1, 4), now=now)
        await session.commit()
    return aid


async def rows(w: World, composer: str = WEEKLY) -> list[OutboxMessage]:
    async with w.database.sessions() as session:
        return list(await session.scalars(select(OutboxMessage).where(OutboxMessage.composer == composer).order_by(OutboxMessage.id)))


async def checkin_rows(w: World) -> list[CheckIn]:
    async with w.database.sessions() as session:
        return list(await session.scalars(select(CheckIn).order_by(CheckIn.participant_id, CheckIn.week)))


async def schedule(w: World, **kwargs: object) -> services.ScheduleView:
    async with w.database.sessions() as session:
        result = await services.schedule(session, SYSTEM, w.stegvis.settings, now=w.clock.now(), **kwargs)
        await session.commit()
    return result


async def same_database(database: Database) -> Database:
    """Another connection pool on the same database, as a new process would open (the same schema on PostgreSQL)."""
    url = database.engine.url.render_as_string(hide_password=False)
    if database.dialect != "postgresql":
        return Database(url)
    async with database.engine.connect() as connection:
        search_path = (await connection.exec_driver_sql("SHOW search_path")).scalar_one()
    return Database(url, connect_args={"server_settings": {"search_path": search_path}})


async def plan(w: World) -> int:
    async with w.database.sessions() as session:
        added = await plan_checkins(session, w.stegvis.settings, w.clock.now())
        await session.commit()
    return added


async def test_each_active_participant_enrolled_that_week_gets_one_at_their_time(database: Database) -> None:
    async with world(database, now=local(MONDAY, 9)) as w:
        amina, own_time, stopped, invited, elsewhere, not_enrolled = [await w.participant() for _ in range(6)]
        await enrolled(w, amina, own_time, stopped, invited)
        async with w.database.sessions() as session:  # stopped and invited after enrolling
            (await session.get(Participant, stopped.id)).status = ParticipantStatus.STOPPED
            (await session.get(Participant, invited.id)).status = ParticipantStatus.INVITED
            await session.commit()
        later_activity = await enrolled(w, elsewhere, name="Bilda")
        await schedule(w, activity_id=later_activity, moment=(5, time(11)))
        await schedule(w, participant_id=own_time.id, moment=(3, time(10)))

        assert await plan(w) == 0  # Monday: nothing is due within a day
        w.clock.set(local(MONDAY + timedelta(days=2), 10, 30))  # Wednesday: Thursday 10:00 is within a day
        assert await plan(w) == 1
        w.clock.set(local(FRIDAY, 13))
        assert await plan(w) == 2  # Friday 14:00 (the default) and Saturday 11:00 (Bilda's)
        assert await plan(w) == 0  # planning again adds nothing
        due = {(r.recipient_id, r.due_at.astimezone(TZ).strftime("%a %H:%M"), r.subject_version) for r in await rows(w)}
        assert due == {(own_time.id, "Thu 10:00", MONDAY.toordinal()), (amina.id, "Fri 14:00", MONDAY.toordinal()), (elsewhere.id, "Sat 11:00", MONDAY.toordinal())}
        assert not_enrolled.id not in {r.recipient_id for r in await rows(w)}


async def test_a_new_time_withdraws_the_planned_row_and_plans_one_at_the_new_time(database: Database) -> None:
    async with world(database, now=local(FRIDAY, 9)) as w:
        amina = await w.participant()
        await enrolled(w, amina)
        assert await plan(w) == 1
        changed = await schedule(w, participant_id=amina.id, moment=(5, time(8)))
        assert (changed.at, changed.replanned) == ("sat 08:00", 1)
        assert await plan(w) == 1
        [old, new] = await rows(w)
        assert (old.status, old.last_error) == (OutboxStatus.CANCELLED, "withdrawn: the check-in's time changed")
        assert new.status == OutboxStatus.PENDING and new.due_at == local(MONDAY + timedelta(days=5), 8)
        cleared = await schedule(w, participant_id=amina.id, moment=None)
        assert cleared.at is None and cleared.default == "fri 14:00"
        with pytest.raises(NotFound) as caught:
            await schedule(w, activity_id=99, moment=(0, time(9)))
        assert (caught.value.message, caught.value.field) == ("no activity 99", "activity")


async def test_the_check_in_goes_out_once_and_the_nudge_once_even_across_a_restart(database: Database) -> None:
    async with world(database, now=local(FRIDAY, 13), quiet_hours="20:00-08:00") as w:
        amina = await w.participant()
        await enrolled(w, amina)
        await checkin_job(w.stegvis)
        w.clock.set(local(FRIDAY, 14))
        assert await w.sender().tick() == 1
        [sent] = w.delivered(amina.telegram_chat_id)
        assert sent == "Har du övat svenska den här veckan?"
        [row] = await checkin_rows(w)
        assert (row.week, row.sent_at, row.nudged_at, row.answered_at, row.voice_notes) == (MONDAY, local(FRIDAY, 14), None, None, 0)
        assert [e.payload for e in await w.events(amina.id, "checkin_sent")] == [{"week": "2027-01-18", "outbox_id": (await rows(w))[0].id}]

        # Planning again, and a second row for the week, send nothing more.
        await checkin_job(w.stegvis)
        assert await w.sender().tick() == 0

        # The nudge is planned for 24 hours later; then Stegvis restarts before it goes out.
        w.clock.set(local(FRIDAY + timedelta(days=1), 10))
        await checkin_job(w.stegvis)
        [nudge] = await rows(w, NUDGE)
        assert nudge.due_at == local(FRIDAY + timedelta(days=1), 14) and nudge.status == OutboxStatus.PENDING

        restarted = Stegvis.create(w.stegvis.settings, clock=w.clock, database=await same_database(w.database))
        bot = restarted.create_bot()
        try:
            await checkin_job(restarted)  # at start-up: plans nothing new
            w.clock.set(local(FRIDAY + timedelta(days=1), 14))
            assert await Sender(restarted, bot).tick() == 1
            await checkin_job(restarted)
            assert await Sender(restarted, bot).tick() == 0
        finally:
            await bot.session.close()
            await restarted.close()
        assert len(await rows(w, NUDGE)) == 1
        assert w.delivered(amina.telegram_chat_id)[1:] == ["En liten påminnelse om veckans fråga.\n\nHar du övat svenska den här veckan?"] or w.delivered(amina.telegram_chat_id)[1:] == [
            "En liten påminnelse om veckans fråga.", "Har du övat svenska den här veckan?"
        ]
        assert [e.payload["week"] for e in await w.events(amina.id, "checkin_nudged")] == ["2027-01-18"]
        [row] = await checkin_rows(w)
        assert row.nudged_at == local(FRIDAY + timedelta(days=1), 14)

        # 24 hours after the nudge, still nothing: recorded as unanswered, once.
        w.clock.set(local(FRIDAY + timedelta(days=2), 13, 59))
        await checkin_job(w.stegvis)
        assert (await checkin_rows(w))[0].unanswered_at is None
        w.clock.set(local(FRIDAY + timedelta(days=2), 14))
        await checkin_job(w.stegvis)
        await checkin_job(w.stegvis)
        [row] = await checkin_rows(w)
        assert row.unanswered_at == local(FRIDAY + timedelta(days=2), 14) and row.answered_at is None
        assert [e.payload for e in await w.events(amina.id, "checkin_unanswered")] == [{"week": "2027-01-18"}]

        # Its buttons now say it was an earlier week's, and change nothing.
        async with w.database.sessions() as session:
            person = ParticipantRow(amina.id, amina.name, amina.caseworker_id, "sv", ParticipantStatus.ACTIVE, amina.telegram_chat_id, None)
            assert await CheckinRefs().closed(SessionReader(session), person, {"2027W03", "2027W02", "junk"}, w.clock.now()) == {
                "2027W03": CLOSED["old"], "2027W02": CLOSED["unknown"], "junk": CLOSED["unknown"],
            }


async def test_an_answer_stops_the_nudge_and_the_next_weeks_check_in_gives_up_on_the_last(database: Database) -> None:
    async with world(database, now=local(FRIDAY, 14)) as w:
        answering, silent = await w.participant(), await w.participant()
        await enrolled(w, answering, silent)
        await checkin_job(w.stegvis)
        assert await w.sender().tick() == 2
        # The answer comes in through the hot path's unit of work, as a press would.
        conversations = w.stegvis.conversations
        async with w.database.sessions() as session:
            person = (await session.execute(select(Participant).where(Participant.id == answering.id))).scalar_one()
        row = ParticipantRow(person.id, person.name, person.caseworker_id, "sv", ParticipantStatus.ACTIVE, person.telegram_chat_id, None)
        state = (await w.stegvis.store.participant_by_chat(person.telegram_chat_id)).conversation
        sprint = w.stegvis.engine.resume(State.from_dict(state), Press("s:checkin:practice:not_this_week:2027W03"), language="sv", variables={"phrase": "x", "meaning": "y"})
        await w.stegvis.store.apply(conversations.changes_for(row, sprint, State.from_dict(state), local(FRIDAY, 15)))

        w.clock.set(local(FRIDAY + timedelta(days=1), 14))
        await checkin_job(w.stegvis)
        assert await w.sender().tick() == 1  # the silent one's nudge only
        assert [r.recipient_id for r in await rows(w, NUDGE)] == [silent.id]
        # Next Monday at 09:00 (the silent one's new time), before 24 hours after the nudge:
        await schedule(w, participant_id=silent.id, moment=(0, time(9)))
        w.clock.set(local(MONDAY + timedelta(days=7), 9))
        await checkin_job(w.stegvis)
        assert await w.sender().tick() == 1
        await checkin_job(w.stegvis)
        found = {(c.participant_id, c.week): c for c in await checkin_rows(w)}
        assert found[(answering.id, MONDAY)].practice == "not_this_week" and found[(answering.id, MONDAY)].answered_at == local(FRIDAY, 15)
        assert found[(answering.id, MONDAY)].unanswered_at is None
        assert found[(silent.id, MONDAY)].unanswered_at == local(MONDAY + timedelta(days=7), 9)
        assert found[(silent.id, MONDAY + timedelta(days=7))].unanswered_at is None
        listing = await _list(w, MONDAY)
        assert [(r["participant"], r["status"], r["practice"]) for r in listing["checkins"]] == [(answering.id, "answered", "not_this_week"), (silent.id, "unanswered", None)]


async def _list(w: World, week: date) -> dict:
    async with w.database.sessions() as session:
        return (await services.list_week(session, SYSTEM, w.stegvis.settings, week=week, now=w.clock.now())).as_json(TZ)


@pytest.mark.parametrize(
    ("event_type", "payload", "writes"),
    [
        ("checkin_practice", {"week": "2027-01-18", "amount": "a_lot"}, True),
        ("checkin_practice", {"week": "2027-01-18", "amount": "sometimes"}, False),
        ("checkin_practice", {"amount": "a_lot"}, False),  # no week
        ("checkin_places", {"week": "2027-01-18", "places": ["sfi", "home"]}, True),
        ("checkin_places", {"week": "2027-01-18", "places": "sfi"}, False),  # a list, always
        ("checkin_places", {"week": "2027-01-18", "places": []}, False),
        ("checkin_places", {"week": "2027-01-18", "places": ["sfi", "gym"]}, False),
        ("checkin_confidence", {"week": "2027-01-18", "level": 5}, True),
        ("checkin_confidence", {"week": "2027-01-18", "level": 6}, False),
        ("checkin_confidence", {"week": "2027-01-18", "level": True}, False),
    ],
)
def test_an_answer_not_one_of_ours_is_kept_in_the_event_log_only(event_type: str, payload: dict, writes: bool) -> None:
    from bot.features.checkins import events
    from bot.registry import Features
    from flows.engine import FlowEvent
    from storage.writer import Changes

    features = Features()
    events.register(features)
    changes = Changes(1, local(FRIDAY, 15))
    person = ParticipantRow(1, "Amina", 1, "sv", ParticipantStatus.ACTIVE, 1, None)
    features.event_handlers[event_type](changes, person, FlowEvent(event_type, payload, "checkin", None))
    assert len(changes.statements) == (1 if writes else 0)
