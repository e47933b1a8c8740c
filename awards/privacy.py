"""Subject access and erasure for the awards package.

What it holds about a person: their staff audit answers, the applications they started and
evidence they added for their setting, and, for panel members, their panel places,
declarations and assessments. Erasure deletes what is theirs alone (staff audit answers, panel
places) and keeps the records a decision rests on (assessments, declarations, the audit log),
whose link to the person is the core's account row, which erasure anonymises.
"""

from __future__ import annotations

import sqlalchemy as sa

from awards.models import (
    Application,
    Assessment,
    Declaration,
    Evidence,
    PanelMember,
    StaffAuditAnswer,
)
from trainer.db import db
from trainer.people import User


def _iso(moment) -> str | None:
    return moment.isoformat() if moment is not None else None


def user_data(user: User) -> dict[str, list[dict]] | None:
    """Everything the awards package holds about ``user``, section by section."""
    sections: dict[str, list[dict]] = {}
    audit = [
        {"scheme": row.scheme_key, "criterion": row.criterion_key, "need": row.need,
         "updated_at": _iso(row.updated_at)}
        for row in db.session.scalars(
            sa.select(StaffAuditAnswer).where(StaffAuditAnswer.user_id == user.id)
            .order_by(StaffAuditAnswer.scheme_key, StaffAuditAnswer.criterion_key))
    ]
    applications = [
        {"application_id": row.id, "scheme": row.scheme_key, "setting": row.setting.name,
         "status": row.status, "started_at": _iso(row.created_at),
         "submitted_at": _iso(row.submitted_at)}
        for row in db.session.scalars(
            sa.select(Application).where(Application.started_by_id == user.id)
            .order_by(Application.id))
    ]
    evidence = [
        {"application_id": row.application_id, "criterion": row.criterion_key,
         "kind": row.kind, "caption": row.caption, "file_name": row.original_name,
         "added_at": _iso(row.created_at)}
        for row in db.session.scalars(
            sa.select(Evidence).where(Evidence.added_by_id == user.id).order_by(Evidence.id))
    ]
    panels = [
        {"panel": row.panel.name, "member_type": row.member_type, "chair": row.is_chair}
        for row in db.session.scalars(
            sa.select(PanelMember).where(PanelMember.user_id == user.id))
    ]
    declarations = [
        {"application_id": row.application_id, "conflict_of_interest": row.has_conflict,
         "details": row.details or None, "declared_at": _iso(row.declared_at)}
        for row in db.session.scalars(
            sa.select(Declaration).where(Declaration.user_id == user.id)
            .order_by(Declaration.id))
    ]
    assessments = [
        {"application_id": row.application_id, "submitted_at": _iso(row.submitted_at),
         "scores": "; ".join(f"{score.criterion_key}: {score.score}" for score in row.scores),
         "comments": "; ".join(f"{score.criterion_key}: {score.comment}"
                               for score in row.scores if score.comment) or None}
        for row in db.session.scalars(
            sa.select(Assessment).where(Assessment.assessor_id == user.id)
            .order_by(Assessment.id))
    ]
    for title, rows in (("Award staff audit", audit), ("Award applications started", applications),
                        ("Award evidence added", evidence), ("Award panels", panels),
                        ("Award conflict of interest declarations", declarations),
                        ("Award assessments", assessments)):
        if rows:
            sections[title] = rows
    return sections or None


def erase_user(user: User) -> str:
    """Delete ``user``'s staff audit answers and panel places. Assessments, declarations,
    evidence and the audit log stay (a decision rests on them); the account they point at is
    anonymised by the core. Safe to call twice."""
    answers = db.session.execute(
        sa.delete(StaffAuditAnswer).where(StaffAuditAnswer.user_id == user.id)).rowcount
    places = db.session.execute(
        sa.delete(PanelMember).where(PanelMember.user_id == user.id)).rowcount
    return f"Awards: {answers} staff audit answers and {places} panel places removed"
