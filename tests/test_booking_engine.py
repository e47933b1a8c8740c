"""The booking engine: never overbook, refusals, hooks, reminders and ended sessions."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from tests import factories
from tests.conftest import POSTGRES_URL
from trainer import booking as engine
from trainer.booking import Booking, BookingStatus, FullAnswer, Outcome, Reminder
from trainer.db import Busy, db
from trainer.hookspecs import hookimpl
from trainer.mail import OutboxMessage
from trainer.people import Role, User


def people(app, make_user, count: int) -> list[int]:
    return [make_user(f"person{n}@example.org")[0] for n in range(count)]


def session_with(app, **fields) -> int:
    with app.app_context():
        made = factories.training_session(**fields)
        db.session.commit()
        return made.id


def book(app, session_id: int, user_id: int, **kwargs) -> SimpleNamespace:
    """Book through the engine; the answer as plain values (usable after the request)."""
    with app.test_request_context():
        user = db.session.get(User, user_id)
        result = engine.book(session_id, user, **kwargs)
        return SimpleNamespace(
            outcome=result.outcome, message=result.message, url=result.url,
            booking_id=result.booking.id if result.booking else None,
        )


def confirmed(app, session_id: int) -> int:
    with app.app_context():
        return engine.confirmed_count(session_id)


class Recorder:
    """A plugin that records the hooks it hears and can hold places or refuse."""

    def __init__(self, held: int = 0, refuse: str | None = None, full: FullAnswer | None = None):
        self.held, self.refuse, self.full, self.heard = held, refuse, full, []

    @hookimpl
    def trainer_places_held(self, training_session):
        return self.held

    @hookimpl
    def trainer_booking_refusal(self, training_session, user):
        return self.refuse

    @hookimpl
    def trainer_session_full(self, training_session, user):
        return self.full

    @hookimpl
    def trainer_booking_confirmed(self, booking):
        self.heard.append(("confirmed", booking.user.email))

    @hookimpl
    def trainer_booking_cancelled(self, booking):
        self.heard.append(("cancelled", booking.user.email))

    @hookimpl
    def trainer_places_freed(self, training_session):
        self.heard.append(("freed", training_session.id))

    @hookimpl
    def trainer_attendance_recorded(self, booking, meeting):
        self.heard.append(("attendance", booking.id, meeting.id))

    @hookimpl
    def trainer_session_ended(self, training_session):
        self.heard.append(("ended", training_session.id))

    @hookimpl
    def trainer_session_cancelled(self, training_session):
        self.heard.append(("session cancelled", training_session.cancel_reason))


@pytest.fixture
def recorder(app):
    plugin = Recorder()
    manager = app.extensions["trainer.plugins"]
    manager.register(plugin, name="recorder")
    try:
        yield plugin
    finally:
        manager.unregister(plugin)


def test_books_until_full_then_says_fully_booked(app_factory, make_user):
    # The core alone (no waiting list) simply says "fully booked".
    app = app_factory(DISABLED_PLUGINS=["waiting_list"])
    session_id = session_with(app, capacity=2)
    first, second, third = people(app, make_user, 3)
    assert book(app, session_id, first).outcome == Outcome.BOOKED
    assert book(app, session_id, second).outcome == Outcome.BOOKED
    result = book(app, session_id, third)
    assert result.outcome == Outcome.FULL
    assert result.message == "This training session is fully booked."
    assert confirmed(app, session_id) == 2


def test_confirmation_email_is_queued_with_an_invite(app, make_user):
    session_id = session_with(app)
    [person] = people(app, make_user, 1)
    book(app, session_id, person, access_needs="Step-free access, please", share_with_la=True)
    with app.app_context():
        [message] = db.session.scalars(sa.select(OutboxMessage)).all()
        assert message.subject.startswith("Booking confirmed: ")
        [attachment] = message.attachment_list()
        assert attachment["content_type"] == "text/calendar; method=REQUEST"
        saved = db.session.scalar(sa.select(Booking))
        assert saved.access_needs == "Step-free access, please" and saved.share_with_la


def test_refusals_change_nothing(app, make_user):
    now = datetime.now(UTC)
    with app.app_context():
        leeds = factories.local_authority("Leeds")
        later = factories.training_session(booking_opens_at=now + timedelta(days=1)).id
        closed = factories.training_session(booking_closes_at=now - timedelta(hours=1)).id
        bespoke = factories.training_session(local_authority=leeds).id
        started = factories.training_session(starts=now - timedelta(minutes=5)).id
        db.session.commit()
    [person] = people(app, make_user, 1)
    expectations = {
        later: "Booking opens on",
        closed: "Booking for this training session has closed.",
        bespoke: "only for people working or living in Leeds",
        started: "already started",
    }
    for session_id, words in expectations.items():
        result = book(app, session_id, person)
        assert result.outcome == Outcome.REFUSED and words in result.message
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Booking)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0


def test_restricted_session_is_open_to_people_of_that_authority(app, make_user):
    with app.app_context():
        leeds = factories.local_authority("Leeds")
        session_id = factories.training_session(local_authority=leeds).id
        leeds_id = leeds.id
        db.session.commit()
    person, _ = make_user("leeds@example.org", local_authority_id=leeds_id)
    assert book(app, session_id, person).outcome == Outcome.BOOKED


def test_booking_twice_is_refused_and_rebooking_after_cancelling_works(app, make_user):
    session_id = session_with(app)
    [person] = people(app, make_user, 1)
    first = book(app, session_id, person)
    assert book(app, session_id, person).message == "You have already booked this training session."
    with app.test_request_context():
        assert engine.cancel(first.booking_id, "Cannot attend").outcome == Outcome.CANCELLED
    again = book(app, session_id, person)
    assert again.outcome == Outcome.BOOKED
    with app.app_context():
        rows = db.session.scalars(sa.select(Booking)).all()
        assert len(rows) == 1 and rows[0].status == BookingStatus.CONFIRMED
        assert rows[0].sequence == 2  # booked, cancelled, booked: each outranks the last


def test_cancelled_session_refuses_and_tells_everyone(app, make_user, recorder):
    session_id = session_with(app)
    first, second = people(app, make_user, 2)
    book(app, session_id, first)
    book(app, session_id, second)
    with app.test_request_context():
        assert engine.cancel_session(session_id, "The trainer is ill") == 2
        with pytest.raises(engine.EngineError):
            engine.cancel_session(session_id, "again")
        subjects = db.session.scalars(sa.select(OutboxMessage.subject)).all()
    assert sum(s.startswith("Training session cancelled") for s in subjects) == 2
    assert [h[0] for h in recorder.heard].count("cancelled") == 2
    # The session's own hook comes once, after every booking's.
    assert recorder.heard[-1] == ("session cancelled", "The trainer is ill")
    assert "cancelled" in book(app, session_id, first).message


def test_plugins_hold_places_refuse_and_take_over_when_full(app, make_user, recorder):
    session_id = session_with(app, capacity=2)
    first, second, third = people(app, make_user, 3)
    recorder.held = 1
    assert book(app, session_id, first).outcome == Outcome.BOOKED
    assert book(app, session_id, second).outcome == Outcome.FULL  # 1 booked + 1 held
    recorder.full = FullAnswer("Join the waiting list", url="/waiting", link_text="Join")
    result = book(app, session_id, third)
    assert (result.outcome, result.message, result.url) == (
        Outcome.FULL, "Join the waiting list", "/waiting"
    )
    recorder.held, recorder.refuse = 0, "This session is for SENCOs only"
    assert book(app, session_id, second).message == "This session is for SENCOs only"
    assert ("confirmed", "person0@example.org") in recorder.heard


def test_cancel_and_capacity_rise_free_places(app, make_user, recorder):
    session_id = session_with(app, capacity=1)
    first, second = people(app, make_user, 2)
    made = book(app, session_id, first)
    with app.test_request_context():
        engine.cancel(made.booking_id, "Other")
        assert ("freed", session_id) in recorder.heard
        recorder.heard.clear()
        book(app, session_id, second)
        with pytest.raises(engine.EngineError, match="cannot be less than the 1 places"):
            engine.change_capacity(session_id, 0)
        engine.change_capacity(session_id, 3)
        assert recorder.heard[-1] == ("freed", session_id)
        recorder.heard.clear()
        engine.change_capacity(session_id, 2)  # lowering frees nothing
        assert recorder.heard == []


def test_cannot_cancel_after_the_start(app, make_user):
    session_id = session_with(app)
    [person] = people(app, make_user, 1)
    made = book(app, session_id, person)
    with app.test_request_context():
        later = datetime.now(UTC) + timedelta(days=8)
        result = engine.cancel(made.booking_id, "Too late", now=later)
    assert result.outcome == Outcome.REFUSED and "has started" in result.message
    assert confirmed(app, session_id) == 1


def test_register_records_attendance_and_refuses_strangers(app, make_user, recorder):
    session_id = session_with(app, starts=[datetime(2026, 3, 3, 18, 30, tzinfo=UTC),
                                           datetime(2026, 3, 10, 18, 30, tzinfo=UTC)])
    first, second = people(app, make_user, 2)
    now = datetime(2026, 3, 1, tzinfo=UTC)
    one = book(app, session_id, first, now=now).booking_id
    two = book(app, session_id, second, now=now).booking_id
    with app.app_context():
        meetings = [m.id for m in db.session.get(engine.TrainingSession, session_id).meetings]
        engine.record_attendance(meetings[0], {one: True, two: False}, None)
        engine.record_attendance(meetings[1], {one: True, two: True}, None)
        engine.record_attendance(meetings[1], {two: False}, None)  # corrected
        with pytest.raises(engine.EngineError):
            engine.record_attendance(meetings[0], {9999: True}, None)
        first_booking = db.session.get(Booking, one)
        second_booking = db.session.get(Booking, two)
        assert first_booking.completed and first_booking.attended_hours == 3.0
        assert not second_booking.completed and second_booking.attended_hours == 0
    assert ("attendance", one, meetings[0]) in recorder.heard


def test_lock_timeout_answers_busy_and_books_nothing(app_factory, make_user):
    if POSTGRES_URL:
        pytest.skip("SQLite only; PostgreSQL row locks are tested by the next test")
    app = app_factory(DATABASE_LOCK_TIMEOUT_SECONDS=0.2)
    session_id = session_with(app)
    [person] = people(app, make_user, 1)
    with app.app_context():
        connection = db.engine.raw_connection()
        connection.execute("BEGIN IMMEDIATE")  # another writer holds the database
        try:
            with pytest.raises(Busy):
                book(app, session_id, person)
        finally:
            connection.execute("ROLLBACK")
            connection.close()
    assert confirmed(app, session_id) == 0


@pytest.mark.postgres
def test_lock_timeout_on_postgres_answers_busy(app_factory, make_user):
    app = app_factory(DATABASE_LOCK_TIMEOUT_SECONDS=0.2)
    session_id = session_with(app)
    [person] = people(app, make_user, 1)
    with app.app_context():
        connection = db.engine.connect()
        transaction = connection.begin()
        connection.execute(sa.text("SELECT id FROM training_session WHERE id = :id FOR UPDATE"),
                           {"id": session_id})
        try:
            with pytest.raises(Busy):
                book(app, session_id, person)
        finally:
            transaction.rollback()
            connection.close()
    assert confirmed(app, session_id) == 0


def rush(app, session_id: int, user_ids: list[int], attempts_per_user: int = 1):
    """Everyone books at once; returns outcomes. Busy answers are retried, as a person would."""
    outcomes: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(user_ids))

    def one(user_id: int):
        try:
            start.wait()
            for _ in range(attempts_per_user):
                for _try in range(20):
                    try:
                        outcomes.append(book(app, session_id, user_id).outcome)
                        break
                    except Busy:
                        continue
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            with app.app_context():
                db.session.remove()

    threads = [threading.Thread(target=one, args=(user_id,)) for user_id in user_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return outcomes


def test_many_people_booking_the_last_places_at_once_never_overbook(app, make_user):
    capacity = 7
    session_id = session_with(app, capacity=capacity)
    user_ids = people(app, make_user, 24)
    outcomes = rush(app, session_id, user_ids, attempts_per_user=2)
    assert outcomes.count(Outcome.BOOKED) == capacity
    assert confirmed(app, session_id) == capacity
    with app.app_context():
        per_person = db.session.execute(
            sa.select(Booking.user_id, sa.func.count()).group_by(Booking.user_id)
        ).all()
        assert all(number == 1 for _user, number in per_person)  # nobody booked twice
        emails = db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))
        assert emails == capacity  # one confirmation per place, none for refusals


@pytest.mark.postgres
def test_rush_on_postgres_with_row_locks(app, make_user):
    capacity = 10
    session_id = session_with(app, capacity=capacity)
    user_ids = people(app, make_user, 40)
    outcomes = rush(app, session_id, user_ids)
    assert outcomes.count(Outcome.BOOKED) == capacity
    assert outcomes.count(Outcome.FULL) == 30
    assert confirmed(app, session_id) == capacity


def test_reminders_are_sent_once_even_when_tick_runs_twice_at_once(app, make_user, runner):
    now = datetime.now(UTC).replace(microsecond=0)
    with app.app_context():
        soon = factories.training_session(starts=now + timedelta(hours=30)).id
        online = factories.training_session(starts=now + timedelta(minutes=50),
                                            online_url="https://meet.example.org/abc",
                                            mode="online").id
        far = factories.training_session(starts=now + timedelta(days=5)).id
        db.session.commit()
    [person] = people(app, make_user, 1)
    for session_id in (soon, online, far):
        book(app, session_id, person)
    errors = []

    def tick():
        try:
            with app.test_request_context():
                for _ in range(5):
                    try:
                        engine.send_reminders(datetime.now(UTC))
                        break
                    except Busy:
                        continue
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=tick) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    result = runner.invoke(args=["trainer", "tick"])
    assert result.exit_code == 0 and "Reminders sent: 0" in result.output
    with app.app_context():
        kinds = sorted(db.session.execute(
            sa.select(Reminder.kind, Reminder.meeting_id)).all())
        # 48-hour reminders for the two close sessions, the 1-hour one for the online one.
        assert [kind for kind, _ in kinds] == ["before", "before", "online"]
        reminders = db.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.subject.like("Reminder:%"))
        ).all()
        assert len(reminders) == 3
        assert any("https://meet.example.org/abc" in m.text_body for m in reminders)


def test_session_ended_fires_once(app, make_user, recorder, runner):
    past = datetime.now(UTC) - timedelta(days=2)
    with app.app_context():
        ended = factories.training_session(starts=past).id
        factories.training_session()  # still to come
        db.session.commit()
    first = runner.invoke(args=["trainer", "tick"])
    second = runner.invoke(args=["trainer", "tick"])
    assert "Sessions ended: 1" in first.output and "Sessions ended: 0" in second.output
    assert recorder.heard.count(("ended", ended)) == 1


def test_admin_role_is_not_needed_to_book(app, make_user):
    session_id = session_with(app)
    admin, _ = make_user("admin@example.org", roles=[Role.ADMIN])
    assert book(app, session_id, admin).outcome == Outcome.BOOKED



def test_a_request_that_may_write_leaves_no_write_lock_preference_behind(browser):
    from trainer.db import in_write_transaction

    # Any POST is served with the write-lock preference.
    browser.submit("/auth/sign-in", {"email": "nobody@example.org", "password": "wrong"})
    # The same thread, outside any request: plain reads must not take SQLite's write lock.
    assert not in_write_transaction()


def test_trainers_saving_one_register_at_once_each_get_an_answer(app, make_user):
    """Two or more trainers saving the same unmarked register at once: every save is answered
    (busy is retried, as a person would), and each person has one mark per meeting."""
    first = datetime(2026, 3, 3, 18, 30, tzinfo=UTC)
    session_id = session_with(app, starts=[first + timedelta(weeks=week) for week in range(6)])
    booking_ids = [book(app, session_id, person, now=first - timedelta(days=5)).booking_id
                   for person in people(app, make_user, 5)]
    with app.app_context():
        meetings = [m.id for m in db.session.get(engine.TrainingSession, session_id).meetings]
    errors: list[BaseException] = []

    def save(meeting_id: int, start: threading.Barrier, attended: bool):
        try:
            start.wait()
            for _try in range(20):
                try:
                    with app.app_context():
                        engine.record_attendance(
                            meeting_id, dict.fromkeys(booking_ids, attended), None)
                    break
                except Busy:
                    continue
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            with app.app_context():
                db.session.remove()

    for meeting_id in meetings:
        start = threading.Barrier(3)
        threads = [threading.Thread(target=save, args=(meeting_id, start, n % 2 == 0))
                   for n in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors, errors
    with app.app_context():
        marks = db.session.execute(
            sa.select(engine.Attendance.booking_id, engine.Attendance.meeting_id, sa.func.count())
            .group_by(engine.Attendance.booking_id, engine.Attendance.meeting_id)
        ).all()
    assert len(marks) == len(booking_ids) * len(meetings)
    assert all(number == 1 for _booking, _meeting, number in marks)
