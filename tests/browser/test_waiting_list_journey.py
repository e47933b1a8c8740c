"""The waiting-list journey in a real Chromium, with axe-core on every page visited.

A practitioner (on a phone) joins the waiting list of a full session. The person who holds
the only place cancels it (in another browser, on a desktop). The place is offered to the
practitioner by email; they open the "Accept place" link from that email, accept, and find the
booking in My training.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests import factories
from tests.browser.conftest import (
    add_user,
    assert_fits,
    axe_check,
    heading,
    missing_requirements,
    nav,
    panel,
    sign_in,
    sign_in_on_phone,
)

if missing_requirements():
    pytest.skip(
        "browser journeys need: " + "; ".join(missing_requirements()), allow_module_level=True
    )

from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.browser

COURSE = "Early communication and language"
WAITER = ("amara.okafor@example.org", "Amara Okafor")  # A: joins the waiting list
HOLDER = ("ben.hughes@example.org", "Ben Hughes")  # B: holds the only place, then cancels


# -- data and helpers ------------------------------------------------------------------------------


def add_full_session(app, holder_id: int) -> int:
    """A session next week with one place, booked by ``holder_id``; the session's id."""
    from trainer import booking as engine
    from trainer.db import db
    from trainer.people import User

    starts = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=10)
    with app.app_context():
        made = factories.training_session(
            starts=starts, hours=2, capacity=1, course_=factories.course(COURSE),
            online_url="https://meet.example.org/early-communication",
        )
        db.session.commit()
        session_id = made.id
    with app.test_request_context():
        result = engine.book(session_id, db.session.get(User, holder_id))
        assert result.ok, result.message
    return session_id


def offer_emails(app, address: str) -> list:
    """The offer emails queued for ``address`` in the outbox, oldest first."""
    from trainer.db import db
    from trainer.mail import OutboxMessage

    with app.app_context():
        messages = db.session.scalars(
            sa.select(OutboxMessage)
            .where(OutboxMessage.recipient == address,
                   OutboxMessage.subject.startswith("A place is free for you"))
            .order_by(OutboxMessage.id)
        ).all()
        return [(message.subject, message.text_body) for message in messages]


def summary_value(page, key):
    return page.locator(".govuk-summary-list__row").filter(
        has=page.locator(".govuk-summary-list__key", has_text=re.compile(rf"^\s*{key}\s*$"))
    ).locator(".govuk-summary-list__value")


# -- the journey -----------------------------------------------------------------------------------


@pytest.mark.browser
def test_waiting_list_place_is_offered_by_email_and_accepted(phone_390, page, live_server):
    app = live_server.app
    waiter_email, _ = WAITER
    holder_email, _ = HOLDER
    add_user(app, *WAITER)
    holder_id = add_user(app, *HOLDER)
    session_id = add_full_session(app, holder_id)
    session_path = f"/training/sessions/{session_id}"

    # A, on a phone, finds the session full and is offered the waiting list.
    a = phone_390
    sign_in_on_phone(a, waiter_email)
    a.goto(session_path)
    expect(heading(a, COURSE)).to_be_visible()
    expect(summary_value(a, "Places")).to_have_text("Fully booked")
    expect(a.locator("#session-full")).to_contain_text("This training session is fully booked.")
    join = a.get_by_role("button", name="Join the waiting list")
    expect(join).to_have_attribute("href", f"/waiting-list/sessions/{session_id}/join")
    expect(a.get_by_role("button", name="Book a place")).to_have_count(0)
    assert_fits(a)
    axe_check(a)

    join.click()
    expect(a).to_have_url(re.compile(rf"/waiting-list/sessions/{session_id}/join$"))
    expect(heading(a, "Join the waiting list")).to_be_visible()
    expect(a).to_have_title(re.compile(f"^Join the waiting list: {COURSE}"))
    assert_fits(a)
    axe_check(a)
    a.get_by_role("button", name="Join the waiting list").click()

    # Back on the session page: where A is on the list.
    expect(a).to_have_url(re.compile(rf"{session_path}$"))
    expect(heading(a, COURSE)).to_be_visible()
    waiting_panel = panel(a, "Waiting list")
    expect(waiting_panel.locator("#waitlist-position")).to_contain_text(
        "You are 1st on the waiting list."
    )
    expect(a.get_by_role("button", name="Join the waiting list")).to_have_count(0)
    expect(waiting_panel.get_by_role("link", name="Leave the waiting list")).to_be_visible()
    assert_fits(a)
    axe_check(a)

    # My training shows it too.
    nav(a, "My training").click()
    expect(heading(a, "My training")).to_be_visible()
    lists = panel(a, "Waiting lists")
    expect(lists.get_by_role("listitem")).to_have_count(1)
    expect(lists).to_contain_text(COURSE)
    expect(lists).to_contain_text("You are 1st on the waiting list.")
    assert_fits(a)
    axe_check(a)
    assert offer_emails(app, waiter_email) == []

    # B, in another browser, cancels the booking that holds the only place.
    b = page
    sign_in(b, holder_email)
    nav(b, "My training").click()
    expect(heading(b, "My training")).to_be_visible()
    card = b.locator(".govuk-summary-card").filter(has_text=COURSE)
    expect(card).to_have_count(1)
    card.get_by_role("link", name=f"View or cancel your booking for {COURSE}").click()
    expect(heading(b, COURSE)).to_be_visible()
    b.get_by_role("button", name="Cancel this booking").click()
    expect(heading(b, "Cancel your booking")).to_be_visible()
    axe_check(b)
    b.get_by_role("group", name="Why are you cancelling?").get_by_label(
        "The time no longer suits me"
    ).check()
    b.get_by_role("button", name="Cancel booking").click()
    expect(b).to_have_url(re.compile(r"/my-training/bookings/\d+/cancelled$"))
    expect(heading(b, "Booking cancelled")).to_be_visible()

    # The freed place is offered to A at once, by an email in the outbox.
    offers = offer_emails(app, waiter_email)
    assert len(offers) == 1, offers
    subject, body = offers[0]
    assert subject.startswith("A place is free for you"), subject
    assert COURSE in subject, subject
    match = re.search(r"Accept place:\s*(https?://\S+)", body)
    assert match, body
    accept_url = match.group(1)
    # Made while serving B's request, so it names the live server (not EXTERNAL_URL).
    assert accept_url.startswith(f"{live_server.url}/waiting-list/offers/"), accept_url
    assert accept_url.endswith("?answer=accept"), accept_url

    # A opens the link from the email, and accepts.
    a.goto(accept_url)
    expect(heading(a, "A place is free for you")).to_be_visible()
    expect(a.get_by_text(COURSE).first).to_be_visible()
    assert_fits(a)
    axe_check(a)
    a.get_by_role("button", name="Accept place").click()

    expect(heading(a, "Booking confirmed")).to_be_visible()
    confirmation = a.locator(".govuk-panel--confirmation")
    expect(confirmation).to_contain_text(COURSE)
    expect(confirmation).to_contain_text("Your booking reference")
    expect(confirmation).not_to_contain_text("<br")  # markup shown as text
    booking_ref = confirmation.locator("strong").inner_text().strip()
    assert booking_ref.isdigit(), booking_ref
    expect(a.get_by_text(f"We have sent a confirmation email to {waiter_email}"))\
        .to_be_visible()
    assert_fits(a)
    axe_check(a)

    # My training lists the booking, and the waiting list is gone.
    a.get_by_role("link", name="Go to My training").click()
    expect(heading(a, "My training")).to_be_visible()
    card = a.locator(".govuk-summary-card").filter(has_text=COURSE)
    expect(card).to_have_count(1)
    expect(card.get_by_role("link", name=f"View or cancel your booking for {COURSE}"))\
        .to_have_attribute("href", re.compile(rf"/my-training/bookings/{booking_ref}$"))
    expect(panel(a, "Waiting lists")).to_contain_text("You are not on any waiting list.")
    assert_fits(a)
    axe_check(a)

    # The session page agrees: A has the place.
    a.goto(session_path)
    expect(a.get_by_text("You have booked a place on this training.")).to_be_visible()
    expect(panel(a, "Waiting list")).to_have_count(0)
