"""iCalendar: invites and cancellations for bookings, and feeds of training sessions.

Every event is one :class:`~trainer.catalogue.Meeting`. Invites for a booking use the UID
``booking-<booking id>-meeting-<meeting id>@<host>``, stable for the life of the booking, and
``SEQUENCE`` = session sequence + booking sequence, both of which only rise, so calendar
programs apply each update and cancellation in order. Times carry ``TZID=Europe/London`` with
a ``VTIMEZONE`` that covers both GMT and BST.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app, url_for
from icalendar import (
    Alarm,
    Calendar,
    Event,
    Timezone,
    TimezoneDaylight,
    TimezoneStandard,
    vCalAddress,
    vText,
)

from trainer.catalogue import Meeting, TrainingSession
from trainer.db import utcnow
from trainer.times import LONDON

PRODUCT_ID = "-//trainer//Early years SEND training//EN"


def _host() -> str:
    return urlsplit(current_app.config["EXTERNAL_URL"]).hostname or "localhost"


def _calendar(method: str | None, name: str | None = None) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if method:
        calendar.add("method", method)
    if name:
        calendar.add("x-wr-calname", name)
        calendar.add("x-wr-timezone", "Europe/London")
    return calendar


def _london_timezone() -> Timezone:
    """Europe/London as a VTIMEZONE with yearly rules: BST from 1am GMT on the last Sunday of
    March, GMT from 2am BST on the last Sunday of October.

    icalendar's ``add_missing_timezones()`` lists every change as a long ``RDATE`` list instead,
    which other parsers misread (vobject keeps only the first date, putting late-October
    meetings an hour out); the ``RRULE`` form is the one every calendar program reads.
    """
    timezone = Timezone()
    timezone.add("tzid", "Europe/London")
    timezone.add("x-lic-location", "Europe/London")
    for part, name, before, after, start, month in (
        (TimezoneDaylight(), "BST", 0, 1, datetime(1970, 3, 29, 1, 0), 3),
        (TimezoneStandard(), "GMT", 1, 0, datetime(1970, 10, 25, 2, 0), 10),
    ):
        part.add("tzname", name)
        part.add("tzoffsetfrom", timedelta(hours=before))
        part.add("tzoffsetto", timedelta(hours=after))
        part.add("dtstart", start)
        part.add("rrule", {"freq": "yearly", "bymonth": month, "byday": "-1SU"})
        timezone.add_component(part)
    return timezone


def _add_timezone(calendar: Calendar) -> None:
    """Put the Europe/London VTIMEZONE first, before the events that refer to it."""
    calendar.subcomponents.insert(0, _london_timezone())


def _location(meeting: Meeting, include_link: bool) -> str | None:
    parts = []
    if meeting.venue is not None:
        parts.append(meeting.venue.one_line())
    if meeting.online_url and include_link:
        parts.append(meeting.online_url)
    elif meeting.online_url:
        parts.append("Online")
    return " / ".join(parts) or None


def _description(training_session: TrainingSession, meeting: Meeting, include_link: bool) -> str:
    lines = [training_session.course.summary.strip()] if training_session.course.summary else []
    if len(training_session.meetings) > 1:
        position = training_session.meetings.index(meeting) + 1
        lines.append(f"Part {position} of {len(training_session.meetings)}.")
    if meeting.online_url and include_link:
        lines.append(f"Join online: {meeting.online_url}")
    if meeting.venue is not None and meeting.venue.accessibility_notes:
        lines.append(f"Access: {meeting.venue.accessibility_notes}")
    lines.append(
        "Details: "
        + url_for("catalogue.session_page", session_id=training_session.id, _external=True)
    )
    return "\n\n".join(lines)


def _event(
    training_session: TrainingSession,
    meeting: Meeting,
    uid: str,
    sequence: int,
    include_link: bool,
    stamp: datetime,
    status: str = "CONFIRMED",
) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("sequence", sequence)
    event.add("dtstart", meeting.starts_at.astimezone(LONDON))
    event.add("dtend", meeting.ends_at.astimezone(LONDON))
    title = training_session.course.title
    if meeting.title:
        title = f"{title}: {meeting.title}"
    if status == "CANCELLED":
        title = f"Cancelled: {title}"
    event.add("summary", title)
    event.add("description", _description(training_session, meeting, include_link))
    location = _location(meeting, include_link)
    if location:
        event.add("location", location)
    if meeting.online_url and include_link:
        event.add("url", meeting.online_url)
    event.add("status", status)
    event.add("transp", "OPAQUE")
    return event


def _organizer() -> vCalAddress:
    organizer = vCalAddress(f"mailto:{current_app.config['MAIL_FROM']}")
    organizer.params["cn"] = vText(current_app.config["MAIL_FROM_NAME"])
    return organizer


def booking_uid(booking, meeting: Meeting) -> str:
    return f"booking-{booking.id}-meeting-{meeting.id}@{_host()}"


def booking_sequence(booking) -> int:
    return booking.training_session.sequence + booking.sequence


def for_booking(booking, cancel: bool = False) -> bytes:
    """An invite (``METHOD:REQUEST``) or cancellation (``METHOD:CANCEL``) for ``booking``.

    One VEVENT per meeting, each with a 1-hour reminder (VALARM) in invites. The online
    joining link is included: only the person booked receives it.
    """
    calendar = _calendar("CANCEL" if cancel else "REQUEST")
    stamp = utcnow()
    training_session = booking.training_session
    attendee = vCalAddress(f"mailto:{booking.user.email}")
    attendee.params["cn"] = vText(booking.user.name)
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    attendee.params["partstat"] = vText("DECLINED" if cancel else "ACCEPTED")
    for meeting in training_session.meetings:
        event = _event(
            training_session,
            meeting,
            booking_uid(booking, meeting),
            booking_sequence(booking),
            include_link=not cancel,
            stamp=stamp,
            status="CANCELLED" if cancel else "CONFIRMED",
        )
        event.add("organizer", _organizer())
        event.add("attendee", attendee)
        if not cancel:
            alarm = Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", f"Reminder: {training_session.course.title}")
            alarm.add("trigger", timedelta(hours=-1))
            event.add_component(alarm)
        calendar.add_component(event)
    _add_timezone(calendar)
    return calendar.to_ical()


def for_sessions(
    sessions: Iterable[TrainingSession], name: str, bookings_by_session: dict | None = None
) -> bytes:
    """A published calendar (no METHOD) of ``sessions``' meetings.

    With ``bookings_by_session`` (a person's private feed) events use the booking's UID and
    sequence and carry joining links (a cancelled booking's events are marked cancelled and
    carry none); otherwise (the public catalogue) they use
    ``session-<id>-meeting-<id>@<host>`` and never show joining links.
    """
    calendar = _calendar(None, name)
    stamp = utcnow()
    for training_session in sessions:
        booking = (bookings_by_session or {}).get(training_session.id)
        for meeting in training_session.meetings:
            if booking is not None:
                uid, sequence = booking_uid(booking, meeting), booking_sequence(booking)
            else:
                uid = f"session-{training_session.id}-meeting-{meeting.id}@{_host()}"
                sequence = training_session.sequence
            calendar.add_component(
                _event(
                    training_session,
                    meeting,
                    uid,
                    sequence,
                    include_link=booking is not None and booking.is_confirmed,
                    stamp=stamp,
                    status="CANCELLED"
                    if training_session.is_cancelled
                    or (booking is not None and not booking.is_confirmed)
                    else "CONFIRMED",
                )
            )
    if calendar.subcomponents:
        _add_timezone(calendar)
    return calendar.to_ical()
