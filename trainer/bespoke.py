"""Requests for bespoke training sessions: an LA officer asks for a session of a course for
their local authority, and an administrator accepts or declines it with a message.

Every change runs in one :func:`trainer.db.write_transaction` with its emails (DESIGN
guarantee 2): administrators hear of each new request, and the person who asked hears the
answer. A request is answered once: :func:`answer` locks the row and refuses a second answer
(:class:`AlreadyAnswered`), so two administrators answering at the same moment cannot both
succeed.

Personal data: a request names the person who made it and holds their notes. Subject access
lists the requests a person made (:func:`user_data`); erasure (:func:`forget_person`) keeps
each request, so every count stays the same, but cuts its link to the person and drops their
notes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask import url_for
from sqlalchemy.orm import Mapped, mapped_column, relationship

from trainer.catalogue import Course
from trainer.db import UTCDateTime, db, lock_row, utcnow, write_transaction
from trainer.mail import send_template
from trainer.people import LocalAuthority, Role, User, UserRole

MAX_EXPECTED = 500  # people; more than this is several sessions, not one
MAX_NOTES = 2000  # characters
MAX_ANSWER = 2000  # characters


class RequestStatus(enum.StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS = {
    RequestStatus.OPEN: "Waiting for an answer",
    RequestStatus.ACCEPTED: "Accepted",
    RequestStatus.DECLINED: "Declined",
}


class SessionRequest(db.Model):
    """A local authority's request for a bespoke training session of a course."""

    __tablename__ = "session_request"
    __table_args__ = (
        sa.CheckConstraint("expected_numbers > 0", name="expected_numbers_positive"),
        sa.Index("ix_session_request_status_created", "status", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    local_authority_id: Mapped[int] = mapped_column(
        sa.ForeignKey("local_authority.id"), index=True
    )
    course_id: Mapped[int] = mapped_column(
        sa.ForeignKey("course.id", ondelete="CASCADE"), index=True
    )
    # Empty once the person who asked is erased: the request itself stays.
    requested_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL"), index=True
    )
    # Up to three preferred days, in order of preference (London dates).
    first_choice: Mapped[date] = mapped_column(sa.Date)
    second_choice: Mapped[date | None] = mapped_column(sa.Date)
    third_choice: Mapped[date | None] = mapped_column(sa.Date)
    expected_numbers: Mapped[int] = mapped_column()
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(sa.String(20), default=RequestStatus.OPEN)
    answer: Mapped[str | None] = mapped_column(sa.Text)
    answered_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL")
    )
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    local_authority: Mapped[LocalAuthority] = relationship()
    course: Mapped[Course] = relationship()
    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id])
    answered_by: Mapped[User | None] = relationship(foreign_keys=[answered_by_id])

    @property
    def preferred_dates(self) -> list[date]:
        return [day for day in (self.first_choice, self.second_choice, self.third_choice)
                if day is not None]

    @property
    def is_open(self) -> bool:
        return self.status == RequestStatus.OPEN

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(RequestStatus(self.status), self.status)


@dataclass(frozen=True)
class NewRequest:
    """What an LA officer asks for; checked by the form before it gets here."""

    course_id: int
    preferred_dates: list[date]
    expected_numbers: int
    notes: str = ""


class RequestError(ValueError):
    """The request cannot be made or answered; the message says why, and nothing changed."""


class AlreadyAnswered(RequestError):
    """The request had already been answered."""


def active_admins() -> list[User]:
    """Every administrator who can receive mail: active accounts holding the role."""
    return list(db.session.scalars(
        sa.select(User)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == str(Role.ADMIN), User.active.is_(True))
        .order_by(User.id)
    ))


def create(officer: User, wanted: NewRequest) -> SessionRequest:
    """Record ``officer``'s request for their own local authority and email every
    administrator, in one transaction. Raises :class:`RequestError` when the officer has no
    local authority or the course does not exist."""
    if officer.local_authority_id is None:
        raise RequestError("Add your local authority to your account before you ask for a "
                           "session.")
    if not 1 <= wanted.expected_numbers <= MAX_EXPECTED:
        raise RequestError(f"Expected numbers must be between 1 and {MAX_EXPECTED}.")
    if not 1 <= len(wanted.preferred_dates) <= 3:
        raise RequestError("Give one to three preferred dates.")
    with write_transaction():
        if db.session.get(Course, wanted.course_id) is None:
            raise RequestError("Choose a course from the list.")
        dates = list(wanted.preferred_dates) + [None, None]
        made = SessionRequest(
            local_authority_id=officer.local_authority_id, course_id=wanted.course_id,
            requested_by_id=officer.id, first_choice=dates[0], second_choice=dates[1],
            third_choice=dates[2], expected_numbers=wanted.expected_numbers,
            notes=wanted.notes.strip()[:MAX_NOTES], status=RequestStatus.OPEN,
        )
        db.session.add(made)
        db.session.flush()
        link = url_for("session_requests.detail", request_id=made.id, _external=True)
        for admin in active_admins():
            send_template(
                admin,
                f"New request for a bespoke session: {made.course.title}, "
                f"{made.local_authority.name}",
                "session_request_new", session_request=made, requester=officer, link=link,
            )
    return made


def answer(request_id: int, admin: User, accept: bool, message: str) -> SessionRequest:
    """Accept or decline an open request with ``message``, and email the person who asked,
    in one transaction holding the request's row lock. Raises :class:`AlreadyAnswered` when it
    was answered before (by anyone): the first answer stands."""
    with write_transaction():
        found = lock_row(SessionRequest, request_id)
        if found is None:
            raise RequestError("There is no such request.")
        if not found.is_open:
            raise AlreadyAnswered("This request has already been answered, so your answer "
                                  "was not saved.")
        found.status = RequestStatus.ACCEPTED if accept else RequestStatus.DECLINED
        found.answer = message.strip()[:MAX_ANSWER]
        found.answered_by_id = admin.id
        found.answered_at = utcnow()
        requester = found.requested_by
        if requester is not None and requester.active:
            send_template(
                requester,
                f"Your request for a bespoke session has been "
                f"{'accepted' if accept else 'declined'}: {found.course.title}",
                "session_request_answered", session_request=found,
                link=url_for("la.requests", _external=True),
            )
    return found


def open_count() -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(SessionRequest)
        .where(SessionRequest.status == RequestStatus.OPEN)
    ) or 0


def listing(status: str | None = None) -> sa.Select:
    """Requests for administrators: open ones first, then newest first; optionally only one
    status."""
    statement = sa.select(SessionRequest).order_by(
        (SessionRequest.status != RequestStatus.OPEN), SessionRequest.created_at.desc(),
        SessionRequest.id.desc(),
    )
    if status:
        statement = statement.where(SessionRequest.status == status)
    return statement


def made_by(user: User) -> sa.Select:
    """The requests ``user`` made, newest first."""
    return (sa.select(SessionRequest).where(SessionRequest.requested_by_id == user.id)
            .order_by(SessionRequest.created_at.desc(), SessionRequest.id.desc()))


# -- personal data --------------------------------------------------------------------------------


def _iso(moment) -> str | None:
    return moment.isoformat() if moment is not None else None


def user_data(user: User) -> list[dict]:
    """Subject access: the requests ``user`` made, as plain records."""
    return [
        {
            "request_id": made.id,
            "local_authority": made.local_authority.name,
            "course": made.course.title,
            "preferred_dates": ", ".join(day.isoformat() for day in made.preferred_dates),
            "expected_numbers": made.expected_numbers,
            "notes": made.notes or None,
            "status": made.status,
            "answer": made.answer,
            "requested_at": _iso(made.created_at),
            "answered_at": _iso(made.answered_at),
        }
        for made in db.session.scalars(made_by(user))
    ]


def forget_person(user_id: int) -> int:
    """Erasure, in the caller's transaction: requests the person made stay (with their local
    authority, course, dates, numbers and answer) without the link to them or their notes;
    requests they answered lose the link to them. Returns how many requests they made."""
    made = db.session.execute(
        sa.update(SessionRequest).where(SessionRequest.requested_by_id == user_id)
        .values(requested_by_id=None, notes="")
        .execution_options(synchronize_session=False)
    ).rowcount or 0
    db.session.execute(
        sa.update(SessionRequest).where(SessionRequest.answered_by_id == user_id)
        .values(answered_by_id=None)
        .execution_options(synchronize_session=False)
    )
    return made
