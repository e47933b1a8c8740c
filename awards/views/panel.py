"""The moderation panel's pages: the applications assigned to one's panels with what to do
next, the declaration of interests (before any evidence is shown), the independent
assessment, and moderation: the panel's scores side by side and the chair's decision.

Every page is for moderators and admins, and each checks membership of the assigned panel
itself: a member sees evidence only after declaring no conflict of interest, and a conflict
shuts them out of the application (403). Admins who are not on the panel see the pages
read-only; they cannot declare, assess or decide.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from awards import moderation
from awards.errors import Refused
from awards.forms import (
    DeclarationForm,
    assessment_form,
    date_from_parts,
    decision_form,
    show_refusal,
)
from awards.models import Application, ApplicationStatus, MemberType, PanelMember
from awards.permissions import declaration_of, is_admin, membership
from awards.schemes import Scheme, get_scheme
from awards.views import bp
from trainer.access import roles_required
from trainer.db import Busy, db
from trainer.people import Role

BUSY_MESSAGE = "The service is busy: please try again in a moment"


@bp.app_template_filter("awards_member_type")
def member_type_label(value: str) -> str:
    """``Professional`` or ``Parent or carer``."""
    return MemberType(value).label


def application_or_404(application_id: int) -> Application:
    application = db.session.get(Application, application_id) \
        if application_id < 2**31 else None
    if application is None:
        abort(404)
    return application


def _scheme_or_404(application: Application) -> Scheme:
    scheme = get_scheme(application.scheme_key)
    if scheme is None:
        abort(404)
    return scheme


def _own_assessment(application: Application):
    return next((a for a in application.assessments if a.assessor_id == current_user.id),
                None)


def _numbered(application: Application, leave_out: int | None) -> list[tuple[int, object]]:
    """The counted assessments numbered as in the moderation table (never named), without
    ``leave_out``'s own."""
    return [(number, assessment) for number, assessment
            in enumerate(moderation.counted_assessments(application), start=1)
            if assessment.assessor_id != leave_out]


STEP_ORDER = {"Declare interests": 0, "Assess": 1, "Ready for moderation": 2,
              "Waiting for others": 3, "Assessment submitted": 4, "You declared a conflict": 5}


def next_step(application: Application, user) -> tuple[str, str | None]:
    """What ``user`` should do next with an application on their panel, and where."""
    declared = declaration_of(user, application)
    if declared is not None and declared.has_conflict:
        return "You declared a conflict", None
    moderation_url = url_for(".moderation", application_id=application.id)
    if application.status == ApplicationStatus.DECIDED:
        return "Decided", moderation_url
    if declared is None:
        return "Declare interests", url_for(".declare", application_id=application.id)
    ready, _reason = moderation.panel_ready(application)
    member = membership(user, application)
    if ready and member is not None and member.is_chair:
        return "Ready for moderation", moderation_url
    own = next((a for a in application.assessments if a.assessor_id == user.id), None)
    if own is None or own.submitted_at is None:
        return "Assess", url_for(".assess", application_id=application.id)
    return ("Assessment submitted" if ready else "Waiting for others"), moderation_url


@bp.route("/panel")
@roles_required(Role.MODERATOR, Role.ADMIN)
def panel_home():
    """The applications assigned to the panels you sit on, with what to do next for each."""
    panel_ids = sa.select(PanelMember.panel_id).where(PanelMember.user_id == current_user.id)
    applications = db.session.scalars(
        sa.select(Application)
        .where(Application.panel_id.in_(panel_ids),
               Application.status.in_([ApplicationStatus.SUBMITTED.value,
                                       ApplicationStatus.DECIDED.value]))
        .options(selectinload(Application.setting), selectinload(Application.declarations),
                 selectinload(Application.assessments), selectinload(Application.panel))
        .order_by(Application.submitted_at, Application.id)).all()
    rows = [(application, get_scheme(application.scheme_key),
             *next_step(application, current_user)) for application in applications]
    # Work to do comes first, in the order it has to be done; decided ones go last, newest
    # first, out of the way.
    waiting = sorted((row for row in rows if row[0].status != ApplicationStatus.DECIDED),
                     key=lambda row: STEP_ORDER.get(row[2], len(STEP_ORDER)))
    decided = sorted((row for row in rows if row[0].status == ApplicationStatus.DECIDED),
                     key=lambda row: row[0].decision.decided_at if row[0].decision else
                     row[0].updated_at, reverse=True)
    several_panels = len({row[0].panel_id for row in rows}) > 1
    return render_template("awards/panel/home.html", waiting=waiting, decided=decided,
                           several_panels=several_panels)


@bp.route("/panel/applications/<int:application_id>/declaration", methods=["GET", "POST"])
@roles_required(Role.MODERATOR, Role.ADMIN)
def declare(application_id: int):
    """Declare, before seeing any evidence, whether you have a conflict of interest."""
    application = application_or_404(application_id)
    scheme = _scheme_or_404(application)
    member = membership(current_user, application)
    if member is None:
        if not is_admin(current_user):
            abort(403)
        return render_template("awards/panel/declare.html", application=application,
                               scheme=scheme, form=None, declared=None, admin_view=True)
    declared = declaration_of(current_user, application)
    if declared is not None and declared.has_conflict:
        abort(403)
    form = DeclarationForm()
    if declared is None and form.validate_on_submit():
        has_conflict = form.conflict.data == "yes"
        try:
            moderation.declare(application.id, current_user._get_current_object(),
                               has_conflict, form.details.data or "")
        except Refused as error:
            show_refusal(form, error)
        except Busy:
            form.form_errors.append(BUSY_MESSAGE)
        else:
            if has_conflict:
                flash("Thank you. You have declared a conflict of interest, so this "
                      "application has been taken off your list and an admin has been told.",
                      "success")
                return redirect(url_for(".panel_home"))
            flash("You have declared no conflict of interest. You can now assess the "
                  "application.", "success")
            return redirect(url_for(".assess", application_id=application.id))
    return render_template("awards/panel/declare.html", application=application,
                           scheme=scheme, form=form, declared=declared, admin_view=False)


@bp.route("/panel/applications/<int:application_id>", methods=["GET", "POST"])
@roles_required(Role.MODERATOR, Role.ADMIN)
def assess(application_id: int):
    """The self-assessment and evidence, the assessor guidance, and your own assessment."""
    application = application_or_404(application_id)
    scheme = _scheme_or_404(application)
    member = membership(current_user, application)
    context = {"application": application, "scheme": scheme, "form": None, "own": None}
    if member is None:
        if not is_admin(current_user):
            abort(403)
        return render_template("awards/panel/assess.html", **context, admin_view=True,
                               others=_numbered(application, None), others_visible=True)
    declared = declaration_of(current_user, application)
    if declared is None:
        return redirect(url_for(".declare", application_id=application.id))
    if declared.has_conflict:
        abort(403)
    own = _own_assessment(application)
    form = None
    if (own is None or own.submitted_at is None) \
            and application.status == ApplicationStatus.SUBMITTED:
        form = assessment_form(scheme)
        if request.method == "GET" and own is not None:
            for row in own.scores:
                if hasattr(form, f"score_{row.criterion_key}"):
                    getattr(form, f"score_{row.criterion_key}").data = \
                        None if row.score is None else str(row.score)
                    getattr(form, f"comment_{row.criterion_key}").data = row.comment
        if form.validate_on_submit():
            submit = request.form.get("action") == "submit"
            scores = {}
            for criterion in scheme.criteria:
                chosen = getattr(form, f"score_{criterion.key}").data
                scores[criterion.key] = (int(chosen) if chosen else None,
                                         getattr(form, f"comment_{criterion.key}").data or "")
            try:
                moderation.save_assessment(application.id, current_user._get_current_object(),
                                           scores, submit)
            except Refused as error:
                show_refusal(form, error)
            except Busy:
                form.form_errors.append(BUSY_MESSAGE)
            else:
                if submit:
                    flash("Your assessment has been submitted. You can now see the other "
                          "members' assessments as they come in.", "success")
                    return redirect(url_for(".moderation", application_id=application.id))
                flash("Your draft has been saved. Nobody else can see it.", "success")
                return redirect(url_for(".assess", application_id=application.id))
    # Members see the others' work only after submitting their own, admins among them.
    visible = own is not None and own.submitted_at is not None
    others = _numbered(application, current_user.id) if visible else []
    context.update(form=form, own=own)
    return render_template("awards/panel/assess.html", **context, admin_view=False,
                           others=others, others_visible=visible)


# The endpoint is "awards.moderation"; the function has another name so that it does not hide
# the awards.moderation module in this one.
@bp.route("/panel/applications/<int:application_id>/moderation", methods=["GET", "POST"],
          endpoint="moderation")
@roles_required(Role.MODERATOR, Role.ADMIN)
def moderation_page(application_id: int):
    """The panel's scores side by side, and the chair's decision once the panel is ready."""
    application = application_or_404(application_id)
    scheme = _scheme_or_404(application)
    member = membership(current_user, application)
    ready, reason = moderation.panel_ready(application)
    context = {"application": application, "scheme": scheme, "ready": ready,
               "reason": reason, "form": None, "is_chair": False}
    if member is None:
        if not is_admin(current_user):
            abort(403)
        return render_template("awards/panel/moderation.html", **context, show_table=True,
                               rows=moderation.moderation_rows(application), admin_view=True)
    declared = declaration_of(current_user, application)
    if declared is None:
        return redirect(url_for(".declare", application_id=application.id))
    if declared.has_conflict:
        abort(403)
    is_chair = member.is_chair
    # Others' scores stay hidden until one's own assessment is in (admins on the panel too);
    # the chair also sees them once the panel is ready, to record the decision.
    own = _own_assessment(application)
    show_table = (own is not None and own.submitted_at is not None) or (is_chair and ready)
    form = None
    if is_chair and ready and application.status == ApplicationStatus.SUBMITTED:
        form = decision_form(scheme)
        if form.validate_on_submit():
            try:
                points = [(getattr(form, f"point_{n}_text").data or "",
                           date_from_parts(form, f"point_{n}", f"The due date of action "
                                           f"point {n}"))
                          for n in range(1, moderation.ACTION_POINTS_MAX + 1)]
                moderation.decide(application.id, current_user._get_current_object(),
                                  form.outcome.data, form.reasons.data or "", points)
            except Refused as error:
                show_refusal(form, error)
            except Busy:
                form.form_errors.append(BUSY_MESSAGE)
            else:
                flash("The decision has been recorded and sent to the setting.", "success")
                return redirect(url_for(".moderation", application_id=application.id))
    context.update(form=form, is_chair=is_chair)
    return render_template("awards/panel/moderation.html", **context, show_table=show_table,
                           rows=moderation.moderation_rows(application) if show_table else [],
                           admin_view=False)

