"""The analysis page's filters, read from query arguments, limited to what the viewer may see."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from wtforms import SelectField, StringField

from trainer.access import is_admin, managed_sessions
from trainer.catalogue import Course, TrainingSession
from trainer.db import db
from trainer.forms import BaseForm, RealDate, choices, is_number, parse_day, strip
from trainer.people import DeliveryPartner, LocalAuthority, Region
from trainer.plugins.confidence import report


def _number(value: str) -> int | None:
    return int(value) if value and is_number(value) and int(value) < 2**31 else None


def _day(text: str | None) -> date | None:
    return parse_day(text) if text else None


class AnalysisFilters(BaseForm):
    """Scope of the analysis. An LA officer's LA is fixed; a trainer sees their courses."""

    class Meta:
        csrf = False

    session = StringField("Training session", filters=[strip])
    course = SelectField("Course", default="",
                         invalid_choice_message="Select a course from the list")
    partner = SelectField("Delivery partner", default="",
                          invalid_choice_message="Select a delivery partner from the list")
    region = SelectField("Region", default="",
                         invalid_choice_message="Select a region from the list")
    local_authority = SelectField("Local authority", default="",
                                  invalid_choice_message="Select a local authority from the list")
    date_from = StringField("Sessions from", name="from", description="For example, 1/9/2026",
                            filters=[strip], validators=[RealDate("The from date")])
    date_to = StringField("Sessions to", name="to", description="For example, 31/8/2027",
                          filters=[strip], validators=[RealDate("The to date")])

    def __init__(self, user, **kwargs):
        from flask import request

        super().__init__(formdata=request.args, **kwargs)
        self.user = user
        self.la_fixed = report.suppresses(user)
        courses = sa.select(Course.id, Course.title).order_by(Course.title)
        if not is_admin(user) and not self.la_fixed:
            courses = courses.where(Course.id.in_(
                managed_sessions(user).with_only_columns(TrainingSession.course_id)))
        self.course.choices = choices(
            [("", "All courses")] + [tuple(row) for row in db.session.execute(courses)])
        partners = sa.select(DeliveryPartner.id, DeliveryPartner.name).order_by(
            DeliveryPartner.name)
        if not is_admin(user) and not self.la_fixed:
            partners = partners.where(DeliveryPartner.id == (user.delivery_partner_id or -1))
        self.partner.choices = choices(
            [("", "All delivery partners")] + [tuple(row) for row in db.session.execute(partners)])
        self.region.choices = choices([("", "All regions")] + [
            tuple(row) for row in db.session.execute(
                sa.select(Region.id, Region.name).order_by(Region.name))])
        self.local_authority.choices = choices([("", "All local authorities")] + [
            tuple(row) for row in db.session.execute(
                sa.select(LocalAuthority.id, LocalAuthority.name).order_by(LocalAuthority.name))])

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if self.session.data and _number(self.session.data) is None:
            self.session.errors = ["The training session must be a number"]
            ok = False
        if ok:
            start, end = _day(self.date_from.data), _day(self.date_to.data)
            if start and end and end < start:
                self.date_to.errors = ["The to date must be the same as or after the from date"]
                ok = False
        return ok

    def scope(self) -> report.Scope:
        return report.Scope(
            session_id=_number(self.session.data or ""),
            course_id=_number(self.course.data or ""),
            delivery_partner_id=_number(self.partner.data or ""),
            local_authority_id=_number(self.local_authority.data or ""),
            region_id=_number(self.region.data or ""),
            date_from=_day(self.date_from.data),
            date_to=_day(self.date_to.data),
        )

    def described(self) -> str:
        """The scope in words, for headings and the CSV's name."""
        parts = []
        for field in (self.course, self.partner, self.region, self.local_authority):
            if field.data:
                parts.append(dict((c.value, c.label) for c in field.choices).get(field.data, ""))
        if self.session.data:
            parts.append(f"training session {self.session.data}")
        if self.date_from.data or self.date_to.data:
            parts.append(f"sessions from {self.date_from.data or 'the start'} to "
                         f"{self.date_to.data or 'now'}")
        return ", ".join(part for part in parts if part) or "all training"
