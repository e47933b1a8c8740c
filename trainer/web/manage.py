"""Running training: courses, training sessions, their meetings, capacity, cancelling, registers.

Trainers and administrators only. A trainer manages the courses of their own delivery partner
and the training sessions they run or that belong to those courses; an administrator manages
everything (DESIGN guarantee 5, checked in every view). Times are typed in London time and
stored in UTC. Every form is validated in full before anything is written, and each change is
written in one transaction, so bad input never half-saves.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy.orm import selectinload
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
)

from trainer import booking
from trainer.access import roles_required
from trainer.booking import Attendance, Booking, BookingStatus, EngineError, Reminder
from trainer.catalogue import (
    AUDIENCE_LABELS,
    LEVEL_LABELS,
    MODE_LABELS,
    TOPIC_LABELS,
    Course,
    Meeting,
    Mode,
    TrainingSession,
    Venue,
    session_trainer,
)
from trainer.db import db, lock_row, utcnow, write_transaction
from trainer.forms import BaseForm, UKPostcode, choices, normalise_postcode, strip
from trainer.people import DeliveryPartner, LocalAuthority, Region, Role, User, UserRole
from trainer.times import LONDON, clock, day
from trainer.web import page_panels

bp = Blueprint("manage", __name__, url_prefix="/manage")

MANAGERS = (Role.TRAINER, Role.ADMIN)
MEETING_ROWS = 6  # rows on the form for a new session; blank rows are ignored
MAX_MEETINGS = 20
REPEATS = {
    "none": ("Do not repeat", None),
    "weekly": ("Every week", timedelta(weeks=1)),
    "fortnightly": ("Every 2 weeks", timedelta(weeks=2)),
    "four_weekly": ("Every 4 weeks", timedelta(weeks=4)),
    "termly": ("Every 13 weeks (termly)", timedelta(weeks=13)),
}
NEW_VENUE = "new"


# -- who may manage what ------------------------------------------------------------------------


def is_admin(user) -> bool:
    return user.has_role(Role.ADMIN)


def may_manage_course(user, course: Course) -> bool:
    """Admins manage every course; trainers the courses of their delivery partner."""
    if is_admin(user):
        return True
    return user.delivery_partner_id is not None and (
        course.delivery_partner_id == user.delivery_partner_id
    )


def may_manage_session(user, training_session: TrainingSession) -> bool:
    """Admins manage every session; trainers the ones they run, and their partner's."""
    if may_manage_course(user, training_session.course):
        return True
    return any(trainer.id == user.id for trainer in training_session.trainers)


def _course_or_403(course_id: int) -> Course:
    course = db.get_or_404(Course, course_id)
    if not may_manage_course(current_user, course):
        abort(403)
    return course


def _session_or_403(session_id: int) -> TrainingSession:
    training_session = db.get_or_404(TrainingSession, session_id)
    if not may_manage_session(current_user, training_session):
        abort(403)
    return training_session


def managed_sessions(user) -> sa.Select:
    """Training sessions ``user`` manages (all of them for an admin)."""
    statement = (
        sa.select(TrainingSession)
        .join(TrainingSession.course)
        .options(selectinload(TrainingSession.course))
    )
    if not is_admin(user):
        runs = TrainingSession.id.in_(
            sa.select(session_trainer.c.training_session_id).where(
                session_trainer.c.user_id == user.id
            )
        )
        if user.delivery_partner_id is not None:
            runs = sa.or_(runs, Course.delivery_partner_id == user.delivery_partner_id)
        statement = statement.where(runs)
    return statement


def _page_number() -> int:
    page = request.args.get("page", 1, type=int)
    if page < 1:
        abort(404)
    return page


# -- parsing London dates and times -------------------------------------------------------------

DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d %m %Y", "%d %B %Y", "%d %b %Y")
TIME_PATTERN = re.compile(r"^(\d{1,2})(?:[:.](\d{2}))?\s*([ap]\.?m\.?)?$", re.IGNORECASE)


def parse_date(text: str | None) -> date | None:
    """A date typed as 2027-03-17, 17/3/2027 or 17 March 2027; ``None`` if it is not one."""
    for pattern in DATE_FORMATS:
        try:
            parsed = datetime.strptime((text or "").strip(), pattern).date()
        except ValueError:
            continue
        if 2000 <= parsed.year <= 2100:
            return parsed
    return None


def parse_time(text: str | None) -> time | None:
    """A time typed as 18:30, 18.30, 6:30pm or 6pm; ``None`` if it is not one."""
    match = TIME_PATTERN.match((text or "").strip())
    if not match:
        return None
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    suffix = (match.group(3) or "").replace(".", "").lower()
    if suffix:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if suffix == "pm" else 0)
    elif match.group(2) is None:
        return None  # "18" alone is too easy to misread
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


class NoSuchTime(ValueError):
    """A London wall-clock time skipped when the clocks go forward."""


def london_to_utc(local: datetime) -> datetime:
    """The UTC instant of a naive London wall-clock time. Raises :class:`NoSuchTime` for a
    time the clocks skip; an hour that happens twice (clocks going back) means the first."""
    aware = local.replace(tzinfo=LONDON)
    instant = aware.astimezone(UTC)
    if instant.astimezone(LONDON).replace(tzinfo=None) != local:
        raise NoSuchTime(local)
    return instant


def _wall_clock(moment: datetime | None) -> datetime | None:
    return moment.astimezone(LONDON).replace(tzinfo=None) if moment else None


def _describe(local: datetime) -> str:
    return f"{day(local.date())} at {clock(local)}"


# -- forms --------------------------------------------------------------------------------------


class MultiCheckboxField(SelectMultipleField):
    """Several choices, shown as GOV.UK checkboxes by the ``field`` macro."""


class CourseForm(BaseForm):
    title = StringField(
        "Course title",
        filters=[strip],
        validators=[
            DataRequired(message="Enter the course title"),
            Length(max=200, message="Course title must be 200 characters or fewer"),
        ],
    )
    summary = TextAreaField(
        "Summary",
        description="What people will learn and who it is for. Shown on the course page.",
        filters=[strip],
        validators=[
            DataRequired(message="Enter a summary of the course"),
            Length(max=5000, message="Summary must be 5,000 characters or fewer"),
        ],
    )
    topics = MultiCheckboxField(
        "Topics",
        description="Select all that apply.",
        choices=choices(TOPIC_LABELS.items()),
        validators=[DataRequired(message="Select at least one topic")],
        invalid_choice_message="Select topics from the list",
    )
    audiences = MultiCheckboxField(
        "Who is it for?",
        description="Select all that apply.",
        choices=choices(AUDIENCE_LABELS.items()),
        validators=[DataRequired(message="Select who the course is for")],
        invalid_choice_message="Select who the course is for from the list",
    )
    level = RadioField(
        "Level",
        choices=choices(LEVEL_LABELS.items()),
        validators=[DataRequired(message="Select the level of the course")],
        invalid_choice_message="Select the level of the course",
    )
    accredited = BooleanField("This course is accredited")
    credits = IntegerField(
        "Credits (accredited courses only)",
        validators=[
            Optional(),
            NumberRange(min=1, max=1000, message="Credits must be between 1 and 1,000"),
        ],
        invalid_value_message="Credits must be a whole number, like 10",
        render_kw={"class": "govuk-input--width-4"},
    )
    delivery_partner = SelectField(
        "Delivery partner",
        validators=[DataRequired(message="Select the delivery partner")],
        invalid_choice_message="Select a delivery partner from the list",
    )

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.accredited.data and self.credits.data is None and not self.credits.errors:
            self.credits.errors.append("Enter the number of credits of the accredited course")
            return False
        return valid


class MeetingForm(Form):
    """One row of meetings on the session form; all checks are in :class:`SessionForm`."""

    meeting_id = HiddenField()
    date = StringField("Date", filters=[strip], description="For example, 17/3/2027")
    start = StringField("Start time", filters=[strip], description="For example, 18:30")
    end = StringField("End time", filters=[strip], description="For example, 20:00")
    venue = SelectField(
        "Venue", default="", invalid_choice_message="Choose a venue from the list"
    )
    online_url = StringField(
        "Online joining link",
        filters=[strip],
        description="For example, https://meet.example.org/abc. Only people booked see it.",
        render_kw={"spellcheck": "false"},
    )

    def is_blank(self) -> bool:
        return not any(
            (self.date.data, self.start.data, self.end.data, self.venue.data,
             self.online_url.data)
        )


@dataclass
class PlannedMeeting:
    meeting_id: int | None
    number: int  # the row it came from, for messages
    local_start: datetime  # naive London wall-clock
    local_end: datetime
    venue: str  # "", NEW_VENUE or a venue id
    online_url: str | None


@dataclass
class Occurrence:
    """One training session to create or update: its booking window and meetings in UTC."""

    booking_opens_at: datetime | None
    booking_closes_at: datetime | None
    meetings: list[tuple[PlannedMeeting, datetime, datetime]] = field(default_factory=list)


class SessionForm(BaseForm):
    """A training session: capacity (new sessions), mode, booking window, restriction, region,
    trainers, meetings, a new venue, and (new sessions) repeating."""

    capacity = IntegerField(
        "Number of places",
        validators=[
            InputRequired(message="Enter the number of places"),
            NumberRange(min=1, max=10_000, message="Number of places must be between 1 and "
                        "10,000"),
        ],
        invalid_value_message="Number of places must be a whole number, like 20",
        render_kw={"class": "govuk-input--width-4"},
    )
    mode = RadioField(
        "How is it run?",
        choices=choices(MODE_LABELS.items()),
        validators=[DataRequired(message="Select how the session is run")],
        invalid_choice_message="Select how the session is run",
    )
    opens_date = StringField("Date", filters=[strip], description="For example, 1/2/2027")
    opens_time = StringField("Time", filters=[strip], description="For example, 09:00")
    closes_date = StringField("Date", filters=[strip], description="For example, 1/3/2027")
    closes_time = StringField("Time", filters=[strip], description="For example, 17:00")
    local_authority = SelectField(
        "Only for people in one local authority (optional)",
        description="A bespoke session: only people whose setting or home is in this local "
        "authority can book.",
        default="",
        invalid_choice_message="Select a local authority from the list",
    )
    region = SelectField(
        "Region (optional)",
        description="Leave it to be worked out from the venue or the local authority.",
        default="",
        invalid_choice_message="Select a region from the list",
    )
    trainers = MultiCheckboxField(
        "Trainers",
        coerce=int,
        validators=[DataRequired(message="Select at least one trainer")],
        invalid_choice_message="Select trainers from the list",
        invalid_value_message="Select trainers from the list",
    )
    notes = TextAreaField(
        "Notes for trainers (optional)",
        filters=[strip],
        validators=[Length(max=5000, message="Notes must be 5,000 characters or fewer")],
    )
    meetings = FieldList(FormField(MeetingForm), min_entries=MEETING_ROWS,
                         max_entries=MAX_MEETINGS)
    venue_name = StringField(
        "Venue name",
        filters=[strip],
        validators=[Length(max=200, message="Venue name must be 200 characters or fewer")],
    )
    venue_address = TextAreaField(
        "Address",
        filters=[strip],
        validators=[Length(max=1000, message="Address must be 1,000 characters or fewer")],
        render_kw={"rows": 3},
    )
    venue_postcode = StringField(
        "Postcode",
        filters=[strip, normalise_postcode],
        validators=[Length(max=10, message="Enter a real postcode, like SW1A 1AA"),
                    UKPostcode()],
        render_kw={"class": "govuk-input--width-10", "spellcheck": "false"},
    )
    venue_local_authority = SelectField(
        "Local authority of the venue", default="",
        invalid_choice_message="Select a local authority from the list",
    )
    venue_accessibility = TextAreaField(
        "Accessibility notes (optional)",
        description="For example, step-free entrance, hearing loop, nearest parking.",
        filters=[strip],
        validators=[Length(max=2000, message="Notes must be 2,000 characters or fewer")],
        render_kw={"rows": 3},
    )
    repeat = RadioField(
        "Repeat this session",
        description="Build a rolling programme: each repeat is a training session of its own, "
        "at the same London time.",
        choices=choices((key, label) for key, (label, _) in REPEATS.items()),
        default="none",
        validators=[DataRequired(message="Select whether to repeat the session")],
        invalid_choice_message="Select whether to repeat the session",
    )
    occurrences = IntegerField(
        "How many sessions in all?",
        description="Including this one, from 1 to 52.",
        default=1,
        validators=[
            Optional(),
            NumberRange(min=1, max=52, message="Enter a number of sessions from 1 to 52"),
        ],
        invalid_value_message="Enter a number of sessions from 1 to 52, like 6",
        render_kw={"class": "govuk-input--width-3"},
    )

    CREATE_ONLY = ("capacity", "repeat", "occurrences")

    def __init__(self, *args, existing: TrainingSession | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.existing = existing
        self.plan: list[Occurrence] = []
        self.removed: list[int] = []
        self.uses_new_venue = False
        if existing is not None:
            for name in self.CREATE_ONLY:
                del self[name]

    @property
    def errors(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for field_id, message in self.error_list():
            found.setdefault(field_id, []).append(message)
        return found

    def error_list(self) -> list[tuple[str, str]]:
        pairs = []
        for item in self:
            if item.name == "meetings":
                for entry in item:
                    for sub in entry.form:
                        pairs.extend((sub.id, message) for message in sub.errors)
            else:
                pairs.extend((_input_id(item), message) for message in item.errors)
        pairs.extend(("", message) for message in self.form_errors)
        return pairs

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        now = utcnow()
        mode = self.mode.data if self.mode.data in set(Mode) else None
        existing = {m.id: m for m in self.existing.meetings} if self.existing else {}
        planned: list[PlannedMeeting] = []
        for number, entry in enumerate(self.meetings, start=1):
            row = entry.form
            meeting_id = self._meeting_id(row, existing, number)
            if row.is_blank():
                if meeting_id is not None:
                    self.removed.append(meeting_id)
                continue
            item = self._plan_row(row, number, meeting_id, mode)
            if item is not None:
                planned.append(item)
        self._check_meetings(planned, existing, now)
        for meeting_id in self.removed:
            if _has_attendance(meeting_id):
                row = next(entry.form for entry in self.meetings
                           if entry.form.meeting_id.data == str(meeting_id))
                row.date.errors.append(
                    "Attendance has been taken for this meeting, so it cannot be removed"
                )
        self.uses_new_venue = any(item.venue == NEW_VENUE for item in planned)
        if self.uses_new_venue:
            if not self.venue_name.data:
                self.venue_name.errors.append("Enter the name of the new venue")
            if not self.venue_postcode.data:
                self.venue_postcode.errors.append("Enter the postcode of the new venue")
        opens = self._moment(self.opens_date, self.opens_time, "booking opens")
        closes = self._moment(self.closes_date, self.closes_time, "booking closes")
        if opens and closes and closes <= opens:
            self.closes_date.errors.append("Booking must close after it opens")
        if self.repeat is not None and self.repeat.data != "none" \
                and self.occurrences.data is None and not self.occurrences.errors:
            self.occurrences.errors.append("Enter how many sessions to create, from 1 to 52")
        if not self.error_list() and planned:
            self._plan_occurrences(planned, opens, closes)
        return valid and not self.error_list()

    # Each helper below adds errors to the fields concerned and returns what it could read.

    def _meeting_id(self, row: MeetingForm, existing: dict, number: int) -> int | None:
        raw = row.meeting_id.data or ""
        if not raw:
            return None
        if not raw.isdigit() or int(raw) not in existing:
            row.date.errors.append(f"Meeting {number} is not part of this training session")
            return None
        return int(raw)

    def _plan_row(self, row: MeetingForm, number: int, meeting_id: int | None,
                  mode: str | None) -> PlannedMeeting | None:
        which = f"meeting {number}"
        on_day = parse_date(row.date.data)
        if not row.date.data:
            row.date.errors.append(f"Enter the date of {which}")
        elif on_day is None:
            row.date.errors.append(f"Date of {which} must be a real date, like 17/3/2027")
        starts = parse_time(row.start.data)
        if not row.start.data:
            row.start.errors.append(f"Enter the start time of {which}")
        elif starts is None:
            row.start.errors.append(
                f"Start time of {which} must be a time, like 18:30 or 6:30pm"
            )
        ends = parse_time(row.end.data)
        if not row.end.data:
            row.end.errors.append(f"Enter the end time of {which}")
        elif ends is None:
            row.end.errors.append(f"End time of {which} must be a time, like 20:00 or 8pm")
        elif starts is not None and ends <= starts:
            row.end.errors.append(f"End time of {which} must be after its start time")
        url = row.online_url.data or None
        if mode in (Mode.ONLINE, Mode.HYBRID):
            if not url:
                row.online_url.errors.append(f"Enter the online joining link for {which}")
            elif not _is_web_address(url):
                row.online_url.errors.append(
                    f"Online joining link for {which} must be a web address starting "
                    "with https://"
                )
        else:
            url = None
        venue = row.venue.data or ""
        if mode in (Mode.IN_PERSON, Mode.HYBRID) and not venue:
            row.venue.errors.append(f"Choose the venue of {which}, or add a new venue")
        if mode == Mode.ONLINE:
            venue = ""
        if on_day is None or starts is None or ends is None or ends <= starts:
            return None
        return PlannedMeeting(meeting_id, number, datetime.combine(on_day, starts),
                              datetime.combine(on_day, ends), venue, url)

    def _check_meetings(self, planned: list[PlannedMeeting], existing: dict,
                        now: datetime) -> None:
        rows = [entry.form for entry in self.meetings]
        if not planned and not any(item.errors for row in rows for item in row):
            rows[0].date.errors.append(
                "Enter the date, start time and end time of at least one meeting"
            )
            return
        for item in planned:
            row = rows[item.number - 1]
            try:
                starts_at = london_to_utc(item.local_start)
                london_to_utc(item.local_end)
            except NoSuchTime as error:
                row.start.errors.append(
                    f"{_describe(error.args[0])} does not exist in London (the clocks go "
                    f"forward): choose another time for meeting {item.number}"
                )
                continue
            old = existing.get(item.meeting_id)
            moved = old is None or old.starts_at != starts_at
            if moved and starts_at <= now:
                row.date.errors.append(f"Meeting {item.number} must be in the future")
        ordered = sorted(planned, key=lambda item: item.local_start)
        for earlier, later in zip(ordered, ordered[1:], strict=False):
            if later.local_start < earlier.local_end:
                rows[later.number - 1].start.errors.append(
                    f"Meeting {later.number} starts before meeting {earlier.number} ends"
                )

    def _moment(self, date_field, time_field, what: str) -> datetime | None:
        """A naive London time from a date and time pair; both blank means none."""
        if not date_field.data and not time_field.data:
            return None
        on_day, at = parse_date(date_field.data), parse_time(time_field.data)
        if not date_field.data:
            date_field.errors.append(f"Enter the date {what}")
        elif on_day is None:
            date_field.errors.append(f"Date {what} must be a real date, like 17/3/2027")
        if not time_field.data:
            time_field.errors.append(f"Enter the time {what}")
        elif at is None:
            time_field.errors.append(f"Time {what} must be a time, like 09:00 or 9am")
        if on_day is None or at is None:
            return None
        local = datetime.combine(on_day, at)
        try:
            london_to_utc(local)
        except NoSuchTime:
            time_field.errors.append(f"{_describe(local)} does not exist in London: "
                                     "choose another time")
            return None
        return local

    def _plan_occurrences(self, planned: list[PlannedMeeting], opens: datetime | None,
                          closes: datetime | None) -> None:
        """Work out every session to write, in UTC; the London wall-clock time is kept for
        repeats, across changes between GMT and BST."""
        repeat = self.repeat.data if self.repeat is not None else "none"
        step = REPEATS.get(repeat, REPEATS["none"])[1]
        count = (self.occurrences.data or 1) if step is not None else 1
        for index in range(count):
            shift = (step or timedelta(0)) * index
            try:
                occurrence = Occurrence(
                    london_to_utc(opens + shift) if opens else None,
                    london_to_utc(closes + shift) if closes else None,
                )
                for item in planned:
                    occurrence.meetings.append((item, london_to_utc(item.local_start + shift),
                                                london_to_utc(item.local_end + shift)))
            except NoSuchTime as error:
                self.repeat.errors.append(
                    f"Repeating would put a time on {_describe(error.args[0])}, which does "
                    "not exist in London (the clocks go forward): change the time or the "
                    "number of sessions"
                )
                self.plan = []
                return
            self.plan.append(occurrence)


class CapacityForm(BaseForm):
    capacity = IntegerField(
        "Number of places",
        validators=[
            InputRequired(message="Enter the number of places"),
            NumberRange(min=0, max=10_000,
                        message="Number of places must be between 0 and 10,000"),
        ],
        invalid_value_message="Number of places must be a whole number, like 20",
        render_kw={"class": "govuk-input--width-4"},
    )


class CancelSessionForm(BaseForm):
    reason = TextAreaField(
        "Why is the session cancelled?",
        description="Everyone booked gets this in their email, with a calendar cancellation.",
        filters=[strip],
        validators=[
            DataRequired(message="Enter why the session is cancelled"),
            Length(max=1000, message="Reason must be 1,000 characters or fewer"),
        ],
    )


def _input_id(item) -> str:
    if item.type in {"RadioField", "MultiCheckboxField", "SelectMultipleField"}:
        return f"{item.id}-0"
    return item.id


def _is_web_address(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("https", "http") and bool(parts.netloc) and len(url) <= 500


def _has_attendance(meeting_id: int) -> bool:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Attendance)
        .where(Attendance.meeting_id == meeting_id)
    ) > 0


# -- choices ------------------------------------------------------------------------------------


def _local_authority_choices(blank: str):
    rows = db.session.execute(
        sa.select(LocalAuthority.id, LocalAuthority.name).order_by(LocalAuthority.name)
    ).all()
    return choices([("", blank)] + [(row.id, row.name) for row in rows])


def _region_choices():
    rows = db.session.execute(sa.select(Region.id, Region.name).order_by(Region.name)).all()
    return choices([("", "Work it out from the venue or local authority")]
                   + [(row.id, row.name) for row in rows])


def _venue_choices(course: Course, training_session: TrainingSession | None):
    """Venues the course's delivery partner has used (and the session's own), and "new"."""
    used = (
        sa.select(Meeting.venue_id)
        .join(TrainingSession, TrainingSession.id == Meeting.training_session_id)
        .join(Course, Course.id == TrainingSession.course_id)
        .where(Course.delivery_partner_id == course.delivery_partner_id,
               Meeting.venue_id.is_not(None))
    )
    own = [m.venue_id for m in training_session.meetings if m.venue_id] if training_session \
        else []
    venues = db.session.scalars(
        sa.select(Venue).where(sa.or_(Venue.id.in_(used), Venue.id.in_(own)))
        .order_by(Venue.name).limit(500)
    ).all()
    return choices(
        [("", "No venue (online)"), (NEW_VENUE, "A new venue (enter its details below)")]
        + [(venue.id, f"{venue.name}, {venue.postcode}") for venue in venues]
    )


def _trainer_choices(course: Course, training_session: TrainingSession | None):
    """Trainers of the course's delivery partner, you, and the session's current trainers."""
    people = {
        user.id: user
        for user in db.session.scalars(
            sa.select(User)
            .join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role == Role.TRAINER,
                   User.delivery_partner_id == course.delivery_partner_id,
                   User.active.is_(True))
        )
    }
    people[current_user.id] = current_user._get_current_object()
    for trainer in training_session.trainers if training_session else []:
        people[trainer.id] = trainer
    ordered = sorted(people.values(), key=lambda user: (user.name.lower(), user.id))
    return choices((user.id, f"{user.name} ({user.email})") for user in ordered)


def _partner_choices():
    statement = sa.select(DeliveryPartner.id, DeliveryPartner.name).order_by(
        DeliveryPartner.name
    )
    if not is_admin(current_user):
        statement = statement.where(DeliveryPartner.id == current_user.delivery_partner_id)
    rows = db.session.execute(statement).all()
    blank = [("", "Select a delivery partner")] if len(rows) != 1 else []
    return choices(blank + [(row.id, row.name) for row in rows])


def _prepare_session_form(form: SessionForm, course: Course,
                          training_session: TrainingSession | None) -> None:
    form.local_authority.choices = _local_authority_choices("Open to everyone")
    form.venue_local_authority.choices = _local_authority_choices("Select a local authority")
    form.region.choices = _region_choices()
    form.trainers.choices = _trainer_choices(course, training_session)
    venues = _venue_choices(course, training_session)
    for entry in form.meetings:
        entry.form.venue.choices = venues


# -- the list of sessions -----------------------------------------------------------------------


@bp.route("/")
@roles_required(*MANAGERS)
def index():
    """The training sessions you manage: upcoming soonest first, or past latest first."""
    show = request.args.get("show", "upcoming")
    if show not in ("upcoming", "past"):
        abort(404)
    now = utcnow()
    statement = managed_sessions(current_user)
    if show == "upcoming":
        statement = statement.where(
            sa.or_(TrainingSession.ends_at >= now, TrainingSession.ends_at.is_(None))
        ).order_by(TrainingSession.starts_at, TrainingSession.id)
    else:
        statement = statement.where(TrainingSession.ends_at < now).order_by(
            TrainingSession.starts_at.desc(), TrainingSession.id.desc()
        )
    pagination = db.paginate(statement, page=_page_number(),
                             per_page=current_app.config["PAGE_SIZE"], error_out=False)
    booked = booking.confirmed_counts([item.id for item in pagination.items])
    return render_template("manage/index.html", pagination=pagination, booked=booked,
                           show=show)


# -- courses ------------------------------------------------------------------------------------


@bp.route("/courses")
@roles_required(*MANAGERS)
def courses():
    """The courses you manage, with links to change them or add a training session."""
    statement = sa.select(Course).options(selectinload(Course.delivery_partner)).order_by(
        Course.title, Course.id
    )
    if not is_admin(current_user):
        statement = statement.where(
            Course.delivery_partner_id == current_user.delivery_partner_id
        )
    pagination = db.paginate(statement, page=_page_number(),
                             per_page=current_app.config["PAGE_SIZE"], error_out=False)
    return render_template("manage/courses.html", pagination=pagination)


@bp.route("/courses/new", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def new_course():
    """Add a course for your delivery partner (administrators: for any partner)."""
    if not is_admin(current_user) and current_user.delivery_partner_id is None:
        return render_template("manage/no_partner.html")
    form = CourseForm(data={"delivery_partner": str(current_user.delivery_partner_id or "")}
                      if request.method == "GET" else None)
    form.delivery_partner.choices = _partner_choices()
    if form.validate_on_submit():
        course = Course()
        _apply_course(form, course)
        db.session.add(course)
        db.session.commit()
        flash(f"{course.title} has been added. Now add a training session.", "success")
        return redirect(url_for("manage.new_session", course_id=course.id))
    return render_template("manage/course_form.html", form=form, course=None)


@bp.route("/courses/<int:course_id>/edit", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def edit_course(course_id: int):
    """Change a course's title, summary, topics, audience, level and accreditation."""
    course = _course_or_403(course_id)
    form = CourseForm(data=_course_data(course) if request.method == "GET" else None)
    form.delivery_partner.choices = _partner_choices()
    if form.validate_on_submit():
        _apply_course(form, course)
        db.session.commit()
        flash(f"{course.title} has been saved.", "success")
        return redirect(url_for("manage.courses"))
    return render_template("manage/course_form.html", form=form, course=course)


def _course_data(course: Course) -> dict:
    return {
        "title": course.title, "summary": course.summary, "topics": course.topics,
        "audiences": course.audiences, "level": course.level, "accredited": course.accredited,
        "credits": course.credits, "delivery_partner": str(course.delivery_partner_id),
    }


def _apply_course(form: CourseForm, course: Course) -> None:
    course.title = form.title.data
    course.summary = form.summary.data
    course.topics = form.topics.data
    course.audiences = form.audiences.data
    course.level = form.level.data
    course.accredited = bool(form.accredited.data)
    course.credits = form.credits.data if course.accredited else None
    course.delivery_partner_id = int(form.delivery_partner.data)


# -- training sessions --------------------------------------------------------------------------


@bp.route("/courses/<int:course_id>/sessions/new", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def new_session(course_id: int):
    """Add a training session of a course, with its meetings, optionally repeated."""
    course = _course_or_403(course_id)
    form = SessionForm(data={"trainers": [current_user.id], "mode": Mode.IN_PERSON}
                       if request.method == "GET" else None)
    _prepare_session_form(form, course, None)
    if form.validate_on_submit():
        created = _create_sessions(course, form)
        if len(created) == 1:
            flash("The training session has been added.", "success")
            return redirect(url_for("manage.session", session_id=created[0]))
        flash(f"{len(created)} training sessions have been added.", "success")
        return redirect(url_for("manage.index"))
    return render_template("manage/session_form.html", form=form, course=course,
                           training_session=None)


def _create_sessions(course: Course, form: SessionForm) -> list[int]:
    """Write every planned session in one transaction; return their ids."""
    created = []
    with write_transaction():
        venue = _new_venue(form) if form.uses_new_venue else None
        trainers = _chosen_trainers(form)
        for occurrence in form.plan:
            training_session = TrainingSession(
                course_id=course.id,
                capacity=form.capacity.data,
                mode=form.mode.data,
                booking_opens_at=occurrence.booking_opens_at,
                booking_closes_at=occurrence.booking_closes_at,
                local_authority_id=_optional_id(form.local_authority.data),
                region_id=_optional_id(form.region.data),
                notes=form.notes.data or "",
                trainers=list(trainers),
            )
            for item, starts_at, ends_at in occurrence.meetings:
                training_session.meetings.append(
                    Meeting(starts_at=starts_at, ends_at=ends_at, online_url=item.online_url,
                            **_venue_of(item, venue))
                )
            training_session.refresh_times(booking.twilight_from())
            db.session.add(training_session)
            created.append(training_session)
        db.session.flush()
        ids = [training_session.id for training_session in created]
    return ids


def _new_venue(form: SessionForm) -> Venue:
    venue = Venue(
        name=form.venue_name.data,
        address=form.venue_address.data or "",
        postcode=form.venue_postcode.data,
        local_authority_id=_optional_id(form.venue_local_authority.data),
        accessibility_notes=form.venue_accessibility.data or "",
    )
    db.session.add(venue)
    db.session.flush()
    return venue


def _venue_of(item: PlannedMeeting, new_venue: Venue | None) -> dict:
    if item.venue == NEW_VENUE:
        return {"venue": new_venue}
    return {"venue_id": _optional_id(item.venue)}


def _chosen_trainers(form: SessionForm) -> list[User]:
    return list(db.session.scalars(sa.select(User).where(User.id.in_(form.trainers.data))))


def _optional_id(value: str | None) -> int | None:
    return int(value) if value else None


@bp.route("/sessions/<int:session_id>")
@roles_required(*MANAGERS)
def session(session_id: int):
    """A training session you manage: details, meetings, places, registers and actions."""
    training_session = _session_or_403(session_id)
    return render_template(
        "manage/session.html",
        training_session=training_session,
        booked=booking.confirmed_count(training_session.id),
        held=booking.places_held(training_session),
        may_edit_course=may_manage_course(current_user, training_session.course),
        panels=page_panels("manage_session", training_session, current_user),
    )


@bp.route("/sessions/<int:session_id>/edit", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def edit_session(session_id: int):
    """Change a session's details and meetings; people booked are sent an updated invite."""
    training_session = _session_or_403(session_id)
    if training_session.is_cancelled:
        flash("This training session is cancelled, so it cannot be changed.", "info")
        return redirect(url_for("manage.session", session_id=session_id))
    form = SessionForm(data=_session_data(training_session) if request.method == "GET"
                       else None, existing=training_session)
    _prepare_session_form(form, training_session.course, training_session)
    if form.validate_on_submit():
        try:
            told = _update_session(training_session.id, form)
        except EngineError as error:
            form.form_errors.append(str(error))
            return render_template("manage/session_form.html", form=form,
                                   course=training_session.course,
                                   training_session=training_session)
        if told is not None:
            people = "person" if told == 1 else "people"
            flash(f"The training session has been saved. {told} {people} booked "
                  f"{'was' if told == 1 else 'were'} sent an updated invite.", "success")
        else:
            flash("The training session has been saved.", "success")
        if not may_manage_session(current_user, db.session.get(TrainingSession, session_id)):
            return redirect(url_for("manage.index"))  # they took themselves off it
        return redirect(url_for("manage.session", session_id=session_id))
    return render_template("manage/session_form.html", form=form,
                           course=training_session.course, training_session=training_session)


def _session_data(training_session: TrainingSession) -> dict:
    opens, closes = (_wall_clock(training_session.booking_opens_at),
                     _wall_clock(training_session.booking_closes_at))
    meetings = []
    for meeting in training_session.meetings:
        starts, ends = _wall_clock(meeting.starts_at), _wall_clock(meeting.ends_at)
        meetings.append({
            "meeting_id": str(meeting.id),
            "date": f"{starts.day}/{starts.month}/{starts.year}",
            "start": f"{starts:%H:%M}",
            "end": f"{ends:%H:%M}",
            "venue": str(meeting.venue_id or ""),
            "online_url": meeting.online_url or "",
        })
    rows = min(max(MEETING_ROWS, len(meetings) + 1), MAX_MEETINGS)
    meetings += [{} for _ in range(rows - len(meetings))]
    return {
        "mode": training_session.mode,
        "opens_date": f"{opens.day}/{opens.month}/{opens.year}" if opens else "",
        "opens_time": f"{opens:%H:%M}" if opens else "",
        "closes_date": f"{closes.day}/{closes.month}/{closes.year}" if closes else "",
        "closes_time": f"{closes:%H:%M}" if closes else "",
        "local_authority": str(training_session.local_authority_id or ""),
        "region": str(training_session.region_id or ""),
        "trainers": [trainer.id for trainer in training_session.trainers]
        or [current_user.id],
        "notes": training_session.notes,
        "meetings": meetings,
    }


def _signature(meeting: Meeting) -> tuple:
    return (meeting.starts_at, meeting.ends_at, meeting.venue_id, meeting.online_url)


def _update_session(session_id: int, form: SessionForm) -> int | None:
    """Save the form in one transaction under the session's lock. When meetings changed
    (times, venues or links) everyone booked is sent an updated invite in that same
    transaction; returns how many, or ``None`` when no meeting changed."""
    [occurrence] = form.plan
    with write_transaction():
        training_session = lock_row(TrainingSession, session_id)
        before = {meeting.id: _signature(meeting) for meeting in training_session.meetings}
        venue = _new_venue(form) if form.uses_new_venue else None
        training_session.mode = form.mode.data
        training_session.booking_opens_at = occurrence.booking_opens_at
        training_session.booking_closes_at = occurrence.booking_closes_at
        training_session.local_authority_id = _optional_id(form.local_authority.data)
        training_session.region_id = _optional_id(form.region.data)
        training_session.notes = form.notes.data or ""
        training_session.trainers = _chosen_trainers(form)
        by_id = {meeting.id: meeting for meeting in training_session.meetings}
        known = set(form.removed) | {item.meeting_id for item, _, _ in occurrence.meetings}
        if not known - {None} <= set(by_id):
            raise EngineError("Someone else changed the meetings of this session while you "
                              "were editing it. Reload the page and try again.")
        for meeting_id in form.removed:
            training_session.meetings.remove(by_id[meeting_id])
        for item, starts_at, ends_at in occurrence.meetings:
            meeting = by_id.get(item.meeting_id) if item.meeting_id else None
            if meeting is None:
                meeting = Meeting()
                training_session.meetings.append(meeting)
            meeting.starts_at, meeting.ends_at = starts_at, ends_at
            meeting.online_url = item.online_url
            if item.venue == NEW_VENUE:
                meeting.venue = venue
            else:
                venue_id = _optional_id(item.venue)
                meeting.venue = db.session.get(Venue, venue_id) if venue_id else None
        db.session.flush()
        training_session.refresh_times(booking.twilight_from())
        after = {meeting.id: _signature(meeting) for meeting in training_session.meetings}
        moved = [meeting_id for meeting_id, signature in after.items()
                 if meeting_id in before and before[meeting_id][0] != signature[0]]
        if moved:  # a new time deserves a new reminder
            db.session.execute(sa.delete(Reminder).where(Reminder.meeting_id.in_(moved)))
        if before == after:
            return None
        return booking.notify_session_changed(training_session)


@bp.route("/sessions/<int:session_id>/capacity", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def capacity(session_id: int):
    """Change the number of places; never below the places already booked or held."""
    training_session = _session_or_403(session_id)
    if training_session.is_cancelled:
        flash("This training session is cancelled, so its places cannot be changed.", "info")
        return redirect(url_for("manage.session", session_id=session_id))
    form = CapacityForm(data={"capacity": training_session.capacity}
                        if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            booking.change_capacity(session_id, form.capacity.data)
        except EngineError as error:
            form.capacity.errors.append(str(error))
        else:
            flash(f"The training session now has {form.capacity.data} places.", "success")
            return redirect(url_for("manage.session", session_id=session_id))
    return render_template(
        "manage/capacity.html", form=form, training_session=training_session,
        booked=booking.confirmed_count(session_id),
        held=booking.places_held(training_session),
    )


@bp.route("/sessions/<int:session_id>/cancel", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def cancel_session(session_id: int):
    """Cancel a training session: everyone booked is told, with a calendar cancellation."""
    training_session = _session_or_403(session_id)
    if training_session.is_cancelled:
        flash("This training session is already cancelled.", "info")
        return redirect(url_for("manage.session", session_id=session_id))
    form = CancelSessionForm()
    if form.validate_on_submit():
        try:
            told = booking.cancel_session(session_id, form.reason.data)
        except EngineError as error:
            form.reason.errors.append(str(error))
        else:
            return render_template("manage/cancelled.html",
                                   training_session=db.session.get(TrainingSession, session_id),
                                   told=told)
    return render_template("manage/cancel.html", form=form, training_session=training_session,
                           booked=booking.confirmed_count(session_id))


# -- registers ----------------------------------------------------------------------------------

ATTENDED, ABSENT = "attended", "absent"


def _confirmed_bookings(session_id: int) -> list[Booking]:
    return list(db.session.scalars(
        sa.select(Booking)
        .join(User, User.id == Booking.user_id)
        .where(Booking.training_session_id == session_id,
               Booking.status == BookingStatus.CONFIRMED)
        .options(selectinload(Booking.user).selectinload(User.setting),
                 selectinload(Booking.user).selectinload(User.local_authority))
        .order_by(sa.func.lower(User.name), User.id)
    ))


@bp.route("/sessions/<int:session_id>/register/<int:meeting_id>", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def register(session_id: int, meeting_id: int):
    """Take the register of one meeting: attended or absent for each person booked."""
    training_session = _session_or_403(session_id)
    meeting = db.session.get(Meeting, meeting_id)
    if meeting is None or meeting.training_session_id != training_session.id:
        abort(404)
    bookings = _confirmed_bookings(session_id)
    marks: dict[int, str] = {}
    for item in bookings:
        attendance = item.attendance_for(meeting)
        if attendance is not None:
            marks[item.id] = ATTENDED if attendance.attended else ABSENT
    errors: list[tuple[str, str]] = []
    if request.method == "POST":  # the CSRF token is checked before any view runs
        chosen: dict[int, bool] = {}
        for item in bookings:
            value = request.form.get(f"attendance-{item.id}", "")
            if value in (ATTENDED, ABSENT):
                chosen[item.id] = value == ATTENDED
                marks[item.id] = value
            elif value:
                errors.append((f"attendance-{item.id}",
                               f"Select attended or absent for {item.user.name}"))
        if not chosen and not errors:
            errors.append((f"attendance-{bookings[0].id}" if bookings else "",
                           "Mark at least one person as attended or absent"))
        if not errors:
            try:
                booking.record_attendance(meeting.id, chosen, current_user)
            except EngineError as error:
                errors.append(("", f"{error} Reload the page and try again."))
            else:
                attended = sum(chosen.values())
                flash(f"Register saved: {attended} attended, {len(chosen) - attended} "
                      "absent.", "success")
                return redirect(url_for("manage.register", session_id=session_id,
                                        meeting_id=meeting_id))
    counts = {ATTENDED: sum(1 for mark in marks.values() if mark == ATTENDED),
              ABSENT: sum(1 for mark in marks.values() if mark == ABSENT)}
    return render_template(
        "manage/register.html", training_session=training_session, meeting=meeting,
        number=training_session.meetings.index(meeting) + 1, bookings=bookings, marks=marks,
        counts=counts, errors=errors, error_messages=dict(reversed(errors)),
    )


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value) -> str:
    """A cell a spreadsheet will not run as a formula: text starting ``= + - @`` (or a tab or
    carriage return) gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


@bp.route("/sessions/<int:session_id>/register.csv")
@roles_required(*MANAGERS)
def register_csv(session_id: int):
    """The register as CSV: one row per person booked, a column per meeting."""
    training_session = _session_or_403(session_id)
    meetings = training_session.meetings
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    header = ["Name", "Email", "Setting", "Local authority", "Consent to share with LA",
              "Access needs"]
    for number, meeting in enumerate(meetings, start=1):
        local = _wall_clock(meeting.starts_at)
        header.append(f"Meeting {number}: {local:%Y-%m-%d %H:%M} (London)")
    writer.writerow(header)
    for item in _confirmed_bookings(session_id):
        person = item.user
        row = [person.name, person.email, person.setting.name if person.setting else "",
               person.area.name if person.area else "", "Yes" if item.share_with_la else "No",
               item.access_needs]
        for meeting in meetings:
            attendance = item.attendance_for(meeting)
            row.append("" if attendance is None
                       else ATTENDED if attendance.attended else ABSENT)
        writer.writerow([spreadsheet_safe(cell) for cell in row])
    filename = f"register-session-{training_session.id}.csv"
    return Response(
        "\ufeff" + buffer.getvalue(),  # a byte order mark, so spreadsheets read UTF-8
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"',
                 "Cache-Control": "no-store"},
    )
