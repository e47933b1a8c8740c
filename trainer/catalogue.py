"""The catalogue: courses, training sessions, their meetings and venues, and finding them.

A :class:`Course` is what is taught; a :class:`TrainingSession` is one bookable run of it with
a capacity; a :class:`Meeting` is one dated part of a session (most have one, an accredited
course several). Times are stored in UTC; ``starts_at``/``ends_at`` on the session mirror its
first and last meeting so that lists can be sorted and filtered without joining meetings.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from trainer.db import UTCDateTime, db, utcnow
from trainer.people import DeliveryPartner, LocalAuthority, Region, User
from trainer.times import LONDON


class Topic(enum.StrEnum):
    SPEECH_LANGUAGE_COMMUNICATION = "speech_language_communication"
    AUTISM = "autism"
    TRANSITION_TO_SCHOOL = "transition_to_school"
    WORKING_WITH_PARENTS = "working_with_parents"
    MAKATON = "makaton"
    BEHAVIOUR = "behaviour"
    SENCO_ROLE = "senco_role"
    SENSORY_AND_PHYSICAL = "sensory_and_physical"
    EARLY_IDENTIFICATION = "early_identification"


TOPIC_LABELS = {
    Topic.SPEECH_LANGUAGE_COMMUNICATION: "Speech, language and communication",
    Topic.AUTISM: "Autism",
    Topic.TRANSITION_TO_SCHOOL: "Transition to school",
    Topic.WORKING_WITH_PARENTS: "Working with parents",
    Topic.MAKATON: "Makaton",
    Topic.BEHAVIOUR: "Behaviour",
    Topic.SENCO_ROLE: "The SENCO role",
    Topic.SENSORY_AND_PHYSICAL: "Sensory and physical needs",
    Topic.EARLY_IDENTIFICATION: "Early identification of needs",
}


class Audience(enum.StrEnum):
    PRACTITIONERS = "practitioners"
    SENCOS = "sencos"
    MANAGERS = "managers"
    CHILDMINDERS = "childminders"
    HEALTH_VISITORS = "health_visitors"
    PARENTS_CARERS = "parents_carers"


AUDIENCE_LABELS = {
    Audience.PRACTITIONERS: "Early years practitioners",
    Audience.SENCOS: "SENCOs",
    Audience.MANAGERS: "Setting managers",
    Audience.CHILDMINDERS: "Childminders",
    Audience.HEALTH_VISITORS: "Health visitors",
    Audience.PARENTS_CARERS: "Parents and carers",
}


class Level(enum.StrEnum):
    INTRODUCTORY = "introductory"
    INTERMEDIATE = "intermediate"
    ADVANCED = "advanced"
    LEVEL_3 = "level_3"


LEVEL_LABELS = {
    Level.INTRODUCTORY: "Introductory",
    Level.INTERMEDIATE: "Intermediate",
    Level.ADVANCED: "Advanced",
    Level.LEVEL_3: "Level 3 (accredited)",
}


class Mode(enum.StrEnum):
    ONLINE = "online"
    IN_PERSON = "in_person"
    HYBRID = "hybrid"


MODE_LABELS = {Mode.ONLINE: "Online", Mode.IN_PERSON: "In person", Mode.HYBRID: "Hybrid"}


class SessionStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class CourseTopic(db.Model):
    __tablename__ = "course_topic"
    course_id: Mapped[int] = mapped_column(
        sa.ForeignKey("course.id", ondelete="CASCADE"), primary_key=True
    )
    topic: Mapped[str] = mapped_column(sa.String(40), primary_key=True, index=True)


class CourseAudience(db.Model):
    __tablename__ = "course_audience"
    course_id: Mapped[int] = mapped_column(
        sa.ForeignKey("course.id", ondelete="CASCADE"), primary_key=True
    )
    audience: Mapped[str] = mapped_column(sa.String(40), primary_key=True, index=True)


class Course(db.Model):
    """What is taught."""

    __tablename__ = "course"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    level: Mapped[str] = mapped_column(sa.String(20), default=Level.INTRODUCTORY)
    accredited: Mapped[bool] = mapped_column(default=False)
    credits: Mapped[int | None] = mapped_column()
    delivery_partner_id: Mapped[int] = mapped_column(
        sa.ForeignKey("delivery_partner.id"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    delivery_partner: Mapped[DeliveryPartner] = relationship()
    topic_rows: Mapped[list[CourseTopic]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )
    audience_rows: Mapped[list[CourseAudience]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )
    training_sessions: Mapped[list[TrainingSession]] = relationship(
        back_populates="course", order_by="TrainingSession.starts_at"
    )

    @property
    def topics(self) -> list[str]:
        return sorted(row.topic for row in self.topic_rows)

    @topics.setter
    def topics(self, values) -> None:
        self.topic_rows = [CourseTopic(topic=str(Topic(value))) for value in dict.fromkeys(values)]

    @property
    def audiences(self) -> list[str]:
        return sorted(row.audience for row in self.audience_rows)

    @audiences.setter
    def audiences(self, values) -> None:
        self.audience_rows = [
            CourseAudience(audience=str(Audience(value))) for value in dict.fromkeys(values)
        ]

    @property
    def topic_labels(self) -> list[str]:
        return [TOPIC_LABELS[Topic(topic)] for topic in self.topics]

    @property
    def audience_labels(self) -> list[str]:
        return [AUDIENCE_LABELS[Audience(audience)] for audience in self.audiences]

    @property
    def level_label(self) -> str:
        return LEVEL_LABELS.get(Level(self.level), self.level)

    def __str__(self) -> str:
        return self.title


class Venue(db.Model):
    """Where in-person meetings happen."""

    __tablename__ = "venue"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    address: Mapped[str] = mapped_column(sa.Text, default="")
    postcode: Mapped[str] = mapped_column(sa.String(10))
    local_authority_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("local_authority.id"), index=True
    )
    accessibility_notes: Mapped[str] = mapped_column(sa.Text, default="")
    local_authority: Mapped[LocalAuthority | None] = relationship()

    def one_line(self) -> str:
        parts = [self.name, *(line.strip() for line in self.address.splitlines()), self.postcode]
        return ", ".join(part for part in parts if part)

    def __str__(self) -> str:
        return self.name


session_trainer = sa.Table(
    "session_trainer",
    db.metadata,
    sa.Column(
        "training_session_id",
        sa.ForeignKey("training_session.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("user_id", sa.ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True),
)


class TrainingSession(db.Model):
    """One bookable run of a course.

    ``local_authority_id`` restricts booking to people in that LA (a "bespoke" session);
    ``region_id`` is the region the session is for (from its venue or restriction when not
    given); ``sequence`` rises on every change people booked must hear about (calendar
    SEQUENCE). ``starts_at``/``ends_at`` are kept equal to the first meeting's start and the
    last meeting's end by :meth:`refresh_times`.
    """

    __tablename__ = "training_session"
    __table_args__ = (
        sa.Index("ix_training_session_status_starts", "status", "starts_at"),
        sa.CheckConstraint("capacity >= 0", name="capacity_not_negative"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    # An identifier people outside the service use for the session ("EYIP-2026-041"), stored
    # upper-case; CSV imports match sessions by it (trainer.imports).
    reference: Mapped[str | None] = mapped_column(sa.String(40), unique=True)
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("course.id"), index=True)
    capacity: Mapped[int] = mapped_column()
    mode: Mapped[str] = mapped_column(sa.String(20), default=Mode.IN_PERSON)
    booking_opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    booking_closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    local_authority_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("local_authority.id"), index=True
    )
    region_id: Mapped[int | None] = mapped_column(sa.ForeignKey("region.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default=SessionStatus.SCHEDULED)
    cancel_reason: Mapped[str | None] = mapped_column(sa.Text)
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    twilight: Mapped[bool] = mapped_column(default=False, index=True)
    sequence: Mapped[int] = mapped_column(default=0)
    ended_handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    course: Mapped[Course] = relationship(back_populates="training_sessions")
    local_authority: Mapped[LocalAuthority | None] = relationship()
    region: Mapped[Region | None] = relationship()
    meetings: Mapped[list[Meeting]] = relationship(
        back_populates="training_session",
        order_by="Meeting.starts_at",
        cascade="all, delete-orphan",
        lazy="selectin",
    )
    trainers: Mapped[list[User]] = relationship(secondary=session_trainer, lazy="selectin")

    @property
    def is_cancelled(self) -> bool:
        return self.status == SessionStatus.CANCELLED

    @property
    def mode_label(self) -> str:
        return MODE_LABELS.get(Mode(self.mode), self.mode)

    @property
    def is_online(self) -> bool:
        return self.mode in (Mode.ONLINE, Mode.HYBRID)

    def refresh_times(self, twilight_from: time) -> None:
        """Copy the first meeting's start and last meeting's end onto the session, and decide
        whether it is a twilight session (:func:`is_twilight` of its first meeting)."""
        if self.meetings:
            self.starts_at = min(meeting.starts_at for meeting in self.meetings)
            self.ends_at = max(meeting.ends_at for meeting in self.meetings)
            self.twilight = is_twilight(self.starts_at, twilight_from)
        else:
            self.starts_at = self.ends_at = None
            self.twilight = False

    def area_region_id(self) -> int | None:
        """The region the session is for: its own, its restriction's, or its first venue's."""
        if self.region_id:
            return self.region_id
        if self.local_authority is not None:
            return self.local_authority.region_id
        for meeting in self.meetings:
            if meeting.venue is not None and meeting.venue.local_authority is not None:
                return meeting.venue.local_authority.region_id
        return None

    def booking_window_problem(self, now: datetime) -> str | None:
        """Why booking is closed at ``now``, or ``None`` when it is open."""
        if self.booking_opens_at and now < self.booking_opens_at:
            return "opens"
        if self.booking_closes_at and now >= self.booking_closes_at:
            return "closed"
        if self.starts_at and now >= self.starts_at:
            return "started"
        return None

    @property
    def total_hours(self) -> float:
        seconds = sum((m.ends_at - m.starts_at).total_seconds() for m in self.meetings)
        return round(seconds / 3600, 2)

    def __str__(self) -> str:
        return f"{self.course.title} ({self.id})"


class Meeting(db.Model):
    """A dated part of a training session: start, end, and a venue or an online link."""

    __tablename__ = "meeting"
    __table_args__ = (sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    training_session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("training_session.id", ondelete="CASCADE"), index=True
    )
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    venue_id: Mapped[int | None] = mapped_column(sa.ForeignKey("venue.id"), index=True)
    online_url: Mapped[str | None] = mapped_column(sa.String(500))
    title: Mapped[str | None] = mapped_column(sa.String(200))

    training_session: Mapped[TrainingSession] = relationship(back_populates="meetings")
    venue: Mapped[Venue | None] = relationship(lazy="joined")

    @property
    def hours(self) -> float:
        return round((self.ends_at - self.starts_at).total_seconds() / 3600, 2)


# -- finding training -------------------------------------------------------------------------

TIMES_OF_DAY = {"daytime": "Daytime and weekends", "twilight": "Twilight (evening, weekdays)"}


@dataclass
class SessionFilters:
    """What a person is looking for. Every field is optional; see :func:`find_sessions`."""

    topic: list[str] = field(default_factory=list)
    audience: list[str] = field(default_factory=list)
    region: int | None = None
    local_authority: int | None = None
    mode: list[str] = field(default_factory=list)
    date_from: date | None = None
    date_to: date | None = None
    time_of_day: str | None = None
    places_left: bool = False
    course: int | None = None
    text: str | None = None

    def as_query(self) -> dict[str, Any]:
        """The filters as URL query arguments (for shareable links and pagination)."""
        query: dict[str, Any] = {}
        for name in ("topic", "audience", "mode"):
            if getattr(self, name):
                query[name] = list(getattr(self, name))
        for name in ("region", "local_authority", "course", "time_of_day", "text"):
            if getattr(self, name):
                query[name] = getattr(self, name)
        if self.date_from:
            query["from"] = self.date_from.isoformat()
        if self.date_to:
            query["to"] = self.date_to.isoformat()
        if self.places_left:
            query["places_left"] = "1"
        return query


def confirmed_count_subquery():
    """Confirmed bookings per session, as a correlated scalar subquery.

    The booking table is named, not imported: the catalogue sits below the booking engine.
    """
    booking = sa.table("booking", sa.column("training_session_id"), sa.column("status"))
    return (
        sa.select(sa.func.count())
        .select_from(booking)
        .where(
            booking.c.training_session_id == TrainingSession.id,
            booking.c.status == "confirmed",
        )
        .scalar_subquery()
    )


def find_sessions_statement(
    filters: SessionFilters, now: datetime, include_past: bool = False
) -> sa.Select:
    """The query for scheduled sessions matching ``filters``, soonest first."""
    statement = (
        sa.select(TrainingSession)
        .join(TrainingSession.course)
        .where(TrainingSession.status == SessionStatus.SCHEDULED)
        .options(
            selectinload(TrainingSession.course).selectinload(Course.delivery_partner),
            selectinload(TrainingSession.local_authority),
        )
        .order_by(TrainingSession.starts_at, TrainingSession.id)
    )
    if not include_past:
        statement = statement.where(TrainingSession.starts_at >= now)
    if filters.topic:
        statement = statement.where(
            sa.exists().where(
                CourseTopic.course_id == Course.id, CourseTopic.topic.in_(filters.topic)
            )
        )
    if filters.audience:
        statement = statement.where(
            sa.exists().where(
                CourseAudience.course_id == Course.id,
                CourseAudience.audience.in_(filters.audience),
            )
        )
    if filters.course:
        statement = statement.where(TrainingSession.course_id == filters.course)
    if filters.mode:
        statement = statement.where(TrainingSession.mode.in_(filters.mode))
    if filters.region:
        statement = statement.where(TrainingSession.region_id == filters.region)
    if filters.local_authority:
        at_venue = sa.exists().where(
            Meeting.training_session_id == TrainingSession.id,
            Meeting.venue_id == Venue.id,
            Venue.local_authority_id == filters.local_authority,
        )
        statement = statement.where(
            sa.or_(TrainingSession.local_authority_id == filters.local_authority, at_venue)
        )
    if filters.date_from:
        statement = statement.where(
            TrainingSession.starts_at >= start_of_london_day(filters.date_from)
        )
    if filters.date_to:
        statement = statement.where(
            TrainingSession.starts_at < start_of_london_day(filters.date_to + timedelta(days=1))
        )
    if filters.text:
        like = f"%{filters.text.strip().lower()[:100]}%"
        statement = statement.where(
            sa.or_(
                sa.func.lower(Course.title).like(like), sa.func.lower(Course.summary).like(like)
            )
        )
    if filters.places_left:
        statement = statement.where(TrainingSession.capacity > confirmed_count_subquery())
    if filters.time_of_day in TIMES_OF_DAY:
        statement = statement.where(
            TrainingSession.twilight.is_(filters.time_of_day == "twilight")
        )
    return statement


def start_of_london_day(day: date) -> datetime:
    """The aware UTC instant at which ``day`` begins in London."""
    return datetime.combine(day, time(0), tzinfo=LONDON).astimezone(UTC)


def is_twilight(starts_at: datetime, twilight_from: time) -> bool:
    """Twilight: starting at or after ``twilight_from`` London time on a weekday."""
    local = starts_at.astimezone(LONDON)
    return local.weekday() < 5 and local.time() >= twilight_from
