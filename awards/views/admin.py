"""The administrators' pages for applications, panels and the audit log: every application
with filters and counts, one application in full (panel assignment, deadline extension,
declarations, assessments, decision and its history), the panels and their members, and the
append-only audit log. Admins only."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from awards import audit, moderation
from awards import panels as panel_operations
from awards.errors import Refused
from awards.forms import (
    AssignForm,
    ExtendForm,
    MemberForm,
    PanelForm,
    date_from_parts,
    show_refusal,
)
from awards.models import (
    Application,
    ApplicationStatus,
    AuditEvent,
    Panel,
)
from awards.schemes import all_schemes, get_scheme
from awards.views import bp, page_number
from awards.views.panel import BUSY_MESSAGE, application_or_404
from trainer.access import roles_required
from trainer.db import Busy, db
from trainer.forms import BaseForm, choices, is_number
from trainer.people import Role, Setting


def _page_size() -> int:
    return current_app.config["PAGE_SIZE"]


@bp.route("/admin")
@roles_required(Role.ADMIN)
def admin_home():
    """Every application, filtered by scheme and status, with counts per status."""
    schemes = all_schemes()
    scheme_key = request.args.get("scheme", "")
    status = request.args.get("status", "")
    if scheme_key and get_scheme(scheme_key) is None:
        scheme_key = ""
    if status not in {s.value for s in ApplicationStatus}:
        status = ""
    statement = (sa.select(Application)
                 .options(selectinload(Application.setting).selectinload(
                     Setting.local_authority), selectinload(Application.panel))
                 .order_by(Application.updated_at.desc(), Application.id.desc()))
    counting = sa.select(Application.status, sa.func.count(Application.id)) \
        .group_by(Application.status)
    if scheme_key:
        statement = statement.where(Application.scheme_key == scheme_key)
        counting = counting.where(Application.scheme_key == scheme_key)
    if status:
        statement = statement.where(Application.status == status)
    counts = dict(db.session.execute(counting).all())
    pagination = db.paginate(statement, page=page_number(), per_page=_page_size(),
                             error_out=False)
    return render_template(
        "awards/admin/home.html", pagination=pagination, schemes=schemes,
        scheme_key=scheme_key, status=status, statuses=list(ApplicationStatus),
        counts=[(s, counts.get(s.value, 0)) for s in ApplicationStatus],
        scheme_names={s.key: s.name for s in schemes})


def _application_page(application: Application, assign_form: AssignForm | None = None,
                      extend_form: ExtendForm | None = None):
    scheme = get_scheme(application.scheme_key)
    assign_form = assign_form or AssignForm(formdata=None)
    assign_form.panel.choices = _panel_choices()
    if application.panel_id and not assign_form.panel.data:
        assign_form.panel.data = str(application.panel_id)
    extend_form = extend_form or ExtendForm(formdata=None)
    ready, reason = moderation.panel_ready(application)
    events = db.session.scalars(audit.events(application.id)
                                .options(selectinload(AuditEvent.actor))).all()
    assessments = sorted(application.assessments, key=lambda a: a.id)
    return render_template(
        "awards/admin/application.html", application=application, scheme=scheme,
        assign_form=assign_form, extend_form=extend_form, ready=ready, reason=reason,
        events=events, assessments=assessments, label=audit.label,
        form=next((f for f in (assign_form, extend_form) if f.errors or f.form_errors), None),
        may_reassign=not any(a.submitted_at for a in application.assessments))


def _panel_choices() -> list:
    panels = db.session.scalars(sa.select(Panel).order_by(Panel.name)).all()
    return choices([("", "Choose a panel")] + [(p.id, p.name) for p in panels])


@bp.route("/admin/applications/<int:application_id>")
@roles_required(Role.ADMIN)
def admin_application(application_id: int):
    """One application in full: its panel, deadline, declarations, assessments, decision
    and history."""
    return _application_page(application_or_404(application_id))


@bp.route("/admin/applications/<int:application_id>/panel", methods=["POST"])
@roles_required(Role.ADMIN)
def admin_assign(application_id: int):
    """Assign the application to a panel (or move it, until an assessment is submitted)."""
    application = application_or_404(application_id)
    form = AssignForm()
    form.panel.choices = _panel_choices()
    if form.validate_on_submit():
        try:
            moderation.assign(application.id, int(form.panel.data),
                              current_user._get_current_object())
        except Refused as error:
            show_refusal(form, error)
        except Busy:
            form.form_errors.append(BUSY_MESSAGE)
        else:
            flash("The application has been assigned and the panel's members have been "
                  "emailed.", "success")
            return redirect(url_for(".admin_application", application_id=application.id))
    db.session.rollback()
    return _application_page(db.get_or_404(Application, application_id), assign_form=form)


@bp.route("/admin/applications/<int:application_id>/deadline", methods=["POST"])
@roles_required(Role.ADMIN)
def admin_extend(application_id: int):
    """Give this application alone a later deadline (drafts only)."""
    from awards import applications

    application = application_or_404(application_id)
    form = ExtendForm()
    if form.validate_on_submit():
        try:
            new_last_day = date_from_parts(form, "deadline", "The new deadline")
            if new_last_day is None:
                raise Refused("Enter the new deadline", field="deadline_day")
            applications.extend_deadline(application.id, new_last_day,
                                         current_user._get_current_object())
        except Refused as error:
            if error.field == "new_last_day":
                error = Refused(str(error), field="deadline_day")
            show_refusal(form, error)
        except Busy:
            form.form_errors.append(BUSY_MESSAGE)
        else:
            flash("The deadline has been extended.", "success")
            return redirect(url_for(".admin_application", application_id=application.id))
    db.session.rollback()
    return _application_page(db.get_or_404(Application, application_id), extend_form=form)


@bp.route("/admin/panels", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def panels():
    """The moderation panels, and a form to create one."""
    form = PanelForm()
    if form.validate_on_submit():
        try:
            panel = panel_operations.create_panel(form.name.data,
                                                  current_user._get_current_object())
        except Refused as error:
            show_refusal(form, error)
        except Busy:
            form.form_errors.append(BUSY_MESSAGE)
        else:
            flash(f"{panel.name} has been created. Now add its members.", "success")
            return redirect(url_for(".panel_detail", panel_id=panel.id))
    listed = db.session.scalars(sa.select(Panel).options(
        selectinload(Panel.members), selectinload(Panel.applications)).order_by(Panel.name)
    ).all()
    return render_template("awards/admin/panels.html", panels=listed, form=form)


def _panel_or_404(panel_id: int) -> Panel:
    panel = db.session.get(Panel, panel_id) if panel_id < 2**31 else None
    if panel is None:
        abort(404)
    return panel


@bp.route("/admin/panels/<int:panel_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def panel_detail(panel_id: int):
    """A panel's members, with forms to add, remove and make one the chair."""
    panel = _panel_or_404(panel_id)
    form = MemberForm()
    if form.validate_on_submit():
        try:
            member = panel_operations.add_member(
                panel.id, form.email.data, form.member_type.data,
                current_user._get_current_object())
        except Refused as error:
            show_refusal(form, error)
        except Busy:
            form.form_errors.append(BUSY_MESSAGE)
        else:
            flash(f"{member.user.name} has been added to {panel.name}.", "success")
            return redirect(url_for(".panel_detail", panel_id=panel.id))
        db.session.rollback()
        panel = _panel_or_404(panel_id)
    return render_template("awards/admin/panel_detail.html", panel=panel, form=form,
                           button_form=BaseForm(formdata=None))


def _member_action(panel_id: int, member_id: int, action) -> object:
    panel = _panel_or_404(panel_id)
    if BaseForm().validate_on_submit():
        try:
            message = action(panel.id, member_id, current_user._get_current_object())
        except Refused as error:
            flash(str(error), "error")
        except Busy:
            flash(BUSY_MESSAGE, "error")
        else:
            flash(message, "success")
    else:
        flash("Your form had expired: please try again.", "error")
    return redirect(url_for(".panel_detail", panel_id=panel.id))


@bp.route("/admin/panels/<int:panel_id>/members/<int:member_id>/remove", methods=["POST"])
@roles_required(Role.ADMIN)
def panel_member_remove(panel_id: int, member_id: int):
    """Take a member off the panel; their submitted assessments stay for the record."""
    return _member_action(panel_id, member_id, panel_operations.remove_member)


@bp.route("/admin/panels/<int:panel_id>/members/<int:member_id>/chair", methods=["POST"])
@roles_required(Role.ADMIN)
def panel_chair(panel_id: int, member_id: int):
    """Make the member the panel's chair (instead of the current one)."""

    def make(panel_id: int, member_id: int, admin) -> str:
        member = panel_operations.make_chair(panel_id, member_id, admin)
        return f"{member.user.name} is now the chair of {member.panel.name}."

    return _member_action(panel_id, member_id, make)


@bp.route("/admin/audit-log")
@roles_required(Role.ADMIN)
def audit_log():
    """The audit log, newest first, optionally for one application."""
    given = request.args.get("application", "").strip()
    application_id = None
    problem = None
    if given:
        if is_number(given) and int(given) < 2**31:
            application_id = int(given)
        else:
            problem = "Enter an application number, like 12"
    statement = audit.events(application_id).options(selectinload(AuditEvent.actor))
    pagination = db.paginate(statement, page=page_number(), per_page=_page_size(),
                             error_out=False)
    return render_template("awards/admin/audit_log.html", pagination=pagination,
                           application_id=application_id, given=given, problem=problem,
                           label=audit.label)
