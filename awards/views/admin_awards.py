"""Administrators' pages for awards once made: the list of awards, withdrawing one, and the
annual celebration report with its CSV download."""

from __future__ import annotations

import csv
import io

import sqlalchemy as sa
from flask import (
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

from awards import register
from awards.errors import Refused
from awards.forms import WithdrawAwardForm
from awards.models import Award
from awards.schemes import all_schemes, get_scheme, outcome_label, scheme_name
from awards.views import bp, page_number
from trainer.access import roles_required
from trainer.db import Busy, db
from trainer.documents import spreadsheet_safe
from trainer.forms import EARLIEST_YEAR, LATEST_YEAR
from trainer.people import Role, Setting

STATUSES = {"current": "Current", "expired": "Expired", "withdrawn": "Withdrawn", "all": "All"}





@bp.route("/admin/awards")
@roles_required(Role.ADMIN)
def admin_awards():
    """Every award, newest first, filtered by status (current by default) and scheme."""
    today = register.london_today()
    status = request.args.get("status", "current")
    if status not in STATUSES:
        status = "current"
    scheme_key = request.args.get("scheme") or None
    if scheme_key and get_scheme(scheme_key) is None:
        scheme_key = None
    statement = (sa.select(Award).join(Setting, Setting.id == Award.setting_id)
                 .order_by(Award.awarded_on.desc(), Award.id.desc()))
    if status == "current":
        statement = statement.where(Award.withdrawn_at.is_(None), Award.expires_on >= today)
    elif status == "expired":
        statement = statement.where(Award.withdrawn_at.is_(None), Award.expires_on < today)
    elif status == "withdrawn":
        statement = statement.where(Award.withdrawn_at.is_not(None))
    if scheme_key:
        statement = statement.where(Award.scheme_key == scheme_key)
    pagination = db.paginate(statement, page=page_number(),
                             per_page=current_app.config["PAGE_SIZE"], error_out=False)
    filters = {"status": status, "scheme": scheme_key}
    return render_template(
        "awards/admin_awards/list.html", pagination=pagination, statuses=STATUSES,
        schemes=all_schemes(), filters=filters, today=today, scheme_name=scheme_name,
        outcome_label=lambda award: outcome_label(award.scheme_key, award.outcome_key),
        award_status=register.award_status,
        page_url=lambda page: url_for("awards.admin_awards", page=page,
                                      **{k: v for k, v in filters.items() if v}),
    )


@bp.route("/admin/awards/<int:award_id>/withdraw", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def withdraw_award(award_id: int):
    """Confirm withdrawing an award, with the reason the setting is told."""
    award = db.get_or_404(Award, award_id)
    form = WithdrawAwardForm()
    if award.withdrawn_at is None and form.validate_on_submit():
        admin = current_user._get_current_object()
        try:
            register.withdraw_award(award_id, admin, form.reason.data)
        except Refused as refusal:
            if refusal.field == "reason":
                form.reason.errors = [str(refusal)]
            else:
                form.form_errors.append(str(refusal))
        except Busy:
            form.form_errors.append("The service is busy. Nothing was saved: try again.")
        else:
            flash(f"The {scheme_name(award.scheme_key)} of {award.setting.name} has been "
                  "withdrawn and its applicants told by email.", "success")
            return redirect(url_for("awards.admin_awards", status="withdrawn"))
        db.session.rollback()
        award = db.get_or_404(Award, award_id)
    return render_template("awards/admin_awards/withdraw.html", award=award, form=form,
                           scheme_name=scheme_name(award.scheme_key),
                           outcome_label=outcome_label(award.scheme_key, award.outcome_key))


def _year_choice() -> tuple[int, list[int]]:
    """The year asked for (this London year when none), and the years to offer: those with
    awards, this year and the one asked for. Anything but a year from 2000 to 2100 is not
    found, rather than quietly showing another year."""
    this_year = register.london_today().year
    raw = request.args.get("year")
    if raw is None or raw == "":
        year = this_year
    elif raw.isascii() and raw.isdigit() and EARLIEST_YEAR <= int(raw) <= LATEST_YEAR:
        year = int(raw)
    else:
        abort(404)
    years = sorted(set(register.award_years()) | {this_year, year}, reverse=True)
    return year, years


@bp.route("/admin/celebration")
@roles_required(Role.ADMIN)
def celebration():
    """The celebration report: awards made in a year by scheme and outcome, and by LA."""
    year, years = _year_choice()
    return render_template("awards/admin_awards/celebration.html",
                           report=register.celebration(year), years=years)




@bp.route("/admin/celebration.csv")
@roles_required(Role.ADMIN)
def celebration_csv():
    """The celebration report's figures as CSV: one row per count, with its grouping."""
    year, _years = _year_choice()
    report = register.celebration(year)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["Year", "Grouping", "Award", "Outcome", "Local authority", "Awards made"])
    for scheme, outcome, count in report.by_outcome:
        writer.writerow([spreadsheet_safe(cell) for cell in
                         (year, "By award and outcome", scheme, outcome, "", count)])
    for authority, scheme, count in report.by_authority:
        writer.writerow([spreadsheet_safe(cell) for cell in
                         (year, "By local authority", scheme, "", authority, count)])
    for scheme, count in report.by_scheme:
        writer.writerow([spreadsheet_safe(cell) for cell in
                         (year, "By award", scheme, "", "", count)])
    writer.writerow([year, "Total", "", "", "", report.total])
    return Response(
        "\ufeff" + buffer.getvalue(), mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="awards-celebration-{year}.csv"',
                 "Cache-Control": "no-store"},
    )
