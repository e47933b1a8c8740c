"""Who may do what with awards. Deny by default (DESIGN guarantee 5).

* **Applicants**: a setting's manager or owner, SENCO, or a childminder (their own setting), by
  the job role and setting on their profile. They start, edit, submit and withdraw their
  setting's applications and see its decisions and awards.
* **Staff** of a setting (anyone whose profile names it) fill in the staff audit.
* **Panel members** see an application only when it is assigned to their panel, and its
  evidence only after declaring no conflict of interest; a conflict shuts them out of it.
* **Admins** see and manage everything.

Views load applications through :func:`application_or_403` and friends so no check is forgotten.
"""

from __future__ import annotations

from flask import abort
from flask_login import current_user

from awards.models import Application, Declaration, Evidence, PanelMember
from trainer.db import db
from trainer.people import Role

APPLICANT_JOB_ROLES = {"senco", "setting_manager", "childminder"}


def is_admin(user) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and user.has_role(Role.ADMIN)


def is_applicant(user) -> bool:
    """Whether ``user`` may apply for their setting."""
    return (bool(getattr(user, "is_authenticated", False)) and user.setting_id is not None
            and user.job_role in APPLICANT_JOB_ROLES)


def applies_for(user, setting_id: int) -> bool:
    """Whether ``user`` is an applicant for the setting ``setting_id``."""
    return is_applicant(user) and user.setting_id == setting_id


def membership(user, application: Application) -> PanelMember | None:
    """``user``'s place on the panel the application is assigned to, or ``None``."""
    if application.panel is None or not getattr(user, "is_authenticated", False):
        return None
    return application.panel.member_for(user.id)


def declaration_of(user, application: Application) -> Declaration | None:
    return next((d for d in application.declarations if d.user_id == user.id), None)


def may_assess(user, application: Application) -> bool:
    """A member of the assigned panel who has declared no conflict for this application."""
    if membership(user, application) is None:
        return False
    declared = declaration_of(user, application)
    return declared is not None and not declared.has_conflict


def may_view(user, application: Application) -> bool:
    """Admins, the setting's applicants, and panel members free to assess it."""
    return (is_admin(user) or applies_for(user, application.setting_id)
            or may_assess(user, application))


def may_see_evidence(user, application: Application) -> bool:
    return may_view(user, application)


def application_or_403(application_id: int) -> Application:
    """The application, if the signed-in user may see it (404 when there is none)."""
    application = db.get_or_404(Application, application_id)
    if not may_view(current_user, application):
        abort(403)
    return application


def own_application_or_403(application_id: int) -> Application:
    """The application, if the signed-in user applies for its setting (admins too)."""
    application = db.get_or_404(Application, application_id)
    if not (applies_for(current_user, application.setting_id) or is_admin(current_user)):
        abort(403)
    return application


def panel_application_or_403(application_id: int) -> Application:
    """The application, if it is assigned to a panel the signed-in user sits on (whether or
    not they have declared yet; callers check the declaration)."""
    application = db.get_or_404(Application, application_id)
    if membership(current_user, application) is None:
        abort(403)
    return application


def evidence_or_403(evidence_id: int) -> Evidence:
    """A piece of evidence, if the signed-in user may see its application's evidence."""
    evidence = db.get_or_404(Evidence, evidence_id)
    if not may_see_evidence(current_user, evidence.application):
        abort(403)
    return evidence
