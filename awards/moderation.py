"""Assignment to panels, declarations of interest, independent assessments and decisions.

Admins assign submitted applications to panels (formed in :mod:`awards.panels`). Each member
declares, once per application and before seeing any evidence, whether they have a conflict of
interest; a conflict shuts them out of that application and tells every admin. Members who
are free to assess score every criterion on the scheme's scale, in private: nobody sees the
others' assessments until their own is submitted. When enough members have submitted (the
scheme's panel rules), the chair records the agreed outcome, which is released to the
setting's applicants by email at once.

Every function that changes data runs its own transaction, re-checks the state under a row
lock, raises :class:`~awards.errors.Refused` (nothing written) for anything not allowed, and
writes an entry to the audit log in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask import url_for
from sqlalchemy.exc import IntegrityError

from awards import audit
from awards.errors import Refused
from awards.models import (
    ActionPoint,
    Application,
    ApplicationStatus,
    Assessment,
    AssessmentScore,
    Decision,
    Declaration,
    MemberType,
    Panel,
)
from awards.permissions import APPLICANT_JOB_ROLES, declaration_of, is_admin, membership
from awards.schemes import Criterion, Scheme, get_scheme
from trainer import mail
from trainer.db import db, lock_row, utcnow, write_transaction
from trainer.people import Role, User, UserRole
from trainer.times import to_london

TEXT_MAX = 5000
ACTION_POINTS_MAX = 5


def assign(application_id: int, panel_id: int, admin: User) -> None:
    """Assign a submitted application to a panel that meets the scheme's rules (enough
    members, a parent or carer if required, a chair), and email its members that they have
    an application to declare on. Reassigning is allowed until an assessment is submitted."""
    with write_transaction():
        application = _application_or_refuse(application_id)
        if application.status != ApplicationStatus.SUBMITTED:
            raise Refused("Only a submitted application can be assigned to a panel: this one "
                          f"is {application.status_label.lower()}", field="panel")
        panel = db.session.get(Panel, panel_id) if panel_id else None
        if panel is None:
            raise Refused("Choose a panel", field="panel")
        if application.panel_id == panel.id:
            raise Refused(f"This application is already assigned to {panel.name}",
                          field="panel")
        if any(a.submitted_at is not None for a in application.assessments):
            raise Refused("This application can no longer be moved to another panel: an "
                          "assessment has already been submitted", field="panel")
        missing = _panel_shortfall(panel, _scheme(application))
        if missing:
            raise Refused(f"{panel.name} cannot take this application yet: it "
                          f"{' and '.join(missing)}", field="panel")
        application.panel = panel
        audit.record("application.assigned", actor=admin, application=application,
                     detail=f"Assigned to {panel.name}")
        scheme = _scheme(application)
        with mail.link_context():
            link = url_for("awards.declare", application_id=application.id, _external=True)
            for member in panel.members:
                mail.send_template(member.user, "An award application for your panel",
                                   "awards/assigned", application=application, scheme=scheme,
                                   panel=panel, link=link)


def _panel_shortfall(panel: Panel, scheme: Scheme) -> list[str]:
    missing = []
    if len(panel.members) < scheme.minimum_assessors:
        missing.append(f"needs at least {scheme.minimum_assessors} members "
                       f"(it has {len(panel.members)})")
    if scheme.parent_carer_required and not any(
            m.member_type == MemberType.PARENT_CARER for m in panel.members):
        missing.append("needs a parent or carer member")
    if panel.chair is None:
        missing.append("needs a chair")
    return missing


# -- declarations and assessments ---------------------------------------------------------------


def declare(application_id: int, user: User, has_conflict: bool, details: str,
            now: datetime | None = None) -> Declaration:
    """Record, once, whether ``user`` has a conflict of interest with the application. A
    conflict (details required) shuts them out of it and emails every admin."""
    now = now or utcnow()
    details = (details or "").strip()
    if has_conflict and not details:
        raise Refused("Say what your conflict of interest is", field="details")
    if len(details) > TEXT_MAX:
        raise Refused(f"Details must be {TEXT_MAX:,} characters or fewer", field="details")
    with write_transaction():
        application = _application_or_refuse(application_id)
        if membership(user, application) is None:
            raise Refused("Only members of the panel this application is assigned to can "
                          "declare on it")
        if application.status != ApplicationStatus.SUBMITTED:
            raise Refused(f"This application is {application.status_label.lower()}: there "
                          "is nothing left to declare on")
        if declaration_of(user, application) is not None:
            raise Refused("You have already made your declaration for this application; it "
                          "cannot be changed. Contact an admin if something has changed.")
        declaration = Declaration(application=application, user_id=user.id,
                                  has_conflict=has_conflict,
                                  details=details if has_conflict else "", declared_at=now)
        db.session.add(declaration)
        flush_or_refuse("You have already made your declaration for this application")
        audit.record("declaration.conflict" if has_conflict else "declaration.no_conflict",
                     actor=user, application=application, detail=declaration.details)
        if has_conflict:
            _tell_admins_of_conflict(application, user, details)
    return declaration


def _tell_admins_of_conflict(application: Application, member: User, details: str) -> None:
    admins = db.session.scalars(
        sa.select(User).join(UserRole).where(UserRole.role == str(Role.ADMIN),
                                             User.active.is_(True)).order_by(User.id)).all()
    scheme = _scheme(application)
    with mail.link_context():
        link = url_for("awards.admin_application", application_id=application.id,
                       _external=True)
        for admin in admins:
            mail.send_template(admin, f"Conflict of interest declared: {application.setting.name}",
                               "awards/conflict_declared", application=application,
                               scheme=scheme, member=member, details=details, link=link)


def save_assessment(application_id: int, user: User,
                    scores: dict[str, tuple[int | None, str]], submit: bool,
                    now: datetime | None = None) -> Assessment:
    """Save ``user``'s assessment: a draft may hold any criteria; submitting needs every
    criterion scored on the scheme's scale, and after that nothing changes. Only panel members
    who declared no conflict may assess."""
    now = now or utcnow()
    with write_transaction():
        application = _application_or_refuse(application_id)
        member = membership(user, application)
        declared = declaration_of(user, application)
        if member is None or declared is None or declared.has_conflict:
            raise Refused("Only panel members who have declared no conflict of interest can "
                          "assess this application")
        if application.status != ApplicationStatus.SUBMITTED:
            raise Refused(f"This application is {application.status_label.lower()}: it can "
                          "no longer be assessed")
        scheme = _scheme(application)
        assessment = next((a for a in application.assessments if a.assessor_id == user.id),
                          None)
        if assessment is not None and assessment.submitted_at is not None:
            raise Refused("You have already submitted your assessment; it cannot be changed")
        for key, (score, comment) in scores.items():
            if scheme.criterion(key) is None:
                raise Refused(f"This scheme has no criterion “{key}”")
            if score is not None and scheme.level(score) is None:
                raise Refused("Choose a score from the scale", field=f"score_{key}")
            if len(comment or "") > TEXT_MAX:
                raise Refused(f"Comments must be {TEXT_MAX:,} characters or fewer",
                              field=f"comment_{key}")
        if assessment is None:
            assessment = Assessment(application=application, assessor_id=user.id,
                                    member_type=member.member_type, updated_at=now)
            db.session.add(assessment)
        for key, (score, comment) in scores.items():
            row = assessment.score_for(key)
            if row is None:
                row = AssessmentScore(criterion_key=key)
                assessment.scores.append(row)
            row.score, row.comment = score, (comment or "").strip()
        if submit:
            unscored = [c for c in scheme.criteria if _score_of(assessment, c) is None]
            if unscored:
                raise Refused(f"Choose a score for “{unscored[0].title}” before submitting",
                              field=f"score_{unscored[0].key}")
            assessment.submitted_at = now
        assessment.updated_at = now
        flush_or_refuse("Your assessment was saved at the same time elsewhere: try again")
        audit.record("assessment.submitted" if submit else "assessment.saved", actor=user,
                     application=application)
    return assessment


def _score_of(assessment: Assessment, criterion: Criterion) -> int | None:
    row = assessment.score_for(criterion.key)
    return row.score if row is not None else None


def others_visible(application: Application, user) -> bool:
    """Whether ``user`` may see the other members' assessments: admins always; members once
    their own assessment is submitted."""
    if is_admin(user):
        return True
    own = next((a for a in application.assessments if a.assessor_id == user.id), None)
    return own is not None and own.submitted_at is not None


def counted_assessments(application: Application) -> list[Assessment]:
    """The submitted assessments of assessors who did not declare a conflict, first
    submitted first: the ones moderation is based on."""
    conflicted = {d.user_id for d in application.declarations if d.has_conflict}
    return sorted((a for a in application.assessments
                   if a.submitted_at is not None and a.assessor_id not in conflicted),
                  key=lambda a: (a.submitted_at, a.id))


def panel_ready(application: Application) -> tuple[bool, str]:
    """Whether the panel may decide: enough submitted assessments from members without a
    conflict (the scheme's minimum) and, if the scheme requires, one from a parent or carer.
    When not ready, the reason says what is still needed."""
    if application.panel is None:
        return False, "The application has not been assigned to a panel yet."
    scheme = _scheme(application)
    counted = counted_assessments(application)
    if len(counted) < scheme.minimum_assessors:
        return False, (f"{len(counted)} of the {scheme.minimum_assessors} assessments needed "
                       "have been submitted.")
    if scheme.parent_carer_required and not any(
            a.member_type == MemberType.PARENT_CARER for a in counted):
        return False, "An assessment from a parent or carer member is still needed."
    return True, "The panel's assessments are in: the chair can record the decision."


@dataclass(frozen=True)
class AssessorScore:
    assessor_number: int
    member_type_label: str
    score: int | None
    score_label: str
    comment: str


@dataclass(frozen=True)
class ModerationRow:
    criterion: Criterion
    self_score_label: str
    scores: list[AssessorScore]
    disagree: bool


def moderation_rows(application: Application) -> list[ModerationRow]:
    """Per criterion: the setting's own score, each counted assessor's score and comment
    (numbered, with their member type, never named) and whether their scores differ."""
    scheme = _scheme(application)
    counted = counted_assessments(application)
    rows = []
    for criterion in scheme.criteria:
        answer = application.answer_for(criterion.key)
        own = scheme.level(answer.score) if answer is not None else None
        scores = []
        for number, assessment in enumerate(counted, start=1):
            row = assessment.score_for(criterion.key)
            level = scheme.level(row.score) if row is not None else None
            scores.append(AssessorScore(
                assessor_number=number,
                member_type_label=MemberType(assessment.member_type).label,
                score=row.score if row is not None else None,
                score_label=level.label if level else "Not scored",
                comment=row.comment if row is not None else ""))
        rows.append(ModerationRow(
            criterion=criterion, self_score_label=own.label if own else "Not given",
            scores=scores, disagree=len({s.score for s in scores}) > 1))
    return rows


# -- decisions ----------------------------------------------------------------------------------


def decide(application_id: int, chair_user: User, outcome_key: str, reasons: str,
           action_points: list[tuple[str, date | None]], now: datetime | None = None
           ) -> Decision:
    """Record the panel's decision (the chair only, once the panel is ready, once) and release
    it at once: the applicants of the setting are emailed the outcome, the reasons and any
    action points, with no assessor named. An outcome that awards makes the award in the
    same transaction."""
    now = now or utcnow()
    today = to_london(now).date()
    reasons = (reasons or "").strip()
    points = [((text or "").strip(), due) for text, due in action_points]
    with write_transaction():
        application = _application_or_refuse(application_id)
        if application.status == ApplicationStatus.DECIDED:
            raise Refused("The decision on this application has already been recorded")
        if application.status != ApplicationStatus.SUBMITTED:
            raise Refused(f"This application is {application.status_label.lower()}: no "
                          "decision can be recorded")
        member = membership(chair_user, application)
        if member is None or not member.is_chair:
            raise Refused("Only the chair of the panel can record the decision")
        declared = declaration_of(chair_user, application)
        if declared is None:
            raise Refused("Declare your interests in this application before deciding it")
        if declared.has_conflict:
            raise Refused("You declared a conflict of interest, so you cannot decide this "
                          "application. Ask an admin to name another chair for the panel.")
        ready, reason = panel_ready(application)
        if not ready:
            raise Refused(f"The panel is not ready to decide: {reason[0].lower()}{reason[1:]}")
        scheme = _scheme(application)
        outcome = scheme.outcome(outcome_key or "")
        if outcome is None:
            raise Refused("Choose the outcome", field="outcome")
        if not reasons:
            raise Refused("Give the reasons for the decision", field="reasons")
        if len(reasons) > TEXT_MAX:
            raise Refused(f"Reasons must be {TEXT_MAX:,} characters or fewer",
                          field="reasons")
        kept = _check_action_points(points, today)
        if outcome.action_points and not kept:
            raise Refused(f"“{outcome.label}” needs at least one action point",
                          field="point_1_text")
        decision = Decision(application=application, outcome_key=outcome.key,
                            reasons=reasons, decided_by_id=chair_user.id, decided_at=now,
                            released_at=now)
        decision.action_points = [ActionPoint(text=text, due_on=due) for text, due in kept]
        db.session.add(decision)
        application.status = ApplicationStatus.DECIDED.value
        application.updated_at = now
        flush_or_refuse("The decision on this application has already been recorded")
        audit.record("decision.released", actor=chair_user, application=application,
                     detail=outcome.label)
        if outcome.awards:
            from awards.register import make_award

            make_award(application, outcome, now)
        _tell_applicants(application, scheme, outcome, decision)
    return decision


def _check_action_points(points: list[tuple[str, date | None]], today: date
                         ) -> list[tuple[str, date | None]]:
    if len(points) > ACTION_POINTS_MAX:
        raise Refused(f"Give at most {ACTION_POINTS_MAX} action points")
    kept = []
    for number, (text, due) in enumerate(points, start=1):
        if not text:
            if due is not None:
                raise Refused(f"Write action point {number}, or clear its due date",
                              field=f"point_{number}_text")
            continue
        if len(text) > TEXT_MAX:
            raise Refused(f"Action point {number} must be {TEXT_MAX:,} characters or fewer",
                          field=f"point_{number}_text")
        if due is not None and due <= today:
            raise Refused(f"The due date of action point {number} must be in the future",
                          field=f"point_{number}_day")
        kept.append((text, due))
    return kept


def _tell_applicants(application: Application, scheme: Scheme, outcome, decision: Decision
                     ) -> None:
    applicants = db.session.scalars(
        sa.select(User).where(User.setting_id == application.setting_id,
                              User.job_role.in_(APPLICANT_JOB_ROLES), User.active.is_(True))
        .order_by(User.id)).all()
    with mail.link_context():
        link = url_for("awards.application", application_id=application.id, _external=True)
        for applicant in applicants:
            mail.send_template(applicant, f"{scheme.name}: the panel's decision",
                               "awards/decision_released", application=application,
                               scheme=scheme, outcome=outcome, decision=decision, link=link)


# -- helpers ------------------------------------------------------------------------------------


def _scheme(application: Application) -> Scheme:
    scheme = get_scheme(application.scheme_key)
    if scheme is None:
        raise Refused("This application's scheme is no longer offered; contact an admin")
    return scheme


def _application_or_refuse(application_id: int) -> Application:
    application = lock_row(Application, application_id)
    if application is None:
        raise Refused("There is no such application")
    return application


def flush_or_refuse(message: str, field: str | None = None) -> None:
    """Flush, turning a unique-key clash (someone did the same at the same moment) into a
    refusal; the transaction is rolled back by :func:`write_transaction`."""
    try:
        db.session.flush()
    except IntegrityError as error:
        raise Refused(message, field=field) from error
