"""Running training: trainers and admins create courses and sessions, change and cancel them,
and take registers; a trainer manages only their own sessions."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from icalendar import Calendar

from tests import factories
from tests.conftest import count
from trainer import booking as engine
from trainer.booking import Attendance, Booking, BookingStatus
from trainer.catalogue import Course, Meeting, TrainingSession, Venue
from trainer.db import db
from trainer.hookspecs import hookimpl
from trainer.people import Region, Role, User
from trainer.times import LONDON

NEXT_YEAR = date.today().year + 1


def last_sunday(year: int, month: int) -> date:
    day = date(year, month + 1, 1) - timedelta(days=1)
    return day - timedelta(days=(day.weekday() + 1) % 7)


@pytest.fixture
def people(app, make_user):
    """Two delivery partners, a trainer in each, a practitioner and an administrator."""
    with app.app_context():
        first = factories.partner("First Partnership").id
        second = factories.partner("Second Partnership").id
        db.session.commit()
    return {
        "partner": first,
        "other_partner": second,
        "trainer": make_user("trainer@example.org", name="Tess Trainer", roles=[Role.TRAINER],
                             delivery_partner_id=first)[0],
        "other_trainer": make_user("other@example.org", name="Otto Other",
                                   roles=[Role.TRAINER], delivery_partner_id=second)[0],
        "practitioner": make_user("practitioner@example.org")[0],
        "admin": make_user("admin@example.org", roles=[Role.ADMIN])[0],
    }


def course_data(partner_id: int, **overrides) -> dict:
    data = {
        "title": "Supporting speech and language",
        "summary": "Spotting needs early, and what to do next.",
        "topics": ["speech_language_communication", "autism"],
        "audiences": ["practitioners", "sencos"],
        "level": "introductory",
        "delivery_partner": str(partner_id),
    }
    data.update(overrides)
    return data


def session_data(meetings: list[dict], trainers: list[int], /, **overrides) -> dict:
    """The new-session form: ``meetings`` are dicts of date, start, end, venue, online_url."""
    data = {
        "capacity": "20", "mode": "in_person", "opens_date": "", "opens_time": "",
        "closes_date": "", "closes_time": "", "local_authority": "", "region": "",
        "trainers": [str(trainer) for trainer in trainers], "notes": "",
        "venue_name": "Rainbow Children's Centre", "venue_address": "1 High Street\nLeeds",
        "venue_postcode": "ls1 1aa", "venue_local_authority": "",
        "venue_accessibility": "Step-free entrance", "repeat": "none", "occurrences": "1",
    }
    for index in range(6):
        row = meetings[index] if index < len(meetings) else {}
        data[f"meetings-{index}-meeting_id"] = row.get("meeting_id", "")
        data[f"meetings-{index}-date"] = row.get("date", "")
        data[f"meetings-{index}-start"] = row.get("start", "")
        data[f"meetings-{index}-end"] = row.get("end", "")
        data[f"meetings-{index}-venue"] = row.get("venue", "new" if row else "")
        data[f"meetings-{index}-online_url"] = row.get("online_url", "")
    data.update(overrides)
    return data


def make_course(app, partner_id: int) -> int:
    with app.app_context():
        partner = db.session.get(factories.DeliveryPartner, partner_id)
        course_id = factories.course(delivery_partner=partner).id
        db.session.commit()
        return course_id


def make_session(app, partner_id: int, starts=None, capacity: int = 20, trainers=(),
                 **fields) -> int:
    with app.app_context():
        partner = db.session.get(factories.DeliveryPartner, partner_id)
        course = factories.course(delivery_partner=partner)
        venue = Venue(name="Sure Start Centre", postcode="LS2 2BB")
        made = factories.training_session(starts=starts, capacity=capacity, course_=course,
                                          venue=venue, **fields)
        made.trainers = [db.session.get(User, trainer) for trainer in trainers]
        db.session.commit()
        return made.id


def book(app, session_id: int, user_id: int, **kwargs) -> int:
    with app.test_request_context():
        user = db.session.get(User, user_id)
        result = engine.book(session_id, user, **kwargs)
        assert result.ok, result.message
        return result.booking.id


def attachments(message) -> list[str]:
    return [part.get_payload(decode=True).decode() for part in message.iter_attachments()]


def page(response) -> str:
    return response.get_data(as_text=True)


# -- courses and sessions -------------------------------------------------------------------------


def test_trainer_creates_a_course_and_a_three_meeting_session(app, browser, auth, people):
    auth.sign_in("trainer@example.org")
    assert "Manage training" in page(browser.get("/dashboard"))
    response = browser.submit("/manage/courses/new", course_data(people["partner"]))
    assert response.status_code == 302
    with app.app_context():
        course = db.session.scalar(sa.select(Course))
        assert course.title == "Supporting speech and language"
        assert course.topics == ["autism", "speech_language_communication"]
        assert course.delivery_partner_id == people["partner"]
        course_id = course.id
    assert response.headers["Location"] == f"/manage/courses/{course_id}/sessions/new"

    meetings = [
        {"date": f"6/7/{NEXT_YEAR}", "start": "18:30", "end": "20:00"},
        {"date": f"{NEXT_YEAR}-07-13", "start": "6:30pm", "end": "8pm"},
        {"date": f"20/07/{NEXT_YEAR}", "start": "18.30", "end": "20:00"},
    ]
    response = browser.submit(f"/manage/courses/{course_id}/sessions/new",
                              session_data(meetings, [people["trainer"]]))
    assert response.status_code == 302, page(response)
    with app.app_context():
        [made] = db.session.scalars(sa.select(TrainingSession)).all()
        assert [m.starts_at for m in made.meetings] == [
            datetime(NEXT_YEAR, 7, day, 17, 30, tzinfo=UTC) for day in (6, 13, 20)
        ]
        assert [m.ends_at for m in made.meetings] == [
            datetime(NEXT_YEAR, 7, day, 19, 0, tzinfo=UTC) for day in (6, 13, 20)
        ]
        assert made.starts_at == made.meetings[0].starts_at
        assert made.ends_at == made.meetings[-1].ends_at
        assert made.capacity == 20 and made.mode == "in_person"
        assert [trainer.email for trainer in made.trainers] == ["trainer@example.org"]
        [venue] = db.session.scalars(sa.select(Venue)).all()
        assert venue.postcode == "LS1 1AA"
        assert {m.venue_id for m in made.meetings} == {venue.id}
        session_id = made.id
    assert response.headers["Location"] == f"/manage/sessions/{session_id}"

    listing = page(browser.get("/manage/"))
    assert "Supporting speech and language" in listing
    assert "0 of 20" in listing
    assert "and 2 more meetings" in listing
    detail = page(browser.get(f"/manage/sessions/{session_id}"))
    assert "6:30pm to 8pm" in detail
    assert "Rainbow Children&#39;s Centre" in detail


def test_weekly_repeat_keeps_london_time_across_the_clocks_going_back(app, browser, auth,
                                                                       people):
    course_id = make_course(app, people["partner"])
    auth.sign_in("trainer@example.org")
    change = last_sunday(NEXT_YEAR, 10)
    first = change - timedelta(days=12)  # a Tuesday, two weeks before the clocks go back
    response = browser.submit(
        f"/manage/courses/{course_id}/sessions/new",
        session_data([{"date": first.isoformat(), "start": "18:30", "end": "20:00"}],
                     [people["trainer"]], repeat="weekly", occurrences="4"),
    )
    assert response.status_code == 302, page(response)
    assert response.headers["Location"] == "/manage/"
    with app.app_context():
        sessions = db.session.scalars(
            sa.select(TrainingSession).order_by(TrainingSession.starts_at)
        ).all()
        starts = [item.meetings[0].starts_at for item in sessions]
    assert [moment.astimezone(LONDON).strftime("%H:%M") for moment in starts] == ["18:30"] * 4
    assert [moment.astimezone(LONDON).date() for moment in starts] == [
        first + timedelta(weeks=week) for week in range(4)
    ]
    assert [moment.hour for moment in starts] == [17, 17, 18, 18]  # BST, BST, GMT, GMT
    assert count(app, Venue) == 1  # one new venue, shared by every repeat


def test_bad_session_input_is_refused_and_nothing_is_saved(app, browser, auth, people):
    course_id = make_course(app, people["partner"])
    auth.sign_in("trainer@example.org")
    url = f"/manage/courses/{course_id}/sessions/new"
    spring = last_sunday(NEXT_YEAR, 3)
    cases = [
        ([{"date": f"{NEXT_YEAR}-07-06", "start": "20:00", "end": "18:30"}], {},
         "End time of meeting 1 must be after its start time"),
        ([{"date": "31/2/" + str(NEXT_YEAR), "start": "18:30", "end": "20:00"}], {},
         "Date of meeting 1 must be a real date"),
        ([{"date": spring.isoformat(), "start": "01:30", "end": "03:00"}], {},
         "does not exist in London"),
        ([{"date": f"{NEXT_YEAR}-07-06", "start": "18:30", "end": "20:00", "venue": ""}],
         {"mode": "online"}, "Enter the online joining link for meeting 1"),
        ([{"date": f"{NEXT_YEAR}-07-06", "start": "18:30", "end": "20:00", "venue": ""}],
         {}, "Choose the venue of meeting 1"),
        ([], {}, "Enter the date, start time and end time of at least one meeting"),
        ([{"date": "1/1/2020", "start": "18:30", "end": "20:00"}], {},
         "Meeting 1 must be in the future"),
        ([{"date": f"{NEXT_YEAR}-07-06", "start": "18:30", "end": "20:00"},
          {"date": f"{NEXT_YEAR}-07-06", "start": "19:00", "end": "21:00"}], {},
         "Meeting 2 starts before meeting 1 ends"),
        ([{"date": f"{NEXT_YEAR}-07-06", "start": "18:30", "end": "20:00"}],
         {"capacity": "lots"}, "Number of places must be a whole number"),
        ([{"date": f"{NEXT_YEAR}-07-06", "start": "18:30", "end": "20:00"}],
         {"venue_postcode": ""}, "Enter the postcode of the new venue"),
        ([{"date": f"{NEXT_YEAR}-07-06", "start": "18:30", "end": "20:00"}],
         {"trainers": []}, "Select at least one trainer"),
        ([{"date": f"{NEXT_YEAR}-07-06", "start": "18:30", "end": "20:00"}],
         {"trainers": ["99999"]}, "Select trainers from the list"),
        ([{"date": f"{NEXT_YEAR}-07-06", "start": "18:30", "end": "20:00", "venue": "12345"}],
         {}, "Choose a venue from the list"),
        ([{"date": f"{NEXT_YEAR}-07-06", "start": "18:30", "end": "20:00"}],
         {"opens_date": f"{NEXT_YEAR}-06-01", "opens_time": "",
          "closes_date": f"{NEXT_YEAR}-05-01", "closes_time": "09:00"},
         "Enter the time booking opens"),
        ([{"date": f"{NEXT_YEAR}-07-06", "start": "18:30", "end": "20:00"}],
         {"opens_date": f"{NEXT_YEAR}-06-01", "opens_time": "09:00",
          "closes_date": f"{NEXT_YEAR}-05-01", "closes_time": "09:00"},
         "Booking must close after it opens"),
        ([{"date": f"{NEXT_YEAR}-07-06", "start": "18:30", "end": "20:00"}],
         {"repeat": "weekly", "occurrences": "53"}, "Enter a number of sessions from 1 to 52"),
        # the fourth weekly repeat falls in the hour the clocks skip
        ([{"date": (spring - timedelta(weeks=3)).isoformat(), "start": "01:30",
           "end": "02:45"}], {"repeat": "weekly", "occurrences": "4"},
         "Repeating would put a time on"),
    ]
    for meetings, overrides, message in cases:
        response = browser.submit(url, session_data(meetings, [people["trainer"]], **overrides))
        assert response.status_code == 200, (message, response.status_code)
        text = page(response)
        assert "There is a problem" in text and message in text, message
        assert "<title>Error:" in text
    assert count(app, TrainingSession) == 0
    assert count(app, Meeting) == 0
    assert count(app, Venue) == 0


def test_bad_course_input_is_refused(app, browser, auth, people):
    auth.sign_in("trainer@example.org")
    response = browser.submit(
        "/manage/courses/new",
        course_data(people["partner"], title="", topics=["knitting"], accredited="y",
                    credits=""),
    )
    text = page(response)
    assert response.status_code == 200
    assert "Enter the course title" in text
    assert "Select topics from the list" in text
    assert "Enter the number of credits of the accredited course" in text
    # a trainer may only choose their own delivery partner
    response = browser.submit("/manage/courses/new",
                              course_data(people["other_partner"]))
    assert "Select a delivery partner from the list" in page(response)
    assert count(app, Course) == 0


def test_editing_a_course(app, browser, auth, people):
    course_id = make_course(app, people["partner"])
    auth.sign_in("trainer@example.org")
    form = page(browser.get(f"/manage/courses/{course_id}/edit"))
    assert 'value="Supporting speech and language"' in form
    response = browser.submit(
        f"/manage/courses/{course_id}/edit",
        course_data(people["partner"], title="Makaton for beginners",
                    topics=["makaton", "speech_language_communication"], level="level_3",
                    accredited="y", credits="10"),
    )
    assert response.status_code == 302
    with app.app_context():
        course = db.session.get(Course, course_id)
        assert course.title == "Makaton for beginners"
        assert course.topics == ["makaton", "speech_language_communication"]
        assert course.accredited and course.credits == 10


def test_a_trainer_manages_only_their_own_sessions(app, browser, auth, people, make_user):
    session_id = make_session(app, people["partner"])
    with app.app_context():
        training_session = db.session.get(TrainingSession, session_id)
        meeting_id = training_session.meetings[0].id
        course_id = training_session.course_id
    own_pages = [
        f"/manage/sessions/{session_id}",
        f"/manage/sessions/{session_id}/edit",
        f"/manage/sessions/{session_id}/capacity",
        f"/manage/sessions/{session_id}/cancel",
        f"/manage/sessions/{session_id}/register/{meeting_id}",
        f"/manage/sessions/{session_id}/register.csv",
    ]
    course_pages = [f"/manage/courses/{course_id}/edit",
                    f"/manage/courses/{course_id}/sessions/new"]

    auth.sign_in("other@example.org")
    for path in own_pages + course_pages:
        assert browser.get(path).status_code == 403, path
    token_page = page(browser.get("/manage/"))
    assert "Supporting speech and language" not in token_page
    assert "You have no upcoming training sessions" in token_page
    response = browser.submit(f"/manage/sessions/{session_id}/cancel", {"reason": "No"},
                              form_url="/manage/courses/new")
    assert response.status_code == 403
    auth.sign_out()

    auth.sign_in("practitioner@example.org")
    for path in ["/manage/", "/manage/courses"] + own_pages:
        assert browser.get(path).status_code == 403, path
    auth.sign_out()

    # a trainer from elsewhere who runs this session may manage it, but not the course
    guest = make_user("guest@example.org", roles=[Role.TRAINER])[0]
    with app.app_context():
        training_session = db.session.get(TrainingSession, session_id)
        training_session.trainers = [db.session.get(User, guest)]
        db.session.commit()
    auth.sign_in("guest@example.org")
    for path in own_pages:
        assert browser.get(path).status_code == 200, path
    for path in course_pages:
        assert browser.get(path).status_code == 403, path
    assert "Supporting speech and language" in page(browser.get("/manage/"))
    assert "not linked to a delivery partner" in page(browser.get("/manage/courses/new"))
    auth.sign_out()

    for email in ("trainer@example.org", "admin@example.org"):
        auth.sign_in(email)
        for path in own_pages + course_pages:
            assert browser.get(path).status_code == 200, (email, path)
        auth.sign_out()


def test_a_register_of_another_session_is_not_found(app, browser, auth, people):
    first = make_session(app, people["partner"])
    second = make_session(app, people["partner"])
    with app.app_context():
        other_meeting = db.session.get(TrainingSession, second).meetings[0].id
    auth.sign_in("trainer@example.org")
    assert browser.get(f"/manage/sessions/{first}/register/{other_meeting}").status_code == 404
    assert browser.get("/manage/sessions/99999").status_code == 404


# -- capacity -------------------------------------------------------------------------------------


class PlacesFreed:
    def __init__(self):
        self.sessions: list[int] = []

    @hookimpl
    def trainer_places_freed(self, training_session):
        self.sessions.append(training_session.id)


def test_capacity_cannot_go_below_bookings_and_raising_it_frees_places(app, browser, auth,
                                                                       people, make_user):
    session_id = make_session(app, people["partner"], capacity=2)
    for number in range(2):
        book(app, session_id, make_user(f"booker{number}@example.org")[0])
    auth.sign_in("trainer@example.org")
    url = f"/manage/sessions/{session_id}/capacity"

    response = browser.submit(url, {"capacity": "1"})
    assert response.status_code == 200
    assert "Capacity cannot be less than the 2 places already booked or held." in page(response)
    with app.app_context():
        assert db.session.get(TrainingSession, session_id).capacity == 2

    response = browser.submit(url, {"capacity": "-3"})
    assert "Number of places must be between 0 and 10,000" in page(response)

    plugin = PlacesFreed()
    manager = app.extensions["trainer.plugins"]
    manager.register(plugin, name="places-freed")
    try:
        response = browser.submit(url, {"capacity": "5"})
    finally:
        manager.unregister(plugin)
    assert response.status_code == 302
    assert plugin.sessions == [session_id]
    with app.app_context():
        assert db.session.get(TrainingSession, session_id).capacity == 5
    assert "5 places" in page(browser.get(f"/manage/sessions/{session_id}"))


# -- cancelling -----------------------------------------------------------------------------------


def test_cancelling_a_session_tells_everyone_booked(app, browser, auth, people, make_user,
                                                    mailbox):
    session_id = make_session(app, people["partner"])
    booked = [make_user(f"booker{number}@example.org")[0] for number in range(2)]
    for user_id in booked:
        book(app, session_id, user_id)
    auth.sign_in("trainer@example.org")
    url = f"/manage/sessions/{session_id}/cancel"
    assert "2 people are booked" in page(browser.get(url))

    response = browser.submit(url, {"reason": "  "})
    assert "Enter why the session is cancelled" in page(response)
    with app.app_context():
        assert not db.session.get(TrainingSession, session_id).is_cancelled

    response = browser.submit(url, {"reason": "The trainer is unwell"})
    assert response.status_code == 200
    assert "2 people were told" in page(response)
    with app.app_context():
        assert db.session.get(TrainingSession, session_id).is_cancelled
        statuses = db.session.scalars(sa.select(Booking.status)).all()
        assert statuses == [BookingStatus.CANCELLED] * 2
    cancellations = [m for m in mailbox() if m["Subject"].startswith("Training session cancelled")]
    assert sorted(m["To"].addresses[0].addr_spec for m in cancellations) == [
        "booker0@example.org", "booker1@example.org"
    ]
    for message in cancellations:
        [invite] = attachments(message)
        assert "METHOD:CANCEL" in invite
        assert "The trainer is unwell" in message.get_body(("plain",)).get_content()
    # a cancelled session cannot be cancelled or changed again
    assert browser.get(url).status_code == 302
    assert browser.get(f"/manage/sessions/{session_id}/edit").status_code == 302


# -- changing a session ---------------------------------------------------------------------------


def edit_data(app, session_id: int, **meeting_changes) -> dict:
    """The edit form as the page fills it in, with changes to the first meeting."""
    with app.app_context():
        training_session = db.session.get(TrainingSession, session_id)
        meetings = []
        for meeting in training_session.meetings:
            starts = meeting.starts_at.astimezone(LONDON)
            ends = meeting.ends_at.astimezone(LONDON)
            meetings.append({"meeting_id": str(meeting.id), "date": starts.date().isoformat(),
                             "start": f"{starts:%H:%M}", "end": f"{ends:%H:%M}",
                             "venue": str(meeting.venue_id or ""),
                             "online_url": meeting.online_url or ""})
        meetings[0].update(meeting_changes)
        trainers = [trainer.id for trainer in training_session.trainers]
        notes = training_session.notes
    data = session_data(meetings, trainers, mode="in_person", notes=notes, venue_name="",
                        venue_address="", venue_postcode="", venue_accessibility="")
    for name in ("capacity", "repeat", "occurrences"):
        del data[name]
    return data


def sequences(message) -> list[int]:
    [invite] = attachments(message)
    return [int(event["SEQUENCE"]) for event in Calendar.from_ical(invite).walk("VEVENT")]


def test_changing_a_meeting_time_sends_an_updated_invite(app, browser, auth, people,
                                                         make_user, mailbox):
    start = datetime(NEXT_YEAR, 7, 6, 18, 30, tzinfo=LONDON)
    session_id = make_session(app, people["partner"], starts=start,
                              trainers=[people["trainer"]])
    book(app, session_id, make_user("booker@example.org")[0])
    [confirmation] = mailbox()
    auth.sign_in("trainer@example.org")
    url = f"/manage/sessions/{session_id}/edit"
    form = page(browser.get(url))
    assert f'value="6/7/{NEXT_YEAR}"' in form and 'value="18:30"' in form

    # saving without a change to meetings tells nobody
    response = browser.submit(url, edit_data(app, session_id) | {"notes": "Bring puppets"})
    assert response.status_code == 302
    assert len(mailbox()) == 1

    response = browser.submit(url, edit_data(app, session_id, start="19:00", end="20:30"),
                              follow_redirects=True)
    assert "1 person booked was sent an updated invite" in page(response)
    with app.app_context():
        training_session = db.session.get(TrainingSession, session_id)
        assert training_session.starts_at == datetime(NEXT_YEAR, 7, 6, 18, 0, tzinfo=UTC)
        assert training_session.notes == "Bring puppets"
    [changed] = [m for m in mailbox() if m["Subject"].startswith("Training session changed")]
    assert changed["To"].addresses[0].addr_spec == "booker@example.org"
    assert min(sequences(changed)) > max(sequences(confirmation))
    [invite] = attachments(changed)
    assert "METHOD:REQUEST" in invite


def test_adding_and_removing_meetings(app, browser, auth, people, make_user, mailbox):
    start = datetime(NEXT_YEAR, 7, 6, 18, 30, tzinfo=LONDON)
    session_id = make_session(app, people["partner"], starts=[start, start + timedelta(days=7)],
                              trainers=[people["trainer"]])
    booking_id = book(app, session_id, make_user("booker@example.org")[0])
    auth.sign_in("trainer@example.org")
    url = f"/manage/sessions/{session_id}/edit"
    with app.app_context():
        first, second = (m.id for m in db.session.get(TrainingSession, session_id).meetings)
        engine.record_attendance(second, {booking_id: True}, None)

    data = edit_data(app, session_id)
    data.update({"meetings-1-date": "", "meetings-1-start": "", "meetings-1-end": "",
                 "meetings-1-venue": ""})
    response = browser.submit(url, data)
    assert "Attendance has been taken for this meeting, so it cannot be removed" in page(response)

    data = edit_data(app, session_id)
    data.update({"meetings-2-date": f"{NEXT_YEAR}-07-20", "meetings-2-start": "18:30",
                 "meetings-2-end": "20:00", "meetings-2-venue": data["meetings-0-venue"]})
    response = browser.submit(url, data, follow_redirects=True)
    assert "1 person booked was sent an updated invite" in page(response)
    with app.app_context():
        meetings = db.session.get(TrainingSession, session_id).meetings
        assert [m.id for m in meetings][:2] == [first, second] and len(meetings) == 3

    data = edit_data(app, session_id)
    data.update({"meetings-0-meeting_id": "424242"})
    assert "is not part of this training session" in page(browser.submit(url, data))


# -- registers ------------------------------------------------------------------------------------


def test_taking_the_register_and_downloading_it(app, browser, auth, people, make_user):
    start = datetime(NEXT_YEAR, 7, 6, 18, 30, tzinfo=LONDON)
    session_id = make_session(app, people["partner"], starts=[start, start + timedelta(days=7)])
    alice = make_user("alice@example.org", name="Alice Able")[0]
    mallory = make_user("mallory@example.org", name='=HYPERLINK("http://evil.example","x")')[0]
    carol = make_user("carol@example.org", name="Carol Cole")[0]
    bookings = {
        "alice": book(app, session_id, alice, access_needs="Step-free access",
                      share_with_la=True),
        "mallory": book(app, session_id, mallory, access_needs="+44 7700 900123"),
        "carol": book(app, session_id, carol, access_needs="@home"),
    }
    with app.app_context():
        first, second = (m.id for m in db.session.get(TrainingSession, session_id).meetings)
    auth.sign_in("trainer@example.org")
    url = f"/manage/sessions/{session_id}/register/{first}"
    text = page(browser.get(url))
    assert "Alice Able" in text and "Step-free access" in text
    assert "0 attended, 0 absent, 3 not marked" in text

    response = browser.submit(url, {f"attendance-{bookings['alice']}": "maybe"})
    assert "Select attended or absent for Alice Able" in page(response)
    response = browser.submit(url, {})
    assert "Mark at least one person as attended or absent" in page(response)
    assert count(app, Attendance) == 0

    response = browser.submit(url, {f"attendance-{bookings['alice']}": "attended",
                                    f"attendance-{bookings['mallory']}": "absent"},
                              follow_redirects=True)
    text = page(response)
    assert "Register saved: 1 attended, 1 absent." in text
    assert "1 attended, 1 absent, 1 not marked" in text
    with app.app_context():
        marks = {row.booking_id: row.attended for row in db.session.scalars(
            sa.select(Attendance))}
    assert marks == {bookings["alice"]: True, bookings["mallory"]: False}

    response = browser.get(f"/manage/sessions/{session_id}/register.csv")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    header, *people_rows = rows
    assert header[:6] == ["Name", "Email", "Setting", "Local authority",
                          "Consent to share with LA", "Access needs"]
    assert header[6] == f"Meeting 1: {NEXT_YEAR}-07-06 18:30 (London)"
    assert header[7] == f"Meeting 2: {NEXT_YEAR}-07-13 18:30 (London)"
    by_email = {row[1]: row for row in people_rows}
    assert by_email["alice@example.org"] == ["Alice Able", "alice@example.org", "", "", "Yes",
                                             "Step-free access", "attended", ""]
    assert by_email["mallory@example.org"][0] == '\'=HYPERLINK("http://evil.example","x")'
    assert by_email["mallory@example.org"][5] == "'+44 7700 900123"
    assert by_email["mallory@example.org"][6:] == ["absent", ""]
    assert by_email["carol@example.org"][5] == "'@home"
    assert by_email["carol@example.org"][6:] == ["", ""]


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "plain", ""])
def test_spreadsheet_safe(value):
    from trainer.documents import spreadsheet_safe

    expected = value if value in ("plain", "") else "'" + value
    assert spreadsheet_safe(value) == expected


def test_a_new_session_can_return_to_the_page_that_asked_for_it(app, browser, auth, people):
    """Other pages (the waiting list's demand report) send trainers here and get the new
    session back; only paths on this site are followed, never another site."""
    auth.sign_in("trainer@example.org")
    course_id = make_course(app, people["partner"])
    with app.app_context():
        region_id = db.session.scalar(sa.select(sa.func.min(Region.id)))
    url = f"/manage/courses/{course_id}/sessions/new?region_id={region_id}&then=/somewhere%3Fa%3D1"
    form = page(browser.get(url))
    assert re.search(rf'<option value="{region_id}" selected', form)
    meetings = [{"date": f"6/7/{NEXT_YEAR}", "start": "18:30", "end": "20:00"}]
    response = browser.submit(url, session_data(meetings, [people["trainer"]],
                                                region=str(region_id)))
    with app.app_context():
        made = db.session.scalar(sa.select(TrainingSession))
    assert response.headers["Location"] == f"/somewhere?a=1&session_id={made.id}"
    for hostile in ("//evil.example", "https://evil.example/", "/\\evil.example"):
        response = browser.submit(
            f"/manage/courses/{course_id}/sessions/new?then={hostile}",
            session_data(meetings, [people["trainer"]]),
        )
        assert response.headers["Location"].startswith("/manage/sessions/"), hostile
