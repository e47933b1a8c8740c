"""The smaller forms of the trainers' pages (a course, the number of places, cancelling a
session) and the parsing of dates and times as people type them.

Dates and times are typed as London wall-clock times; :mod:`trainer.times` turns them into
UTC. The training session form, which is larger, is in :mod:`.session_form`.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time

from wtforms import (
    BooleanField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from trainer.catalogue import AUDIENCE_LABELS, LEVEL_LABELS, TOPIC_LABELS
from trainer.forms import BaseForm, choices, strip

# -- parsing typed dates and times --------------------------------------------------------------

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
