"""iCalendar output, read back by two parsers: icalendar (which wrote it) and vobject (an
independent one that builds its time zone from the VTIMEZONE we send, as calendar programs do).

The session used here has three meetings across the end of British Summer Time: 22 October
2026 (BST, UTC+1), 29 October and 5 November 2026 (GMT, UTC+0), each at 6:30pm London time.
"""

from __future__ import annotations

from datetime import UTC, datetime

import icalendar
import pytest
import sqlalchemy as sa
import vobject

from tests.test_bookings import london, make_session
from trainer import booking as engine
from trainer import calendar
from trainer.booking import Booking
from trainer.db import db
from trainer.people import User

MEETINGS = [
    (london(2026, 10, 22, 18, 30), london(2026, 10, 22, 20, 0)),
    (london(2026, 10, 29, 18, 30), london(2026, 10, 29, 20, 0)),
    (london(2026, 11, 5, 18, 30), london(2026, 11, 5, 20, 0)),
]
EXPECTED_UTC = [
    (datetime(2026, 10, 22, 17, 30, tzinfo=UTC), datetime(2026, 10, 22, 19, 0, tzinfo=UTC)),
    (datetime(2026, 10, 29, 18, 30, tzinfo=UTC), datetime(2026, 10, 29, 20, 0, tzinfo=UTC)),
    (datetime(2026, 11, 5, 18, 30, tzinfo=UTC), datetime(2026, 11, 5, 20, 0, tzinfo=UTC)),
]
BEFORE = london(2026, 10, 1, 9, 0)  # when the bookings are made


@pytest.fixture
def three_part(app, make_user):
    """A booking on a three-part in-person session; returns (session id, booking id)."""
    make_user("sam@example.org", name="Sam Example")
    session_id = make_session(app, meetings=MEETINGS, title="Level 3: inclusive practice")
    return session_id, _book(app, session_id, "sam@example.org")


@pytest.fixture
def online(app, make_user):
    make_user("ali@example.org", name="Ali Example")
    session_id = make_session(app, meetings=MEETINGS[:2], mode="online", venue=False,
                              online_url="https://meet.example.org/room-42")
    return session_id, _book(app, session_id, "ali@example.org")


def _book(app, session_id, email) -> int:
    with app.test_request_context():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        result = engine.book(session_id, user, now=BEFORE)
        assert result.ok, result.message
        return result.booking.id


def _invite(app, booking_id, cancel=False) -> bytes:
    with app.test_request_context():
        return calendar.for_booking(db.session.get(Booking, booking_id), cancel=cancel)


def _both(ics: bytes):
    """(icalendar calendar, its VEVENTs, vobject calendar, its VEVENTs)."""
    first = icalendar.Calendar.from_ical(ics)
    second = vobject.readOne(ics.decode("utf-8"))
    return first, list(first.walk("VEVENT")), second, list(second.vevent_list)


def test_invite_has_one_event_per_meeting_with_the_right_instants(app, three_part):
    session_id, booking_id = three_part
    ics = _invite(app, booking_id)
    cal, events, vcal, vevents = _both(ics)

    assert cal["METHOD"] == "REQUEST" and vcal.method.value == "REQUEST"
    assert len(events) == len(vevents) == 3
    # icalendar's reading
    for event, (start, end) in zip(events, EXPECTED_UTC, strict=True):
        assert event.decoded("DTSTART").astimezone(UTC) == start
        assert event.decoded("DTEND").astimezone(UTC) == end
        assert event["DTSTART"].params["TZID"] == "Europe/London"
    # vobject's reading, from our VTIMEZONE rather than its own time zone database
    for vevent, (start, end) in zip(vevents, EXPECTED_UTC, strict=True):
        assert vevent.dtstart.value.astimezone(UTC) == start
        assert vevent.dtend.value.astimezone(UTC) == end
    assert vevents[0].dtstart.value.utcoffset().total_seconds() == 3600  # BST
    assert vevents[1].dtstart.value.utcoffset().total_seconds() == 0  # GMT
    # Wall-clock time stays 6:30pm on both sides of the change.
    assert {vevent.dtstart.value.strftime("%H:%M") for vevent in vevents} == {"18:30"}


def test_invite_has_the_london_timezone_alarms_location_and_people(app, three_part):
    session_id, booking_id = three_part
    cal, events, vcal, vevents = _both(_invite(app, booking_id))
    [timezone] = cal.walk("VTIMEZONE")
    assert timezone["TZID"] == "Europe/London"
    assert vcal.vtimezone.tzid.value == "Europe/London"
    assert {part.name for part in timezone.subcomponents} == {"STANDARD", "DAYLIGHT"}
    with app.app_context():
        meeting_ids = [m.id for m in db.session.get(Booking, booking_id).training_session.meetings]
    for event, vevent, meeting_id in zip(events, vevents, meeting_ids, strict=True):
        assert str(event["UID"]) == f"booking-{booking_id}-meeting-{meeting_id}@localhost"
        assert vevent.uid.value == str(event["UID"])
        [alarm] = event.walk("VALARM")
        assert alarm["ACTION"] == "DISPLAY"
        assert vevent.valarm.trigger.value.total_seconds() == -3600
        assert "Sunshine Children's Centre" in vevent.location.value
        assert "LS1 1AA" in vevent.location.value
        assert "Step-free entrance" in vevent.description.value
        assert vevent.status.value == "CONFIRMED"
        assert vevent.attendee.value == "mailto:sam@example.org"
        assert vevent.organizer.value == "mailto:training@example.org"
    assert [vevent.description.value.count("Part") for vevent in vevents] == [1, 1, 1]
    assert "Part 2 of 3." in vevents[1].description.value


def test_uids_stay_and_sequence_rises_on_change_and_cancellation(app, three_part, mailbox):
    session_id, booking_id = three_part
    _, first, _, _ = _both(_invite(app, booking_id))
    uids = [str(event["UID"]) for event in first]
    sequence = int(first[0]["SEQUENCE"])

    with app.test_request_context():
        assert engine.session_changed(session_id) == 1
    _, changed, _, vchanged = _both(_invite(app, booking_id))
    assert [str(event["UID"]) for event in changed] == uids
    assert {int(event["SEQUENCE"]) for event in changed} == {sequence + 1}
    assert {int(vevent.sequence.value) for vevent in vchanged} == {sequence + 1}
    # The email about the change carries the same updated invite.
    message = mailbox()[-1]
    [part] = list(message.iter_attachments())
    _, emailed, _, _ = _both(part.get_payload(decode=True))
    assert {int(event["SEQUENCE"]) for event in emailed} == {sequence + 1}

    with app.test_request_context():
        assert engine.cancel(booking_id, "The time no longer suits me", now=BEFORE).ok
    cancel_cal, cancelled, vcal, vcancelled = _both(_invite(app, booking_id, cancel=True))
    assert cancel_cal["METHOD"] == "CANCEL" and vcal.method.value == "CANCEL"
    assert [str(event["UID"]) for event in cancelled] == uids
    assert {int(event["SEQUENCE"]) for event in cancelled} == {sequence + 2}
    assert {vevent.status.value for vevent in vcancelled} == {"CANCELLED"}
    assert not any(event.walk("VALARM") for event in cancelled)
    for vevent, (start, _end) in zip(vcancelled, EXPECTED_UTC, strict=True):
        assert vevent.dtstart.value.astimezone(UTC) == start


def test_the_joining_link_is_in_invites_but_not_in_cancellations(app, online):
    session_id, booking_id = online
    _, events, _, vevents = _both(_invite(app, booking_id))
    for event, vevent in zip(events, vevents, strict=True):
        assert "https://meet.example.org/room-42" in vevent.location.value
        assert vevent.url.value == "https://meet.example.org/room-42"
        assert "Join online: https://meet.example.org/room-42" in vevent.description.value
        assert event.decoded("DTSTART").astimezone(UTC) == vevent.dtstart.value.astimezone(UTC)
    cancellation = _invite(app, booking_id, cancel=True)
    assert b"meet.example.org" not in cancellation
    _, _, _, vcancelled = _both(cancellation)
    assert {vevent.location.value for vevent in vcancelled} == {"Online"}


def test_feeds_read_back_in_both_parsers(app, three_part, online):
    three_session, three_booking = three_part
    online_session, online_booking = online
    with app.test_request_context():
        bookings = [db.session.get(Booking, three_booking), db.session.get(Booking, online_booking)]
        private = calendar.for_sessions(
            [b.training_session for b in bookings], "My training",
            {b.training_session_id: b for b in bookings},
        )
        public = calendar.for_sessions([b.training_session for b in bookings], "All training")
    cal, events, vcal, vevents = _both(private)
    assert "METHOD" not in cal and not hasattr(vcal, "method")
    assert vcal.x_wr_calname.value == "My training"
    assert len(events) == len(vevents) == 5
    assert len(cal.walk("VTIMEZONE")) == 1
    starts = sorted(vevent.dtstart.value.astimezone(UTC) for vevent in vevents)
    assert starts == sorted([s for s, _ in EXPECTED_UTC] + [s for s, _ in EXPECTED_UTC[:2]])
    assert sum("meet.example.org" in vevent.location.value for vevent in vevents) == 2

    _, public_events, _, public_vevents = _both(public)
    assert all(str(event["UID"]).startswith("session-") for event in public_events)
    assert b"meet.example.org" not in public  # never in the public catalogue
    assert sorted(v.dtstart.value.astimezone(UTC) for v in public_vevents) == starts


def test_a_cancelled_booking_is_marked_cancelled_in_the_private_feed(app, online):
    session_id, booking_id = online
    with app.test_request_context():
        assert engine.cancel(booking_id, "I can no longer attend", now=BEFORE).ok
        booking = db.session.get(Booking, booking_id)
        feed = calendar.for_sessions(
            [booking.training_session], "My training", {session_id: booking}
        )
    _, events, _, vevents = _both(feed)
    assert {vevent.status.value for vevent in vevents} == {"CANCELLED"}
    assert b"meet.example.org" not in feed
    assert {int(event["SEQUENCE"]) for event in events} == {1}


def test_an_empty_feed_is_still_a_calendar(app):
    with app.test_request_context():
        ics = calendar.for_sessions([], "Nothing yet")
    cal = icalendar.Calendar.from_ical(ics)
    assert cal["VERSION"] == "2.0" and not list(cal.walk("VEVENT"))
    assert vobject.readOne(ics.decode()).x_wr_calname.value == "Nothing yet"
