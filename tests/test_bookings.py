"""Booking a place, My training, cancelling, refusals, plugins, certificates and the private
calendar feed: the pages, the engine behind them and the emails they send."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

import icalendar
import pytest
import sqlalchemy as sa

from tests.conftest import body_of, count, csrf_token
from trainer import booking as engine
from trainer.booking import Booking, BookingStatus, FullAnswer
from trainer.catalogue import Course, Meeting, SessionStatus, TrainingSession, Venue
from trainer.db import db, utcnow
from trainer.hooks import Panel
from trainer.hookspecs import hookimpl
from trainer.mail import OutboxMessage
from trainer.people import DeliveryPartner, LocalAuthority, User
from trainer.times import LONDON, span

# -- helpers (tests/test_calendar.py uses them too) ----------------------------------------------


def london(year, month, day, hour, minute=0) -> datetime:
    """An aware UTC instant given as London wall-clock time."""
    return datetime(year, month, day, hour, minute, tzinfo=LONDON).astimezone(UTC)


def evening(days_ahead: int, hour: int = 18, minute: int = 30, hours: float = 1.5):
    """A (start, end) pair ``days_ahead`` days from now at ``hour:minute`` London time."""
    local_day = (utcnow() + timedelta(days=days_ahead)).astimezone(LONDON).date()
    start = datetime.combine(local_day, time(hour, minute), tzinfo=LONDON).astimezone(UTC)
    return start, start + timedelta(hours=hours)


def make_session(
    app,
    meetings=None,
    title="Supporting speech, language and communication",
    capacity=10,
    mode="in_person",
    online_url=None,
    venue=True,
    local_authority=None,
    opens=None,
    closes=None,
    status=SessionStatus.SCHEDULED,
    accredited=False,
    credits=None,
) -> int:
    """Add a course with one training session; return the session's id.

    ``meetings`` is a list of (start, end) UTC pairs (default: one evening in ten days).
    ``local_authority`` is an LA name the session is restricted to.
    """
    with app.app_context():
        partner = db.session.scalar(
            sa.select(DeliveryPartner).where(DeliveryPartner.name == "Early Years Partnership")
        ) or DeliveryPartner(name="Early Years Partnership")
        course = Course(
            title=title,
            summary="Practical ways to support children's talk.",
            delivery_partner=partner,
            accredited=accredited,
            credits=credits,
            level="level_3" if accredited else "introductory",
        )
        place = None
        if venue:
            place = Venue(
                name="Sunshine Children's Centre",
                address="1 High Street\nLeeds",
                postcode="LS1 1AA",
                accessibility_notes="Step-free entrance; hearing loop in the main room.",
            )
        training_session = TrainingSession(
            course=course, capacity=capacity, mode=mode, status=status,
            booking_opens_at=opens, booking_closes_at=closes,
        )
        if local_authority:
            training_session.local_authority = db.session.scalar(
                sa.select(LocalAuthority).where(LocalAuthority.name == local_authority)
            )
        for start, end in meetings or [evening(10)]:
            training_session.meetings.append(
                Meeting(starts_at=start, ends_at=end, venue=place, online_url=online_url)
            )
        training_session.refresh_times(time(17))
        db.session.add(training_session)
        db.session.commit()
        return training_session.id


def user_id_of(app, email) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(User.id).where(User.email == email))


def engine_book(app, session_id, email, now=None) -> Booking:
    """Book through the engine directly (as the view would), in a request context for URLs."""
    with app.test_request_context():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        result = engine.book(session_id, user, now=now)
        assert result.ok, result.message
        return result.booking.id


def booking_row(app, booking_id) -> Booking:
    with app.app_context():
        found = db.session.get(Booking, booking_id)
        db.session.expunge(found)
        return found


def only_booking_id(app, session_id) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(Booking.id).where(Booking.training_session_id == session_id)
        )


def invite_of(message) -> icalendar.Calendar:
    parts = [part for part in message.iter_attachments()
             if part.get_content_type() == "text/calendar"]
    assert len(parts) == 1, [part.get_content_type() for part in message.iter_attachments()]
    return icalendar.Calendar.from_ical(parts[0].get_content())


def events(calendar: icalendar.Calendar) -> list:
    return list(calendar.walk("VEVENT"))


def book_page(browser, session_id, data=None):
    return browser.submit(f"/my-training/book/{session_id}", data or {})


@pytest.fixture
def signed_in(make_user, auth):
    """A signed-in practitioner; returns their email address."""
    make_user("sam@example.org", name="Sam Example")
    auth.sign_in("sam@example.org")
    return "sam@example.org"


# -- booking --------------------------------------------------------------------------------------


def test_booking_pages_need_signing_in(app, client):
    session_id = make_session(app)
    for path in (f"/my-training/book/{session_id}", "/my-training/", "/my-training/calendar",
                 "/my-training/bookings/1", "/my-training/bookings/1/cancel"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert "/auth/sign-in" in response.headers["Location"]


def test_the_confirmation_panel_escapes_the_course_title(app, browser, signed_in):
    session_id = make_session(app, title="Autism <b>basics</b>")
    response = book_page(browser, session_id)
    confirmation = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "Autism &lt;b&gt;basics&lt;/b&gt;<br><br>Your booking reference" in confirmation


def test_book_a_place_confirmation_page_email_and_my_training(
    app, browser, signed_in, mailbox
):
    start, end = evening(10)
    session_id = make_session(app, meetings=[(start, end)])
    page = browser.get(f"/my-training/book/{session_id}").get_data(as_text=True)
    assert "Supporting speech, language and communication" in page
    assert span(start, end) in page
    assert "Sunshine Children&#39;s Centre" in page and "Step-free entrance" in page
    assert "Share my attendance with my local authority" in page
    consent = re.search(r'<input[^>]*name="share_with_la"[^>]*>', page).group(0)
    assert "checked" not in consent  # unticked unless the person ticks it

    response = book_page(browser, session_id, {"access_needs": "  I use a wheelchair.  ",
                                               "share_with_la": "y"})
    assert response.status_code == 302
    booking_id = only_booking_id(app, session_id)
    assert response.headers["Location"] == f"/my-training/bookings/{booking_id}/confirmed"
    saved = booking_row(app, booking_id)
    assert saved.status == BookingStatus.CONFIRMED
    assert saved.access_needs == "I use a wheelchair." and saved.share_with_la is True

    confirmation = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "Booking confirmed" in confirmation and "govuk-panel" in confirmation
    assert "What happens next" in confirmation
    assert f"/my-training/bookings/{booking_id}/invite.ics" in confirmation
    assert 'href="/my-training/"' in confirmation

    with app.app_context():
        stored = db.session.scalar(sa.select(OutboxMessage))
        assert stored.attachment_list()[0]["content_type"] == "text/calendar; method=REQUEST"
    [message] = mailbox()
    assert message["To"].addresses[0].addr_spec == "sam@example.org"
    assert message["Subject"] == "Booking confirmed: Supporting speech, language and communication"
    body = body_of(message)
    assert span(start, end) in body and "Step-free entrance" in body
    assert "I use a wheelchair." in body and "http://localhost/my-training/" in body
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_filename() == "invite.ics"
    invite = invite_of(message)
    assert invite["METHOD"] == "REQUEST"
    [event] = events(invite)
    assert str(event["UID"]).startswith(f"booking-{booking_id}-meeting-")

    my_training = browser.get("/my-training/").get_data(as_text=True)
    assert "Upcoming training" in my_training
    assert "Supporting speech, language and communication" in my_training
    assert span(start, end) in my_training
    assert f"/my-training/bookings/{booking_id}" in my_training
    assert "/my-training/calendar" in my_training


def test_the_booking_page_shows_london_times_and_the_joining_link(app, browser, signed_in):
    # 22 October is BST (UTC+1), 29 October GMT: each shows 6:30pm London time.
    meetings = [(london(2030, 10, 22, 18, 30), london(2030, 10, 22, 20)),
                (london(2030, 10, 29, 18, 30), london(2030, 10, 29, 20))]
    session_id = make_session(app, meetings=meetings, mode="online", venue=False,
                              online_url="https://meet.example.org/abc")
    page = browser.get(f"/my-training/book/{session_id}").get_data(as_text=True)
    assert "Tuesday 22 October 2030, 6:30pm to 8pm" in page
    assert "Tuesday 29 October 2030, 6:30pm to 8pm" in page
    assert "Online" in page and "meet.example.org" not in page  # not before booking
    book_page(browser, session_id)
    booking_id = only_booking_id(app, session_id)
    detail = browser.get(f"/my-training/bookings/{booking_id}").get_data(as_text=True)
    assert "https://meet.example.org/abc" in detail and "Part 2 of 2" in detail
    assert "Download calendar invite" in detail and "Cancel this booking" in detail
    assert "https://meet.example.org/abc" in browser.get("/my-training/").get_data(as_text=True)
    response = browser.get(f"/my-training/bookings/{booking_id}/invite.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/calendar")
    assert "attachment" in response.headers["Content-Disposition"]
    invite = icalendar.Calendar.from_ical(response.data)
    assert invite["METHOD"] == "REQUEST" and len(events(invite)) == 2


def test_a_session_that_does_not_exist_is_not_found(browser, signed_in):
    assert browser.get("/my-training/book/999999").status_code == 404
    assert browser.get("/my-training/bookings/999999").status_code == 404


def test_access_needs_longer_than_1000_characters_are_refused(app, browser, signed_in, mailbox):
    session_id = make_session(app)
    response = book_page(browser, session_id, {"access_needs": "x" * 1001})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "There is a problem" in page
    assert "must be 1,000 characters or fewer" in page and 'href="#access_needs"' in page
    assert count(app, Booking) == 0 and mailbox() == []
    assert book_page(browser, session_id, {"access_needs": "x" * 1000}).status_code == 302


def test_a_form_without_its_csrf_token_is_refused(app, browser, signed_in):
    session_id = make_session(app)
    response = browser.client.post(f"/my-training/book/{session_id}", data={})
    assert response.status_code == 400
    assert count(app, Booking) == 0


def _refusal_case(app, case, make_user):
    """Set up ``case`` for sam@example.org; return (session id, expected message)."""
    if case == "not open yet":
        opens = utcnow() + timedelta(days=2)
        return make_session(app, opens=opens), "Booking opens on"
    if case == "closed":
        return make_session(app, closes=utcnow() - timedelta(hours=1)), "has closed"
    if case == "restricted":
        session_id = make_session(app, local_authority="Leeds")
        return session_id, "only for people working or living in Leeds"
    if case == "already booked":
        session_id = make_session(app)
        engine_book(app, session_id, "sam@example.org")
        return session_id, "You have already booked this training session"
    if case == "cancelled":
        return make_session(app, status=SessionStatus.CANCELLED), "has been cancelled"
    if case == "full":
        session_id = make_session(app, capacity=1)
        make_user("first@example.org")
        engine_book(app, session_id, "first@example.org")
        return session_id, "fully booked"
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case", ["not open yet", "closed", "restricted", "already booked", "cancelled", "full"]
)
def test_refusals_are_shown_and_nothing_is_saved(app, browser, signed_in, make_user, mailbox,
                                                 case):
    session_id, expected = _refusal_case(app, case, make_user)
    mailbox()  # deliver whatever the setting up sent
    sent_before = len(mailbox())
    bookings_before = count(app, Booking)
    page = browser.get(f"/my-training/book/{session_id}").get_data(as_text=True)
    if case != "full":  # the core's refusals are said before the form is filled in
        assert expected in page
    token = csrf_token(browser.get("/my-training/").get_data(as_text=True))
    response = browser.client.post(f"/my-training/book/{session_id}",
                                   data={"csrf_token": token})
    assert response.status_code == 200
    assert expected in response.get_data(as_text=True)
    assert count(app, Booking) == bookings_before
    assert len(mailbox()) == sent_before


def test_a_restricted_session_can_be_booked_from_its_la(app, browser, make_user, auth):
    with app.app_context():
        leeds = db.session.scalar(
            sa.select(LocalAuthority.id).where(LocalAuthority.name == "Leeds")
        )
    make_user("leeds@example.org", local_authority_id=leeds)
    auth.sign_in("leeds@example.org")
    session_id = make_session(app, local_authority="Leeds")
    assert book_page(browser, session_id).status_code == 302


# -- cancelling and booking again -----------------------------------------------------------------


def test_cancel_sends_a_calendar_cancellation_and_booking_again_works(
    app, browser, signed_in, mailbox
):
    session_id = make_session(app, meetings=[evening(10), evening(17), evening(24)])
    book_page(browser, session_id)
    booking_id = only_booking_id(app, session_id)
    [confirmation] = mailbox()
    invite = invite_of(confirmation)
    uids = [str(event["UID"]) for event in events(invite)]
    sequence = {int(event["SEQUENCE"]) for event in events(invite)}
    assert len(set(uids)) == 3 and len(sequence) == 1

    form = browser.get(f"/my-training/bookings/{booking_id}/cancel").get_data(as_text=True)
    for reason in ("I can no longer attend", "The time no longer suits me", "Other"):
        assert reason in form
    response = browser.submit(f"/my-training/bookings/{booking_id}/cancel",
                              {"reason": "cannot_attend"})
    assert response.headers["Location"] == f"/my-training/bookings/{booking_id}/cancelled"
    done = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "Booking cancelled" in done and "govuk-panel" in done
    saved = booking_row(app, booking_id)
    assert saved.status == BookingStatus.CANCELLED
    assert saved.cancel_reason == "I can no longer attend"

    cancellation = mailbox()[-1]
    assert cancellation["Subject"].startswith("Booking cancelled: ")
    assert "has been cancelled" in body_of(cancellation)
    cancel_invite = invite_of(cancellation)
    assert cancel_invite["METHOD"] == "CANCEL"
    assert [str(event["UID"]) for event in events(cancel_invite)] == uids
    assert all(int(event["SEQUENCE"]) > max(sequence) for event in events(cancel_invite))
    assert all(str(event["STATUS"]) == "CANCELLED" for event in events(cancel_invite))
    with app.app_context():
        stored = db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert stored[-1].attachment_list()[0]["content_type"] == "text/calendar; method=CANCEL"

    my_training = browser.get("/my-training/").get_data(as_text=True)
    assert "Cancelled bookings" in my_training and "You have no training booked" in my_training
    detail = browser.get(f"/my-training/bookings/{booking_id}").get_data(as_text=True)
    assert "Cancelled" in detail and "Cancel this booking" not in detail
    again = browser.get(f"/my-training/bookings/{booking_id}/cancel").get_data(as_text=True)
    assert "already cancelled" in again

    # Booking again confirms the same booking, with a SEQUENCE above the cancellation's.
    assert book_page(browser, session_id).status_code == 302
    assert only_booking_id(app, session_id) == booking_id
    assert booking_row(app, booking_id).status == BookingStatus.CONFIRMED
    rebooked = invite_of(mailbox()[-1])
    assert rebooked["METHOD"] == "REQUEST"
    assert [str(event["UID"]) for event in events(rebooked)] == uids
    assert all(
        int(event["SEQUENCE"]) > int(events(cancel_invite)[0]["SEQUENCE"])
        for event in events(rebooked)
    )


def test_cancelling_needs_a_reason(app, browser, signed_in):
    session_id = make_session(app)
    book_page(browser, session_id)
    booking_id = only_booking_id(app, session_id)
    url = f"/my-training/bookings/{booking_id}/cancel"
    page = browser.submit(url, {}).get_data(as_text=True)
    assert "Select why you are cancelling" in page and 'href="#reason-0"' in page
    page = browser.submit(url, {"reason": "other", "other": "  "}).get_data(as_text=True)
    assert "Tell us why you are cancelling" in page
    assert booking_row(app, booking_id).status == BookingStatus.CONFIRMED
    response = browser.submit(url, {"reason": "other", "other": "My setting is closing"})
    assert response.status_code == 302
    assert booking_row(app, booking_id).cancel_reason == "Other: My setting is closing"


def test_a_booking_cannot_be_cancelled_once_the_session_has_started(app, browser, signed_in):
    start = utcnow() - timedelta(hours=1)
    session_id = make_session(app, meetings=[(start, start + timedelta(hours=2))])
    booking_id = engine_book(app, session_id, "sam@example.org", now=start - timedelta(days=1))
    detail = browser.get(f"/my-training/bookings/{booking_id}").get_data(as_text=True)
    assert "Cancel this booking" not in detail
    url = f"/my-training/bookings/{booking_id}/cancel"
    assert "has started" in browser.get(url).get_data(as_text=True)
    token = csrf_token(browser.get("/my-training/").get_data(as_text=True))
    response = browser.client.post(url, data={"csrf_token": token, "reason": "time"})
    assert response.status_code == 200
    assert "has started, so the booking cannot be cancelled" in response.get_data(as_text=True)
    assert booking_row(app, booking_id).status == BookingStatus.CONFIRMED


def test_the_engine_refuses_a_late_cancellation_too(app, signed_in):
    start = evening(3)[0]
    session_id = make_session(app, meetings=[(start, start + timedelta(hours=1))])
    booking_id = engine_book(app, session_id, "sam@example.org")
    with app.test_request_context():
        result = engine.cancel(booking_id, "late", now=start + timedelta(minutes=5))
    assert not result.ok and "has started" in result.message


# -- other people's bookings ----------------------------------------------------------------------


def test_other_peoples_bookings_are_not_found(app, browser, make_user, auth):
    make_user("owner@example.org")
    make_user("other@example.org")
    start, end = evening(5)
    session_id = make_session(app, meetings=[(start, end)])
    booking_id = engine_book(app, session_id, "owner@example.org")
    auth.sign_in("other@example.org")
    base = f"/my-training/bookings/{booking_id}"
    for path in (base, f"{base}/confirmed", f"{base}/invite.ics", f"{base}/cancel",
                 f"{base}/cancelled", f"{base}/certificate.pdf"):
        assert browser.get(path).status_code == 404, path
    token = csrf_token(browser.get("/my-training/").get_data(as_text=True))
    response = browser.client.post(f"{base}/cancel",
                                   data={"csrf_token": token, "reason": "time"})
    assert response.status_code == 404
    assert booking_row(app, booking_id).status == BookingStatus.CONFIRMED


# -- plugins --------------------------------------------------------------------------------------


class Recorder:
    """A plugin that watches and steers the booking hooks."""

    def __init__(self):
        self.calls: list[tuple] = []
        self.refuse: str | None = None
        self.held = 0
        self.full: FullAnswer | None = None

    @hookimpl
    def trainer_booking_refusal(self, training_session, user):
        self.calls.append(("refusal", training_session.id, user.email))
        return self.refuse

    @hookimpl
    def trainer_places_held(self, training_session):
        self.calls.append(("held", training_session.id))
        return self.held

    @hookimpl
    def trainer_session_full(self, training_session, user):
        self.calls.append(("full", training_session.id, user.email))
        return self.full

    @hookimpl
    def trainer_booking_confirmed(self, booking):
        self.calls.append(("confirmed", booking.id, booking.user.email))

    @hookimpl
    def trainer_booking_cancelled(self, booking):
        self.calls.append(("cancelled", booking.id, booking.cancel_reason))

    @hookimpl
    def trainer_places_freed(self, training_session):
        self.calls.append(("freed", training_session.id))

    @hookimpl
    def trainer_page_panels(self, page, obj, user):
        if page == "booking":
            return [Panel("From the recorder", f'<p class="govuk-body">Booking {obj.id}</p>')]
        return None


def test_plugins_take_part_in_booking(app, browser, make_user, auth, mailbox):
    recorder = Recorder()
    manager = app.extensions["trainer.plugins"]
    manager.register(recorder)
    try:
        for email in ("a@example.org", "b@example.org", "c@example.org"):
            make_user(email)
        session_id = make_session(app, capacity=2)
        recorder.held = 1  # e.g. a waiting-list offer: one place left

        auth.sign_in("a@example.org")
        assert book_page(browser, session_id).status_code == 302
        booking_id = only_booking_id(app, session_id)
        assert ("refusal", session_id, "a@example.org") in recorder.calls
        assert ("held", session_id) in recorder.calls
        assert ("confirmed", booking_id, "a@example.org") in recorder.calls
        detail = browser.get(f"/my-training/bookings/{booking_id}").get_data(as_text=True)
        assert "From the recorder" in detail and f"Booking {booking_id}" in detail

        # No place left: the plugin takes over, with its link.
        recorder.full = FullAnswer("Join the waiting list for this session.",
                                   url="/waiting-list/join", link_text="Join the waiting list")
        auth.sign_out()
        auth.sign_in("b@example.org")
        page = book_page(browser, session_id).get_data(as_text=True)
        assert "Join the waiting list for this session." in page
        assert 'href="/waiting-list/join"' in page and ">Join the waiting list<" in page
        assert ("full", session_id, "b@example.org") in recorder.calls
        assert count(app, Booking) == 1

        # A plugin's refusal is shown as it is said.
        recorder.held = 0
        recorder.refuse = "This session is for SENCOs only."
        auth.sign_out()
        auth.sign_in("c@example.org")
        page = book_page(browser, session_id).get_data(as_text=True)
        assert "This session is for SENCOs only." in page
        assert count(app, Booking) == 1

        # Cancelling tells plugins, and frees the place.
        auth.sign_out()
        auth.sign_in("a@example.org")
        browser.submit(f"/my-training/bookings/{booking_id}/cancel", {"reason": "time"})
        assert ("cancelled", booking_id, "The time no longer suits me") in recorder.calls
        assert ("freed", session_id) in recorder.calls
    finally:
        manager.unregister(recorder)


# -- emails from the engine -----------------------------------------------------------------------


def test_session_cancelled_changed_and_reminder_emails(app, signed_in, mailbox):
    start, end = evening(1, hour=18, minute=30, hours=1.5)
    session_id = make_session(app, meetings=[(start, end)], mode="hybrid",
                              online_url="https://meet.example.org/xyz")
    engine_book(app, session_id, "sam@example.org")
    mailbox()

    with app.test_request_context():
        assert engine.session_changed(session_id) == 1
    changed = mailbox()[-1]
    assert changed["Subject"].startswith("Training session changed: ")
    body = body_of(changed)
    assert span(start, end) in body and "https://meet.example.org/xyz" in body
    assert "Step-free entrance" in body and "http://localhost/my-training/" in body

    with app.test_request_context():
        assert engine.send_reminders(start - timedelta(hours=2)) == 1
        assert engine.send_reminders(start - timedelta(hours=2)) == 0
    reminder = mailbox()[-1]
    assert reminder["Subject"].startswith("Reminder: ")
    body = body_of(reminder)
    assert span(start, end) in body and "https://meet.example.org/xyz" in body
    assert "/my-training/" in body

    with app.test_request_context():
        assert engine.cancel_session(session_id, "The trainer is ill.") == 1
    cancelled = mailbox()[-1]
    assert cancelled["Subject"].startswith("Training session cancelled: ")
    body = body_of(cancelled)
    assert "The trainer is ill." in body and span(start, end) in body
    assert "meet.example.org" not in body  # no joining link once cancelled
    assert invite_of(cancelled)["METHOD"] == "CANCEL"


def test_cancellation_email_has_no_joining_link(app, browser, signed_in, mailbox):
    session_id = make_session(app, mode="online", venue=False,
                              online_url="https://meet.example.org/secret")
    book_page(browser, session_id)
    assert "https://meet.example.org/secret" in body_of(mailbox()[-1])
    booking_id = only_booking_id(app, session_id)
    browser.submit(f"/my-training/bookings/{booking_id}/cancel", {"reason": "time"})
    cancellation = mailbox()[-1]
    assert "meet.example.org" not in body_of(cancellation)
    assert b"meet.example.org" not in invite_of(cancellation).to_ical()


# -- CPD record and certificates ------------------------------------------------------------------


def _attend_everything(app, booking_id):
    with app.app_context():
        booking = db.session.get(Booking, booking_id)
        meeting_ids = [meeting.id for meeting in booking.training_session.meetings]
    with app.app_context():
        for meeting_id in meeting_ids:
            engine.record_attendance(meeting_id, {booking_id: True}, None)


def test_cpd_hours_and_certificate_of_attendance(app, browser, make_user, auth):
    make_user("zoe@example.org", name="Zoë Łukasz-Brown")
    auth.sign_in("zoe@example.org")
    days = [utcnow() - timedelta(days=n) for n in (30, 23, 16)]
    meetings = [(day, day + timedelta(hours=2.5)) for day in days]
    session_id = make_session(app, meetings=meetings, title="Level 3 SENCO award",
                              accredited=True, credits=12)
    booking_id = engine_book(app, session_id, "zoe@example.org",
                             now=days[0] - timedelta(days=7))
    url = f"/my-training/bookings/{booking_id}/certificate.pdf"

    response = browser.get(url)
    assert response.status_code == 404
    assert "no certificate for this booking yet" in response.get_data(as_text=True)
    page = browser.get("/my-training/").get_data(as_text=True)
    assert "0 hours" in page and "Attendance not recorded yet" in page

    with app.app_context():
        first = db.session.get(TrainingSession, session_id).meetings[0].id
        engine.record_attendance(first, {booking_id: True}, None)
    page = browser.get("/my-training/").get_data(as_text=True)
    assert "2.5 hours" in page and "Not every part attended" in page
    assert browser.get(url).status_code == 404

    _attend_everything(app, booking_id)
    page = browser.get("/my-training/").get_data(as_text=True)
    assert "7.5 hours" in page and url in page
    response = browser.get(url)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    pdf = response.data
    assert pdf.startswith(b"%PDF")
    assert "Zoë".encode("cp1252") in pdf and b"Lukasz-Brown" in pdf  # Ł has no cp1252 form
    assert b"Level 3 SENCO award" in pdf and b"7.5 hours" in pdf
    assert b"12 credits" in pdf and b"Early Years Partnership" in pdf


# -- private calendar feed ------------------------------------------------------------------------


def test_private_calendar_feed_and_reset(app, browser, signed_in, client):
    kept = make_session(app, title="Makaton for beginners", mode="online", venue=False,
                        online_url="https://meet.example.org/makaton")
    dropped = make_session(app, title="Autism in the early years")
    book_page(browser, kept)
    book_page(browser, dropped)
    dropped_booking = only_booking_id(app, dropped)
    browser.submit(f"/my-training/bookings/{dropped_booking}/cancel", {"reason": "time"})

    with app.app_context():
        assert db.session.scalar(sa.select(User.calendar_token)) is None
    page = browser.get("/my-training/calendar").get_data(as_text=True)
    assert "Subscribe to your calendar" in page
    with app.app_context():
        token = db.session.scalar(
            sa.select(User.calendar_token).where(User.email == "sam@example.org")
        )
    assert token and len(token) >= 40
    feed_url = f"/my-training/calendar/{token}.ics"
    assert f"http://localhost{feed_url}" in page and f"webcal://localhost{feed_url}" in page
    # The same address on the next visit.
    assert feed_url in browser.get("/my-training/calendar").get_data(as_text=True)

    anonymous = app.test_client()  # calendar programs do not sign in
    response = anonymous.get(feed_url)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/calendar")
    feed = icalendar.Calendar.from_ical(response.data)
    assert "METHOD" not in feed
    by_title = {str(event["SUMMARY"]): event for event in events(feed)}
    makaton = by_title["Makaton for beginners"]
    assert str(makaton["STATUS"]) == "CONFIRMED"
    assert "https://meet.example.org/makaton" in str(makaton["LOCATION"])
    assert str(makaton["UID"]).startswith(f"booking-{only_booking_id(app, kept)}-meeting-")
    autism = by_title["Cancelled: Autism in the early years"]
    assert str(autism["STATUS"]) == "CANCELLED"

    assert anonymous.get("/my-training/calendar/not-the-token.ics").status_code == 404
    assert anonymous.get(f"/my-training/calendar/{token[:-1]}x.ics").status_code in (404,)

    response = browser.submit("/my-training/calendar/reset", form_url="/my-training/calendar")
    assert response.status_code == 302
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your calendar address has been changed" in page
    with app.app_context():
        new_token = db.session.scalar(
            sa.select(User.calendar_token).where(User.email == "sam@example.org")
        )
    assert new_token != token
    assert anonymous.get(feed_url).status_code == 404
    assert anonymous.get(f"/my-training/calendar/{new_token}.ics").status_code == 200


def test_resetting_the_feed_needs_a_csrf_token(app, browser, signed_in):
    browser.get("/my-training/calendar")
    response = browser.client.post("/my-training/calendar/reset", data={})
    assert response.status_code == 400


def test_my_training_empty_state(browser, signed_in):
    page = browser.get("/my-training/").get_data(as_text=True)
    assert "You have no training booked" in page
    assert "0 hours" in page
    assert "Training you attend will be listed here" in page
    assert re.search(r'href="/my-training/calendar"', page)


def test_delivered_invite_keeps_its_calendar_method(app, make_user, mailbox):
    """Mail programs show a text/calendar part with method=REQUEST as an invitation."""
    from datetime import UTC, datetime, timedelta

    from tests import factories
    from trainer import booking as engine
    from trainer.db import db
    from trainer.people import User

    person, _ = make_user("invitee@example.org")
    with app.test_request_context():
        session = factories.training_session(
            starts=datetime.now(UTC) + timedelta(days=3)
        )
        db.session.commit()
        engine.book(session.id, db.session.get(User, person))
    [message] = mailbox()
    [part] = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert part.get_param("method") == "REQUEST"
    assert b"METHOD:REQUEST" in part.get_payload(decode=True)


def test_a_lock_timeout_answers_busy_and_books_nothing(app, browser, signed_in, monkeypatch):
    """DESIGN guarantee 1: when the session's lock is not granted in time the person is told
    to try again (503), never shown a 500, and nothing is saved."""
    from trainer.db import Busy

    session_id = make_session(app)

    def busy(*args, **kwargs):
        raise Busy()

    monkeypatch.setattr(engine, "book", busy)
    response = book_page(browser, session_id)
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "Sorry, the service is busy" in page and "Nothing was saved" in page
    assert count(app, Booking) == 0 and count(app, OutboxMessage) == 0


def test_a_database_lock_error_anywhere_answers_busy(app, client, monkeypatch):
    """A raw "database is locked" from the driver becomes the busy page, not a 500."""
    from trainer.access import public

    @public
    def locked():
        raise sa.exc.OperationalError("UPDATE x", {}, Exception("database is locked"))

    app.add_url_rule("/locked", "locked", locked)
    response = client.get("/locked")
    assert response.status_code == 503
    assert "Sorry, the service is busy" in response.get_data(as_text=True)
