"""The waiting list's promises under random sequences of bookings, cancellations, joins,
offers, answers, expiry and capacity changes (a hypothesis state machine).

After every step: confirmed + held never exceeds capacity, no place sits idle while people
wait, nobody is booked and listed at once, every offered person holds exactly one open offer,
offers go down the list in order, and every email matches exactly one event.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests import factories
from trainer import booking as engine
from trainer.booking import Booking, BookingStatus, Outcome
from trainer.catalogue import TrainingSession
from trainer.db import db
from trainer.mail import OutboxMessage
from trainer.people import User
from trainer.plugins.waiting_list import service
from trainer.plugins.waiting_list.models import (
    ACTIVE,
    EntryStatus,
    Hold,
    HoldStatus,
    Offer,
    OfferStatus,
    WaitlistEntry,
)

PEOPLE = 6
DAYS_AHEAD = 10
# Offers are shared (several people, first to accept) only within about 36 hours of the start;
# the clock stays well before that, so every offer here is one person's.
LATEST = timedelta(days=2)
SETTINGS = settings(
    max_examples=30,
    stateful_step_count=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Subjects (before ": <course title>") of the emails each event queues.
JOINED = "You are on the waiting list:"
OFFERED = "A place is free for you:"
EXPIRED = "Your offer of a place has expired:"
TAKEN = "The place has been taken:"
BOOKED = "Booking confirmed:"
CANCELLED = "Booking cancelled:"


class Clock:
    """The machine's clock, passed as ``now`` to every call and also put in place of the
    plugin's ``utcnow``: the places-freed hook reads the clock itself, and without this its
    offers would be timed on the real clock while everything else runs on this one."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


def reference_tables(app) -> set[str]:
    """Tables filled when the app was made (regions, local authorities): kept between runs."""
    with app.app_context():
        return {
            table.name
            for table in db.metadata.sorted_tables
            if db.session.scalar(sa.select(sa.func.count()).select_from(table))
        }


def empty_database(app, keep: set[str]) -> None:
    with app.app_context():
        for table in reversed(db.metadata.sorted_tables):
            if table.name not in keep:
                db.session.execute(table.delete())
        db.session.commit()


class WaitingListMachine(RuleBasedStateMachine):
    def __init__(self, app, clock: Clock, keep: set[str]) -> None:
        super().__init__()
        self.app, self.clock = app, clock
        # Emails the machine expects, per person and event, counted from the answers it got.
        self.bookings_made: Counter[int] = Counter()
        self.bookings_cancelled: Counter[int] = Counter()
        empty_database(app, keep)  # every example starts from an empty database
        clock.now = datetime.now(UTC).replace(microsecond=0)

    # -- set-up and helpers -----------------------------------------------------------------------

    @initialize(capacity=st.integers(1, 3), waiting=st.integers(0, 3))
    def make_session(self, capacity: int, waiting: int) -> None:
        """A session booked to ``capacity`` with ``waiting`` people on its list."""
        self.start = self.clock.now + timedelta(days=DAYS_AHEAD)
        with self.app.app_context():
            self.session_id = factories.training_session(starts=self.start,
                                                         capacity=capacity).id
            users = [User(email=f"person{n}@example.org", name=f"Person {n}", password_hash="!",
                          email_verified_at=self.clock.now) for n in range(PEOPLE)]
            db.session.add_all(users)
            db.session.commit()
            self.people = [user.id for user in users]
            self.emails = {user.id: user.email for user in users}
        for index in range(capacity):
            self.book(index)
        for index in range(capacity, capacity + waiting):
            self.join(index)

    def request(self):
        # POST, as every page that changes anything is: on GET pages the plugin counts held
        # places once per request (a cache for lists of sessions), which would go stale here.
        return self.app.test_request_context(method="POST")

    def advance(self, minutes: int = 1) -> datetime:
        self.clock.now += timedelta(minutes=minutes)
        return self.clock.now

    def user(self, index: int) -> User:
        return db.session.get(User, self.people[index % PEOPLE])

    def snapshot(self) -> dict:
        """The session as it stands, read in one go (inside an app context)."""
        training_session = db.session.get(TrainingSession, self.session_id)
        confirmed = set(db.session.scalars(
            sa.select(Booking.user_id).where(Booking.training_session_id == self.session_id,
                                             Booking.status == BookingStatus.CONFIRMED)))
        held = db.session.scalar(
            sa.select(sa.func.count()).select_from(Hold)
            .where(Hold.training_session_id == self.session_id, Hold.status == HoldStatus.OPEN))
        entries = service.active_entries(self.session_id)
        return {
            "capacity": training_session.capacity,
            "confirmed": confirmed,
            "held": held,
            "free": training_session.capacity - len(confirmed) - held,
            "active": {entry.user_id: entry.status for entry in entries},
        }

    def count(self, statement) -> int:
        with self.app.app_context():
            return db.session.scalar(sa.select(sa.func.count()).select_from(statement.subquery()))

    def has_bookings(self) -> bool:
        return bool(self.count(sa.select(Booking.id).where(
            Booking.training_session_id == self.session_id,
            Booking.status == BookingStatus.CONFIRMED)))

    def has_entries(self) -> bool:
        return bool(self.count(sa.select(WaitlistEntry.id).where(
            WaitlistEntry.training_session_id == self.session_id,
            WaitlistEntry.status.in_(ACTIVE))))

    def has_offers(self) -> bool:
        return bool(self.count(sa.select(Hold.id).where(
            Hold.training_session_id == self.session_id, Hold.status == HoldStatus.OPEN)))

    def open_offers(self) -> list[tuple[int, datetime]]:
        """(offer id, hold expiry) of every open offer on the session, oldest first."""
        return list(db.session.execute(
            sa.select(Offer.id, Hold.expires_at).join(Offer.hold)
            .where(Hold.training_session_id == self.session_id, Hold.status == HoldStatus.OPEN,
                   Offer.status == OfferStatus.OPEN)
            .order_by(Offer.id)))

    # -- rules ------------------------------------------------------------------------------------

    @rule(index=st.integers(0, PEOPLE - 1))
    def book(self, index: int) -> None:
        now = self.advance()
        with self.request():
            before = self.snapshot()
            user = self.user(index)
            result = engine.book(self.session_id, user, now=now)
            if user.id in before["confirmed"]:
                expected = Outcome.REFUSED
            elif before["free"] <= 0:
                expected = Outcome.FULL
            elif EntryStatus.WAITING in before["active"].values():
                expected = Outcome.REFUSED  # free places go to people waiting first
            else:
                expected = Outcome.BOOKED
            assert result.outcome == expected, (result.outcome, result.message, before)
            if result.ok:
                self.bookings_made[user.id] += 1

    @precondition(has_bookings)
    @rule(pick=st.integers(0, PEOPLE - 1))
    def cancel(self, pick: int) -> None:
        now = self.advance()
        with self.request():
            booked = list(db.session.execute(
                sa.select(Booking.id, Booking.user_id)
                .where(Booking.training_session_id == self.session_id,
                       Booking.status == BookingStatus.CONFIRMED)
                .order_by(Booking.id)))
            booking_id, user_id = booked[pick % len(booked)]
            result = engine.cancel(booking_id, "Cannot come", now=now)
            assert result.outcome == Outcome.CANCELLED, result.message
            self.bookings_cancelled[user_id] += 1

    @rule(index=st.integers(0, PEOPLE - 1))
    def join(self, index: int) -> None:
        now = self.advance()
        with self.request():
            before = self.snapshot()
            user = self.user(index)
            answer = service.join(self.session_id, user, now=now)
            expected = (user.id not in before["confirmed"]
                        and user.id not in before["active"]
                        and (before["active"] or before["free"] <= 0))
            assert answer.ok == bool(expected), (answer.message, before)

    @precondition(has_entries)
    @rule(pick=st.integers(0, PEOPLE - 1))
    def leave(self, pick: int) -> None:
        now = self.advance()
        with self.request():
            entries = service.active_entries(self.session_id)
            entry = entries[pick % len(entries)]
            assert service.leave(entry.id, entry.user, now=now).ok

    @rule()
    def offer(self) -> None:
        now = self.advance()
        with self.request():
            service.fill_free_places(now)

    @precondition(has_offers)
    @rule(pick=st.integers(0, 5))
    def accept(self, pick: int) -> None:
        now = self.advance()
        with self.request():
            offers = self.open_offers()
            offer_id, expires_at = offers[pick % len(offers)]
            user_id = db.session.get(Offer, offer_id).entry.user_id
            answer = service.accept(offer_id, now=now)
            # A held place is the offered person's until the hold ends.
            assert answer.ok == (expires_at > now), answer.message
            if answer.ok:
                self.bookings_made[user_id] += 1

    @precondition(has_offers)
    @rule(pick=st.integers(0, 5))
    def decline(self, pick: int) -> None:
        now = self.advance()
        with self.request():
            offers = self.open_offers()
            offer_id, expires_at = offers[pick % len(offers)]
            answer = service.decline(offer_id, now=now)
            assert answer.ok == (expires_at > now), answer.message

    def next_expiry(self) -> datetime | None:
        with self.app.app_context():
            return db.session.scalar(
                sa.select(sa.func.min(Hold.expires_at))
                .where(Hold.training_session_id == self.session_id,
                       Hold.status == HoldStatus.OPEN))

    @precondition(lambda self: (self.next_expiry() or self.start)
                  <= self.start - LATEST - timedelta(minutes=1))
    @rule()
    def expire(self) -> None:
        """Jump past the first open hold's expiry and expire it: the places go straight on to
        the next people (the idle-place invariant checks that, with no top-up after)."""
        self.clock.now = max(self.clock.now, self.next_expiry()) + timedelta(minutes=1)
        now = self.clock.now
        with self.request():
            due = [offer_id for offer_id, expires_at in self.open_offers() if expires_at <= now]
            assert due
            assert service.expire_offers(now) == len(due)
            statuses = set(db.session.scalars(
                sa.select(Offer.status).where(Offer.id.in_(due))))
            assert statuses == {OfferStatus.EXPIRED}

    @rule(change=st.sampled_from([-2, -1, 1, 2]))
    def change_capacity(self, change: int) -> None:
        self.advance()
        with self.request():
            before = self.snapshot()
            wanted = max(before["capacity"] + change, 0)
            taken = len(before["confirmed"]) + before["held"]
            try:
                engine.change_capacity(self.session_id, wanted)
            except engine.EngineError:
                assert wanted < taken, "refused although the places were free"
            else:
                assert wanted >= taken, "lowered below the places booked or held"

    # -- invariants -------------------------------------------------------------------------------

    @invariant()
    def places_add_up(self) -> None:
        if not hasattr(self, "session_id"):
            return
        with self.request():
            state = self.snapshot()
            assert state["free"] >= 0, f"overbooked: {state}"
            if EntryStatus.WAITING in state["active"].values():
                assert state["free"] == 0, f"a place sits idle while people wait: {state}"
            both = state["confirmed"] & set(state["active"])
            assert not both, f"booked and still on the list: {both}"

    @invariant()
    def one_open_offer_per_offered_person(self) -> None:
        if not hasattr(self, "session_id"):
            return
        with self.app.app_context():
            entries = db.session.scalars(
                sa.select(WaitlistEntry)
                .where(WaitlistEntry.training_session_id == self.session_id)).all()
            active_people = [entry.user_id for entry in entries if entry.status in ACTIVE]
            assert len(active_people) == len(set(active_people)), "someone is listed twice"
            open_per_entry = Counter(db.session.scalars(
                sa.select(Offer.entry_id).join(Offer.hold)
                .where(Hold.training_session_id == self.session_id,
                       Offer.status == OfferStatus.OPEN)))
            for entry in entries:
                expected = 1 if entry.status == EntryStatus.OFFERED else 0
                assert open_per_entry[entry.id] == expected, (entry.status, open_per_entry)
            # An open hold has its open offer, and an open offer its open hold.
            holds = db.session.scalars(
                sa.select(Hold).where(Hold.training_session_id == self.session_id)).all()
            for hold in holds:
                has_open_offer = any(offer.status == OfferStatus.OPEN for offer in hold.offers)
                assert has_open_offer == (hold.status == HoldStatus.OPEN), hold.status
                assert not hold.shared and not hold.manual  # one person's, in list order

    @invariant()
    def offers_go_down_the_list_in_order(self) -> None:
        if not hasattr(self, "session_id"):
            return
        with self.app.app_context():
            entries = service.active_entries(self.session_id)
            statuses = [entry.status for entry in entries]
            # In list order, everybody offered a place comes before everybody still waiting.
            assert statuses == sorted(statuses, key=lambda status: status != EntryStatus.OFFERED), \
                statuses
            assert [service.position(entry) for entry in entries] == \
                list(range(1, len(entries) + 1))

    @invariant()
    def every_email_matches_one_event(self) -> None:
        if not hasattr(self, "session_id"):
            return
        with self.app.app_context():
            sent = Counter(
                (recipient, subject.partition(":")[0] + ":")
                for recipient, subject in db.session.execute(
                    sa.select(OutboxMessage.recipient, OutboxMessage.subject))
            )
            entries = Counter(db.session.scalars(sa.select(WaitlistEntry.user_id)))
            offers = Counter()
            ended = Counter()
            for user_id, status in db.session.execute(
                    sa.select(WaitlistEntry.user_id, Offer.status)
                    .join(Offer, Offer.entry_id == WaitlistEntry.id)):
                offers[user_id] += 1
                ended[user_id, status] += 1
            for user_id in self.people:
                email = self.emails[user_id]
                assert sent[email, JOINED] == entries[user_id], "joining emails"
                assert sent[email, OFFERED] == offers[user_id], "offer emails"
                assert sent[email, EXPIRED] == ended[user_id, OfferStatus.EXPIRED], \
                    "expiry emails"
                assert sent[email, TAKEN] == ended[user_id, OfferStatus.LOST]
                assert sent[email, BOOKED] == self.bookings_made[user_id], "booking emails"
                assert sent[email, CANCELLED] == self.bookings_cancelled[user_id], \
                    "cancellation emails"
            assert sum(sent.values()) == sum(
                sent[self.emails[user_id], subject] for user_id in self.people
                for subject in (JOINED, OFFERED, EXPIRED, TAKEN, BOOKED, CANCELLED)
            ), f"unexpected emails: {sent}"

    def teardown(self) -> None:
        with self.app.app_context():
            db.session.remove()


def test_waiting_list_keeps_its_promises_under_random_use(app, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(service, "utcnow", clock)
    keep = reference_tables(app)
    run_state_machine_as_test(lambda: WaitingListMachine(app, clock, keep), settings=SETTINGS)


def test_a_fixed_walk_expires_an_offer_and_passes_the_place_on(app, monkeypatch):
    """The machine's steps without hypothesis: booked, two join, a cancellation offers the
    place to the first, it expires, and the second accepts it."""
    clock = Clock()
    monkeypatch.setattr(service, "utcnow", clock)
    machine = WaitingListMachine(app, clock, reference_tables(app))
    machine.make_session(capacity=1, waiting=2)
    first, second = machine.people[1:3]
    machine.cancel(0)
    machine.expire()
    machine.accept(0)
    machine.places_add_up()
    machine.one_open_offer_per_offered_person()
    machine.offers_go_down_the_list_in_order()
    machine.every_email_matches_one_event()
    with app.app_context():
        assert engine.confirmed_count(machine.session_id) == 1
        statuses = dict(db.session.execute(
            sa.select(WaitlistEntry.user_id, WaitlistEntry.status)).all())
        assert statuses == {first: EntryStatus.EXPIRED, second: EntryStatus.PLACED}
    machine.teardown()
