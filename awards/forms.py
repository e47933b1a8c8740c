"""The awards forms, for the setting's pages, the panel's and the administrators', and the two
helpers every awards view uses to show a refusal and read a GOV.UK date input."""

from __future__ import annotations

from datetime import date

from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from awards.errors import Refused
from awards.models import MemberType
from awards.moderation import ACTION_POINTS_MAX
from awards.schemes import Scheme
from trainer.forms import BaseForm, choices, email_field, parse_day, strip

CONFLICT_CHOICES = [("no", "No, I have no conflict of interest"),
                    ("yes", "Yes, I have a conflict")]


def show_refusal(form: BaseForm, refusal: Refused, fields: dict[str, str] | None = None,
                 field: str | None = None) -> None:
    """Put the refusal on the field it names (through ``fields``, an operation's field name
    to the form's, or ``field`` itself), so the error summary links to it; otherwise on the
    form as a whole."""
    name = field or (fields or {}).get(refusal.field or "", refusal.field or "")
    if name and name in form:
        form[name].errors = [*form[name].errors, str(refusal)]
    else:
        form.form_errors.append(str(refusal))


def date_from_parts(form: BaseForm, prefix: str, name: str) -> date | None:
    """The date typed in a GOV.UK date input (``<prefix>_day``, ``_month``, ``_year``);
    ``None`` when all three are empty. Raises :class:`Refused` naming the day field when it
    is incomplete or not a real day."""
    parts = [getattr(form, f"{prefix}_{part}").data or "" for part in ("day", "month", "year")]
    if not any(parts):
        return None
    try:
        return parse_day("/".join(parts))
    except ValueError:
        raise Refused(f"{name} must be a real date, like 27 3 2027",
                      field=f"{prefix}_day") from None


# -- the setting's pages -----------------------------------------------------------------------


class SelfAssessmentForm(BaseForm):
    score = RadioField("How well does your setting meet this criterion?",
                       validators=[Optional()], validate_choice=False)
    narrative = TextAreaField(
        "Your narrative", filters=[strip],
        description="What you do, how you know it works, and what you plan next.")


class TextEvidenceForm(BaseForm):
    evidence_text = TextAreaField("Evidence", filters=[strip])
    text_caption = StringField("Caption (optional)", filters=[strip],
                               description="A few words saying what this evidence shows.")


class FileEvidenceForm(BaseForm):
    file_caption = StringField("Caption", filters=[strip],
                               description="A few words saying what the file shows.")


class StartForm(BaseForm):
    district = StringField(
        "District or locality (optional)", filters=[strip],
        description="Shown on the register of award holders, for example “Chapeltown”.")


class WithdrawForm(BaseForm):
    reason = TextAreaField("Why are you withdrawing? (optional)", filters=[strip])


FIELDS = {  # an operation's field name -> the form field it belongs to
    "score": "score", "narrative": "narrative", "text": "evidence_text",
    "caption": "text_caption", "file": "file", "reason": "reason",
}


# -- the panel's pages ---------------------------------------------------------------------------


class DeclarationForm(BaseForm):
    conflict = RadioField(
        "Do you have a conflict of interest with this setting?", choices=choices(CONFLICT_CHOICES),
        description="For example, you work there, or your child or a relative goes there.",
        validators=[InputRequired(message="Say whether you have a conflict of interest")])
    details = TextAreaField("Tell us about the conflict", filters=[strip])


def assessment_form(scheme: Scheme) -> BaseForm:
    """A score (on the scheme's scale) and a comment per criterion, all optional until the
    assessment is submitted."""

    class AssessmentForm(BaseForm):
        pass

    for criterion in scheme.criteria:
        setattr(AssessmentForm, f"score_{criterion.key}", RadioField(
            f"Your score for “{criterion.title}”",
            choices=choices((level.value, level.label) for level in scheme.scale),
            validators=[Optional()]))
        setattr(AssessmentForm, f"comment_{criterion.key}", TextAreaField(
            f"Your comment on “{criterion.title}”", filters=[strip]))
    return AssessmentForm()


def decision_form(scheme: Scheme) -> BaseForm:
    """The chair's decision: the outcome, the reasons and up to five action points, each
    with an optional due date."""

    class DecisionForm(BaseForm):
        outcome = RadioField("What has the panel agreed?",
                             choices=choices((o.key, o.label) for o in scheme.outcomes),
                             validators=[InputRequired(message="Choose the outcome")])
        reasons = TextAreaField(
            "Reasons for the decision", filters=[strip],
            description="The setting sees these as the panel's feedback. Do not name "
            "assessors.")

    for number in range(1, ACTION_POINTS_MAX + 1):
        setattr(DecisionForm, f"point_{number}_text",
                TextAreaField(f"Action point {number}", filters=[strip]))
        for part in ("day", "month", "year"):
            setattr(DecisionForm, f"point_{number}_{part}",
                    StringField(part.capitalize(), filters=[strip]))
    return DecisionForm()


# -- administrators' pages ---------------------------------------------------------------------


class AssignForm(BaseForm):
    panel = SelectField("Panel", validators=[DataRequired(message="Choose a panel")])


class ExtendForm(BaseForm):
    deadline_day = StringField("Day", filters=[strip])
    deadline_month = StringField("Month", filters=[strip])
    deadline_year = StringField("Year", filters=[strip])


class PanelForm(BaseForm):
    name = StringField("Panel name", filters=[strip],
                       validators=[DataRequired(message="Enter a name for the panel")])


class MemberForm(BaseForm):
    email = email_field("Email address of their account",
                        description="They need an account already.")
    member_type = RadioField(
        "Are they a professional or a parent or carer?",
        choices=choices((t.value, t.label) for t in MemberType),
        validators=[InputRequired(message="Choose whether they are a professional or a "
                                  "parent or carer")])


class WithdrawAwardForm(BaseForm):
    reason = TextAreaField(
        "Why is the award being withdrawn?", filters=[strip],
        description="The setting's applicants are sent this by email.",
        validators=[DataRequired(message="Enter the reason for withdrawing the award"),
                    Length(max=2000, message="The reason must be 2,000 characters or fewer")])
