"""The core's CSV imports: settings, training sessions and attendance records.

Each is an :class:`trainer.imports.Importer`; :func:`trainer.imports.run` reads the file,
checks every row with :meth:`validate` and, only when nothing is wrong, writes with
:meth:`apply` in the same transaction. ``docs/imports.md`` describes every format.
"""

from __future__ import annotations

import re
import secrets
from collections import defaultdict
from collections.abc import Iterable

import sqlalchemy as sa

from trainer import hooks
from trainer.booking import (
    Attendance,
    Booking,
    BookingStatus,
    confirmed_count,
    notify_session_changed,
    places_held,
    twilight_from,
)
from trainer.catalogue import (
    MODE_LABELS,
    Course,
    Meeting,
    Mode,
    SessionStatus,
    TrainingSession,
    Venue,
)
from trainer.db import db
from trainer.forms import normalise_postcode
from trainer.imports import (
    Check,
    Column,
    Counts,
    Duplicates,
    Importer,
    Places,
    Problems,
    Row,
    choice_parser,
    london_instant,
    meeting_on,
    normalise_reference,
    parse_date,
    parse_email,
    parse_postcode,
    parse_reference,
    parse_time,
    parse_url,
    parse_whole_number,
    parse_yes_no,
    plain,
    sessions_by_reference,
    users_by_email,
)
from trainer.people import SETTING_TYPE_LABELS, LocalAuthority, Role, Setting, User

MAX_CAPACITY = 10_000
SESSION_REFERENCE = ("The training session's reference, or its number (in the address of its "
                     "page under Manage training).")
URN = re.compile(r"^[A-Z0-9]{1,20}$")


class SettingsImporter(Importer):
    kind = "settings"
    title = "Settings"
    description = ("Early years providers — nurseries, pre-schools, childminders, school "
                   "nursery classes and others — each in a local authority. People choose "
                   "their setting on their profile.")
    key = ("The URN when the row has one; otherwise the name and postcode (ignoring capitals "
           "and spaces). A row with a URN that no setting has yet is matched by name and "
           "postcode to a setting without a URN, which is given that URN.")
    columns = (
        Column("name", "The setting's name.", "Little Acorns Nursery", True, 200),
        Column("setting_type", "One of: nursery, pre_school, childminder, "
               "school_nursery_class, childrens_centre, other (or their names, like "
               "“Pre-school”).", "nursery", True),
        Column("urn", "Ofsted's unique reference number, if the setting has one.",
               "EY987654", max_length=20),
        Column("local_authority", "The local authority the setting is in: its ONS code "
               "(best) or its name.", "E08000035", True),
        Column("postcode", "The setting's postcode.", "LS1 4AP", True),
    )
    parse_type = staticmethod(choice_parser(SETTING_TYPE_LABELS, "setting type"))

    def validate(self, rows, context):
        problems = Problems()
        check, places = Check(problems), Places()
        duplicates = Duplicates(problems, "setting")
        urns = {row["urn"].replace(" ", "").upper() for row in rows if row["urn"]}
        by_urn = {setting.urn.upper(): setting for setting in db.session.scalars(
            sa.select(Setting).where(sa.func.upper(Setting.urn).in_(urns)))} if urns else {}
        postcodes = {_compact(row["postcode"]) for row in rows if row["postcode"]}
        by_name: dict[tuple[str, str], list[Setting]] = defaultdict(list)
        for setting in db.session.scalars(
                sa.select(Setting).where(_compact_column(Setting.postcode).in_(postcodes))
                .order_by(Setting.id)):
            by_name[(plain(setting.name), normalise_postcode(setting.postcode))].append(setting)
        targets: dict[int, int] = {}
        for row in rows:
            urn = row["urn"].replace(" ", "").upper()
            if urn and not URN.fullmatch(urn):
                problems.add(row, "urn", "Use only letters and digits, like EY987654")
                urn = ""
            values = {
                "name": row["name"],
                "setting_type": check(row, "setting_type", self.parse_type),
                "local_authority": check(row, "local_authority", places.local_authority),
                "postcode": check(row, "postcode", parse_postcode),
            }
            if urn:
                values["urn"] = urn
                if not duplicates.check(row, ("urn", urn), "urn"):
                    continue
            elif values["postcode"] and row["name"]:
                if not duplicates.check(row, (plain(row["name"]), values["postcode"]), "name"):
                    continue
            existing = by_urn.get(urn) if urn else None
            if existing is None and values["postcode"]:
                candidates = [setting for setting in by_name.get(
                    (plain(row["name"]), values["postcode"]), []) if not urn or not setting.urn]
                if len(candidates) > 1:
                    problems.add(row, "urn" if not urn else "name",
                                 f"{len(candidates)} settings have this name and postcode: "
                                 "give the setting's URN to say which")
                    continue
                existing = candidates[0] if candidates else None
            if existing is not None:
                if existing.id in targets:
                    problems.add(row, "name", f"Line {targets[existing.id]} is about the same "
                                              "setting: each may appear only once")
                    continue
                targets[existing.id] = row.line
            row.data = {"setting": existing, "values": values}
        return problems

    def apply(self, rows, context):
        counts = Counts()
        for row in rows:
            values = dict(row.data["values"])
            values["local_authority_id"] = values.pop("local_authority").id
            setting = row.data["setting"]
            if setting is None:
                db.session.add(Setting(**values))
                counts.add("created")
            elif any(getattr(setting, name) != value for name, value in values.items()):
                for name, value in values.items():
                    setattr(setting, name, value)
                counts.add("updated")
            else:
                counts.add("unchanged")
        return counts


# -- training sessions ---------------------------------------------------------------------------


class TrainingSessionsImporter(Importer):
    kind = "training-sessions"
    title = "Training sessions"
    description = ("Runs of courses that already exist in the service, one meeting each: "
                   "capacity, online or in person, date and times in London time, and where. "
                   "Sessions with several meetings are added under Manage training.")
    key = ("The reference (ignoring capitals). A row with a new reference adds a session; a "
           "row with a known reference changes that session, and people booked on it are "
           "told when its date, times or place change.")
    columns = (
        Column("reference", "The session's reference, unique across the service: letters, "
               "digits, hyphens, dots, slashes and underscores, with at least one letter.",
               "EYIP-2026-041", True, 40),
        Column("course", "The course: its title as the service has it, or its number (in the "
               "address of its page). The course must exist already.",
               "Supporting speech, language and communication", True),
        Column("capacity", "How many places: a whole number from 0 to 10,000, never less than "
               "the places already booked.", "20", True),
        Column("mode", "in_person, online or hybrid.", "hybrid", True),
        Column("date", "The day, like 2026-03-12 or 12/03/2026.", "2026-03-12", True),
        Column("start_time", "London time, like 18:30 or 6:30pm.", "18:30", True),
        Column("end_time", "London time, the same day, after the start.", "20:00", True),
        Column("venue_name", "For sessions in person or hybrid: the venue's name. The venue "
               "with this name and postcode is used if there is one; otherwise it is added.",
               "Leeds Children's Centre", max_length=200),
        Column("venue_postcode", "For sessions in person or hybrid: the venue's postcode.",
               "LS2 8BH"),
        Column("online_url", "For sessions online or hybrid: the joining link.",
               "https://meet.example.org/eyip-2026-041", max_length=500),
        Column("local_authority", "Only for a session just for one local authority's people: "
               "its ONS code or name, like E08000035 or Leeds. Leave empty for a session open "
               "to everyone."),
        Column("region", "The region the session is for when people find training by region: "
               "its name, like Yorkshire and The Humber. Leave empty to take it from "
               "local_authority or the venue's local authority."),
    )
    parse_mode = staticmethod(choice_parser(MODE_LABELS, "mode"))

    def validate(self, rows, context):
        problems = Problems()
        check, places = Check(problems), Places()
        duplicates = Duplicates(problems, "training session")
        existing = sessions_by_reference([row["reference"] for row in rows], lock=True)
        courses = _Courses()
        venues = _venues_for(rows)
        for row in rows:
            reference = check(row, "reference", parse_reference)
            if reference and not duplicates.check(row, reference, "reference"):
                continue
            course = check(row, "course", courses.find)
            capacity = check(row, "capacity", parse_whole_number, 0, MAX_CAPACITY)
            mode = check(row, "mode", self.parse_mode)
            starts_at, ends_at = self._times(row, check, problems)
            venue_key, online_url = self._place(row, mode, check, problems)
            venue = venues.get(venue_key)
            restriction = check(row, "local_authority", places.local_authority)
            region = check(row, "region", places.region)
            if not row["region"]:
                area = restriction or (venue.local_authority if venue else None)
                region = area.region if area else None
            row.data = {
                "reference": reference, "course": course, "venue_key": venue_key,
                "venue_name": row["venue_name"], "restriction": restriction,
                "session": {
                    "course_id": course.id if course else None, "capacity": capacity,
                    "mode": mode,
                    "local_authority_id": restriction.id if restriction else None,
                    "region_id": region.id if region else None,
                },
                "meeting": {"starts_at": starts_at, "ends_at": ends_at, "venue": venue,
                            "online_url": online_url},
            }
            current = existing.get(reference) if reference else None
            row.data["current"] = current
            if current is not None and self._changes(row, current):
                self._check_change(row, current, problems)
        return problems

    def _times(self, row, check, problems):
        on = check(row, "date", parse_date)
        starts_clock = check(row, "start_time", parse_time)
        ends_clock = check(row, "end_time", parse_time)
        if not (on and starts_clock and ends_clock):
            return None, None
        try:
            starts_at = london_instant(on, starts_clock)
            ends_at = london_instant(on, ends_clock)
        except ValueError as error:
            problems.add(row, "start_time", str(error))
            return None, None
        if ends_at <= starts_at:
            problems.add(row, "end_time", "The end time must be after the start time")
        return starts_at, ends_at

    def _place(self, row, mode, check, problems):
        """The venue's (name, postcode) key and the joining link, as the mode needs them."""
        if mode is None:
            return None, None
        venue_key = online_url = None
        how = MODE_LABELS[Mode(mode)].lower()
        if mode in (Mode.IN_PERSON, Mode.HYBRID):
            for column in ("venue_name", "venue_postcode"):
                if not row[column]:
                    problems.add(row, column, f"Enter the {column.replace('_', ' ')}: the "
                                              f"session is {how}")
            postcode = check(row, "venue_postcode", parse_postcode)
            if row["venue_name"] and postcode:
                venue_key = (plain(row["venue_name"]), postcode)
        else:
            for column in ("venue_name", "venue_postcode"):
                if row[column]:
                    problems.add(row, column, "Leave the venue empty for a session online, or "
                                              "make it hybrid")
        if mode in (Mode.ONLINE, Mode.HYBRID):
            if not row["online_url"]:
                problems.add(row, "online_url", f"Enter the joining link: the session is {how}")
            online_url = check(row, "online_url", parse_url)
        elif row["online_url"]:
            problems.add(row, "online_url", "Leave the joining link empty for a session in "
                                            "person, or make it hybrid")
        return venue_key, online_url

    @staticmethod
    def _changes(row, current: TrainingSession) -> dict:
        """What the row would change on ``current``: session fields, and ``"meeting"``."""
        changes = {name: value for name, value in row.data["session"].items()
                   if getattr(current, name) != value}
        if len(current.meetings) != 1:
            changes["meeting"] = True
            return changes
        first, wanted = current.meetings[0], row.data["meeting"]
        if wanted["venue"] is None and row.data["venue_key"] is not None:
            changes["meeting"] = True  # a venue to add
        elif any(getattr(first, name) != value for name, value in wanted.items()):
            changes["meeting"] = True
        return changes

    def _check_change(self, row, current: TrainingSession, problems):
        if current.status == SessionStatus.CANCELLED:
            problems.add(row, "reference", "This training session was cancelled, so it cannot "
                                           "be changed")
            return
        if len(current.meetings) != 1:
            problems.add(row, "reference", f"This training session has "
                                           f"{len(current.meetings)} meetings: change it under "
                                           "Manage training")
            return
        booked = confirmed_count(current.id)
        wanted = row.data["session"]
        if wanted["course_id"] not in (None, current.course_id) and booked:
            problems.add(row, "course", f"{booked} {'person is' if booked == 1 else 'people are'}"
                                        " booked on this session, so its course cannot change")
        if wanted["capacity"] is not None and wanted["capacity"] < current.capacity:
            taken = booked + places_held(current)
            if wanted["capacity"] < taken:
                problems.add(row, "capacity", f"Capacity cannot be less than the {taken} "
                                              "places already booked or held")

    def apply(self, rows, context):
        counts = Counts()
        added: dict[tuple[str, str], Venue] = {}
        for row in rows:
            data = row.data
            meeting = dict(data["meeting"])
            if data["venue_key"] is not None and meeting["venue"] is None:
                meeting["venue"] = added.get(data["venue_key"])
                if meeting["venue"] is None:
                    meeting["venue"] = added[data["venue_key"]] = Venue(
                        name=data["venue_name"], postcode=data["venue_key"][1],
                        local_authority=data["restriction"])
                    db.session.add(meeting["venue"])
            current = data["current"]
            if current is None:
                current = TrainingSession(reference=data["reference"], **data["session"])
                current.meetings.append(Meeting(**meeting))
                current.refresh_times(twilight_from())
                db.session.add(current)
                counts.add("created")
                continue
            changes = self._changes(row, current)
            if not changes:
                counts.add("unchanged")
                continue
            raised = changes.get("capacity", 0) > current.capacity
            for name, value in changes.items():
                if name != "meeting":
                    setattr(current, name, value)
            if "meeting" in changes:
                for name, value in meeting.items():
                    setattr(current.meetings[0], name, value)
                db.session.flush()
                notify_session_changed(current)  # everyone booked hears, with a new invite
            db.session.flush()
            if raised:
                hooks.call("trainer_places_freed", training_session=current)
            counts.add("updated")
        return counts


class _Courses:
    """Every course, by number and by title (compared ignoring capitals and spacing, so in
    Python: a service has tens of courses, not thousands)."""

    def __init__(self):
        self.by_id: dict[int, Course] = {}
        self.by_title: dict[str, list[Course]] = defaultdict(list)
        for course in db.session.scalars(sa.select(Course).order_by(Course.id)):
            self.by_id[course.id] = course
            self.by_title[plain(course.title)].append(course)

    def find(self, text: str) -> Course:
        value = text.strip()
        if value.isascii() and value.isdigit():
            found = self.by_id.get(int(value))
            if found is None:
                raise ValueError(f"There is no course number {value}")
            return found
        matches = self.by_title.get(plain(value), [])
        if len(matches) > 1:
            numbers = ", ".join(str(course.id) for course in matches)
            raise ValueError(f"{len(matches)} courses have this title: give the course's "
                             f"number instead ({numbers})")
        if not matches:
            raise ValueError(f"There is no course called “{value}”. Add the course under "
                             "Manage training first, or check the title")
        return matches[0]


def _venues_for(rows: list[Row]) -> dict[tuple[str, str], Venue]:
    """Venues the rows may mean, by (name as compared, postcode)."""
    postcodes = {_compact(row["venue_postcode"]) for row in rows if row["venue_postcode"]}
    if not postcodes:
        return {}
    found: dict[tuple[str, str], Venue] = {}
    for venue in db.session.scalars(
            sa.select(Venue).where(_compact_column(Venue.postcode).in_(postcodes))
            .order_by(Venue.id)):
        found.setdefault((plain(venue.name), normalise_postcode(venue.postcode)), venue)
    return found


def _compact(postcode: str) -> str:
    return "".join(postcode.split()).upper()


def _compact_column(column):
    """A postcode column without spaces, in capitals, for matching in SQL."""
    return sa.func.upper(sa.func.replace(column, " ", ""))


# -- attendance ----------------------------------------------------------------------------------


class AttendanceImporter(Importer):
    kind = "attendance"
    title = "Attendance records"
    description = ("Who attended training sessions that have started, for example from a "
                   "paper register or another booking system. Each person is given a "
                   "confirmed booking if they have none; a person with no account is given "
                   "one without a password, which they can claim with “Forgotten your "
                   "password?”. Places are never booked beyond a session's capacity.")
    key = ("The session reference and the email address, and the meeting date for sessions "
           "with several meetings. Importing a record again changes nothing; a different "
           "attended answer replaces the earlier one.")
    columns = (
        Column("reference", SESSION_REFERENCE, "EYIP-2026-041", True, 40),
        Column("email", "The person's email address.", "sam.jones@example.net", True, 254),
        Column("name", "The person's name. Needed only when they have no account yet; an "
               "existing account's name is left as it is.", "Sam Jones", max_length=120),
        Column("attended", "yes or no.", "yes", True),
        Column("meeting_date", "Needed only for sessions with several meetings: the day of "
               "the meeting, like 2026-03-12.", ""),
        Column("local_authority", "For people with no account yet: the local authority they "
               "work or live in (ONS code or name), so they count in its figures.",
               "E08000035"),
    )

    def validate(self, rows, context):
        problems = Problems()
        check, places = Check(problems), Places()
        duplicates = Duplicates(problems, "person at the same meeting")
        sessions = sessions_by_reference([row["reference"] for row in rows], lock=True)
        emails = [row["email"] for row in rows]
        users = users_by_email(emails)
        bookings = _bookings_of(sessions.values(), users.values())
        wanted_places: dict[int, dict[str, Row]] = defaultdict(dict)
        for row in rows:
            training_session = meeting = None
            reference = normalise_reference(row["reference"])
            if reference:
                training_session = sessions.get(reference)
                if training_session is None:
                    problems.add(row, "reference", f"There is no training session with the "
                                                   f"reference “{row['reference']}”")
                else:
                    meeting = self._meeting(row, training_session, context, problems)
            email = check(row, "email", parse_email)
            attended = check(row, "attended", parse_yes_no)
            user = users.get(email) if email else None
            if email and user is None and not row["name"]:
                problems.add(row, "name", "Enter the person's name: they have no account yet")
            if user is not None and not user.active:
                problems.add(row, "email", "The account with this email address is closed")
            area = check(row, "local_authority", places.local_authority) if user is None \
                else None
            if meeting is not None and email:
                if not duplicates.check(row, (meeting.id, email), "email"):
                    continue
                booking = bookings.get((training_session.id, user.id)) if user else None
                if booking is None or not booking.is_confirmed:
                    wanted_places[training_session.id].setdefault(email, row)
            row.data = {"session": training_session, "meeting": meeting, "email": email,
                        "user": user, "attended": attended, "area": area}
        for session_id, needing in wanted_places.items():
            training_session = db.session.get(TrainingSession, session_id)
            free = training_session.capacity - confirmed_count(session_id) \
                - places_held(training_session)
            for number, row in enumerate(needing.values(), start=1):
                if number > free:
                    problems.add(row, "reference", _full_message(training_session, free))
        return problems

    def _meeting(self, row, training_session, context, problems) -> Meeting | None:
        if training_session.is_cancelled:
            problems.add(row, "reference", "This training session was cancelled")
            return None
        meetings = training_session.meetings
        if row["meeting_date"]:
            try:
                meeting = meeting_on(training_session, row["meeting_date"])
            except ValueError as error:
                problems.add(row, "meeting_date", str(error))
                return None
        elif len(meetings) > 1:
            problems.add(row, "meeting_date", f"Enter the meeting date: the session has "
                                              f"{len(meetings)} meetings")
            return None
        elif not meetings:
            problems.add(row, "reference", "This training session has no meetings")
            return None
        else:
            meeting = meetings[0]
        if meeting.starts_at > context.now:
            problems.add(row, "meeting_date" if len(meetings) > 1 else "reference",
                         "This meeting has not started yet, so attendance cannot be recorded")
            return None
        return meeting

    def apply(self, rows, context):
        counts = Counts()
        new_people: dict[str, User] = {}
        bookings = _bookings_of({row.data["session"].id: row.data["session"]
                                 for row in rows}.values(),
                                [row.data["user"] for row in rows if row.data["user"]])
        recorded = []
        for row in rows:
            data = row.data
            user = data["user"] or new_people.get(data["email"])
            if user is None:
                user = _new_account(data["email"], row["name"], data["area"])
                new_people[data["email"]] = user
            training_session, meeting = data["session"], data["meeting"]
            booking = bookings.get((training_session.id, user.id))
            if booking is None:
                booking = Booking(training_session=training_session, user=user,
                                  status=BookingStatus.CONFIRMED, confirmed_at=context.now)
                db.session.add(booking)
                bookings[(training_session.id, user.id)] = booking
            elif not booking.is_confirmed:
                booking.status = BookingStatus.CONFIRMED
                booking.confirmed_at = context.now
                booking.cancelled_at = booking.cancel_reason = None
                booking.sequence += 1
            attendance = booking.attendance_for(meeting)
            if attendance is None:
                attendance = Attendance(meeting_id=meeting.id, attended=data["attended"])
                booking.attendances.append(attendance)
                outcome = "created"
            elif attendance.attended != data["attended"]:
                attendance.attended = data["attended"]
                outcome = "updated"
            else:
                counts.add("unchanged")
                continue
            attendance.recorded_at = context.now
            attendance.recorded_by_id = context.by.id if context.by else None
            counts.add(outcome)
            recorded.append((booking, meeting))
        db.session.flush()
        for booking, meeting in recorded:
            hooks.call("trainer_attendance_recorded", booking=booking, meeting=meeting)
        return counts


def _full_message(training_session: TrainingSession, free: int) -> str:
    if free <= 0:
        return (f"The session is full (capacity {training_session.capacity}), so this person "
                "cannot be given a place. Raise its capacity first")
    return (f"The session has only {free} {'place' if free == 1 else 'places'} left "
            f"(capacity {training_session.capacity}), fewer than the people in this file "
            "who need one. Raise its capacity first")


def _bookings_of(sessions: Iterable[TrainingSession], users: Iterable[User]
                 ) -> dict[tuple[int, int], Booking]:
    session_ids = sorted({item.id for item in sessions})
    user_ids = sorted({user.id for user in users})
    if not session_ids or not user_ids:
        return {}
    return {(booking.training_session_id, booking.user_id): booking
            for booking in db.session.scalars(sa.select(Booking).where(
                Booking.training_session_id.in_(session_ids), Booking.user_id.in_(user_ids)))}


def _new_account(email: str, name: str, area: LocalAuthority | None) -> User:
    """A minimal account: unverified, with a password nobody knows (the hash of a random
    secret thrown away). The person claims it with "Forgotten your password?"."""
    user = User(email=email, name=name, local_authority=area)
    user.set_password(secrets.token_urlsafe(32))
    user.grant(Role.PRACTITIONER)
    db.session.add(user)
    db.session.flush()
    return user


CORE_IMPORTERS: list[Importer] = [
    SettingsImporter(),
    TrainingSessionsImporter(),
    AttendanceImporter(),
]
