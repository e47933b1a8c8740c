"""Shared WTForms pieces that core and plugin forms reuse.

Forms are rendered with the macros in ``templates/macros/forms.html``, which turn each field
into the matching GOV.UK Frontend component (label, hint, error message) and every form's
errors into an error summary naming the fields.
"""

from __future__ import annotations

import re
from datetime import date

from flask_wtf import FlaskForm
from wtforms import Field, PasswordField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, ValidationError

POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$")
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100
ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
UK_DATE = re.compile(r"(\d{1,2})[/.\- ](\d{1,2})[/.\- ](\d{4})")
# Control characters other than tab and line breaks: nobody types them, PostgreSQL cannot
# store a NUL in text, and they can hide what an answer says.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class BaseForm(FlaskForm):
    """A CSRF-protected form. Subclass this for every form.

    Every form refuses a value holding a control character (a NUL, an escape; tab and line
    breaks are fine) with an error on that field, so nothing of the post is saved."""

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in _leaves(self):
            values = [value for value in (field.raw_data or []) if isinstance(value, str)]
            if any(CONTROL.search(value) for value in values):
                label = field.label.text if field.label else field.name
                field.errors = [*field.errors, f"{label} must not contain hidden control "
                                "characters: delete them and try again"]
                valid = False
        return valid

    def error_list(self) -> list[tuple[str, str]]:
        """(field id, message) pairs for the error summary, in field order."""
        pairs = []
        for field in self:
            for message in field.errors:
                pairs.append((first_input_id(field), message))
        if getattr(self, "form_errors", None):
            pairs.extend(("", message) for message in self.form_errors)
        return pairs


def _leaves(form):
    """Every field of ``form``, those in lists of sub-forms included."""
    for field in form:
        if hasattr(field, "entries"):
            for entry in field.entries:
                yield from _leaves(entry.form) if hasattr(entry, "form") else [entry]
        elif hasattr(field, "form") and hasattr(field.form, "_fields"):
            yield from _leaves(field.form)
        else:
            yield field


def first_input_id(field: Field) -> str:
    """The id an error summary links to: radios and checkboxes put their first option's id
    on the first input."""
    if field.type in {"RadioField", "MultiCheckboxField", "SelectMultipleField"}:
        return f"{field.id}-0"
    return field.id


def choices(pairs) -> list[SelectChoice]:
    """WTForms choices from (value, label) pairs."""
    return [SelectChoice(str(value), label) for value, label in pairs]


def strip(value):
    return value.strip() if isinstance(value, str) else value


def email_field(label: str = "Email address", **kwargs) -> StringField:
    """An email field: required, at most 254 characters, a plausible address."""
    return StringField(
        label,
        filters=[strip],
        validators=[
            DataRequired(message="Enter your email address"),
            Length(max=254, message="Email address must be 254 characters or fewer"),
            Email(
                message="Enter an email address in the correct format, like name@example.com",
                check_deliverability=False,
            ),
        ],
        render_kw={"autocomplete": "email", "spellcheck": "false"},
        **kwargs,
    )


class StrongPassword:
    """At least ``PASSWORD_MIN_LENGTH`` characters, at most 128, not a common password."""

    COMMON = {
        "password", "password1", "password12", "password123", "qwertyuiop", "1234567890",
        "123456789", "12345678", "letmein123", "iloveyou12", "welcome123", "passw0rd12",
        "abcdefghij", "0987654321", "qwerty1234", "1111111111", "trustno1234",
    }

    def __call__(self, form, field):
        from flask import current_app

        minimum = current_app.config["PASSWORD_MIN_LENGTH"]
        value = field.data or ""
        if len(value) < minimum:
            raise ValidationError(f"Password must be {minimum} characters or more")
        if len(value) > 128:
            raise ValidationError("Password must be 128 characters or fewer")
        if value.lower() in self.COMMON or len(set(value)) < 4:
            raise ValidationError("Choose a password that is harder to guess")


def new_password_field(label: str = "Create a password") -> PasswordField:
    return PasswordField(
        label,
        validators=[DataRequired(message="Enter a password"), StrongPassword()],
        description="At least 10 characters. A few unrelated words make a strong password.",
        render_kw={"autocomplete": "new-password"},
    )


def normalise_postcode(value):
    if not isinstance(value, str):
        return value
    compact = re.sub(r"\s+", "", value).upper()
    return f"{compact[:-3]} {compact[-3:]}" if len(compact) > 3 else compact


class UKPostcode:
    def __call__(self, form, field):
        if field.data and not POSTCODE.match(field.data):
            raise ValidationError("Enter a real postcode, like SW1A 1AA")


# -- dates and numbers typed or put in query strings -------------------------------------------


def parse_day(text: str) -> date:
    """A day written ``2026-03-27`` or ``27/3/2026`` (also with ``.``, ``-`` or a space).

    Raises ``ValueError`` for anything else, for days that do not exist and for years outside
    2000 to 2100."""
    text = text.strip()
    if match := ISO_DATE.fullmatch(text):
        year, month, day = (int(part) for part in match.groups())
    elif match := UK_DATE.fullmatch(text):
        day, month, year = (int(part) for part in match.groups())
    else:
        raise ValueError(text)
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        raise ValueError(text)
    return date(year, month, day)


class RealDate:
    def __init__(self, name: str):
        self.name = name

    def __call__(self, form, field):
        if not field.data:
            return
        try:
            parse_day(field.data)
        except ValueError as error:
            raise ValidationError(
                f"{self.name} must be a real date, like 27/3/2026 or 2026-03-27"
            ) from error


def is_number(text: str) -> bool:
    """Plain ASCII digits only (``str.isdigit`` also accepts "²", which ``int`` refuses)."""
    return text.isascii() and text.isdigit() and len(text) <= 12
