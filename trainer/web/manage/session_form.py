"""The training session form: its meetings, booking window, new venue and repeats.

Times are typed in London time. The form checks everything before anything is written (every
meeting a real, future time that exists in London and does not overlap another; a venue or a
joining link as the mode needs) and works out, in UTC, every session to write: ``form.plan``.
Repeats keep the London wall-clock time across changes between GMT and BST.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from wtforms import (
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from trainer.booking import Attendance
from trainer.catalogue import MODE_LABELS, Mode, TrainingSession
from trainer.db import db, utcnow
from trainer.forms import (
    BaseForm,
    UKPostcode,
    choices,
    first_input_id,
    normalise_postcode,
    strip,
)
from trainer.times import NoSuchTime, clock, day, london_to_utc
from trainer.web.manage.forms import MultiCheckboxField, parse_date, parse_time

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
                pairs.extend((first_input_id(item), message) for message in item.errors)
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


def _is_web_address(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("https", "http") and bool(parts.netloc) and len(url) <= 500


def _has_attendance(meeting_id: int) -> bool:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Attendance)
        .where(Attendance.meeting_id == meeting_id)
    ) > 0


def _describe(local: datetime) -> str:
    return f"{day(local.date())} at {clock(local)}"
