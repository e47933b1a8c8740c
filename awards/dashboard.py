"""What the awards package adds to core pages: a panel on the dashboard (the setting's awards
and applications for applicants; work waiting for panel members) and a section on the reports
page for administrators."""

from __future__ import annotations

import sqlalchemy as sa
from flask import render_template
from markupsafe import Markup

from awards import permissions
from awards.models import Application, ApplicationStatus, Award, Declaration, PanelMember
from awards.schemes import get_scheme
from trainer.db import db, utcnow
from trainer.hooks import Panel, ReportSection
from trainer.times import to_london


def dashboard_panels(user) -> list[Panel] | None:
    """The setting's current awards and open applications (applicants), and the number of
    assigned applications still waiting for the member (panel members)."""
    panels = []
    today = to_london(utcnow()).date()
    if permissions.is_applicant(user):
        awards = [award for award in db.session.scalars(
            sa.select(Award).where(Award.setting_id == user.setting_id,
                                   Award.withdrawn_at.is_(None),
                                   Award.expires_on >= today)
            .order_by(Award.expires_on))]
        open_applications = list(db.session.scalars(
            sa.select(Application).where(
                Application.setting_id == user.setting_id,
                Application.status.in_([ApplicationStatus.DRAFT.value,
                                        ApplicationStatus.SUBMITTED.value]))
            .order_by(Application.created_at)))
        html = render_template("awards/_dashboard_panel.html", awards=awards,
                               applications=open_applications, today=today,
                               scheme_of=get_scheme)
        panels.append(Panel("Awards", Markup(html), order=60))
    waiting = _waiting_for_member(user)
    if waiting is not None:
        html = render_template("awards/_panel_work.html", waiting=waiting)
        panels.append(Panel("Award panel", Markup(html), order=61))
    return panels or None


def _waiting_for_member(user) -> int | None:
    """How many submitted applications assigned to the user's panels they have not declared
    on or assessed; ``None`` when they sit on no panel."""
    panel_ids = list(db.session.scalars(
        sa.select(PanelMember.panel_id).where(PanelMember.user_id == user.id)))
    if not panel_ids:
        return None
    applications = db.session.scalars(
        sa.select(Application).where(Application.panel_id.in_(panel_ids),
                                     Application.status == ApplicationStatus.SUBMITTED.value))
    waiting = 0
    for application in applications:
        declared = db.session.scalar(sa.select(Declaration).where(
            Declaration.application_id == application.id, Declaration.user_id == user.id))
        if declared is None:
            waiting += 1
        elif not declared.has_conflict and not any(
                assessment.assessor_id == user.id and assessment.submitted_at is not None
                for assessment in application.assessments):
            waiting += 1
    return waiting


def report_sections(user) -> list[ReportSection] | None:
    """Headline figures for administrators: current awards and applications by state."""
    if not permissions.is_admin(user):
        return None
    from flask import url_for

    today = to_london(utcnow()).date()
    current = db.session.scalar(sa.select(sa.func.count()).select_from(Award).where(
        Award.withdrawn_at.is_(None), Award.awarded_on <= today, Award.expires_on >= today))
    by_status = dict(db.session.execute(
        sa.select(Application.status, sa.func.count()).group_by(Application.status)).all())
    html = render_template("awards/_report_section.html", current=current,
                           by_status=by_status, statuses=list(ApplicationStatus))
    return [ReportSection("Awards", Markup(html), url=url_for("awards.admin_home"), order=60)]
