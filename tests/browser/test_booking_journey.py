"""The booking journeys of issue 3 in a real Chromium, with axe-core on every page visited.

A practitioner finds a twilight session with the search filters, books it (access needs and
consent), downloads the calendar invite, finds it in My training and cancels it with a reason.
A trainer takes the register of a meeting and downloads it as CSV. The booking form can be
reached and sent with the keyboard alone. The find-training results fit a phone's screen.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from tests import factories
from tests.browser.conftest import (
    add_user,
    axe_check,
    missing_requirements,
    press_tab_until,
    sign_in,
)

if missing_requirements():
    pytest.skip(
        "browser journeys need: " + "; ".join(missing_requirements()), allow_module_level=True
    )

from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.browser

PHONE_WIDTH = 375
PHONE_SCREENSHOT = "/tmp/find-training-mobile.png"
TWILIGHT_COURSE = "Makaton for beginners"
DAYTIME_COURSE = "Supporting speech and language"
WEEKEND_COURSE = "Working with parents"
ACCESS_NOTES = "Step-free entrance, hearing loop in the main hall"


# -- data ----------------------------------------------------------------------------------------


def next_week(weekday: int) -> date:
    """The day called ``weekday`` (0 is Monday) of next week, London time."""
    from trainer.times import LONDON

    today = datetime.now(LONDON).date()
    monday = today + timedelta(days=7 - today.weekday())
    return monday + timedelta(days=weekday)


def london(day: date, hour: int, minute: int = 0) -> datetime:
    from trainer.times import LONDON

    return datetime.combine(day, time(hour, minute), tzinfo=LONDON)


def add_catalogue(app) -> dict:
    """A twilight session (Tuesday next week, 6:30pm to 8pm, at a venue with accessibility
    notes), a daytime one (Wednesday, 10am) and a Saturday evening one (not twilight: not a
    weekday). Their ids and London start times."""
    from trainer.catalogue import Venue
    from trainer.db import db

    starts = {
        "twilight": london(next_week(1), 18, 30),
        "daytime": london(next_week(2), 10),
        "weekend": london(next_week(5), 18, 30),
    }
    with app.app_context():
        leeds = factories.local_authority("Leeds")
        venue = Venue(
            name="Rainbow Children's Centre",
            address="1 High Street\nHeadingley",
            postcode="LS6 1AA",
            local_authority=leeds,
            accessibility_notes=ACCESS_NOTES,
        )
        twilight = factories.training_session(
            starts=starts["twilight"], hours=1.5, capacity=12,
            course_=factories.course(TWILIGHT_COURSE, topics=["makaton"]), venue=venue,
        )
        daytime = factories.training_session(
            starts=starts["daytime"], hours=3, course_=factories.course(DAYTIME_COURSE),
            online_url="https://meet.example.org/speech",
            mode="online",
        )
        weekend = factories.training_session(
            starts=starts["weekend"], hours=2,
            course_=factories.course(WEEKEND_COURSE, topics=["working_with_parents"]),
            venue=venue,
        )
        assert (twilight.twilight, daytime.twilight, weekend.twilight) == (True, False, False)
        db.session.commit()
        return {
            "ids": {"twilight": twilight.id, "daytime": daytime.id, "weekend": weekend.id},
            "starts": starts,
        }


def book(app, session_id: int, user_id: int, now: datetime, **kwargs) -> int:
    """Book through the engine, as if at ``now`` (before a session that has since started)."""
    from trainer import booking as engine
    from trainer.db import db
    from trainer.people import User

    with app.test_request_context():
        user = db.session.get(User, user_id)
        result = engine.book(session_id, user, now=now, **kwargs)
        assert result.ok, result.message
        return result.booking.id


# -- page helpers --------------------------------------------------------------------------------


def heading(page, text):
    return page.get_by_role("heading", level=1, name=text)


def nav(page, text):
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=text, exact=True)


def summary_value(page, key):
    """The value of the summary-list row whose key is exactly ``key``."""
    return page.locator(".govuk-summary-list__row").filter(
        has=page.locator(".govuk-summary-list__key", has_text=re.compile(rf"^\s*{key}\s*$"))
    ).locator(".govuk-summary-list__value")


def expect_success_banner(page, text):
    banner = page.locator(".govuk-notification-banner--success")
    expect(banner.locator(".govuk-notification-banner__heading")).to_have_text(text)
    expect(banner).not_to_contain_text("<p")


# -- the practitioner ------------------------------------------------------------------------------


@pytest.mark.browser
def test_practitioner_finds_a_twilight_session_books_it_and_cancels(page, live_server):
    from trainer.times import day

    app = live_server.app
    catalogue = add_catalogue(app)
    twilight_day = day(catalogue["starts"]["twilight"])
    when = f"{twilight_day}, 6:30pm to 8pm"
    email = "priya.patel@example.org"
    add_user(app, email, "Priya Patel")

    sign_in(page, email, check=axe_check)
    expect(heading(page, "Your home page")).to_be_visible()
    axe_check(page)

    # Find training: all three sessions, then only the twilight one.
    nav(page, "Find training").click()
    expect(heading(page, "Find training")).to_be_visible()
    expect(page.get_by_role("heading", level=2, name="3 training sessions")).to_be_visible()
    axe_check(page)
    time_of_day = page.get_by_role("group", name="Time of day")
    # (A label's text keeps its surrounding white space for a regular expression: no "^".)
    time_of_day.get_by_label(re.compile(r"Twilight \(weekdays, starting at 5pm or later\)"))\
        .check()
    page.get_by_role("button", name="Apply filters").click()

    expect(page).to_have_url(re.compile(r"/training/\?(.*&)?time_of_day=twilight(&|$)"))
    expect(page.get_by_role("heading", level=2, name="1 training session matches your filters"))\
        .to_be_visible()
    results = page.get_by_role("list", name=re.compile("matches your filters"))
    expect(results.get_by_role("listitem")).to_have_count(1)
    expect(results).to_contain_text(TWILIGHT_COURSE)
    expect(results).to_contain_text(when)
    expect(results).to_contain_text("Twilight")
    expect(results).not_to_contain_text(DAYTIME_COURSE)
    expect(results).not_to_contain_text(WEEKEND_COURSE)  # Saturday evening is not twilight
    expect(time_of_day.get_by_label(re.compile("Twilight"))).to_be_checked()
    axe_check(page)

    # The session page: London time, venue and its accessibility notes.
    results.get_by_role("link", name=TWILIGHT_COURSE).click()
    expect(heading(page, TWILIGHT_COURSE)).to_be_visible()
    expect(summary_value(page, "Date")).to_have_text(when)
    expect(summary_value(page, "Where")).to_contain_text("Rainbow Children's Centre")
    expect(summary_value(page, "Accessibility")).to_have_text(ACCESS_NOTES)
    expect(summary_value(page, "Time of day")).to_have_text("Twilight (after the working day)")
    expect(summary_value(page, "Places")).to_have_text("12 places left")
    axe_check(page)

    # Book a place: access needs and consent.
    page.get_by_role("button", name="Book a place").click()
    expect(heading(page, TWILIGHT_COURSE)).to_be_visible()
    expect(page).to_have_title(re.compile(f"^Book a place: {TWILIGHT_COURSE}"))
    expect(page.locator(".trainer-meetings")).to_contain_text(when)
    expect(page.locator(".trainer-meetings")).to_contain_text(f"Access: {ACCESS_NOTES}")
    axe_check(page)
    page.get_by_label("Anything we should know, for example access needs (optional)").fill(
        "I use a wheelchair and will bring my support worker."
    )
    consent = page.get_by_label("Share my attendance with my local authority")
    expect(consent).not_to_be_checked()
    consent.check()
    page.get_by_role("button", name="Confirm booking").click()

    # The confirmation page.
    expect(page).to_have_url(re.compile(r"/my-training/bookings/\d+/confirmed$"))
    booking_id = int(re.search(r"/bookings/(\d+)/", page.url).group(1))
    panel = page.locator(".govuk-panel--confirmation")
    expect(panel.get_by_role("heading", level=1, name="Booking confirmed")).to_be_visible()
    expect(panel).to_contain_text(TWILIGHT_COURSE)
    expect(panel.locator("strong")).to_have_text(str(booking_id))
    expect(page.locator(".trainer-meetings")).to_contain_text(when)
    expect(page.get_by_text(f"We have sent a confirmation email to {email}")).to_be_visible()
    axe_check(page)

    # The calendar invite, downloaded as a browser would.
    with page.expect_download() as download_info:
        page.get_by_role("link", name=re.compile("^Add to your calendar")).click()
    download = download_info.value
    assert download.suggested_filename == f"training-booking-{booking_id}.ics"
    with open(download.path(), encoding="utf-8") as invite_file:
        invite = invite_file.read()
    assert invite.startswith("BEGIN:VCALENDAR"), invite[:80]
    assert "METHOD:REQUEST" in invite
    assert invite.count("BEGIN:VEVENT") == 1
    assert TWILIGHT_COURSE in invite.replace("\r\n ", "")  # folded lines unfolded
    start_utc = catalogue["starts"]["twilight"].astimezone(UTC)
    assert (
        f"DTSTART;TZID=Europe/London:{catalogue['starts']['twilight']:%Y%m%dT%H%M%S}" in invite
        or f"DTSTART:{start_utc:%Y%m%dT%H%M%SZ}" in invite
    ), invite
    # The same file by its address, with the browser's cookies.
    response = page.request.get(f"/my-training/bookings/{booking_id}/invite.ics")
    assert response.ok
    assert response.headers["content-type"].startswith("text/calendar")
    assert response.text().startswith("BEGIN:VCALENDAR")
    assert "METHOD:REQUEST" in response.text()

    # My training lists the booking.
    page.get_by_role("link", name="Go to My training").click()
    expect(heading(page, "My training")).to_be_visible()
    card = page.locator(".govuk-summary-card").filter(has_text=TWILIGHT_COURSE)
    expect(card).to_have_count(1)
    expect(card).to_contain_text(when)
    expect(page.get_by_role("heading", name="Cancelled bookings")).to_have_count(0)
    axe_check(page)

    # Cancel it, with a reason.
    card.get_by_role("link", name=f"View or cancel your booking for {TWILIGHT_COURSE}").click()
    expect(heading(page, TWILIGHT_COURSE)).to_be_visible()
    expect(page.get_by_role("main").locator(".govuk-tag")).to_have_text("Booked")
    expect(summary_value(page, "Anything we should know")).to_have_text(
        "I use a wheelchair and will bring my support worker."
    )
    expect(summary_value(page, "Share attendance with your local authority")).to_have_text("Yes")
    axe_check(page)
    page.get_by_role("button", name="Cancel this booking").click()

    expect(heading(page, "Cancel your booking")).to_be_visible()
    axe_check(page)
    # Without a reason first: the error summary says so.
    page.get_by_role("button", name="Cancel booking").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Select why you are cancelling")
    expect(page).to_have_title(re.compile("^Error: "))
    axe_check(page)
    page.get_by_role("group", name="Why are you cancelling?").get_by_label(
        "The time no longer suits me"
    ).check()
    page.get_by_role("button", name="Cancel booking").click()

    expect(page).to_have_url(re.compile(rf"/my-training/bookings/{booking_id}/cancelled$"))
    panel = page.locator(".govuk-panel--confirmation")
    expect(panel.get_by_role("heading", level=1, name="Booking cancelled")).to_be_visible()
    expect(panel).to_contain_text(TWILIGHT_COURSE)
    axe_check(page)

    # My training (from the main navigation) shows it cancelled, no longer upcoming.
    nav(page, "My training").click()
    expect(heading(page, "My training")).to_be_visible()
    expect(page.locator(".govuk-summary-card")).to_have_count(0)
    expect(page.get_by_text("You have no training booked.")).to_be_visible()
    cancelled = page.locator("h2#cancelled + ul")
    expect(page.get_by_role("heading", level=2, name="Cancelled bookings")).to_be_visible()
    expect(cancelled).to_contain_text(f"{TWILIGHT_COURSE}, {twilight_day}")
    axe_check(page)
    cancelled.get_by_role("link", name=TWILIGHT_COURSE).click()
    expect(page.get_by_role("main").locator(".govuk-tag")).to_have_text("Cancelled")
    expect(page.get_by_text("Reason: The time no longer suits me")).to_be_visible()
    axe_check(page)

    # The place is free again, and the emails went out.
    page.goto(f"/training/sessions/{catalogue['ids']['twilight']}")
    expect(summary_value(page, "Places")).to_have_text("12 places left")
    subjects = [m["Subject"] for m in live_server.deliver_mail() if email in (m["To"] or "")]
    assert subjects == [
        f"Booking confirmed: {TWILIGHT_COURSE}",
        f"Booking cancelled: {TWILIGHT_COURSE}",
    ], subjects


# -- the trainer -----------------------------------------------------------------------------------


@pytest.mark.browser
def test_trainer_takes_the_register_and_downloads_it(page, live_server):
    from trainer.booking import Attendance
    from trainer.catalogue import Venue
    from trainer.db import db, utcnow
    from trainer.people import Role, User
    from trainer.times import span

    app = live_server.app
    trainer_id = add_user(app, "tess.trainer@example.org", "Tess Trainer", roles=[Role.TRAINER])
    alice = add_user(app, "alice@example.org", "Alice Able")
    bob = add_user(app, "bob@example.org", "Bob Brown")

    # Started an hour ago and runs for another hour: today's meeting, register time.
    started = utcnow().replace(microsecond=0) - timedelta(hours=1)
    with app.app_context():
        made = factories.training_session(
            starts=started, hours=2, capacity=10,
            course_=factories.course("Transition to school"),
            venue=Venue(name="Sure Start Centre", postcode="LS2 2BB"),
        )
        made.trainers = [db.session.get(User, trainer_id)]
        db.session.commit()
        session_id = made.id
        meeting = made.meetings[0]
        meeting_id, when = meeting.id, span(meeting.starts_at, meeting.ends_at)
    before = started - timedelta(days=2)
    bookings = {
        "alice": book(app, session_id, alice, before, access_needs="Step-free access",
                      share_with_la=True),
        "bob": book(app, session_id, bob, before),
    }

    sign_in(page, "tess.trainer@example.org")
    axe_check(page)
    nav(page, "Manage training").click()
    expect(heading(page, "Manage training")).to_be_visible()
    table = page.get_by_role("table", name=re.compile("1 upcoming training session"))
    expect(table).to_contain_text("Transition to school")
    expect(table).to_contain_text("2 of 10")
    axe_check(page)

    table.get_by_role("link", name=re.compile("^Manage Transition to school")).click()
    expect(heading(page, "Transition to school")).to_be_visible()
    expect(summary_value(page, "Places")).to_have_text("2 booked of 10")
    expect(summary_value(page, "Trainers")).to_have_text("Tess Trainer")
    axe_check(page)

    page.get_by_role("link", name="Take the register for meeting 1").click()
    expect(page).to_have_url(re.compile(rf"/manage/sessions/{session_id}/register/{meeting_id}$"))
    expect(heading(page, "Register for meeting 1")).to_be_visible()
    expect(page.get_by_text(when, exact=True)).to_be_visible()
    expect(page.locator("#register-summary")).to_have_text(
        "Marked so far: 0 attended, 0 absent, 2 not marked."
    )
    alice_group = page.get_by_role("group", name="Alice Able")
    bob_group = page.get_by_role("group", name="Bob Brown")
    expect(alice_group).to_contain_text("Access needs: Step-free access")
    axe_check(page)
    alice_group.get_by_label("Attended").check()
    bob_group.get_by_label("Absent").check()
    page.get_by_role("button", name="Save the register").click()

    expect_success_banner(page, "Register saved: 1 attended, 1 absent.")
    expect(page.locator("#register-summary")).to_have_text(
        "Marked so far: 1 attended, 1 absent, 0 not marked."
    )
    expect(alice_group.get_by_label("Attended")).to_be_checked()
    expect(alice_group.get_by_label("Absent")).not_to_be_checked()
    expect(bob_group.get_by_label("Absent")).to_be_checked()
    expect(bob_group.get_by_label("Attended")).not_to_be_checked()
    axe_check(page)

    # The CSV, fetched with the trainer's cookies from the link on the page.
    href = page.get_by_role("link", name="Download the register for every meeting (CSV)")\
        .get_attribute("href")
    response = page.request.get(href)
    assert response.ok, response.status
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text().lstrip("\ufeff"))))
    header, *people = rows
    assert header[:6] == ["Name", "Email", "Setting", "Local authority",
                          "Consent to share with LA", "Access needs"]
    assert re.fullmatch(r"Meeting 1: \d{4}-\d\d-\d\d \d\d:\d\d \(London\)", header[6]), header
    by_name = {row[0]: row for row in people}
    assert set(by_name) == {"Alice Able", "Bob Brown"}
    assert by_name["Alice Able"][1:] == ["alice@example.org", "", "", "Yes", "Step-free access",
                                         "attended"]
    assert by_name["Bob Brown"][1:] == ["bob@example.org", "", "", "No", "", "absent"]

    with app.app_context():
        marks = {row.booking_id: row.attended for row in db.session.scalars(
            sa.select(Attendance).where(Attendance.meeting_id == meeting_id))}
    assert marks == {bookings["alice"]: True, bookings["bob"]: False}


# -- the keyboard ----------------------------------------------------------------------------------


@pytest.mark.browser
def test_booking_form_works_with_the_keyboard_alone(page, live_server):
    app = live_server.app
    catalogue = add_catalogue(app)
    add_user(app, "kim.keys@example.org", "Kim Keys")
    sign_in(page, "kim.keys@example.org")
    page.goto(f"/my-training/book/{catalogue['ids']['twilight']}")
    expect(heading(page, TWILIGHT_COURSE)).to_be_visible()

    # The skip link comes first and moves the focus to the main content.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

    access_needs = page.get_by_label("Anything we should know, for example access needs (optional)")
    press_tab_until(page, access_needs, limit=5)
    assert page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return s.outlineStyle !== 'none' || s.boxShadow !== 'none'; }"
    ), "the focused text box shows no focus indicator"
    page.keyboard.type("Captions, please.")

    consent = page.get_by_label("Share my attendance with my local authority")
    assert press_tab_until(page, consent, limit=1) == 1
    page.keyboard.press("Space")
    expect(consent).to_be_checked()

    confirm = page.get_by_role("button", name="Confirm booking")
    assert press_tab_until(page, confirm, limit=1) == 1
    # GOV.UK buttons turn yellow when focused.
    assert page.evaluate(
        "() => getComputedStyle(document.activeElement).backgroundColor"
    ) == "rgb(255, 221, 0)"
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"/my-training/bookings/\d+/confirmed$"))
    expect(page.get_by_role("heading", level=1, name="Booking confirmed")).to_be_visible()
    booking_id = int(re.search(r"/bookings/(\d+)/", page.url).group(1))
    page.goto(f"/my-training/bookings/{booking_id}")
    expect(summary_value(page, "Anything we should know")).to_have_text("Captions, please.")
    expect(summary_value(page, "Share attendance with your local authority")).to_have_text("Yes")


# -- a phone ---------------------------------------------------------------------------------------


@pytest.mark.browser
def test_find_training_results_fit_a_phone_screen(phone_page, live_server):
    page = phone_page
    add_catalogue(live_server.app)
    page.goto("/training/?time_of_day=twilight")
    expect(page.get_by_role("heading", level=2, name="1 training session matches your filters"))\
        .to_be_visible()
    assert page.evaluate("() => window.innerWidth") == PHONE_WIDTH
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE_WIDTH, (
        "the find-training page scrolls sideways on a phone"
    )
    axe_check(page)
    page.screenshot(path=PHONE_SCREENSHOT, full_page=True)
