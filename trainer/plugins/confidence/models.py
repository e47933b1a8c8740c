"""Questionnaire tables: the statements people rate, who answered, and their answers.

A *respondent* is one person on one training session. Their answers at each *stage* (before,
after, follow-up) are *responses*, one per stage, each with a *rating* (1 to 5) per statement.
Before-and-after pairs are matched through the respondent's random ``key``, so when the
respondent is detached from the person (after the retention period, or on erasure) the pairs,
and every statistic built on them, stay exactly as they were.
"""

from __future__ import annotations

import enum
import secrets
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from trainer.catalogue import Course, TrainingSession
from trainer.db import UTCDateTime, db, utcnow
from trainer.people import User


class Stage(enum.StrEnum):
    PRE = "pre"
    POST = "post"
    FOLLOW_UP = "follow_up"

    @property
    def label(self) -> str:
        return STAGE_LABELS[self]


STAGE_LABELS = {Stage.PRE: "Before", Stage.POST: "After", Stage.FOLLOW_UP: "Follow-up"}
STAGE_TITLES = {
    Stage.PRE: "Before the training",
    Stage.POST: "After the training",
    Stage.FOLLOW_UP: "Follow-up: what you did with it",
}


class StatementKind(enum.StrEnum):
    CONFIDENCE = "confidence"
    KNOWLEDGE = "knowledge"
    EVALUATION = "evaluation"

    @property
    def label(self) -> str:
        return KIND_LABELS[self]


KIND_LABELS = {
    StatementKind.CONFIDENCE: "Confidence",
    StatementKind.KNOWLEDGE: "Knowledge",
    StatementKind.EVALUATION: "Evaluation",
}
# The labelled ends of each kind's 1-to-5 scale.
SCALE_ENDS = {
    StatementKind.CONFIDENCE: ("Not at all confident", "Very confident"),
    StatementKind.KNOWLEDGE: ("Very little", "A great deal"),
    StatementKind.EVALUATION: ("Strongly disagree", "Strongly agree"),
}


class UsedLearning(enum.StrEnum):
    YES = "yes"
    PARTLY = "partly"
    NOT_YET = "not_yet"


USED_LEARNING_LABELS = {
    UsedLearning.YES: "Yes",
    UsedLearning.PARTLY: "Partly",
    UsedLearning.NOT_YET: "Not yet",
}


class RecordedHow(enum.StrEnum):
    PAPER = "paper"
    IN_ROOM = "in_room"
    IMPORTED = "imported"  # from a CSV file (Administration → Imports), never from the form


RECORDED_HOW_LABELS = {
    RecordedHow.PAPER: "From a paper form",
    RecordedHow.IN_ROOM: "Asked in the room",
    RecordedHow.IMPORTED: "Imported from a file",
}


class Statement(db.Model):
    """A statement to rate from 1 to 5.

    Confidence and knowledge statements belong to a course; evaluation statements
    (``course_id`` empty) are shared by every course. ``origin`` names the default a statement
    was made from, so defaults are created once even when two requests race to create them.
    A statement that has ratings keeps its wording; it can be retired instead.
    """

    __tablename__ = "confidence_statement"
    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("course.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(20))
    text: Mapped[str] = mapped_column(sa.String(300))
    position: Mapped[int] = mapped_column(default=0)
    origin: Mapped[str | None] = mapped_column(sa.String(120), unique=True)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    course: Mapped[Course | None] = relationship()

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[StatementKind(self.kind)]

    @property
    def scale_ends(self) -> tuple[str, str]:
        return SCALE_ENDS[StatementKind(self.kind)]


def new_key() -> str:
    return secrets.token_hex(16)


class Respondent(db.Model):
    """One person answering about one training session.

    ``user_id`` is cleared when the answers are detached from the person; ``key`` (random) keeps
    their stages paired. ``local_authority_id`` is the person's LA when they first answered, so
    LA figures survive detachment.
    """

    __tablename__ = "confidence_respondent"
    __table_args__ = (sa.UniqueConstraint("training_session_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(32), unique=True, default=new_key)
    training_session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("training_session.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL"), index=True
    )
    local_authority_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("local_authority.id"), index=True
    )
    detached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    training_session: Mapped[TrainingSession] = relationship()
    user: Mapped[User | None] = relationship()
    responses: Mapped[list[Response]] = relationship(
        back_populates="respondent", cascade="all, delete-orphan"
    )


class Response(db.Model):
    """One respondent's answers at one stage. A change of mind replaces it (``revisions``)."""

    __tablename__ = "confidence_response"
    __table_args__ = (sa.UniqueConstraint("respondent_id", "stage"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    respondent_id: Mapped[int] = mapped_column(
        sa.ForeignKey("confidence_respondent.id", ondelete="CASCADE"), index=True
    )
    stage: Mapped[str] = mapped_column(sa.String(20))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revisions: Mapped[int] = mapped_column(default=0)
    # Set when a trainer recorded the answers on the person's behalf.
    recorded_how: Mapped[str | None] = mapped_column(sa.String(20))
    recorded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL")
    )
    used_learning: Mapped[str | None] = mapped_column(sa.String(20))
    do_differently: Mapped[str] = mapped_column(sa.Text, default="")
    barriers: Mapped[str] = mapped_column(sa.Text, default="")
    comments: Mapped[str] = mapped_column(sa.Text, default="")

    respondent: Mapped[Respondent] = relationship(back_populates="responses")
    recorded_by: Mapped[User | None] = relationship()
    ratings: Mapped[list[Rating]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", back_populates="response"
    )

    @property
    def on_behalf(self) -> bool:
        return self.recorded_how is not None

    @property
    def recorded_how_label(self) -> str | None:
        return RECORDED_HOW_LABELS.get(self.recorded_how) if self.recorded_how else None

    @property
    def used_learning_label(self) -> str | None:
        return USED_LEARNING_LABELS.get(self.used_learning) if self.used_learning else None


class Rating(db.Model):
    __tablename__ = "confidence_rating"
    __table_args__ = (sa.CheckConstraint("value BETWEEN 1 AND 5", name="rating_one_to_five"),)
    response_id: Mapped[int] = mapped_column(
        sa.ForeignKey("confidence_response.id", ondelete="CASCADE"), primary_key=True
    )
    statement_id: Mapped[int] = mapped_column(
        sa.ForeignKey("confidence_statement.id"), primary_key=True, index=True
    )
    value: Mapped[int] = mapped_column(sa.SmallInteger)

    response: Mapped[Response] = relationship(back_populates="ratings")
    statement: Mapped[Statement] = relationship(lazy="joined")


class Invitation(db.Model):
    """An email asking someone to answer a stage: sent once, reminded at most once a day.

    Deleted when the respondent is detached: it names the person.
    """

    __tablename__ = "confidence_invitation"
    training_session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("training_session.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    stage: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    invited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminders: Mapped[int] = mapped_column(default=0)
