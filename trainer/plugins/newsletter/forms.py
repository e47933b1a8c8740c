"""The newsletter's forms: signing up, preferences, and an administrator's message."""

from __future__ import annotations

from wtforms import SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from trainer.catalogue import TOPIC_LABELS
from trainer.forms import BaseForm, choices, email_field, strip
from trainer.people import JOB_ROLES
from trainer.plugins.newsletter import service

SUBJECT_MAX = 150
BODY_MAX = 20_000


class MultiCheckboxField(SelectMultipleField):
    """Several choices, shown as GOV.UK checkboxes by the ``field`` macro."""


def _regions(label: str, hint: str) -> MultiCheckboxField:
    return MultiCheckboxField(label, description=hint, coerce=int, validators=[Optional()],
                              invalid_choice_message="Select regions from the list",
                              invalid_value_message="Select regions from the list")


def _topics(label: str, hint: str) -> MultiCheckboxField:
    return MultiCheckboxField(label, description=hint, choices=choices(TOPIC_LABELS.items()),
                              validators=[Optional()],
                              invalid_choice_message="Select topics from the list")


def _local_authority(label: str) -> SelectField:
    return SelectField(label, validators=[Optional()], validate_choice=True,
                       invalid_choice_message="Select a local authority from the list")


def _job_role(label: str) -> SelectField:
    return SelectField(label, choices=choices([("", "Not given")] + JOB_ROLES),
                       validators=[Optional()], validate_choice=True,
                       invalid_choice_message="Select a role from the list")


REGION_HINT = "Select all that apply. Select none to hear about training everywhere in England."
TOPIC_HINT = "Select all that apply. Select none to hear about every topic."


class PreferencesForm(BaseForm):
    regions = _regions("Which regions do you want to hear about?", REGION_HINT)
    topics = _topics("Which topics are you interested in?", TOPIC_HINT)
    local_authority = _local_authority("Local authority you work or live in (optional)")
    job_role = _job_role("Your role (optional)")

    def fill_choices(self) -> PreferencesForm:
        self.regions.choices = choices(service.region_choices())
        self.local_authority.choices = choices(
            [("", "Not given")] + service.local_authority_choices())
        return self

    def preferences(self) -> service.Preferences:
        return service.Preferences(
            region_ids=[int(value) for value in self.regions.data or []],
            topics=list(self.topics.data or []),
            local_authority_id=int(self.local_authority.data)
            if self.local_authority.data else None,
            job_role=self.job_role.data or None,
        )


class SignUpForm(PreferencesForm):
    email = email_field()

    # The address first, then the preferences (also in the error summary).
    field_order = ("email", "regions", "topics", "local_authority", "job_role")

    def __iter__(self):
        named = {field.short_name: field for field in super().__iter__()}
        ordered = [named.pop(name) for name in self.field_order if name in named]
        return iter(ordered + list(named.values()))


class ConfirmForm(BaseForm):
    """A button and its CSRF token."""


class CampaignForm(BaseForm):
    subject = StringField(
        "Subject",
        filters=[strip],
        validators=[DataRequired(message="Enter a subject"),
                    Length(max=SUBJECT_MAX,
                           message=f"Subject must be {SUBJECT_MAX} characters or fewer")],
    )
    body = TextAreaField(
        "Message",
        description="Plain text. Leave a blank line between paragraphs; write links out in "
                    "full. Every email ends with links to change preferences and to "
                    "unsubscribe.",
        filters=[strip],
        validators=[DataRequired(message="Enter the message"),
                    Length(max=BODY_MAX,
                           message=f"Message must be {BODY_MAX:,} characters or fewer")],
        render_kw={"rows": 14},
    )
    regions = _regions("Regions", "Subscribers who chose one of these regions, or chose no "
                       "region (they hear about every region). Select none for every region.")
    local_authority = _local_authority("Local authority")
    job_roles = MultiCheckboxField(
        "Job roles", description="Subscribers with one of these roles. Select none for every "
        "role, including people who did not give one.",
        choices=choices(JOB_ROLES), validators=[Optional()],
        invalid_choice_message="Select roles from the list")
    topics = _topics("Topics", "Subscribers who chose one of these topics, or chose no topic. "
                     "Select none for every topic.")

    def fill_choices(self) -> CampaignForm:
        self.regions.choices = choices(service.region_choices())
        self.local_authority.choices = choices(
            [("", "Every local authority")] + service.local_authority_choices())
        return self

    def targets(self) -> dict[str, list]:
        return {
            "regions": [int(value) for value in self.regions.data or []],
            "local_authorities": [int(self.local_authority.data)]
            if self.local_authority.data else [],
            "job_roles": list(self.job_roles.data or []),
            "topics": list(self.topics.data or []),
        }

    def load(self, targets: dict[str, list]) -> None:
        self.regions.data = [int(value) for value in targets.get("regions") or []]
        authorities = targets.get("local_authorities") or []
        self.local_authority.data = str(authorities[0]) if authorities else ""
        self.job_roles.data = list(targets.get("job_roles") or [])
        self.topics.data = list(targets.get("topics") or [])
