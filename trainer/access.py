"""Who may do what. Deny by default.

Every view states who may see it with exactly one of these decorators: :func:`public`,
:func:`signed_in`, :func:`roles_required`. A view without one is refused to everybody
(403), checked by ``before_request`` in :func:`init_app`; a test walks ``app.url_map`` so a new
route without a rule fails the suite.

Who manages what is decided here too, for the core's pages and plugins' alike: an
administrator manages everything; a trainer manages the courses of their own delivery partner
and the training sessions they run or that belong to those courses (DESIGN guarantee 5). Views
load what they change through :func:`course_or_403` or :func:`session_or_403`, so the check is
never forgotten.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TypeVar

import sqlalchemy as sa
from flask import Flask, abort, current_app, request
from flask_login import current_user
from sqlalchemy.orm import selectinload

from trainer.catalogue import Course, TrainingSession, session_trainer
from trainer.db import db
from trainer.people import Role

View = TypeVar("View", bound=Callable)
RULE_ATTRIBUTE = "_trainer_access"


def public(view: View) -> View:
    """Anybody, signed in or not, may see this view."""
    setattr(view, RULE_ATTRIBUTE, "public")
    return view


def signed_in(view: View) -> View:
    """Any signed-in user may see this view; visitors are sent to sign in."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()
        return view(*args, **kwargs)

    setattr(wrapped, RULE_ATTRIBUTE, "signed_in")
    return wrapped  # type: ignore[return-value]


def roles_required(*roles: Role) -> Callable[[View], View]:
    """Only users holding one of ``roles`` may see this view (403 for others)."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        setattr(wrapped, RULE_ATTRIBUTE, "roles:" + ",".join(sorted(map(str, roles))))
        return wrapped  # type: ignore[return-value]

    return decorate


def rule_of(view: Callable) -> str | None:
    """The access rule a view declared, or ``None``."""
    return getattr(view, RULE_ATTRIBUTE, None)


def init_app(app: Flask) -> None:
    """Refuse any request whose view declared no access rule."""

    @app.before_request
    def _deny_undeclared():
        if request.endpoint is None:
            return None  # 404 and 405 are answered by Flask itself
        view = app.view_functions.get(request.endpoint)
        if view is not None and rule_of(view) is None:
            abort(403)
        return None


# -- who manages what ---------------------------------------------------------------------------

MANAGERS = (Role.TRAINER, Role.ADMIN)


def is_admin(user) -> bool:
    """Whether ``user`` is an administrator, who manages everything."""
    return user.has_role(Role.ADMIN)


def may_manage_course(user, course: Course) -> bool:
    """Admins manage every course; trainers the courses of their delivery partner."""
    if is_admin(user):
        return True
    return user.delivery_partner_id is not None and (
        course.delivery_partner_id == user.delivery_partner_id
    )


def may_manage_session(user, training_session: TrainingSession) -> bool:
    """Admins manage every session; trainers the ones they run, and their partner's."""
    if may_manage_course(user, training_session.course):
        return True
    return any(trainer.id == user.id for trainer in training_session.trainers)


def course_or_403(course_id: int) -> Course:
    """The course, if the signed-in user may manage it; 404 if there is none, else 403."""
    course = db.get_or_404(Course, course_id)
    if not may_manage_course(current_user, course):
        abort(403)
    return course


def session_or_403(session_id: int) -> TrainingSession:
    """The training session, if the signed-in user may manage it; 404 if there is none,
    else 403."""
    training_session = db.get_or_404(TrainingSession, session_id)
    if not may_manage_session(current_user, training_session):
        abort(403)
    return training_session


def managed_sessions(user) -> sa.Select:
    """Training sessions ``user`` manages (all of them for an admin)."""
    statement = (
        sa.select(TrainingSession)
        .join(TrainingSession.course)
        .options(selectinload(TrainingSession.course))
    )
    if not is_admin(user):
        runs = TrainingSession.id.in_(
            sa.select(session_trainer.c.training_session_id).where(
                session_trainer.c.user_id == user.id
            )
        )
        if user.delivery_partner_id is not None:
            runs = sa.or_(runs, Course.delivery_partner_id == user.delivery_partner_id)
        statement = statement.where(runs)
    return statement

