"""Who may manage what: the roles allowed on the trainers' pages, and which courses and
training sessions a given trainer may change.

An administrator manages everything. A trainer manages the courses of their own delivery
partner, and the training sessions they run or that belong to those courses (DESIGN guarantee
5). Every view of the ``manage`` blueprint loads what it changes through
:func:`course_or_403` or :func:`session_or_403`, so the check is never forgotten.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort
from flask_login import current_user
from sqlalchemy.orm import selectinload

from trainer.catalogue import Course, TrainingSession, session_trainer
from trainer.db import db
from trainer.people import Role

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

