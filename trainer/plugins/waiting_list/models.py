"""Waiting-list tables: who is waiting, places held for them, and offers of those places.

A place freed on a session is *held* (:class:`Hold`) and *offered* (:class:`Offer`) to the next
person waiting. Usually one hold has one offer; close to the start one hold is offered to a few
people at once (``shared``) and the first to accept takes it. Open holds count against the
session's capacity (``trainer_places_held``), so a held place can never be booked by somebody
else.
"""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from trainer.catalogue import TrainingSession
from trainer.db import UTCDateTime, db, utcnow
from trainer.people import User


class EntryStatus(enum.StrEnum):
    WAITING = "waiting"  # on the list, no offer yet
    OFFERED = "offered"  # has an open offer
    PLACED = "placed"  # booked a place on the session
    LEFT = "left"  # left the list
    REMOVED = "removed"  # removed by a trainer or an administrator
    DECLINED = "declined"  # declined an offer
    EXPIRED = "expired"  # let an offer run out
    CANCELLED = "cancelled"  # the session was cancelled
    CLOSED = "closed"  # the session took place before a place came up


ACTIVE = (EntryStatus.WAITING, EntryStatus.OFFERED)

ENTRY_STATUS_LABELS = {
    EntryStatus.WAITING: "Waiting",
    EntryStatus.OFFERED: "Offered a place",
    EntryStatus.PLACED: "Booked",
    EntryStatus.LEFT: "Left the list",
    EntryStatus.REMOVED: "Removed",
    EntryStatus.DECLINED: "Declined the offer",
    EntryStatus.EXPIRED: "Offer expired",
    EntryStatus.CANCELLED: "Session cancelled",
    EntryStatus.CLOSED: "No place came up",
}


class HoldStatus(enum.StrEnum):
    OPEN = "open"
    TAKEN = "taken"
    EXPIRED = "expired"
    RELEASED = "released"


class OfferStatus(enum.StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    LOST = "lost"  # a shared offer somebody else accepted first
    WITHDRAWN = "withdrawn"  # the person left or was removed, or the session was cancelled


class WaitlistEntry(db.Model):
    """One person's place on one session's waiting list. Joining again after leaving makes
    a new entry, at the back of the list; old entries are kept for the demand report."""

    __tablename__ = "waitlist_entry"
    __table_args__ = (
        sa.Index("ix_waitlist_entry_session_status", "training_session_id", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    training_session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("training_session.id", ondelete="CASCADE")
    )
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(sa.String(20), default=EntryStatus.WAITING)
    priority: Mapped[float] = mapped_column(default=0)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(sa.Text)
    invited_to_session_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("training_session.id", ondelete="SET NULL")
    )

    training_session: Mapped[TrainingSession] = relationship(
        foreign_keys=[training_session_id]
    )
    user: Mapped[User] = relationship()

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def status_label(self) -> str:
        return ENTRY_STATUS_LABELS.get(EntryStatus(self.status), self.status)


class Hold(db.Model):
    """A place held on a session for the people it is offered to."""

    __tablename__ = "waitlist_hold"
    __table_args__ = (
        sa.Index("ix_waitlist_hold_session_status", "training_session_id", "status"),
        sa.Index("ix_waitlist_hold_status_expires", "status", "expires_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    training_session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("training_session.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(sa.String(20), default=HoldStatus.OPEN)
    shared: Mapped[bool] = mapped_column(default=False)
    manual: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    offers: Mapped[list[Offer]] = relationship(back_populates="hold", order_by="Offer.id")


class Offer(db.Model):
    """A held place offered to one person on the list, answered through signed links."""

    __tablename__ = "waitlist_offer"
    id: Mapped[int] = mapped_column(primary_key=True)
    hold_id: Mapped[int] = mapped_column(
        sa.ForeignKey("waitlist_hold.id", ondelete="CASCADE"), index=True
    )
    entry_id: Mapped[int] = mapped_column(
        sa.ForeignKey("waitlist_entry.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(sa.String(20), default=OfferStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    hold: Mapped[Hold] = relationship(back_populates="offers")
    entry: Mapped[WaitlistEntry] = relationship()

    @property
    def is_open(self) -> bool:
        return self.status == OfferStatus.OPEN and self.hold.status == HoldStatus.OPEN
