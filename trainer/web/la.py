"""Local authority dashboards, and LA officers' requests for bespoke sessions.

An LA officer sees the dashboard of their own local authority only (the one on their
profile); an administrator chooses any. Who may see a dashboard is decided by
:func:`authority_or_403`, which every dashboard view loads its local authority through, so the
check is never forgotten (DESIGN guarantee 5). The figures come from :mod:`trainer.takeup`;
plugins add panels through ``trainer_page_panels(page="la_dashboard", ...)``.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

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
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from trainer import bespoke, charts, reports, takeup
from trainer.access import is_admin, roles_required
from trainer.catalogue import Course
from trainer.db import db
from trainer.documents import spreadsheet_safe
from trainer.forms import BaseForm, RealDate, choices, is_number, parse_day, strip
from trainer.people import LocalAuthority, Region, Role
from trainer.times import LONDON
from trainer.web import page_panels

bp = Blueprint("la", __name__, url_prefix="/la")

PREVIEW_ROWS = 10
LISTS = {
    "settings": "Attendance by setting",
    "no-training": "Settings with no attendance",
    "named": "Attendance shown by name",
}
EXPORTS = {**LISTS, "topics": "Attendance by topic"}
LATEST_YEARS_AHEAD = 2


def authority_or_403(la_id: int) -> LocalAuthority:
    """The local authority, if the signed-in user may see its dashboard: administrators any,
    an LA officer only the one on their profile. 404 when there is none, else 403."""
    authority = db.get_or_404(LocalAuthority, la_id)
    if is_admin(current_user):
        return authority
    if current_user.has_role(Role.LA_OFFICER) and (
            current_user.local_authority_id == authority.id):
        return authority
    abort(403)


def page_number() -> int:
    page = request.args.get("page", 1, type=int)
    if page < 1:
        abort(404)
    return page


# -- the period -----------------------------------------------------------------------------------


def day_text(day: date) -> str:
    """``27/3/2026``: how dates are typed back into the filter."""
    return f"{day.day}/{day.month}/{day.year}"


class PeriodForm(BaseForm):
    """The dashboard's dates: training sessions starting from one day to another."""

    class Meta:
        csrf = False

    date_from = StringField("From", name="from", description="For example, 1/4/2025",
                            filters=[strip], validators=[RealDate("The from date")])
    date_to = StringField("To", name="to", description="For example, 31/3/2026",
                          filters=[strip], validators=[RealDate("The to date")])

    def __init__(self, **kwargs):
        super().__init__(formdata=request.args, **kwargs)

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if ok:
            period = self._chosen()
            if period.end < period.start:
                self.date_to.errors = ["The to date must be the same as or after the from date"]
                ok = False
            elif len(period.months()) > takeup.MAX_MONTHS:
                self.date_to.errors = ["Choose dates no more than 2 years apart"]
                ok = False
        return ok

    def _chosen(self) -> reports.Range:
        today = reports.london_today()
        end = parse_day(self.date_to.data) if self.date_to.data else today
        if self.date_from.data:
            start = parse_day(self.date_from.data)
        else:
            start = reports.Range.last_twelve_months(end).start
        return reports.Range(start, end)

    def period(self) -> reports.Range:
        """The chosen period, or the last twelve months when none (or a wrong one) was given.
        Call after :meth:`validate`."""
        if self.errors or not (self.date_from.data or self.date_to.data):
            return reports.Range.last_twelve_months()
        return self._chosen()

    def args(self) -> dict[str, str]:
        """The query arguments that keep the chosen dates on links."""
        if self.errors:
            return {}
        return {name: value for name, value in (("from", self.date_from.data),
                                                ("to", self.date_to.data)) if value}


def _period_from_request() -> tuple[PeriodForm, reports.Range]:
    form = PeriodForm()
    form.validate()
    period = form.period()
    if not form.errors:
        form.date_from.data = form.date_from.data or day_text(period.start)
        form.date_to.data = form.date_to.data or day_text(period.end)
    return form, period


# -- pages ----------------------------------------------------------------------------------------


@bp.route("/")
@roles_required(Role.LA_OFFICER, Role.ADMIN)
def index():
    """LA officers go to their own area's dashboard; administrators choose a local
    authority. An officer whose profile names no local authority is told to add it."""
    if is_admin(current_user):
        authorities = db.session.execute(
            sa.select(Region.name, LocalAuthority.id, LocalAuthority.name)
            .join(LocalAuthority.region).order_by(Region.name, LocalAuthority.name)
        ).all()
        regions: dict[str, list] = {}
        for region, la_id, name in authorities:
            regions.setdefault(region, []).append((la_id, name))
        return render_template("la/index.html", regions=regions,
                               open_requests=bespoke.open_count())
    if current_user.local_authority_id is None:
        return render_template("la/no_area.html")
    return redirect(url_for("la.dashboard", la_id=current_user.local_authority_id))


@bp.route("/<int:la_id>/")
@roles_required(Role.LA_OFFICER, Role.ADMIN)
def dashboard(la_id: int):
    """One local authority's take-up: headline figures, the first rows of each table (with
    the rest a page at a time), attendance by topic over time, and plugins' panels."""
    authority = authority_or_403(la_id)
    form, period = _period_from_request()
    figures = takeup.area_figures(authority.id, period, named_first=PREVIEW_ROWS)
    summary, topics = figures.summary, figures.topics
    month_chart = charts.count_chart(
        "Attendances each month",
        [(takeup.month_label(month), count)
         for month, count in zip(topics.months, topics.all_topics.counts, strict=True)],
        chart_id="la-months-chart", series="Attendances",
        description="One bar for each month.", empty="No attendance in these months",
    )
    topic_chart = charts.count_chart(
        "Attendances by topic",
        [(row.label, row.total) for row in topics.topics if row.total],
        chart_id="la-topics-chart", series="Attendances",
        description="One bar for each topic with attendance. A course can cover more than "
                    "one topic.", empty="No attendance in these months",
    )
    return render_template(
        "la/dashboard.html", authority=authority, form=form, period=period, summary=summary,
        settings=takeup.paged(figures.attended, 1, PREVIEW_ROWS),
        without=takeup.paged(figures.without, 1, PREVIEW_ROWS),
        named=reports.Page(figures.latest_named, 1, PREVIEW_ROWS, summary.named),
        topics=topics, month_chart=month_chart, topic_chart=topic_chart,
        month_label=takeup.month_label, args=form.args(),
        panels=page_panels("la_dashboard", authority, current_user._get_current_object()),
    )


@bp.route("/<int:la_id>/<any(settings, 'no-training', named):table>")
@roles_required(Role.LA_OFFICER, Role.ADMIN)
def table(la_id: int, table: str):
    """One of the dashboard's long tables in full, a page at a time."""
    authority = authority_or_403(la_id)
    form, period = _period_from_request()
    page = page_number()
    per_page = current_app.config["PAGE_SIZE"]
    figures = takeup.area_figures(authority.id, period, named_first=0)
    summary = figures.summary
    if table == "settings":
        pagination = takeup.paged(figures.attended, page, per_page)
    elif table == "no-training":
        pagination = takeup.paged(figures.without, page, per_page)
    else:
        pagination = takeup.named(authority.id, period, page, per_page, total=summary.named)
    return render_template(
        "la/table.html", authority=authority, form=form, period=period, summary=summary,
        table=table, title=LISTS[table], pagination=pagination, args=form.args(),
    )


def _csv_rows(authority: LocalAuthority, period: reports.Range, table: str) -> list[list]:
    if table in ("settings", "no-training"):
        figures = takeup.area_figures(authority.id, period, named_first=0)
        if table == "settings":
            return takeup.setting_rows_csv(figures.attended, figures.summary)
        return [["Setting", "Type", "Postcode"]] + [
            [row.name, row.type_label, row.postcode] for row in figures.without]
    if table == "named":
        rows = takeup.named(authority.id, period, page=None).items
        return [["Person", "Setting", "Course", "Training session starts (UK time)",
                 "Training session"]] + [
            [row.person, row.setting or "", row.course,
             row.starts_at.astimezone(LONDON).strftime("%Y-%m-%d %H:%M"),
             row.training_session_id] for row in rows]
    topics = takeup.by_topic(authority.id, period)
    header = ["Topic", *(takeup.month_label(month) for month in topics.months), "Total"]
    return [header] + [[row.label, *row.counts, row.total]
                       for row in [*topics.topics, topics.all_topics]]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "area"


@bp.route("/<int:la_id>/<any(settings, topics, 'no-training', named):table>.csv")
@roles_required(Role.LA_OFFICER, Role.ADMIN)
def table_csv(la_id: int, table: str):
    """A dashboard table as CSV, every row. People are named only where they agreed."""
    authority = authority_or_403(la_id)
    _form, period = _period_from_request()
    out = io.StringIO()
    writer = csv.writer(out)
    for row in _csv_rows(authority, period, table):
        writer.writerow([spreadsheet_safe(cell) for cell in row])
    name = f"{slug(authority.name)}-{table}-{period.start}-to-{period.end}.csv"
    return Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}"'})


# -- bespoke session requests ---------------------------------------------------------------------


class RequestForm(BaseForm):
    course = SelectField("Course", validators=[DataRequired(message="Select a course")],
                         invalid_choice_message="Select a course from the list")
    first_choice = StringField(
        "Preferred date", description="For example, 27/3/2026", filters=[strip],
        validators=[DataRequired(message="Enter the date you would like the session"),
                    RealDate("The preferred date")])
    second_choice = StringField(
        "Second choice of date (optional)", filters=[strip],
        validators=[Optional(), RealDate("The second choice of date")])
    third_choice = StringField(
        "Third choice of date (optional)", filters=[strip],
        validators=[Optional(), RealDate("The third choice of date")])
    expected_numbers = StringField(
        "How many people do you expect?",
        description=f"A whole number from 1 to {bespoke.MAX_EXPECTED}.", filters=[strip],
        validators=[DataRequired(message="Enter how many people you expect")],
        render_kw={"inputmode": "numeric", "spellcheck": "false"})
    notes = TextAreaField(
        "Anything else we should know (optional)",
        description="For example, times of day that suit, a venue you can offer, or the "
                    "needs of the group.",
        filters=[strip],
        validators=[Length(max=bespoke.MAX_NOTES, message=(
            f"Notes must be {bespoke.MAX_NOTES} characters or fewer"))])

    LABELS = {"first_choice": "The preferred date", "second_choice": "The second choice",
              "third_choice": "The third choice"}

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        today = reports.london_today()
        latest = today + timedelta(days=365 * LATEST_YEARS_AHEAD)
        seen: dict[date, str] = {}
        for name, label in self.LABELS.items():
            field = self[name]
            if not field.data or field.errors:
                continue
            day = parse_day(field.data)
            if day <= today:
                field.errors.append(f"{label} must be a date in the future")
            elif day > latest:
                field.errors.append(
                    f"{label} must be within {LATEST_YEARS_AHEAD} years from today")
            elif day in seen:
                field.errors.append(f"{label} must be a different date from "
                                    f"{seen[day].lower()}")
            else:
                seen[day] = label
        numbers = self.expected_numbers
        if numbers.data and not numbers.errors:
            if not is_number(numbers.data):
                numbers.errors.append("Expected numbers must be a whole number, like 20")
            elif not 1 <= int(numbers.data) <= bespoke.MAX_EXPECTED:
                numbers.errors.append(
                    f"Expected numbers must be between 1 and {bespoke.MAX_EXPECTED}")
        return ok and not any(field.errors for field in self)

    def wanted(self) -> bespoke.NewRequest:
        dates = [parse_day(self[name].data) for name in self.LABELS if self[name].data]
        return bespoke.NewRequest(course_id=int(self.course.data), preferred_dates=dates,
                                  expected_numbers=int(self.expected_numbers.data),
                                  notes=self.notes.data or "")


def course_choices() -> list:
    courses = db.session.execute(
        sa.select(Course.id, Course.title).order_by(Course.title, Course.id))
    return choices([("", "Select a course")] + [(row.id, row.title) for row in courses])


@bp.route("/requests")
@roles_required(Role.LA_OFFICER)
def requests():
    """The bespoke sessions the officer asked for, newest first, with their answers."""
    pagination = db.paginate(bespoke.made_by(current_user), page=page_number(),
                             per_page=current_app.config["PAGE_SIZE"], error_out=False)
    return render_template("la/requests.html", pagination=pagination)


@bp.route("/requests/new", methods=["GET", "POST"])
@roles_required(Role.LA_OFFICER)
def new_request():
    """Ask for a bespoke session of a course for the officer's own local authority."""
    if current_user.local_authority_id is None:
        return render_template("la/no_area.html")
    form = RequestForm()
    form.course.choices = course_choices()
    if form.validate_on_submit():
        try:
            bespoke.create(current_user._get_current_object(), form.wanted())
        except bespoke.RequestError as error:
            form.form_errors.append(str(error))
        else:
            flash("Your request has been sent. We will email you when it has been answered.",
                  "success")
            return redirect(url_for("la.requests"))
    return render_template("la/request_form.html", form=form,
                           authority=current_user.local_authority)
