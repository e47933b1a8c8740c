"""The waiting list plugin: joining, offers, accepting, declining, expiry, fairness, pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests import factories
from trainer import booking as engine
from trainer.booking import Booking, BookingStatus, Outcome
from trainer.catalogue import TrainingSession
from trainer.db import db, utcnow
from trainer.hooks import plugin_manager
from trainer.hookspecs import hookimpl
from trainer.mail import OutboxMessage
from trainer.people import Role, User
from trainer.plugins.waiting_list import service
from trainer.plugins.waiting_list.models import (
    EntryStatus,
    Hold,
    Offer,
    OfferStatus,
    WaitlistEntry,
)

ANY_CSRF = re.compile(r'name="[\w-]*csrf_token"[^>]*value="([^"]+)"')
LINK = re.compile(r"http://localhost(/waiting-list/offers/[^\s?]+)\?answer=(accept|decline)")


# -- helpers --------------------------------------------------------------------------------------


def session_with(app, days: float = 10, **fields) -> int:
    with app.app_context():
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)
        made = factories.training_session(starts=start, **fields)
        db.session.commit()
        return made.id


def people(make_user, count: int, prefix: str = "person") -> list[int]:
    return [make_user(f"{prefix}{n}@example.org", name=f"Person {n}")[0] for n in range(count)]


def user(user_id: int) -> User:
    return db.session.get(User, user_id)


def book(app, session_id: int, user_id: int):
    with app.test_request_context():
        result = engine.book(session_id, user(user_id))
        return result.outcome, (result.booking.id if result.booking else None), result.message


def join(app, session_id: int, user_id: int, now=None):
    with app.test_request_context():
        answer = service.join(session_id, user(user_id), now=now)
        return answer.ok, answer.message


def cancel(app, booking_id: int):
    with app.test_request_context():
        return engine.cancel(booking_id, "I can no longer attend").outcome


def full_session(app, make_user, capacity: int = 2, waiting: int = 3, **fields):
    """A session booked to capacity with ``waiting`` people on its list, in that order."""
    session_id = session_with(app, capacity=capacity, **fields)
    booked = people(make_user, capacity, prefix="booked")
    bookings = [book(app, session_id, person)[1] for person in booked]
    queue = people(make_user, waiting, prefix="waiting")
    for person in queue:
        assert join(app, session_id, person)[0]
    return session_id, bookings, queue


def offers(app, session_id: int, status=OfferStatus.OPEN) -> list[int]:
    """User ids holding offers of ``status`` on the session, in offer order."""
    with app.app_context():
        return list(db.session.scalars(
            sa.select(WaitlistEntry.user_id)
            .join(Offer, Offer.entry_id == WaitlistEntry.id)
            .join(Hold, Hold.id == Offer.hold_id)
            .where(Hold.training_session_id == session_id, Offer.status == status)
            .order_by(Offer.id)
        ))


def entry_status(app, session_id: int, user_id: int) -> str:
    with app.app_context():
        return db.session.scalar(
            sa.select(WaitlistEntry.status)
            .where(WaitlistEntry.training_session_id == session_id,
                   WaitlistEntry.user_id == user_id)
            .order_by(WaitlistEntry.id.desc())
        )


def taken(app, session_id: int) -> tuple[int, int, int]:
    """(confirmed, held, capacity)."""
    with app.app_context():
        from trainer.catalogue import TrainingSession

        return (engine.confirmed_count(session_id), service.held_places(session_id),
                db.session.get(TrainingSession, session_id).capacity)


def emails_to(mailbox_app, address: str) -> list[OutboxMessage]:
    with mailbox_app.app_context():
        messages = db.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.recipient == address)
            .order_by(OutboxMessage.id)
        ).all()
        db.session.expunge_all()
        return messages


def email_of(app, user_id: int) -> str:
    with app.app_context():
        return user(user_id).email


def offer_link(app, user_id: int, answer: str = "accept") -> str:
    [message] = [m for m in emails_to(app, email_of(app, user_id))
                 if "A place is free for you" in m.subject][-1:]
    for path, kind in LINK.findall(message.text_body):
        if kind == answer:
            return f"{path}?answer={answer}"
    raise AssertionError("no offer link in the email")


def tick(app, now):
    with app.test_request_context():
        return (service.expire_offers(now), service.remind_offers(now),
                service.fill_free_places(now))


def post_form(client, path: str, data: dict | None = None, button_prefix: str = ""):
    page = client.get(path)
    token = ANY_CSRF.search(page.get_data(as_text=True)).group(1)
    fields = {f"{button_prefix}csrf_token": token}
    fields.update(data or {})
    return client.post(path, data=fields)


# -- joining --------------------------------------------------------------------------------------


def test_a_full_session_offers_the_waiting_list_instead_of_fully_booked(app, make_user):
    session_id, _, _ = full_session(app, make_user, capacity=1, waiting=0)
    [newcomer] = people(make_user, 1, prefix="new")
    outcome, _, message = book(app, session_id, newcomer)
    assert outcome == Outcome.FULL
    assert "Join the waiting list" in message


def test_joining_tells_people_their_position_in_arrival_order(app, make_user):
    session_id, _, queue = full_session(app, make_user, capacity=1, waiting=3)
    with app.app_context():
        entries = service.active_entries(session_id)
        assert [entry.user_id for entry in entries] == queue
        assert [service.position_text(entry) for entry in entries] == [
            "You are 1st on the waiting list.",
            "You are 2nd on the waiting list.",
            "You are 3rd on the waiting list.",
        ]
    [joined] = emails_to(app, email_of(app, queue[2]))
    assert "You are 3rd on the list" in joined.text_body


def test_nobody_joins_twice_or_joins_a_session_with_places(app, make_user):
    session_id, _, queue = full_session(app, make_user, capacity=1, waiting=1)
    ok, message = join(app, session_id, queue[0])
    assert not ok and "already on the waiting list" in message
    roomy = session_with(app, capacity=5)
    ok, message = join(app, roomy, queue[0])
    assert not ok and "places left" in message


def test_people_already_booked_cannot_join(app, make_user):
    session_id, _, _ = full_session(app, make_user, capacity=1, waiting=0)
    with app.app_context():
        booked_id = db.session.scalar(sa.select(Booking.user_id))
    ok, message = join(app, session_id, booked_id)
    assert not ok and message == "You have already booked this training session."


# -- offers ---------------------------------------------------------------------------------------


def test_a_cancellation_offers_the_place_to_the_first_person_and_holds_it(app, make_user):
    session_id, bookings, queue = full_session(app, make_user, capacity=2, waiting=3)
    assert cancel(app, bookings[0]) == Outcome.CANCELLED
    assert offers(app, session_id) == [queue[0]]
    assert taken(app, session_id) == (1, 1, 2)
    # The held place is not for anybody else.
    [stranger] = people(make_user, 1, prefix="stranger")
    assert book(app, session_id, stranger)[0] == Outcome.FULL
    message = [m for m in emails_to(app, email_of(app, queue[0]))
               if m.subject.startswith("A place is free for you")]
    assert message and "Accept place:" in message[0].text_body


def test_accepting_books_the_held_place(app, make_user, client):
    session_id, bookings, queue = full_session(app, make_user, capacity=2, waiting=2)
    cancel(app, bookings[0])
    link = offer_link(app, queue[0])
    page = client.get(link)
    assert page.status_code == 200 and "Accept place" in page.get_data(as_text=True)
    assert offers(app, session_id) == [queue[0]], "opening the link changes nothing"
    response = post_form(client, link, button_prefix="accept-")
    assert response.status_code == 200
    assert "Booking confirmed" in response.get_data(as_text=True)
    assert taken(app, session_id) == (2, 0, 2)
    assert entry_status(app, session_id, queue[0]) == EntryStatus.PLACED
    # Single use: the link now says so and books nothing more.
    again = client.get(link).get_data(as_text=True)
    assert "You have already accepted this place." in again


def test_declining_passes_the_place_to_the_next_person_at_once(app, make_user, client):
    session_id, bookings, queue = full_session(app, make_user, capacity=2, waiting=2)
    cancel(app, bookings[0])
    link = offer_link(app, queue[0], "decline")
    response = post_form(client, link, button_prefix="decline-")
    assert "You have declined the place" in response.get_data(as_text=True)
    assert entry_status(app, session_id, queue[0]) == EntryStatus.DECLINED
    assert offers(app, session_id) == [queue[1]]
    assert taken(app, session_id) == (1, 1, 2)


def test_an_expired_offer_passes_on_at_the_next_tick(app, make_user):
    session_id, bookings, queue = full_session(app, make_user, capacity=1, waiting=2)
    cancel(app, bookings[0])
    assert tick(app, utcnow())[0] == 0, "nothing expires early"
    later = utcnow() + timedelta(hours=49)
    assert tick(app, later)[0] == 1
    assert entry_status(app, session_id, queue[0]) == EntryStatus.EXPIRED
    assert offers(app, session_id) == [queue[1]]
    assert offers(app, session_id, OfferStatus.EXPIRED) == [queue[0]]
    assert any("has expired" in m.subject for m in emails_to(app, email_of(app, queue[0])))
    assert tick(app, later)[0] == 0, "a second tick changes nothing"


def test_offers_are_held_at_most_until_the_cut_off(app, make_user):
    session_id, bookings, queue = full_session(app, make_user, capacity=1, waiting=1, days=2.5)
    cancel(app, bookings[0])
    with app.app_context():
        hold = db.session.scalar(sa.select(Hold))
        start = hold_session_start(session_id)
        assert hold.expires_at == start - timedelta(hours=24)
        assert not hold.shared


def hold_session_start(session_id):
    from trainer.catalogue import TrainingSession

    return db.session.get(TrainingSession, session_id).starts_at


def test_close_to_the_start_a_place_goes_to_several_and_the_first_to_accept_wins(
    app, make_user, client
):
    session_id, bookings, queue = full_session(app, make_user, capacity=1, waiting=4, days=1)
    cancel(app, bookings[0])
    assert offers(app, session_id) == queue[:3]
    assert taken(app, session_id) == (0, 1, 1), "one place is held, however many are asked"
    second = offer_link(app, queue[1])
    first = offer_link(app, queue[0])
    post_form(client, second, button_prefix="accept-")
    assert taken(app, session_id) == (1, 0, 1)
    assert entry_status(app, session_id, queue[1]) == EntryStatus.PLACED
    assert entry_status(app, session_id, queue[0]) == EntryStatus.WAITING
    page = client.get(first).get_data(as_text=True)
    assert "somebody else accepted this place first" in page
    assert any("has been taken" in m.subject for m in emails_to(app, email_of(app, queue[0])))


def test_a_reminder_goes_once_before_an_offer_ends(app, make_user):
    session_id, bookings, queue = full_session(app, make_user, capacity=1, waiting=1)
    cancel(app, bookings[0])
    soon = utcnow() + timedelta(hours=40)
    assert tick(app, soon)[1] == 1
    assert tick(app, soon)[1] == 0
    subjects = [m.subject for m in emails_to(app, email_of(app, queue[0]))]
    assert sum("Reminder: answer your offer" in subject for subject in subjects) == 1


def test_someone_who_accepted_and_cancels_frees_the_place_again(app, make_user, client):
    session_id, bookings, queue = full_session(app, make_user, capacity=1, waiting=2)
    cancel(app, bookings[0])
    post_form(client, offer_link(app, queue[0]), button_prefix="accept-")
    with app.app_context():
        booking_id = db.session.scalar(
            sa.select(Booking.id).where(Booking.user_id == queue[0],
                                        Booking.status == BookingStatus.CONFIRMED))
    cancel(app, booking_id)
    assert offers(app, session_id) == [queue[1]]


def test_a_capacity_rise_offers_the_new_places_in_order(app, make_user):
    session_id, _, queue = full_session(app, make_user, capacity=1, waiting=3)
    with app.test_request_context():
        engine.change_capacity(session_id, 3)
    assert offers(app, session_id) == queue[:2]
    assert taken(app, session_id) == (1, 2, 3)
    with app.test_request_context(), pytest.raises(engine.EngineError):
        engine.change_capacity(session_id, 2)  # held places count as taken


def test_no_queue_jumping_while_people_wait(app, make_user):
    session_id, _, queue = full_session(app, make_user, capacity=1, waiting=1)
    # A place appears without an offer being made (say the plugin was off at the time).
    with app.app_context():
        from trainer.catalogue import TrainingSession

        db.session.get(TrainingSession, session_id).capacity = 2
        db.session.commit()
    [newcomer] = people(make_user, 1, prefix="new")
    outcome, _, message = book(app, session_id, newcomer)
    assert outcome == Outcome.REFUSED and "waiting list are offered free places first" in message
    assert tick(app, utcnow())[2] == 1
    assert offers(app, session_id) == [queue[0]]


def test_cancelling_the_session_empties_the_list_and_tells_everyone(app, make_user):
    session_id, _, queue = full_session(app, make_user, capacity=1, waiting=2)
    with app.test_request_context():
        engine.cancel_session(session_id, "The trainer is ill")
    assert {entry_status(app, session_id, person) for person in queue} == {
        EntryStatus.CANCELLED}
    message = emails_to(app, email_of(app, queue[1]))[-1]
    assert "removed from its waiting list" in message.text_body
    assert "The trainer is ill" in message.text_body


# -- priority -------------------------------------------------------------------------------------


class SencoFirst:
    """Gives SENCOs priority on waiting lists."""

    @hookimpl
    def trainer_waitlist_priority(self, entry):
        return 5 if entry.user.job_role == "senco" else None


def test_priority_moves_people_up_and_ties_keep_arrival_order(app, make_user):
    manager = plugin_manager(app)
    plugin = SencoFirst()
    manager.register(plugin)
    try:
        session_id = session_with(app, capacity=1)
        book(app, session_id, people(make_user, 1, prefix="b")[0])
        plain = make_user("plain@example.org")[0]
        senco_a = make_user("senco-a@example.org", job_role="senco")[0]
        senco_b = make_user("senco-b@example.org", job_role="senco")[0]
        for person in (plain, senco_a, senco_b):
            join(app, session_id, person)
        with app.app_context():
            assert [e.user_id for e in service.active_entries(session_id)] == [
                senco_a, senco_b, plain]
    finally:
        manager.unregister(plugin)


def test_the_plugin_adds_its_own_hook_specification(app):
    manager = plugin_manager(app)
    assert manager.hook.trainer_waitlist_priority.has_spec()


class AddsASpec:
    """A plugin adding a spec of its own through the historic hook, after start-up."""

    @hookimpl
    def trainer_addhooks(self, plugin_manager):
        from tests.plugins import extra_specs

        plugin_manager.add_hookspecs(extra_specs)


def test_plugins_registered_late_still_add_their_specs(app):
    manager = plugin_manager(app)
    plugin = AddsASpec()
    manager.register(plugin)
    try:
        assert manager.hook.trainer_example_extra.has_spec()
    finally:
        manager.unregister(plugin)


# -- pages ----------------------------------------------------------------------------------------


def test_the_session_page_offers_to_join_and_then_shows_the_position(app, make_user, client,
                                                                      auth):
    session_id, _, _ = full_session(app, make_user, capacity=1, waiting=1)
    make_user("me@example.org", name="Me")
    auth.sign_in("me@example.org")
    page = client.get(f"/training/sessions/{session_id}").get_data(as_text=True)
    assert "1 person is already waiting" in page and "Join the waiting list" in page
    response = post_form(client, f"/waiting-list/sessions/{session_id}/join")
    assert response.status_code == 302
    page = client.get(f"/training/sessions/{session_id}").get_data(as_text=True)
    assert "You have joined the waiting list. You are 2nd on the list." in page
    assert "You are 2nd on the waiting list." in page
    my_training = client.get("/my-training/").get_data(as_text=True)
    assert "You are 2nd on the waiting list." in my_training


def test_leaving_the_list(app, make_user, client, auth):
    session_id, _, queue = full_session(app, make_user, capacity=1, waiting=2)
    auth.sign_in(email_of(app, queue[0]))
    with app.app_context():
        entry_id = service.active_entries(session_id)[0].id
    response = post_form(client, f"/waiting-list/entries/{entry_id}/leave")
    assert response.status_code == 302
    assert entry_status(app, session_id, queue[0]) == EntryStatus.LEFT
    with app.app_context():
        assert service.position_text(service.active_entries(session_id)[0]) == \
            "You are 1st on the waiting list."


def test_nobody_can_leave_on_someone_elses_behalf(app, make_user, client, auth):
    session_id, _, queue = full_session(app, make_user, capacity=1, waiting=1)
    make_user("other@example.org")
    auth.sign_in("other@example.org")
    with app.app_context():
        entry_id = service.active_entries(session_id)[0].id
    assert client.get(f"/waiting-list/entries/{entry_id}/leave").status_code == 404
    assert entry_status(app, session_id, queue[0]) == EntryStatus.WAITING


def test_a_damaged_offer_link_is_refused_clearly(client):
    response = client.get("/waiting-list/offers/not-a-real-token")
    assert response.status_code == 404
    assert "This link is not valid" in response.get_data(as_text=True)


def test_the_full_message_without_the_plugin_is_fully_booked(app_factory, make_user):
    app = app_factory(DISABLED_PLUGINS=["waiting_list"])
    session_id = session_with(app, capacity=1)
    book(app, session_id, people(make_user, 1, prefix="b")[0])
    client = app.test_client()
    page = client.get(f"/training/sessions/{session_id}").get_data(as_text=True)
    assert "This training session is fully booked." in page
    assert "waiting list" not in page.lower()


# -- trainers -------------------------------------------------------------------------------------


def trainer_of(app, make_user, session_id: int) -> str:
    with app.app_context():
        from trainer.catalogue import TrainingSession

        partner_id = db.session.get(TrainingSession, session_id).course.delivery_partner_id
    make_user("trainer@example.org", roles=[Role.TRAINER], delivery_partner_id=partner_id)
    return "trainer@example.org"


def test_trainers_see_the_list_and_can_remove_someone_with_a_reason(app, make_user, client,
                                                                    auth):
    session_id, _, queue = full_session(app, make_user, capacity=1, waiting=2)
    auth.sign_in(trainer_of(app, make_user, session_id))
    page = client.get(f"/waiting-list/manage/sessions/{session_id}").get_data(as_text=True)
    assert "Person 0" in page and "Person 1" in page and "Waiting" in page
    with app.app_context():
        entry_id = service.active_entries(session_id)[0].id
    empty = post_form(client, f"/waiting-list/manage/entries/{entry_id}/remove",
                      {"reason": "  "})
    assert "Enter the reason to send them" in empty.get_data(as_text=True)
    assert entry_status(app, session_id, queue[0]) == EntryStatus.WAITING
    post_form(client, f"/waiting-list/manage/entries/{entry_id}/remove",
              {"reason": "You booked the same course in March."})
    assert entry_status(app, session_id, queue[0]) == EntryStatus.REMOVED
    message = emails_to(app, email_of(app, queue[0]))[-1]
    assert "You booked the same course in March." in message.text_body


def test_a_manual_offer_adds_a_place_for_the_chosen_person(app, make_user, client, auth):
    session_id, _, queue = full_session(app, make_user, capacity=1, waiting=3)
    auth.sign_in(trainer_of(app, make_user, session_id))
    with app.app_context():
        third = service.active_entries(session_id)[2].id
    page = client.get(f"/waiting-list/manage/entries/{third}/offer").get_data(as_text=True)
    assert "capacity goes from 1 to 2" in page
    post_form(client, f"/waiting-list/manage/entries/{third}/offer")
    assert offers(app, session_id) == [queue[2]]
    assert taken(app, session_id) == (1, 1, 2)


def test_trainers_of_other_partners_cannot_see_the_list(app, make_user, client, auth):
    session_id, _, _ = full_session(app, make_user, capacity=1, waiting=1)
    make_user("elsewhere@example.org", roles=[Role.TRAINER])
    auth.sign_in("elsewhere@example.org")
    assert client.get(f"/waiting-list/manage/sessions/{session_id}").status_code == 403
    with app.app_context():
        entry_id = service.active_entries(session_id)[0].id
    assert client.get(f"/waiting-list/manage/entries/{entry_id}/remove").status_code == 403


def test_the_demand_report_counts_people_waiting_and_placed(app, make_user, client, auth):
    session_id, bookings, queue = full_session(app, make_user, capacity=1, waiting=3)
    cancel(app, bookings[0])
    post_form(client, offer_link(app, queue[0]), button_prefix="accept-")
    make_user("admin@example.org", roles=[Role.ADMIN])
    auth.sign_in("admin@example.org")
    page = client.get("/waiting-list/demand").get_data(as_text=True)
    assert re.search(r'id="demand-waiting">2<', page)
    assert "1 of 3" in page  # three waited, one went on to book
    reports = client.get("/reports/").get_data(as_text=True)
    assert "Waiting lists and demand" in reports


def test_adding_a_session_for_demand_invites_those_waiting_in_order(app, make_user, client,
                                                                    auth):
    session_id, _, queue = full_session(app, make_user, capacity=1, waiting=2)
    make_user("admin@example.org", roles=[Role.ADMIN])
    auth.sign_in("admin@example.org")
    with app.app_context():
        from trainer.catalogue import TrainingSession

        course_id = db.session.get(TrainingSession, session_id).course_id
    new_id = session_with(app, capacity=10, course_=None)
    with app.app_context():
        from trainer.catalogue import TrainingSession

        db.session.get(TrainingSession, new_id).course_id = course_id
        db.session.commit()
    path = f"/waiting-list/demand/courses/{course_id}/invite?region_id=none&session_id={new_id}"
    page = client.get(path).get_data(as_text=True)
    assert "We will email 2 people" in page
    post_form(client, path)
    invited = [emails_to(app, email_of(app, person))[-1] for person in queue]
    assert all(m.subject.startswith("New date added") for m in invited)
    assert invited[0].id < invited[1].id, "invited in list order"
    post_form(client, path)
    assert len([m for m in emails_to(app, email_of(app, queue[0]))
                if m.subject.startswith("New date added")]) == 1, "never invited twice"


def test_when_the_session_has_taken_place_nobody_is_left_waiting(app, make_user, runner):
    session_id, _, queue = full_session(app, make_user, capacity=1, waiting=2)
    with app.app_context():
        from trainer.catalogue import TrainingSession

        for meeting in db.session.get(TrainingSession, session_id).meetings:
            meeting.starts_at -= timedelta(days=20)
            meeting.ends_at -= timedelta(days=20)
        db.session.get(TrainingSession, session_id).refresh_times(engine.twilight_from())
        db.session.commit()
    assert runner.invoke(args=["trainer", "tick"]).exit_code == 0
    assert {entry_status(app, session_id, person) for person in queue} == {EntryStatus.CLOSED}


def test_a_tick_inside_a_reading_request_never_holds_more_than_is_free(app, make_user):
    """Pages that only read count held places once per request; work that changes them must
    count afresh, or one expiry could hold two places."""
    session_id, bookings, queue = full_session(app, make_user, capacity=1, waiting=3)
    cancel(app, bookings[0])
    with app.test_request_context(method="GET"):
        assert engine.free_places(db.session.get(TrainingSession, session_id)) == 0
        service.expire_offers(utcnow() + timedelta(hours=49))
        service.fill_free_places(utcnow() + timedelta(hours=49))
    assert taken(app, session_id) == (0, 1, 1)
    assert offers(app, session_id) == [queue[1]]
