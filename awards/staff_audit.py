"""The staff audit: each member of a setting's staff says, for every criterion of a scheme,
how confident they feel; the setting's application shows its staff's needs, weakest first, and
recommends upcoming training on the topics of the weakest criteria."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa

from awards import audit
from awards.applications import scheme_or_refuse
from awards.errors import Refused
from awards.models import StaffAuditAnswer
from awards.schemes import Criterion, Scheme
from trainer.catalogue import SessionFilters, TrainingSession, find_sessions_statement
from trainer.db import db, lock_row, utcnow, write_transaction
from trainer.people import Setting, User

NEEDS = {1: "I feel confident", 2: "I would like to know more", 3: "I need training"}
WEAK_NEED = 2


class CriterionNeed(NamedTuple):
    criterion: Criterion
    mean_need: float | None
    answered_count: int


def staff_answers(user, scheme_key: str) -> dict[str, int]:
    """``user``'s own current answers to the scheme's staff audit, by criterion key."""
    rows = db.session.scalars(sa.select(StaffAuditAnswer).where(
        StaffAuditAnswer.user_id == user.id, StaffAuditAnswer.scheme_key == scheme_key))
    return {row.criterion_key: row.need for row in rows}


def save_staff_audit(user, scheme_key: str, needs: dict[str, int],
                     now: datetime | None = None) -> None:
    """Record ``user``'s own training need for every criterion of the scheme (1 confident,
    2 would like to know more, 3 need training), replacing earlier answers. Anyone whose
    profile names a setting may answer."""
    now = now or utcnow()
    scheme = scheme_or_refuse(scheme_key)
    if getattr(user, "setting_id", None) is None:
        raise Refused("Add your setting to your profile before filling in the staff audit.")
    for criterion in scheme.criteria:
        if needs.get(criterion.key) not in NEEDS:
            raise Refused(f"Choose how you feel about “{criterion.title}”",
                          field=f"need_{criterion.key}")
    with write_transaction():
        lock_row(User, user.id)
        existing = {row.criterion_key: row for row in db.session.scalars(
            sa.select(StaffAuditAnswer).where(StaffAuditAnswer.user_id == user.id,
                                              StaffAuditAnswer.scheme_key == scheme_key))}
        for criterion in scheme.criteria:
            row = existing.get(criterion.key)
            if row is None:
                row = StaffAuditAnswer(user_id=user.id, scheme_key=scheme_key,
                                       criterion_key=criterion.key)
                db.session.add(row)
            row.need, row.updated_at = needs[criterion.key], now
        audit.record("staff_audit.saved", actor=user, detail=scheme.name)


def setting_needs(setting_id: int, scheme: Scheme) -> list[CriterionNeed]:
    """For each criterion, the mean need of the staff linked to the setting now and how many
    answered; the weakest (highest mean need) first, unanswered criteria last."""
    rows = db.session.execute(
        sa.select(StaffAuditAnswer.criterion_key, sa.func.avg(StaffAuditAnswer.need),
                  sa.func.count(StaffAuditAnswer.id))
        .join(User, User.id == StaffAuditAnswer.user_id)
        .where(User.setting_id == setting_id, User.active.is_(True),
               StaffAuditAnswer.scheme_key == scheme.key)
        .group_by(StaffAuditAnswer.criterion_key)).all()
    found = {key: (float(mean), count) for key, mean, count in rows}
    needs = [CriterionNeed(criterion, *found.get(criterion.key, (None, 0)))
             for criterion in scheme.criteria]
    return sorted(needs, key=lambda row: -(row.mean_need or 0))


def recommended_sessions(setting_id: int, scheme: Scheme, now: datetime,
                         limit: int = 5) -> list[TrainingSession]:
    """Upcoming, bookable training sessions (not cancelled, booking open, not restricted to
    another LA) on the topics of the criteria where staff need most (mean need of 2 or more),
    soonest first."""
    topics = sorted({topic for row in setting_needs(setting_id, scheme)
                     if row.mean_need is not None and row.mean_need >= WEAK_NEED
                     for topic in row.criterion.topics})
    if not topics:
        return []
    setting = db.session.get(Setting, setting_id)
    statement = find_sessions_statement(SessionFilters(topic=topics), now).where(
        sa.or_(TrainingSession.booking_opens_at.is_(None),
               TrainingSession.booking_opens_at <= now),
        sa.or_(TrainingSession.booking_closes_at.is_(None),
               TrainingSession.booking_closes_at > now),
        sa.or_(TrainingSession.local_authority_id.is_(None),
               TrainingSession.local_authority_id == getattr(setting, "local_authority_id",
                                                              None)),
    ).limit(limit)
    return list(db.session.scalars(statement))
