"""The setting's journey: starting an application in an open window, self-assessment and
evidence for each criterion, submitting, withdrawing, deadline extensions and renewals (the
staff audit of training needs is in :mod:`awards.staff_audit`).

Every operation runs in its own :func:`~trainer.db.write_transaction` with the application row
locked, checks the state again under the lock, raises :class:`~awards.errors.Refused` with a
message the person can act on (nothing written), and records what it changed in the audit log.
Deadlines are London days: an application may change up to the end of its last day.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa

from awards import audit, evidence
from awards.errors import Refused
from awards.models import (
    Application,
    ApplicationStatus,
    Evidence,
    EvidenceKind,
    SelfAssessment,
)
from awards.permissions import APPLICANT_JOB_ROLES, applies_for, is_admin, is_applicant
from awards.schemes import Criterion, Scheme, all_schemes, get_scheme
from trainer import mail
from trainer.db import db, lock_row, utcnow, write_transaction
from trainer.people import Setting, User
from trainer.times import day, to_london

OPEN_STATUSES = (ApplicationStatus.DRAFT.value, ApplicationStatus.SUBMITTED.value)
NARRATIVE_MAX = 10_000
TEXT_MAX = 20_000
CAPTION_MAX = 300
REASON_MAX = 2_000


def london_today(now: datetime | None = None) -> date:
    return to_london(now or utcnow()).date()


def scheme_or_refuse(scheme_key: str) -> Scheme:
    scheme = get_scheme(scheme_key)
    if scheme is None:
        raise Refused(f"There is no award scheme called “{scheme_key}”")
    return scheme


def open_windows(today: date) -> list[tuple[Scheme, date, date]]:
    """The schemes open for applications on ``today``, each with its window's first and
    last days, by scheme name."""
    windows = [(scheme, scheme.window_on(today)) for scheme in all_schemes()]
    return [(scheme, window[0], window[1]) for scheme, window in windows if window]


def _check_length(text: str, limit: int, what: str, field: str) -> str:
    if len(text) > limit:
        raise Refused(f"{what} must be {limit:,} characters or fewer", field=field)
    return text


def closed_message(scheme: Scheme, today: date) -> str:
    """Why ``scheme`` cannot be applied for on ``today``, and when it next can."""
    upcoming = scheme.next_window(today)
    if upcoming is None:
        return f"Applications for the {scheme.name} are closed and no more are planned."
    return (f"Applications for the {scheme.name} are closed. The next window opens on "
            f"{day(upcoming[0])} and closes on {day(upcoming[1])}.")


def open_application(setting_id: int, scheme_key: str) -> Application | None:
    """The setting's draft or submitted application to the scheme, if it has one."""
    return db.session.scalar(sa.select(Application).where(
        Application.setting_id == setting_id, Application.scheme_key == scheme_key,
        Application.status.in_(OPEN_STATUSES)).order_by(Application.id.desc()).limit(1))


def _new_draft(scheme: Scheme, user, now: datetime, district: str | None) -> Application:
    """A new draft in the scheme's open window; the caller holds the setting's lock."""
    if not is_applicant(user):
        raise Refused("Only a setting's manager or owner, SENCO or childminder can apply. "
                      "Add your setting and job role to your profile first.")
    today = london_today(now)
    window = scheme.window_on(today)
    if window is None:
        raise Refused(closed_message(scheme, today))
    if open_application(user.setting_id, scheme.key) is not None:
        raise Refused(f"Your setting already has an application for the {scheme.name} in "
                      "progress. Carry on with that one, or withdraw it first.")
    application = Application(
        scheme_key=scheme.key, setting_id=user.setting_id, started_by_id=user.id,
        status=ApplicationStatus.DRAFT.value, district=(district or "").strip()[:120] or None,
        window_opens=window[0], window_closes=window[1], created_at=now, updated_at=now)
    db.session.add(application)
    db.session.flush()
    return application


def start(scheme_key: str, user, now: datetime | None = None,
          district: str | None = None) -> Application:
    """Start a draft application for ``user``'s setting in the scheme's open window.

    Refused when the user is not an applicant, the window is closed (the message says when
    the next one opens), or the setting already has a draft or submitted application for it.
    """
    now = now or utcnow()
    scheme = scheme_or_refuse(scheme_key)
    with write_transaction():
        # The setting's row serialises starts, so two clicks never make two drafts.
        if user.setting_id is not None:
            lock_row(Setting, user.setting_id)
        application = _new_draft(scheme, user, now, district)
        audit.record("application.started", actor=user, application=application,
                     detail=scheme.name)
    return application


def renew(previous_application_id: int, user, now: datetime | None = None) -> Application:
    """Start a renewal: a new draft in the open window, pre-filled from a decided application
    of the user's setting with its self-assessments and all its evidence (files copied under
    new stored names, so each application owns its files)."""
    now = now or utcnow()
    copied: list[str] = []
    try:
        with write_transaction():
            previous = lock_row(Application, previous_application_id)
            if previous is None or not applies_for(user, previous.setting_id):
                raise Refused("Only the setting's applicants can renew its application.")
            if previous.status != ApplicationStatus.DECIDED and previous.award is None:
                raise Refused("A renewal can only start from an application the panel has "
                              "decided.")
            scheme = scheme_or_refuse(previous.scheme_key)
            lock_row(Setting, previous.setting_id)
            application = _new_draft(scheme, user, now, previous.district)
            application.renewal_of_id = previous.id
            for answer in previous.answers:
                db.session.add(SelfAssessment(
                    application_id=application.id, criterion_key=answer.criterion_key,
                    score=answer.score, narrative=answer.narrative, updated_at=now))
            for item in previous.evidence:
                db.session.add(_copy_evidence(item, application, user, now, copied))
            audit.record("application.renewal_started", actor=user, application=application,
                         detail=f"Renewal of application {previous.id}; "
                         f"{len(previous.evidence)} pieces of evidence copied")
    except BaseException:
        for stored_name in copied:
            evidence.remove(stored_name)
        raise
    return application


def _copy_evidence(item: Evidence, application: Application, user, now: datetime,
                   copied: list[str]) -> Evidence:
    fields = dict(application_id=application.id, criterion_key=item.criterion_key,
                  kind=item.kind, caption=item.caption, text=item.text,
                  added_by_id=user.id, created_at=now)
    if item.is_file:
        try:
            data = evidence.path_of(item.stored_name).read_bytes()
        except (OSError, ValueError) as error:
            raise Refused(f"The file “{item.original_name}” from the earlier application "
                          "could not be read, so the renewal was not started. Ask the "
                          "awards team for help.") from error
        stored_name, sha256 = evidence.store(
            evidence.CheckedFile(item.original_name or "evidence", item.content_type, data))
        copied.append(stored_name)
        fields.update(stored_name=stored_name, sha256=sha256, original_name=item.original_name,
                      content_type=item.content_type, size=len(data))
    return Evidence(**fields)


# -- changing a draft --------------------------------------------------------------------------


def editable_problem(application: Application, user, now: datetime | None = None) -> str | None:
    """Why ``user`` cannot change the application now, or ``None`` when they can."""
    if not applies_for(user, application.setting_id):
        return "Only the setting's manager or owner, SENCO or childminder can change it."
    if application.status == ApplicationStatus.SUBMITTED:
        return "This application has been submitted, so it can no longer be changed."
    if application.status == ApplicationStatus.DECIDED:
        return "The panel has decided this application, so it can no longer be changed."
    if application.status == ApplicationStatus.WITHDRAWN:
        return "This application was withdrawn, so it can no longer be changed."
    if london_today(now) > application.deadline:
        return (f"The deadline for this application was {day(application.deadline)}, so it "
                "can no longer be changed. Ask the awards team if you need more time.")
    return None


def _draft_for_change(application_id: int, user, now: datetime,
                      criterion_key: str | None = None) -> tuple[Application, Criterion | None]:
    application = lock_row(Application, application_id)
    if application is None:
        raise Refused("There is no such application.")
    problem = editable_problem(application, user, now)
    if problem:
        raise Refused(problem)
    criterion = None
    if criterion_key is not None:
        scheme = scheme_or_refuse(application.scheme_key)
        criterion = scheme.criterion(criterion_key)
        if criterion is None:
            raise Refused(f"The {scheme.name} has no criterion called “{criterion_key}”.")
    application.updated_at = now
    return application, criterion


def save_self_assessment(application_id: int, criterion_key: str, score: int | None,
                         narrative: str, user, now: datetime | None = None) -> None:
    """Save (or replace) the setting's score and narrative for one criterion of a draft.
    ``score`` is a value of the scheme's scale, or ``None`` while still deciding; with neither
    a score nor a narrative there is nothing to save, and it is refused."""
    now = now or utcnow()
    narrative = _check_length((narrative or "").strip(), NARRATIVE_MAX, "The narrative",
                              "narrative")
    if score is None and not narrative:
        raise Refused("Choose how well your setting meets this criterion, or write your "
                      "narrative", field="score")
    with write_transaction():
        application, criterion = _draft_for_change(application_id, user, now, criterion_key)
        scheme = scheme_or_refuse(application.scheme_key)
        if score is not None and scheme.level(score) is None:
            raise Refused("Choose a score from the scale", field="score")
        answer = application.answer_for(criterion_key)
        if answer is None:
            answer = SelfAssessment(application_id=application.id, criterion_key=criterion_key)
            db.session.add(answer)
        answer.score, answer.narrative, answer.updated_at = score, narrative, now
        audit.record("application.self_assessment_saved", actor=user, application=application,
                     detail=criterion.title)


def add_text_evidence(application_id: int, criterion_key: str, text: str, caption: str,
                      user, now: datetime | None = None) -> Evidence:
    """Add a piece of written evidence to one criterion of a draft."""
    now = now or utcnow()
    text = _check_length((text or "").strip(), TEXT_MAX, "The evidence", "text")
    caption = _check_length((caption or "").strip(), CAPTION_MAX, "The caption", "caption")
    if not text:
        raise Refused("Enter the evidence", field="text")
    with write_transaction():
        application, criterion = _draft_for_change(application_id, user, now, criterion_key)
        item = Evidence(application_id=application.id, criterion_key=criterion_key,
                        kind=EvidenceKind.TEXT.value, text=text, caption=caption,
                        added_by_id=user.id, created_at=now)
        db.session.add(item)
        audit.record("application.evidence_added", actor=user, application=application,
                     detail=f"{criterion.title}: text “{caption or text[:60]}”")
    return item


def add_file_evidence(application_id: int, criterion_key: str, name: str | None, data: bytes,
                      declared_type: str | None, caption: str, user,
                      now: datetime | None = None) -> Evidence:
    """Add a file to one criterion of a draft: checked by :func:`awards.evidence.check_upload`
    (type by content, size) and against the scheme's count of files per application, then
    stored under a random name. A refusal stores nothing."""
    now = now or utcnow()
    caption = _check_length((caption or "").strip(), CAPTION_MAX, "The caption", "caption")
    if not caption:
        raise Refused("Enter a caption saying what the file shows", field="caption")
    stored_name = None
    try:
        with write_transaction():
            application, criterion = _draft_for_change(application_id, user, now,
                                                       criterion_key)
            scheme = scheme_or_refuse(application.scheme_key)
            limit = evidence.file_count_limit(scheme)
            if sum(1 for item in application.evidence if item.is_file) >= limit:
                raise Refused(f"An application can have at most {limit} files. Remove a file "
                              "before adding another.", field="file")
            try:
                checked = evidence.check_upload(name, data, declared_type, scheme)
            except evidence.UploadRefused as error:
                raise Refused(str(error), field="file") from error
            stored_name, sha256 = evidence.store(checked)
            item = Evidence(application_id=application.id, criterion_key=criterion_key,
                            kind=EvidenceKind.FILE.value, caption=caption,
                            stored_name=stored_name, sha256=sha256,
                            original_name=checked.original_name,
                            content_type=checked.content_type, size=checked.size,
                            added_by_id=user.id, created_at=now)
            db.session.add(item)
            audit.record("application.evidence_added", actor=user, application=application,
                         detail=f"{criterion.title}: file “{checked.original_name}”")
    except BaseException:
        evidence.remove(stored_name)
        raise
    return item


def remove_evidence(evidence_id: int, user, now: datetime | None = None) -> None:
    """Remove a piece of evidence from a draft (and its file from the store)."""
    now = now or utcnow()
    with write_transaction():
        item = db.session.get(Evidence, evidence_id)
        if item is None:
            raise Refused("That evidence has already been removed.")
        application, _ = _draft_for_change(item.application_id, user, now)
        stored_name = item.stored_name
        label = item.original_name or item.caption or (item.text or "")[:60]
        application.evidence.remove(item)
        audit.record("application.evidence_removed", actor=user, application=application,
                     detail=label)
    evidence.remove(stored_name)


# -- submitting and withdrawing ----------------------------------------------------------------


def criterion_status(application: Application, criterion: Criterion) -> str:
    """``"completed"``, ``"in_progress"`` or ``"not_started"`` for the task list."""
    answer = application.answer_for(criterion.key)
    if (answer is not None and answer.score is not None and answer.narrative) \
            or application.evidence_for(criterion.key):
        return "completed"
    if answer is not None and (answer.score is not None or answer.narrative):
        return "in_progress"
    return "not_started"


def missing_criteria(application: Application) -> list[Criterion]:
    """Criteria with neither a self-assessment (score and narrative) nor any evidence."""
    scheme = scheme_or_refuse(application.scheme_key)
    return [criterion for criterion in scheme.criteria
            if criterion_status(application, criterion) != "completed"]


def applicants_of(setting_id: int) -> list[User]:
    """The setting's active applicants (manager or owner, SENCO, childminder)."""
    return list(db.session.scalars(sa.select(User).where(
        User.setting_id == setting_id, User.active.is_(True),
        User.job_role.in_(APPLICANT_JOB_ROLES)).order_by(User.id)))


def _email_applicants(application: Application, subject: str, template: str, **context) -> None:
    from flask import url_for

    scheme = scheme_or_refuse(application.scheme_key)
    with mail.link_context():
        link = url_for("awards.application", application_id=application.id, _external=True)
        for person in applicants_of(application.setting_id):
            mail.send_template(person, subject, template, application=application,
                               scheme=scheme, link=link, **context)


def submit(application_id: int, user, now: datetime | None = None) -> None:
    """Submit a draft for assessment: refused after its deadline, or while any criterion has
    neither a self-assessment (score and narrative) nor evidence (the message names them).
    Every applicant of the setting is emailed a confirmation."""
    now = now or utcnow()
    with write_transaction():
        application, _ = _draft_for_change(application_id, user, now)
        missing = missing_criteria(application)
        if missing:
            names = ", ".join(f"“{criterion.title}”" for criterion in missing)
            raise Refused(f"Before submitting, give a score and narrative or add evidence for: "
                          f"{names}.")
        application.status = ApplicationStatus.SUBMITTED.value
        application.submitted_at = now
        audit.record("application.submitted", actor=user, application=application)
        scheme = scheme_or_refuse(application.scheme_key)
        _email_applicants(application, f"Application submitted: {scheme.name}",
                          "awards/application_submitted", submitted_by=user)


def withdraw(application_id: int, user, reason: str, now: datetime | None = None) -> None:
    """Withdraw a draft or submitted application (not a decided one); the setting's
    applicants are told by email. Applicants of the setting and admins may withdraw."""
    now = now or utcnow()
    reason = _check_length((reason or "").strip(), REASON_MAX, "The reason", "reason")
    with write_transaction():
        application = lock_row(Application, application_id)
        if application is None:
            raise Refused("There is no such application.")
        if not (applies_for(user, application.setting_id) or is_admin(user)):
            raise Refused("Only the setting's applicants can withdraw its application.")
        if application.status == ApplicationStatus.DECIDED:
            raise Refused("The panel has decided this application, so it cannot be withdrawn.")
        if application.status == ApplicationStatus.WITHDRAWN:
            raise Refused("This application has already been withdrawn.")
        application.status = ApplicationStatus.WITHDRAWN.value
        application.withdrawn_at = application.updated_at = now
        application.withdrawn_reason = reason or None
        audit.record("application.withdrawn", actor=user, application=application,
                     detail=reason)
        scheme = scheme_or_refuse(application.scheme_key)
        _email_applicants(application, f"Application withdrawn: {scheme.name}",
                          "awards/application_withdrawn", withdrawn_by=user, reason=reason)


def extend_deadline(application_id: int, new_last_day: date, admin,
                    now: datetime | None = None) -> None:
    """Give one draft application a later last day (admins only): after today and after the
    window's own closing day."""
    now = now or utcnow()
    with write_transaction():
        if not is_admin(admin):
            raise Refused("Only an administrator can extend a deadline.")
        application = lock_row(Application, application_id)
        if application is None:
            raise Refused("There is no such application.")
        if application.status != ApplicationStatus.DRAFT:
            raise Refused("Only a draft application's deadline can be extended.")
        if new_last_day <= london_today(now) or new_last_day <= application.window_closes:
            raise Refused(f"The new deadline must be after today and after the window closes "
                          f"({day(application.window_closes)})", field="new_last_day")
        application.extended_to = new_last_day
        application.updated_at = now
        audit.record("application.deadline_extended", actor=admin, application=application,
                     detail=f"Last day now {day(new_last_day)}")
