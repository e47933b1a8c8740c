"""The waiting list under concurrency: changes that free places at the same moment, and a rush of
people joining one list. Run on SQLite (``BEGIN IMMEDIATE``) and on PostgreSQL (row locks)."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests import factories
from trainer import booking as engine
from trainer.booking import Outcome
from trainer.catalogue import TrainingSession
from trainer.db import Busy, db, utcnow
from trainer.mail import OutboxMessage
from trainer.people import User
from trainer.plugins.waiting_list import service
from trainer.plugins.waiting_list.models import Hold, HoldStatus, Offer, OfferStatus

JOINED = "You are on the waiting list:"
OFFERED = "A place is free for you:"
PLACE = re.compile(r"You are (\d+)(?:st|nd|rd|th) on the list")


def request(app):
    # POST, as every page that changes anything is: on GET pages the plugin counts held places
    # once per request (a cache for lists of sessions).
    return app.test_request_context(method="POST")


def people(make_user, count: int, prefix: str) -> list[int]:
    return [make_user(f"{prefix}{n}@example.org", name=f"Person {n}")[0] for n in range(count)]


def full_session(app, make_user, capacity: int, waiting: int) -> tuple[int, list[int], list[int]]:
    """A session 10 days ahead booked to ``capacity``, with ``waiting`` people on its list (in
    that order). Returns the session, the bookings and the people waiting."""
    with app.app_context():
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=10)
        session_id = factories.training_session(starts=start, capacity=capacity).id
        db.session.commit()
    bookings = []
    for user_id in people(make_user, capacity, "booked"):
        with request(app):
            result = engine.book(session_id, db.session.get(User, user_id))
            assert result.outcome == Outcome.BOOKED
            bookings.append(result.booking.id)
    queue = people(make_user, waiting, "waiting")
    for user_id in queue:
        with request(app):
            assert service.join(session_id, db.session.get(User, user_id)).ok
    return session_id, bookings, queue


def at_once(app, jobs: list[Callable[[], object]]) -> list[object]:
    """Run every job in its own thread (and request), all released together. A Busy answer is
    retried, as a person or the scheduler would. Returns the jobs' results, in job order."""
    start = threading.Barrier(len(jobs))
    results: list[object] = [None] * len(jobs)
    errors: list[BaseException] = []

    def run(number: int, job: Callable[[], object]) -> None:
        try:
            start.wait()
            for _try in range(20):
                try:
                    with request(app):
                        results[number] = job()
                    break
                except Busy:
                    continue
            else:
                raise AssertionError("still busy after 20 tries")
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            with app.app_context():
                db.session.remove()

    threads = [threading.Thread(target=run, args=(number, job))
               for number, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return results


def emails(app, subject: str) -> Counter[str]:
    """How many emails with ``subject`` each address was sent."""
    with app.app_context():
        return Counter(db.session.scalars(
            sa.select(OutboxMessage.recipient).where(OutboxMessage.subject.startswith(subject))))


def email_of(app, user_id: int) -> str:
    with app.app_context():
        return db.session.get(User, user_id).email


# -- places freed at the same moment --------------------------------------------------------------


def freeing_places_at_once(app, make_user) -> None:
    """Two cancellations, a capacity rise of two and a tick, all at once, on a full session
    with eight people waiting: the four places freed go to the first four, one each."""
    session_id, bookings, queue = full_session(app, make_user, capacity=4, waiting=8)

    def cancel(booking_id: int) -> Callable[[], object]:
        return lambda: engine.cancel(booking_id, "Cannot come").outcome

    def raise_capacity():
        return engine.change_capacity(session_id, 6).capacity

    def tick():
        now = utcnow()
        return service.expire_offers(now), service.fill_free_places(now)

    cancelled_a, cancelled_b, capacity, ticked = at_once(
        app, [cancel(bookings[0]), cancel(bookings[1]), raise_capacity, tick])
    assert (cancelled_a, cancelled_b, capacity) == (Outcome.CANCELLED, Outcome.CANCELLED, 6)
    assert ticked[0] == 0, "nothing was due to expire"

    with app.app_context():
        confirmed = engine.confirmed_count(session_id)
        held = service.held_places(session_id)
        assert db.session.get(TrainingSession, session_id).capacity == 6
        assert (confirmed, held) == (2, 4), "confirmed + held never exceeds capacity"
        offered = list(db.session.execute(
            sa.select(Offer.entry_id, Offer.status, Hold.status)
            .join(Offer.hold).where(Hold.training_session_id == session_id)
            .order_by(Offer.id)))
        entries = service.active_entries(session_id)
    assert all(status == OfferStatus.OPEN and hold == HoldStatus.OPEN
               for _, status, hold in offered), "no offer was made and taken back"
    offered_people = [next(e.user_id for e in entries if e.id == entry_id)
                      for entry_id, _, _ in offered]
    # One offer per freed place, to positions 1..4 of the list, in that order; nobody twice.
    assert offered_people == queue[:4]
    assert [entry.user_id for entry in entries] == queue
    assert [entry.status for entry in entries] == ["offered"] * 4 + ["waiting"] * 4

    sent = emails(app, OFFERED)
    assert sent == Counter({email_of(app, person): 1 for person in queue[:4]}), \
        "one offer email per offer, none to the people still waiting"


@pytest.mark.parametrize("round_", range(5))
def test_places_freed_at_once_are_offered_once_each_in_list_order(app, make_user, round_):
    freeing_places_at_once(app, make_user)


@pytest.mark.postgres
@pytest.mark.parametrize("round_", range(5))
def test_places_freed_at_once_on_postgres_with_row_locks(app, make_user, round_):
    freeing_places_at_once(app, make_user)


# -- a rush to join one list ----------------------------------------------------------------------


def joining_at_once(app, make_user, count: int) -> None:
    """``count`` people join a full session's list at the same moment: each is told a distinct
    place, 1 to ``count``, once by email, and the list is in exactly that order."""
    session_id, _, _ = full_session(app, make_user, capacity=2, waiting=0)
    rush = people(make_user, count, "rush")

    def join(user_id: int) -> Callable[[], object]:
        def job():
            answer = service.join(session_id, db.session.get(User, user_id))
            assert answer.ok, answer.message
            return int(PLACE.search(answer.message).group(1))
        return job

    told = dict(zip(rush, at_once(app, [join(user_id) for user_id in rush]), strict=True))
    assert sorted(told.values()) == list(range(1, count + 1)), f"places told: {told}"

    with app.app_context():
        entries = service.active_entries(session_id)
        assert [service.position(entry) for entry in entries] == list(range(1, count + 1))
        in_list_order = [entry.user_id for entry in entries]
    assert in_list_order == sorted(rush, key=told.get), \
        "the list is in the order people were told"

    sent = emails(app, JOINED)
    assert sent == Counter({email_of(app, person): 1 for person in rush})
    addresses = {user_id: email_of(app, user_id) for user_id in told}
    with app.app_context():
        for user_id, place in told.items():
            body = db.session.scalar(sa.select(OutboxMessage.text_body).where(
                OutboxMessage.recipient == addresses[user_id],
                OutboxMessage.subject.startswith(JOINED)))
            assert int(PLACE.search(body).group(1)) == place


def test_people_joining_at_once_get_distinct_places_in_order(app, make_user):
    joining_at_once(app, make_user, 20)


@pytest.mark.postgres
def test_people_joining_at_once_on_postgres_with_row_locks(app, make_user):
    joining_at_once(app, make_user, 20)


def two_ticks_at_once(app, make_user) -> None:
    """Two ticks at the same moment (two hosts, or cron overlapping): each offer that ran out
    expires once, its place is offered once to the next person, and each email goes once."""
    session_id, bookings, queue = full_session(app, make_user, capacity=2, waiting=5)
    for booking_id in bookings:
        at_once(app, [lambda booking_id=booking_id: engine.cancel(booking_id, "Cannot come")])
    later = utcnow() + timedelta(hours=49)

    def tick():
        return (service.expire_offers(later), service.remind_offers(later),
                service.fill_free_places(later))

    first, second = at_once(app, [tick, tick])
    assert first[0] + second[0] == 2, "the two offers expired once between the two ticks"
    with app.app_context():
        open_offers = list(db.session.scalars(
            sa.select(Offer.entry_id).join(Offer.hold)
            .where(Hold.training_session_id == session_id, Offer.status == OfferStatus.OPEN)))
        assert engine.confirmed_count(session_id) + service.held_places(session_id) <= 2
        entries = {entry.id: entry.user_id for entry in service.active_entries(session_id)}
    assert sorted(entries[entry_id] for entry_id in open_offers) == sorted(queue[2:4])
    assert emails(app, OFFERED) == Counter({email_of(app, person): 1 for person in queue[:4]})
    assert emails(app, "Your offer of a place has expired") == Counter(
        {email_of(app, person): 1 for person in queue[:2]})


@pytest.mark.parametrize("round_", range(3))
def test_two_ticks_at_once_expire_and_offer_once(app, make_user, round_):
    two_ticks_at_once(app, make_user)


@pytest.mark.postgres
@pytest.mark.parametrize("round_", range(3))
def test_two_ticks_at_once_on_postgres(app, make_user, round_):
    two_ticks_at_once(app, make_user)
