"""Reports: reach, oversubscription and the national overview (:mod:`trainer.reports`), and
one page gathering the sections plugins add (``trainer_report_sections``).

Trainers see reach and oversubscription for their delivery partner's courses and the sessions
they run; administrators see everything, and the national overview. Every table can be
downloaded as CSV with the same rows it shows (the per-session tables: every session, not only
the page shown).
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask_login import current_user
from wtforms import StringField

from trainer import hooks, reports
from trainer.access import MANAGERS, roles_required
from trainer.charts import Bar, Group, bar_chart, count_chart
from trainer.documents import spreadsheet_safe
from trainer.forms import BaseForm, RealDate, is_number, parse_day, strip
from trainer.people import Role

bp = Blueprint("reports", __name__, url_prefix="/reports")

PER_PAGE = 50
LONGEST_RANGE_DAYS = 366 * 10


def report_sections(user) -> list[hooks.ReportSection]:
    """Every plugin's sections for ``user``, in order."""
    sections = []
    for result in hooks.call("trainer_report_sections", user=user):
        sections.extend(result if isinstance(result, list | tuple) else [result])
    return sorted(sections)


@bp.route("/")
@roles_required(*MANAGERS)
def index():
    """The reports page: links to the core's reports, then every section plugins add."""
    return render_template(
        "reports/index.html", sections=report_sections(current_user._get_current_object())
    )


# -- the range form -------------------------------------------------------------------------------


class RangeForm(BaseForm):
    """Which sessions to report on: those starting from one London day to another."""

    class Meta:
        csrf = False

    date_from = StringField("From", name="from", description="For example, 1/9/2026",
                            filters=[strip], validators=[RealDate("The from date")])
    date_to = StringField("To", name="to", description="For example, 31/8/2027",
                          filters=[strip], validators=[RealDate("The to date")])

    def __init__(self, default: reports.Range):
        super().__init__(formdata=request.args)
        self.default = default

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if ok:
            start, end = self._days()
            if end < start:
                self.date_to.errors = ["The to date must be the same as or after the from date"]
                ok = False
            elif (end - start).days > LONGEST_RANGE_DAYS:
                self.date_to.errors = ["Choose a range of 10 years or less"]
                ok = False
        return ok

    def _days(self) -> tuple[date, date]:
        start = parse_day(self.date_from.data) if self.date_from.data else self.default.start
        end = parse_day(self.date_to.data) if self.date_to.data else self.default.end
        return start, end

    def range(self) -> reports.Range:
        """The chosen range; the default when the form is not valid."""
        if self.errors:
            return self.default
        return reports.Range(*self._days())




def presets(endpoint: str) -> list[tuple[str, str]]:
    """Quick links to common ranges."""
    today = reports.london_today()
    september = date(today.year if today.month >= 9 else today.year - 1, 9, 1)
    ranges = [
        ("the past 12 months", reports.Range.past_year(today)),
        ("this academic year (from 1 September)", reports.Range(september, today)),
        ("the next 3 months", reports.Range(today, today + timedelta(days=90))),
    ]
    return [
        (label, url_for(endpoint, **{"from": when.start.isoformat(), "to": when.end.isoformat()}))
        for label, when in ranges
    ]


def _page_number() -> int:
    text = request.args.get("page", "1")
    return int(text) if is_number(text) and 0 < int(text) < 100_000 else 1


def csv_download(table: reports.Table, name: str, when: reports.Range | None) -> Response:
    """``table`` as a CSV attachment; every cell spreadsheet-safe."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in table.csv_rows():
        writer.writerow([spreadsheet_safe(cell) for cell in row])
    suffix = f"-{when.start.isoformat()}-to-{when.end.isoformat()}" if when else ""
    return Response(
        "\ufeff" + out.getvalue(),  # a BOM, so Excel reads the file as UTF-8
        mimetype="text/csv",
        headers={"Content-Disposition":
                 f'attachment; filename="{name}-{table.name}{suffix}.csv"'},
    )


def _with_note(table: reports.Table, note: str) -> reports.Table:
    table.note = note
    return table


def _range_args(when: reports.Range) -> dict:
    return {"from": when.start.isoformat(), "to": when.end.isoformat()}


def _user():
    return current_user._get_current_object()


# -- reach ----------------------------------------------------------------------------------------


@bp.route("/reach")
@roles_required(*MANAGERS)
def reach():
    """Attendances, people and local authorities reached in a range: in total, by course,
    region, audience and session."""
    form = RangeForm(reports.Range.past_year(reports.london_today()))
    form.validate()
    when = form.range()
    user = _user()
    result = reports.reach(user, when)
    page = _page_number()
    rows, count = reports.sessions_reach(user, when, page, PER_PAGE)
    return render_template(
        "reports/reach.html",
        form=form, when=when, result=result, tables=reports.reach_tables(result),
        sessions=_with_note(reports.sessions_table(rows, result.la_total),
                            f"Sessions that have started, latest first ({count:,} sessions)."),
        pagination=reports.Page([], page, PER_PAGE, count),
        range_args=_range_args(when), presets=presets("reports.reach"),
    )


@bp.route("/reach/<name>.csv")
@roles_required(*MANAGERS)
def reach_csv(name: str):
    """One of the reach report's tables as CSV, with the range's every row."""
    form = RangeForm(reports.Range.past_year(reports.london_today()))
    form.validate()
    when = form.range()
    user = _user()
    if name == "sessions":
        result = reports.reach(user, when)
        rows, _count = reports.sessions_reach(user, when, None)
        return csv_download(reports.sessions_table(rows, result.la_total), "reach", when)
    tables = {table.name: table for table in reports.reach_tables(reports.reach(user, when))}
    if name not in tables:
        abort(404)
    return csv_download(tables[name], "reach", when)


# -- oversubscription -----------------------------------------------------------------------------


@bp.route("/oversubscription")
@roles_required(*MANAGERS)
def oversubscription():
    """Places, bookings, fill rates, full sessions and people waiting in a range."""
    form = RangeForm(reports.Range.past_year(reports.london_today()))
    form.validate()
    when = form.range()
    page = _page_number()
    result = reports.oversubscription(_user(), when, page, PER_PAGE)
    courses, sessions = reports.oversubscription_tables(result)
    return render_template(
        "reports/oversubscription.html",
        form=form, when=when, result=result, courses=courses, sessions=sessions,
        pagination=reports.Page([], page, PER_PAGE, result.session_count),
        range_args=_range_args(when), presets=presets("reports.oversubscription"),
    )


@bp.route("/oversubscription/<name>.csv")
@roles_required(*MANAGERS)
def oversubscription_csv(name: str):
    """The oversubscription report's table by course or by session, as CSV."""
    form = RangeForm(reports.Range.past_year(reports.london_today()))
    form.validate()
    when = form.range()
    tables = {
        table.name: table
        for table in reports.oversubscription_tables(
            reports.oversubscription(_user(), when, page=None))
    }
    if name not in tables:
        abort(404)
    return csv_download(tables[name], "oversubscription", when)


# -- the national overview ------------------------------------------------------------------------


@bp.route("/overview")
@roles_required(Role.ADMIN)
def overview():
    """National headline figures for the past 12 months and the next three, with charts and
    the tables they draw."""
    result = reports.overview()
    tables = reports.overview_tables(result)
    months, regions, topics = tables
    charts = {
        "months": count_chart(
            "Attendances by month", [(row[0], row[2]) for row in months.rows],
            "chart-months", "Attendances"),
        "regions": bar_chart(
            "Share of local authorities reached, by region",
            [Group(region.name, [Bar("Local authorities reached",
                                     100 * reached / count if count else None,
                                     note="no local authorities")])
             for region, count, reached, _attended in result.regions],
            ["Local authorities reached"], "chart-regions"),
        "topics": count_chart(
            "Attendances by topic", [(row[0], row[1]) for row in topics.rows],
            "chart-topics", "Attendances"),
    }
    upcoming_courses, _sessions = reports.oversubscription_tables(result.upcoming)
    return render_template(
        "reports/overview.html", result=result, tables=tables, charts=charts,
        upcoming=result.upcoming, upcoming_courses=upcoming_courses,
    )


@bp.route("/overview/<name>.csv")
@roles_required(Role.ADMIN)
def overview_csv(name: str):
    """One of the national overview's tables as CSV."""
    result = reports.overview()
    tables = {table.name: table for table in reports.overview_tables(result)}
    if name == "upcoming":
        table = reports.oversubscription_tables(result.upcoming)[0]
        table.name = "upcoming"
        return csv_download(table, "overview", result.upcoming.when)
    if name not in tables:
        abort(404)
    return csv_download(tables[name], "overview", result.when)
