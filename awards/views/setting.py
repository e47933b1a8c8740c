"""The setting's pages: its applications and awards, starting and renewing, the task list of
criteria with self-assessment and evidence, submitting, withdrawing, evidence downloads, and
the staff audit of training needs.

Applications are loaded through :mod:`awards.permissions` (the setting's applicants and admins;
another setting's people get 403). Changes go through :mod:`awards.applications`, whose
refusals are shown as an error summary or a message; nothing is half-saved.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import BuildError
from wtforms import RadioField
from wtforms.validators import Optional

from awards import applications, evidence, permissions
from awards import staff_audit as staff_needs
from awards.errors import Refused
from awards.forms import (
    FIELDS,
    FileEvidenceForm,
    SelfAssessmentForm,
    StartForm,
    TextEvidenceForm,
    WithdrawForm,
    show_refusal,
)
from awards.models import Application, Award, Evidence
from awards.schemes import all_schemes, get_scheme
from awards.views import bp
from trainer.access import signed_in
from trainer.db import Busy, db, utcnow
from trainer.forms import BaseForm, choices

BUSY = "The service is busy. Nothing was saved: wait a moment and try again."
UPLOAD_MARGIN = 256 * 1024  # room for the form's other fields and the multipart wrapping


@bp.app_template_filter("awards_size")
def size_label(size: int | None) -> str:
    return evidence.describe_size(size or 0)


def _attempt(operation, *args, **kwargs):
    """Run an operation: ``(result, None)``, or ``(None, Refused)`` saying why not."""
    try:
        return operation(*args, **kwargs), None
    except Refused as error:
        return None, error
    except Busy:
        return None, Refused(BUSY)


def _link(endpoint: str, **values) -> str | None:
    """A page's address, or ``None`` while the page is not there (a part disabled)."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


def _user():
    return current_user._get_current_object()


def _scheme_of(application: Application):
    scheme = get_scheme(application.scheme_key)
    if scheme is None:
        abort(404)
    return scheme


def _criterion_or_404(application: Application, key: str):
    criterion = _scheme_of(application).criterion(key)
    if criterion is None:
        abort(404)
    return criterion


def _applicant_application(application_id: int) -> Application:
    """The application, for its setting's applicants only (403 to anyone else)."""
    application = db.get_or_404(Application, application_id)
    if not permissions.applies_for(current_user, application.setting_id):
        abort(403)
    return application


# -- the setting -------------------------------------------------------------------------------


@bp.route("/setting")
@signed_in
def my_setting():
    """The signed-in person's setting: its applications, awards and open windows."""
    setting_id = current_user.setting_id
    today = applications.london_today()
    context = {"setting": current_user.setting, "today": today,
               "applicant": permissions.is_applicant(current_user), "schemes": all_schemes()}
    if setting_id is not None and context["applicant"]:
        context["applications"] = db.session.scalars(
            sa.select(Application).where(Application.setting_id == setting_id)
            .order_by(Application.created_at.desc(), Application.id.desc())).all()
        context["awards"] = db.session.scalars(
            sa.select(Award).where(Award.setting_id == setting_id)
            .order_by(Award.awarded_on.desc())).all()
        context["windows"] = [
            (scheme, scheme.window_on(today), scheme.next_window(today),
             applications.open_application(setting_id, scheme.key))
            for scheme in all_schemes()]
    return render_template("awards/setting/my_setting.html", get_scheme=get_scheme,
                           link=_link, **context)


@bp.route("/schemes/<key>/apply", methods=["GET", "POST"])
@signed_in
def start(key: str):
    """Start an application to a scheme for one's own setting."""
    scheme = get_scheme(key)
    if scheme is None:
        abort(404)
    if not permissions.is_applicant(current_user):
        abort(403)
    today = applications.london_today()
    form = StartForm()
    if form.validate_on_submit():
        application, refusal = _attempt(applications.start, key, _user(),
                                        district=form.district.data)
        if refusal is None:
            flash(f"Application started. It must be submitted by "
                  f"{applications.day(application.deadline)}.", "success")
            return redirect(url_for(".application", application_id=application.id))
        show_refusal(form, refusal, FIELDS)
    return render_template(
        "awards/setting/start.html", scheme=scheme, form=form, window=scheme.window_on(today),
        closed=applications.closed_message(scheme, today),
        existing=applications.open_application(current_user.setting_id, key))


@bp.route("/applications/<int:application_id>")
@signed_in
def application(application_id: int):
    """The task list of an application, the staff's needs, and any decision and award (for
    the setting's applicants and admins; panel members work from their own assessment page)."""
    application = permissions.own_application_or_403(application_id)
    scheme = _scheme_of(application)
    now = utcnow()
    award = application.award
    return render_template(
        "awards/setting/application.html", application=application, scheme=scheme,
        status_of=applications.criterion_status, form=BaseForm(),
        editable=applications.editable_problem(application, current_user, now) is None,
        applicant=permissions.applies_for(current_user, application.setting_id),
        needs=staff_needs.setting_needs(application.setting_id, scheme),
        sessions=staff_needs.recommended_sessions(application.setting_id, scheme, now),
        decision=application.decision if application.decision
        and application.decision.released_at else None,
        award=award, today=applications.london_today(now),
        certificate_url=award and _link("awards.certificate", award_id=award.id),
        verify_url=award and _link("awards.verify", code=award.verification_code,
                                   _external=True),
        link=_link)


# -- one criterion -----------------------------------------------------------------------------


def _criterion_page(application: Application, criterion, posted: BaseForm | None = None,
                    **forms):
    scheme = _scheme_of(application)
    assessment = forms.get("assessment") or SelfAssessmentForm(formdata=None)
    assessment.score.choices = choices((level.value, level.label) for level in scheme.scale)
    answer = application.answer_for(criterion.key)
    if "assessment" not in forms and answer is not None:
        assessment.score.data = str(answer.score) if answer.score is not None else None
        assessment.narrative.data = answer.narrative
    limit = evidence.size_limit_bytes(scheme)
    return render_template(
        "awards/setting/criterion.html", application=application, scheme=scheme,
        criterion=criterion, items=application.evidence_for(criterion.key),
        assessment=assessment, posted=posted, form=posted,
        text_form=forms.get("text") or TextEvidenceForm(formdata=None),
        file_form=forms.get("file") or FileEvidenceForm(formdata=None),
        file_error=forms.get("file_error"),
        problem=applications.editable_problem(application, current_user),
        accept=evidence.ACCEPT_ATTRIBUTE, accepted=evidence.ACCEPTED_DESCRIPTION,
        size_limit=evidence.describe_size(limit),
        count_limit=evidence.file_count_limit(scheme),
        file_count=sum(1 for item in application.evidence if item.is_file))


@bp.route("/applications/<int:application_id>/criteria/<key>", methods=["GET", "POST"])
@signed_in
def criterion(application_id: int, key: str):
    """One criterion: guidance, the self-assessment, and the evidence given for it."""
    application = permissions.own_application_or_403(application_id)
    criterion = _criterion_or_404(application, key)
    if request.method == "GET":
        return _criterion_page(application, criterion)
    application = _applicant_application(application_id)
    form = SelfAssessmentForm()
    form.score.choices = choices((level.value, level.label)
                                 for level in _scheme_of(application).scale)
    if form.validate_on_submit():
        raw = form.score.data
        # A value off the scale becomes -1, which the operation refuses with a message.
        score = None if raw in (None, "") else int(raw) if str(raw).isdigit() else -1
        _, refusal = _attempt(applications.save_self_assessment, application_id, key, score,
                              form.narrative.data or "", _user())
        if refusal is None:
            flash(f"Your self-assessment for “{criterion.title}” has been saved.", "success")
            return redirect(url_for(".criterion", application_id=application_id, key=key))
        show_refusal(form, refusal, FIELDS)
    return _criterion_page(application, criterion, posted=form, assessment=form)


@bp.route("/applications/<int:application_id>/criteria/<key>/text", methods=["POST"])
@signed_in
def add_text_evidence(application_id: int, key: str):
    """Add written evidence to a criterion."""
    application = _applicant_application(application_id)
    criterion = _criterion_or_404(application, key)
    form = TextEvidenceForm()
    if form.validate_on_submit():
        _, refusal = _attempt(applications.add_text_evidence, application_id, key,
                              form.evidence_text.data or "", form.text_caption.data or "",
                              _user())
        if refusal is None:
            flash("Your evidence has been added.", "success")
            return redirect(url_for(".criterion", application_id=application_id, key=key))
        show_refusal(form, refusal, FIELDS)
    return _criterion_page(application, criterion, posted=form, text=form)


@bp.route("/applications/<int:application_id>/criteria/<key>/file", methods=["POST"])
@signed_in
def upload_evidence(application_id: int, key: str):
    """Upload a file of evidence for a criterion. The request may be no bigger than the
    scheme's file size limit (plus the form around it); a bigger one is refused with the
    same message as a big file, before it is read."""
    application = _applicant_application(application_id)
    criterion = _criterion_or_404(application, key)
    scheme = _scheme_of(application)
    limit = evidence.size_limit_bytes(scheme)
    request.max_content_length = limit + UPLOAD_MARGIN
    try:
        upload = request.files.get("file")
    except RequestEntityTooLarge:
        form = FileEvidenceForm(formdata=None)
        message = (f"The selected file must be smaller than {evidence.describe_size(limit)}")
        return _criterion_page(application, criterion, posted=form, file=form,
                               file_error=message)
    # Exempt from the check before every view (it would read the body unlimited): check here.
    current_app.extensions["csrf"].protect()
    form = FileEvidenceForm()
    if len(list(request.files.items(multi=True))) > 1:
        # The form sends one file; a request with more is refused whole, none of them kept.
        return _criterion_page(application, criterion, posted=form, file=form,
                               file_error="Upload one file at a time")
    if form.validate_on_submit():
        data = upload.read() if upload else b""
        _, refusal = _attempt(
            applications.add_file_evidence, application_id, key,
            upload.filename if upload else None, data,
            upload.mimetype if upload else None, form.file_caption.data or "", _user())
        if refusal is None:
            flash(f"“{upload.filename}” has been added.", "success")
            return redirect(url_for(".criterion", application_id=application_id, key=key))
        if refusal.field == "file":
            return _criterion_page(application, criterion, posted=form, file=form,
                                   file_error=str(refusal))
        show_refusal(form, refusal, FIELDS, "file_caption" if refusal.field == "caption" else None)
    return _criterion_page(application, criterion, posted=form, file=form)


@bp.record_once
def _check_upload_token_in_view(state) -> None:
    state.app.extensions["csrf"].exempt(upload_evidence)


@bp.route("/applications/<int:application_id>/evidence/<int:evidence_id>/remove",
          methods=["POST"])
@signed_in
def remove_evidence(application_id: int, evidence_id: int):
    """Remove a piece of evidence from a draft."""
    application = _applicant_application(application_id)
    item = db.get_or_404(Evidence, evidence_id)
    if item.application_id != application.id:
        abort(404)
    key = item.criterion_key
    _, refusal = _attempt(applications.remove_evidence, evidence_id, _user())
    flash(str(refusal) if refusal else "The evidence has been removed.",
          "error" if refusal else "success")
    return redirect(url_for(".criterion", application_id=application_id, key=key))


@bp.route("/evidence/<int:evidence_id>")
@signed_in
def evidence_file(evidence_id: int):
    """Download an evidence file (the setting's applicants, its panel, admins)."""
    item = permissions.evidence_or_403(evidence_id)
    if not item.is_file:
        abort(404)
    try:
        return evidence.download(item)
    except (FileNotFoundError, ValueError):
        abort(404)


# -- submitting, withdrawing, renewing ---------------------------------------------------------


@bp.route("/applications/<int:application_id>/submit", methods=["GET", "POST"])
@signed_in
def submit(application_id: int):
    """Check an application and submit it for assessment."""
    application = _applicant_application(application_id)
    scheme = _scheme_of(application)
    form = BaseForm()
    if form.validate_on_submit():
        _, refusal = _attempt(applications.submit, application_id, _user())
        if refusal is None:
            flash("Your application has been submitted. We have emailed a confirmation to "
                  "your setting's applicants.", "success")
            return redirect(url_for(".application", application_id=application_id))
        form.form_errors.append(str(refusal))
    return render_template(
        "awards/setting/submit.html", application=application, scheme=scheme, form=form,
        missing=applications.missing_criteria(application),
        problem=applications.editable_problem(application, current_user))


@bp.route("/applications/<int:application_id>/withdraw", methods=["GET", "POST"])
@signed_in
def withdraw(application_id: int):
    """Withdraw a draft or submitted application."""
    application = _applicant_application(application_id)
    form = WithdrawForm()
    if form.validate_on_submit():
        _, refusal = _attempt(applications.withdraw, application_id, _user(),
                              form.reason.data or "")
        if refusal is None:
            flash("Your application has been withdrawn.", "success")
            return redirect(url_for(".my_setting"))
        show_refusal(form, refusal, FIELDS)
    return render_template("awards/setting/withdraw.html", application=application,
                           scheme=_scheme_of(application), form=form,
                           may_withdraw=application.status in applications.OPEN_STATUSES)


@bp.route("/applications/<int:application_id>/renew", methods=["POST"])
@signed_in
def renew(application_id: int):
    """Start a renewal pre-filled from a decided application."""
    _applicant_application(application_id)
    renewal, refusal = _attempt(applications.renew, application_id, _user())
    if refusal is not None:
        flash(str(refusal), "error")
        return redirect(url_for(".application", application_id=application_id))
    flash("Your renewal has been started with your earlier answers and evidence. Check and "
          "update each criterion, then submit it.", "success")
    return redirect(url_for(".application", application_id=renewal.id))


# -- the staff audit ---------------------------------------------------------------------------


def _staff_audit_form(scheme, previous: dict[str, int]) -> BaseForm:
    class StaffAuditForm(BaseForm):
        pass

    for criterion in scheme.criteria:
        setattr(StaffAuditForm, f"need_{criterion.key}", RadioField(
            criterion.title, choices=choices(staff_needs.NEEDS.items()),
            validators=[Optional()], validate_choice=False))
    form = StaffAuditForm()
    if request.method != "POST":
        for key, need in previous.items():
            if f"need_{key}" in form:
                form[f"need_{key}"].data = str(need)
    return form


@bp.route("/staff-audit/<scheme_key>", methods=["GET", "POST"])
@signed_in
def staff_audit(scheme_key: str):
    """A member of staff's own training needs against a scheme's criteria."""
    scheme = get_scheme(scheme_key)
    if scheme is None:
        abort(404)
    if current_user.setting_id is None:
        if request.method == "POST":
            abort(403)
        return render_template("awards/setting/staff_audit.html", scheme=scheme, form=None)
    previous = staff_needs.staff_answers(current_user, scheme_key)
    form = _staff_audit_form(scheme, previous)
    if form.validate_on_submit():
        needs = {}
        for criterion in scheme.criteria:
            value = form[f"need_{criterion.key}"].data
            needs[criterion.key] = int(value) if str(value).isdigit() else 0
        _, refusal = _attempt(staff_needs.save_staff_audit, _user(), scheme_key, needs)
        if refusal is None:
            flash("Thank you: your answers have been saved.", "success")
            return redirect(url_for(".my_setting"))
        show_refusal(form, refusal, FIELDS, refusal.field)
    return render_template("awards/setting/staff_audit.html", scheme=scheme, form=form,
                           previous=previous)
