"""The awards tables: applications with self-assessments and evidence, panels, declarations,
assessments, decisions with action points, awards, staff audits and the audit log.

Scheme details (criteria, scale, outcomes) live in the scheme files, not here: rows refer to a
scheme and its criteria by key. An application keeps the window it was started in, so a
scheme file changing its windows never moves a deadline someone is working to.

Application states::

    draft ──submit──▶ submitted ──decide──▶ decided
      │                   │
      └──withdraw──▶ withdrawn ◀──withdraw──┘

A submitted application is assessed once an admin assigns it to a panel; members declare
conflicts first, then assess independently; the chair records the decision, which is released
to the setting at once by email.
"""

from __future__ import annotations

import enum
import secrets
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from trainer.db import UTCDateTime, db, utcnow
from trainer.people import LocalAuthority, Setting, User


class ApplicationStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    DECIDED = "decided"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS = {
    ApplicationStatus.DRAFT: "Draft",
    ApplicationStatus.SUBMITTED: "Submitted",
    ApplicationStatus.DECIDED: "Decided",
    ApplicationStatus.WITHDRAWN: "Withdrawn",
}


class MemberType(enum.StrEnum):
    PROFESSIONAL = "professional"
    PARENT_CARER = "parent_carer"

    @property
    def label(self) -> str:
        return {"professional": "Professional", "parent_carer": "Parent or carer"}[self.value]


class EvidenceKind(enum.StrEnum):
    TEXT = "text"
    FILE = "file"


def _verification_code() -> str:
    return secrets.token_urlsafe(12)


class Application(db.Model):
    """A setting's application to one scheme."""

    __tablename__ = "award_application"
    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_key: Mapped[str] = mapped_column(sa.String(40), index=True)
    setting_id: Mapped[int] = mapped_column(sa.ForeignKey("setting.id"), index=True)
    started_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(sa.String(20), default=ApplicationStatus.DRAFT.value,
                                        index=True)
    # District or locality within the LA, as the setting gives it; shown on the register.
    district: Mapped[str | None] = mapped_column(sa.String(120))
    window_opens: Mapped[date] = mapped_column(sa.Date)
    window_closes: Mapped[date] = mapped_column(sa.Date)
    # An admin's extension for this application alone: the last day it may be submitted.
    extended_to: Mapped[date | None] = mapped_column(sa.Date)
    renewal_of_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("award_application.id", ondelete="SET NULL"))
    panel_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("award_panel.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_reason: Mapped[str | None] = mapped_column(sa.Text)

    setting: Mapped[Setting] = relationship()
    started_by: Mapped[User | None] = relationship(foreign_keys=[started_by_id])
    panel: Mapped[Panel | None] = relationship(back_populates="applications")
    renewal_of: Mapped[Application | None] = relationship(remote_side=[id])
    answers: Mapped[list[SelfAssessment]] = relationship(
        back_populates="application", cascade="all, delete-orphan")
    evidence: Mapped[list[Evidence]] = relationship(
        back_populates="application", cascade="all, delete-orphan",
        order_by="Evidence.created_at")
    declarations: Mapped[list[Declaration]] = relationship(
        back_populates="application", cascade="all, delete-orphan")
    assessments: Mapped[list[Assessment]] = relationship(
        back_populates="application", cascade="all, delete-orphan")
    decision: Mapped[Decision | None] = relationship(
        back_populates="application", cascade="all, delete-orphan", uselist=False)
    award: Mapped[Award | None] = relationship(back_populates="application", uselist=False)

    @property
    def status_label(self) -> str:
        return ApplicationStatus(self.status).label

    @property
    def deadline(self) -> date:
        """The last day the application may be submitted (London)."""
        return max(self.window_closes, self.extended_to or self.window_closes)

    def answer_for(self, criterion_key: str) -> SelfAssessment | None:
        return next((a for a in self.answers if a.criterion_key == criterion_key), None)

    def evidence_for(self, criterion_key: str) -> list[Evidence]:
        return [item for item in self.evidence if item.criterion_key == criterion_key]


class SelfAssessment(db.Model):
    """The setting's own score and narrative for one criterion."""

    __tablename__ = "award_self_assessment"
    __table_args__ = (sa.UniqueConstraint("application_id", "criterion_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("award_application.id", ondelete="CASCADE"), index=True)
    criterion_key: Mapped[str] = mapped_column(sa.String(40))
    score: Mapped[int | None]
    narrative: Mapped[str] = mapped_column(sa.Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    application: Mapped[Application] = relationship(back_populates="answers")


class Evidence(db.Model):
    """A piece of evidence for one criterion: some text, or a file stored under a random name
    outside the static folder (see :mod:`awards.evidence`)."""

    __tablename__ = "award_evidence"
    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("award_application.id", ondelete="CASCADE"), index=True)
    criterion_key: Mapped[str] = mapped_column(sa.String(40))
    kind: Mapped[str] = mapped_column(sa.String(10))
    caption: Mapped[str] = mapped_column(sa.String(300), default="")
    text: Mapped[str | None] = mapped_column(sa.Text)
    stored_name: Mapped[str | None] = mapped_column(sa.String(80), unique=True)
    original_name: Mapped[str | None] = mapped_column(sa.String(255))
    content_type: Mapped[str | None] = mapped_column(sa.String(120))
    size: Mapped[int | None]
    sha256: Mapped[str | None] = mapped_column(sa.String(64))
    added_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    application: Mapped[Application] = relationship(back_populates="evidence")

    @property
    def is_file(self) -> bool:
        return self.kind == EvidenceKind.FILE


class Panel(db.Model):
    """A moderation panel: professionals and parents or carers, one of them the chair."""

    __tablename__ = "award_panel"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    members: Mapped[list[PanelMember]] = relationship(
        back_populates="panel", cascade="all, delete-orphan", order_by="PanelMember.id")
    applications: Mapped[list[Application]] = relationship(back_populates="panel")

    @property
    def chair(self) -> PanelMember | None:
        return next((member for member in self.members if member.is_chair), None)

    def member_for(self, user_id: int) -> PanelMember | None:
        return next((member for member in self.members if member.user_id == user_id), None)


class PanelMember(db.Model):
    __tablename__ = "award_panel_member"
    __table_args__ = (sa.UniqueConstraint("panel_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    panel_id: Mapped[int] = mapped_column(
        sa.ForeignKey("award_panel.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    member_type: Mapped[str] = mapped_column(sa.String(20))
    is_chair: Mapped[bool] = mapped_column(default=False)

    panel: Mapped[Panel] = relationship(back_populates="members")
    user: Mapped[User] = relationship()

    @property
    def type_label(self) -> str:
        return MemberType(self.member_type).label


class Declaration(db.Model):
    """A panel member's declaration, for one application, of whether they have a conflict of
    interest. Made once, before any evidence is shown; a conflict removes them from it."""

    __tablename__ = "award_declaration"
    __table_args__ = (sa.UniqueConstraint("application_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("award_application.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"),
                                         index=True)
    has_conflict: Mapped[bool]
    details: Mapped[str] = mapped_column(sa.Text, default="")
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    application: Mapped[Application] = relationship(back_populates="declarations")
    user: Mapped[User] = relationship()


class Assessment(db.Model):
    """One panel member's independent assessment of one application. Saved as a draft until
    submitted; other members' assessments stay hidden from them until then."""

    __tablename__ = "award_assessment"
    __table_args__ = (sa.UniqueConstraint("application_id", "assessor_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("award_application.id", ondelete="CASCADE"), index=True)
    assessor_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    member_type: Mapped[str] = mapped_column(sa.String(20))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    application: Mapped[Application] = relationship(back_populates="assessments")
    assessor: Mapped[User] = relationship()
    scores: Mapped[list[AssessmentScore]] = relationship(
        back_populates="assessment", cascade="all, delete-orphan")

    def score_for(self, criterion_key: str) -> AssessmentScore | None:
        return next((s for s in self.scores if s.criterion_key == criterion_key), None)


class AssessmentScore(db.Model):
    __tablename__ = "award_assessment_score"
    __table_args__ = (sa.UniqueConstraint("assessment_id", "criterion_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("award_assessment.id", ondelete="CASCADE"), index=True)
    criterion_key: Mapped[str] = mapped_column(sa.String(40))
    score: Mapped[int | None]
    comment: Mapped[str] = mapped_column(sa.Text, default="")

    assessment: Mapped[Assessment] = relationship(back_populates="scores")


class Decision(db.Model):
    """The panel's agreed outcome, recorded by the chair and released to the setting."""

    __tablename__ = "award_decision"
    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("award_application.id", ondelete="CASCADE"), unique=True)
    outcome_key: Mapped[str] = mapped_column(sa.String(40))
    reasons: Mapped[str] = mapped_column(sa.Text)
    decided_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    application: Mapped[Application] = relationship(back_populates="decision")
    decided_by: Mapped[User | None] = relationship()
    action_points: Mapped[list[ActionPoint]] = relationship(
        back_populates="decision", cascade="all, delete-orphan", order_by="ActionPoint.id")


class ActionPoint(db.Model):
    __tablename__ = "award_action_point"
    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(
        sa.ForeignKey("award_decision.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(sa.Text)
    due_on: Mapped[date | None] = mapped_column(sa.Date)

    decision: Mapped[Decision] = relationship(back_populates="action_points")


class Award(db.Model):
    """An award made to a setting. Current from ``awarded_on`` to ``expires_on`` (inclusive)
    unless withdrawn. The LA and district are kept as they were when it was made, for the
    register and the celebration report."""

    __tablename__ = "award_award"
    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("award_application.id"), unique=True)
    scheme_key: Mapped[str] = mapped_column(sa.String(40), index=True)
    setting_id: Mapped[int] = mapped_column(sa.ForeignKey("setting.id"), index=True)
    local_authority_id: Mapped[int] = mapped_column(sa.ForeignKey("local_authority.id"),
                                                    index=True)
    district: Mapped[str | None] = mapped_column(sa.String(120))
    outcome_key: Mapped[str] = mapped_column(sa.String(40))
    awarded_on: Mapped[date] = mapped_column(sa.Date, index=True)
    expires_on: Mapped[date] = mapped_column(sa.Date, index=True)
    verification_code: Mapped[str] = mapped_column(sa.String(32), unique=True,
                                                   default=_verification_code)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_reason: Mapped[str | None] = mapped_column(sa.Text)
    reminded_90_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_30_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    application: Mapped[Application] = relationship(back_populates="award")
    setting: Mapped[Setting] = relationship()
    local_authority: Mapped[LocalAuthority] = relationship()

    def status_on(self, day: date) -> str:
        """``"withdrawn"``, ``"expired"``, ``"not_yet"`` or ``"valid"`` on ``day``."""
        if self.withdrawn_at is not None:
            return "withdrawn"
        if day > self.expires_on:
            return "expired"
        if day < self.awarded_on:
            return "not_yet"
        return "valid"


class StaffAuditAnswer(db.Model):
    """One member of staff's own training need against one criterion of a scheme:
    1 confident, 2 would like more, 3 need training. Kept per person, so the setting's needs
    are those of the staff linked to it now."""

    __tablename__ = "award_staff_audit_answer"
    __table_args__ = (sa.UniqueConstraint("user_id", "scheme_key", "criterion_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"),
                                         index=True)
    scheme_key: Mapped[str] = mapped_column(sa.String(40))
    criterion_key: Mapped[str] = mapped_column(sa.String(40))
    need: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEvent(db.Model):
    """One entry of the append-only audit log: who did what, when. Rows are never changed or
    deleted: the ORM refuses to, and the database refuses to as well (triggers)."""

    __tablename__ = "award_audit_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    application_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("award_application.id"), index=True)
    award_id: Mapped[int | None] = mapped_column(sa.ForeignKey("award_award.id"), index=True)
    action: Mapped[str] = mapped_column(sa.String(60))
    detail: Mapped[str] = mapped_column(sa.Text, default="")

    actor: Mapped[User | None] = relationship()
