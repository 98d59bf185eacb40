"""Activity services on a real database: enrolling and leaving, cancelling a session, and its notice
delivered by the real sender to the sandbox (and withdrawn once the session has begun)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest
from sqlalchemy import func, select

from bot.features.activities import services
from bot.features.activities.messages import SESSION_CANCELLED, SUBJECT
from bot.features.activities.schedule import WeeklyRule
from bot.scheduler import withdraw_stale
from bot.services import SYSTEM, Conflict, InvalidInput, NotFound
from storage.database import Database
from storage.models import CancelledSession, Enrolment, Event, OutboxMessage, OutboxStatus, Participant, ParticipantStatus
from tests.test_sender import World, world

# Monday 1 February 2027, 09:00 in Stockholm.
NOW = datetime(2027, 2, 1, 8, 0, tzinfo=timezone.utc)
TUE, THU = 1, 3


async def activity(w: World, **overrides: object) -> int:
    values: dict = {
        "name": "Språkcafé", "organisation": "Röda Korset", "place": "Nygatan 19",
        "weekly": [WeeklyRule(TUE, time(10)), WeeklyRule(THU, time(13, 30))], "starts_on": date(2027, 1, 11),
    }
    values.update(overrides)
    async with w.database.sessions() as session:
        view = await services.add_activity(session, SYSTEM, w.stegvis.settings, now=w.clock.now(), **values)
        await session.commit()
    return view.id


async def call(w: World, service, **kwargs):  # type: ignore[no-untyped-def]
    async with w.database.sessions() as session:
        result = await service(session, SYSTEM, w.stegvis.settings, now=w.clock.now(), **kwargs)
        await session.commit()
    return result


async def set_language(w: World, participant: Participant, language: str) -> None:
    async with w.database.sessions() as session:
        stored = await session.get(Participant, participant.id)
        stored.language = language
        await session.commit()


async def counts(w: World) -> tuple[int, ...]:
    async with w.database.sessions() as session:
        return tuple([await session.scalar(select(func.count()).select_from(model)) for model in (Enrolment, CancelledSession, OutboxMessage, Event)])


async def test_enrol_leave_and_enrol_again_mid_month(database: Database) -> None:
    async with world(database, now=NOW) as w:
        person = await w.participant()
        aid = await activity(w)
        enrolled = await call(w, services.enrol, activity_id=aid, participant_id=person.id)
        assert (enrolled.from_date, enrolled.left_date) == (date(2027, 2, 1), None)
        w.clock.advance(timedelta(days=14))
        left = await call(w, services.leave, activity_id=aid, participant_id=person.id)
        assert left.left_date == date(2027, 2, 15)
        listing = await call(w, services.list_activities)
        assert listing.activities[0].enrolled == ()
        again = await call(w, services.enrol, activity_id=aid, participant_id=person.id, from_date=date(2027, 2, 22))
        assert again.from_date == date(2027, 2, 22)
        assert [e.type for e in await w.events(person.id)] == ["activity_enrolled", "activity_left", "activity_enrolled"]
        assert (await w.events(person.id))[1].payload == {"activity_id": aid, "left": "2027-02-15"}


async def test_enrolment_refusals_change_nothing(database: Database) -> None:
    async with world(database, now=NOW) as w:
        person = await w.participant()
        stopped = await w.participant(ParticipantStatus.STOPPED)
        aid = await activity(w)
        await call(w, services.enrol, activity_id=aid, participant_id=person.id)
        before = await counts(w)
        refusals = [
            (NotFound, "participant", "no participant with id 999 (see: stegvis participant list)", {"participant_id": 999}),
            (Conflict, "participant", f"participant {stopped.id} has stopped messages from Stegvis (/stop); they cannot be enrolled", {"participant_id": stopped.id}),
            (Conflict, "participant", f"participant {person.id} is already enrolled in activity {aid} since 2027-02-01", {"participant_id": person.id}),
            (InvalidInput, "from_date", f"2027-01-04 is before activity {aid} starts, on 2027-01-11", {"participant_id": stopped.id - 1, "from_date": date(2027, 1, 4)}),
        ]
        for kind, field, message, kwargs in refusals:
            with pytest.raises(kind) as refused:
                await call(w, services.enrol, activity_id=aid, **kwargs)
            assert (refused.value.field, refused.value.message) == (field, message)
        with pytest.raises(NotFound) as refused:
            await call(w, services.enrol, activity_id=99, participant_id=person.id)
        assert refused.value.message == "no activity with id 99 (see: stegvis activity list)"
        with pytest.raises(Conflict) as refused:
            await call(w, services.leave, activity_id=aid, participant_id=stopped.id)
        assert refused.value.message == f"participant {stopped.id} is not enrolled in activity {aid}"
        assert await counts(w) == before


async def test_cancel_session_tells_each_active_enrolled_participant_in_their_language(database: Database) -> None:
    async with world(database, now=NOW) as w:
        amina, dawit = await w.participant(), await w.participant()
        await set_language(w, dawit, "ar")
        leaver, stopped = await w.participant(), await w.participant()
        invited = await w.participant(ParticipantStatus.INVITED, in_sandbox=False)
        aid = await activity(w)
        for person in (amina, dawit, leaver, stopped, invited):
            await call(w, services.enrol, activity_id=aid, participant_id=person.id)
        await call(w, services.leave, activity_id=aid, participant_id=leaver.id)
        async with w.database.sessions() as session:
            (await session.get(Participant, stopped.id)).status = ParticipantStatus.STOPPED
            await session.commit()

        cancelled = await call(w, services.cancel_session, activity_id=aid, day=date(2027, 2, 9), reason="  Ledaren   är sjuk ")

        assert cancelled.reason == "Ledaren är sjuk"
        assert [(n.participant_id, n.why_not) for n in cancelled.notices] == [
            (amina.id, None), (dawit.id, None), (stopped.id, "has stopped messages (/stop)"), (invited.id, "has not joined Stegvis yet"),
        ]
        async with w.database.sessions() as session:
            rows = list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        assert [(r.recipient_id, r.composer, r.subject_kind, r.due_at) for r in rows] == [(p.id, SESSION_CANCELLED, SUBJECT, NOW) for p in (amina, dawit)]
        assert [e.type for e in await w.events(invited.id)] == ["activity_enrolled", "activity_session_cancelled"]
        assert [e.type for e in await w.events(leaver.id)] == ["activity_enrolled", "activity_left"]

        assert await w.sender().tick() == 2
        assert w.delivered(amina.telegram_chat_id) == ["Träffen tisdag 9 februari kl. 10:00 med Språkcafé på Nygatan 19 är inställd.\nOrsak: Ledaren är sjuk"]
        arabic = w.delivered(dawit.telegram_chat_id)
        assert len(arabic) == 1 and arabic[0].startswith("تم إلغاء لقاء \u2068Språkcafé\u2069") and "\u2068Ledaren är sjuk\u2069" in arabic[0]
        assert w.delivered(stopped.telegram_chat_id) == w.delivered(leaver.telegram_chat_id) == []
        assert [e.type for e in await w.events(amina.id)][-1] == "notice_sent"

        listing = await call(w, services.sessions_of, activity_id=aid, first=date(2027, 2, 8), last=date(2027, 2, 12))
        assert [(s.day.day, s.cancelled, s.reason) for s in listing.sessions] == [(9, True, "Ledaren är sjuk"), (11, False, None)]


async def test_a_notice_held_until_after_the_session_began_is_withdrawn(database: Database) -> None:
    async with world(database, now=NOW) as w:
        person = await w.participant()
        aid = await activity(w)
        await call(w, services.enrol, activity_id=aid, participant_id=person.id)
        await call(w, services.cancel_session, activity_id=aid, day=date(2027, 2, 2))
        w.clock.advance(timedelta(days=1, hours=1))  # Tuesday 10:00: the session would have begun
        assert await withdraw_stale(w.stegvis) == 1
        async with w.database.sessions() as session:
            row = await session.scalar(select(OutboxMessage))
        assert (row.status, row.last_error) == (OutboxStatus.CANCELLED, "withdrawn: the session has begun")
        assert await w.sender().tick() == 0
        assert w.delivered(person.telegram_chat_id) == []


async def test_the_sender_withdraws_a_notice_once_the_session_has_begun(sqlite_database: Database) -> None:
    async with world(sqlite_database, now=NOW) as w:
        person = await w.participant()
        aid = await activity(w)
        await call(w, services.enrol, activity_id=aid, participant_id=person.id)
        await call(w, services.cancel_session, activity_id=aid, day=date(2027, 2, 2))
        w.clock.advance(timedelta(days=1, hours=1, minutes=5))
        await w.sender().tick()
        async with w.database.sessions() as session:
            row = await session.scalar(select(OutboxMessage))
        assert (row.status, row.last_error) == (OutboxStatus.CANCELLED, "withdrawn: the session has begun")
        assert w.delivered(person.telegram_chat_id) == []


async def test_cancel_session_refusals_change_nothing(database: Database) -> None:
    async with world(database, now=NOW) as w:
        person = await w.participant()
        aid = await activity(w, ends_on=date(2027, 6, 11))
        await call(w, services.enrol, activity_id=aid, participant_id=person.id)
        await call(w, services.cancel_session, activity_id=aid, day=date(2027, 2, 4))
        before = await counts(w)
        refusals = [
            (date(2027, 2, 10), InvalidInput, f"2027-02-10 is not a session day: activity {aid} meets tue 10:00, thu 13:30; the nearest sessions are tue 2027-02-09 10:00 and thu 2027-02-11 13:30"),
            (date(2027, 5, 6), InvalidInput, f"2027-05-06 is not a session day: it is a holiday (Ascension Day) and activity {aid} is not held on holidays; the nearest sessions are tue 2027-05-04 10:00 and tue 2027-05-11 10:00"),
            (date(2027, 6, 15), InvalidInput, f"2027-06-15 is not a session day: activity {aid} ended on 2027-06-11; the nearest sessions are thu 2027-06-10 13:30"),
            (date(2027, 2, 4), Conflict, f"the session on 2027-02-04 of activity {aid} is already cancelled"),
        ]
        for day, kind, message in refusals:
            with pytest.raises(kind) as refused:
                await call(w, services.cancel_session, activity_id=aid, day=day)
            assert (refused.value.field, refused.value.message) == ("day", message)
        w.clock.advance(timedelta(days=1, hours=2))  # Tuesday 11:00
        with pytest.raises(Conflict) as refused:
            await call(w, services.cancel_session, activity_id=aid, day=date(2027, 2, 2))
        assert refused.value.message == "the session tue 2027-02-02 10:00 has already begun; it can no longer be cancelled"
        with pytest.raises(InvalidInput) as refused:
            await call(w, services.cancel_session, activity_id=aid, day=date(2027, 2, 9), reason="sjuk\u202e")
        assert (refused.value.field, refused.value.message) == ("reason", "contains a hidden text-direction character (U+202E); remove it")
        assert await counts(w) == before


async def test_a_notice_to_someone_who_left_before_that_day_is_withdrawn(sqlite_database: Database) -> None:
    async with world(sqlite_database, now=NOW, quiet_hours="20:00-08:00") as w:
        person = await w.participant()
        aid = await activity(w)
        await call(w, services.enrol, activity_id=aid, participant_id=person.id)
        w.clock.advance(timedelta(hours=12))  # Monday 21:00: the notice waits for the morning
        cancelled = await call(w, services.cancel_session, activity_id=aid, day=date(2027, 2, 4))
        assert cancelled.notices[0].due_at == datetime(2027, 2, 2, 7, 0, tzinfo=timezone.utc)
        await call(w, services.leave, activity_id=aid, participant_id=person.id)  # from Monday on
        w.clock.advance(timedelta(hours=11))
        await w.sender().tick()
        async with w.database.sessions() as session:
            row = await session.scalar(select(OutboxMessage))
        assert (row.status, row.last_error) == (OutboxStatus.CANCELLED, "withdrawn: the participant is no longer enrolled that day")
        assert w.delivered(person.telegram_chat_id) == []
