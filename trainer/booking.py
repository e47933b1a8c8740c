"""The booking engine: bookings, attendance, reminders, and every change to who is booked.

Views parse input and show results; this module decides. Every function that changes who is
booked runs in one :func:`trainer.db.write_transaction` holding the training session's row
lock (``SELECT ... FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), counts
confirmed bookings plus places plugins hold (``trainer_places_held``) under that lock, and
queues its emails in the same transaction. So confirmed + held never exceeds capacity, under
any concurrency (DESIGN guarantee 1), and an email exists exactly when its change does
(guarantee 2). A lock not granted in time raises :class:`trainer.db.Busy` ("busy, please try
again"); nothing is written.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app, url_for
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from trainer import calendar, hooks, mail
from trainer.catalogue import Meeting, SessionStatus, TrainingSession
from trainer.db import (
    UTCDateTime,
    db,
    insert_ignoring_conflicts,
    is_sqlite,
    lock_row,
    utcnow,
    write_transaction,
)
from trainer.people import Setting, User

PRACTITIONERS, PARENTS_CARERS = "practitioners", "parents_carers"


class BookingStatus(enum.StrEnum):
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"


class Booking(db.Model):
    """A person's place on a training session. One person, one booking per session: booking
    again after cancelling confirms the same row again.

    For reach reports a booking also records whether the person attended any meeting
    (``attended``) and where they came from: their setting, local authority and audience
    (practitioner, or parent or carer) as they were when they booked, updated whenever their
    attendance is recorded. So a person who later moves still counts where they were when
    they trained. These columns are kept by the engine (:func:`refresh_reach` runs after every
    flush that adds a booking or changes an attendance mark); code writing bookings or marks
    with bulk statements calls :func:`refresh_reach` itself.
    """

    __tablename__ = "booking"
    __table_args__ = (
        sa.UniqueConstraint("training_session_id", "user_id"),
        sa.Index("ix_booking_session_status", "training_session_id", "status"),
        # Covers the reach reports: a session's attendances and where they came from.
        sa.Index("ix_booking_reach", "training_session_id", "attended", "user_id",
                 "local_authority_id", "audience", "setting_id"),
        # Covers the LA dashboard: one local authority's attendances.
        sa.Index("ix_booking_la_attended", "local_authority_id", "attended",
                 "training_session_id", "user_id", "setting_id", "share_with_la"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    training_session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("training_session.id", ondelete="CASCADE")
    )
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(sa.String(20), default=BookingStatus.CONFIRMED)
    access_needs: Mapped[str] = mapped_column(sa.Text, default="")
    share_with_la: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(sa.Text)
    sequence: Mapped[int] = mapped_column(default=0)
    attended: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    setting_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("setting.id", ondelete="SET NULL")
    )
    local_authority_id: Mapped[int | None] = mapped_column(sa.ForeignKey("local_authority.id"))
    audience: Mapped[str] = mapped_column(sa.String(20), default=PRACTITIONERS,
                                          server_default=PRACTITIONERS)

    training_session: Mapped[TrainingSession] = relationship()
    user: Mapped[User] = relationship()
    attendances: Mapped[list[Attendance]] = relationship(
        back_populates="booking", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def is_confirmed(self) -> bool:
        return self.status == BookingStatus.CONFIRMED

    def attendance_for(self, meeting: Meeting) -> Attendance | None:
        for attendance in self.attendances:
            if attendance.meeting_id == meeting.id:
                return attendance
        return None

    @property
    def attended_hours(self) -> float:
        meetings = {meeting.id: meeting for meeting in self.training_session.meetings}
        return round(
            sum(meetings[a.meeting_id].hours for a in self.attendances
                if a.attended and a.meeting_id in meetings),
            2,
        )

    @property
    def completed(self) -> bool:
        """Attended every meeting of the session."""
        attended = {a.meeting_id for a in self.attendances if a.attended}
        return bool(self.training_session.meetings) and all(
            meeting.id in attended for meeting in self.training_session.meetings
        )


class Attendance(db.Model):
    """Whether a booked person attended one meeting."""

    __tablename__ = "attendance"
    __table_args__ = (sa.UniqueConstraint("booking_id", "meeting_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(sa.ForeignKey("booking.id", ondelete="CASCADE"))
    meeting_id: Mapped[int] = mapped_column(
        sa.ForeignKey("meeting.id", ondelete="CASCADE"), index=True
    )
    attended: Mapped[bool] = mapped_column()
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL")
    )
    booking: Mapped[Booking] = relationship(back_populates="attendances")


class Reminder(db.Model):
    """A reminder that was sent: its row existing is what stops it being sent twice."""

    __tablename__ = "reminder"
    booking_id: Mapped[int] = mapped_column(
        sa.ForeignKey("booking.id", ondelete="CASCADE"), primary_key=True
    )
    meeting_id: Mapped[int] = mapped_column(
        sa.ForeignKey("meeting.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# -- reach columns --------------------------------------------------------------------------------


def _reach_update() -> sa.Update:
    """``UPDATE booking`` setting the reach columns from the marks and the person now."""
    table, marks = Booking.__table__, Attendance.__table__
    users, settings = User.__table__, Setting.__table__
    person = sa.select(users).where(users.c.id == table.c.user_id)
    setting_la = (
        sa.select(settings.c.local_authority_id)
        .where(settings.c.id == users.c.setting_id)
        .scalar_subquery()
    )
    return table.update().values(
        attended=sa.select(marks.c.id)
        .where(marks.c.booking_id == table.c.id, marks.c.attended.is_(True))
        .exists(),
        setting_id=person.with_only_columns(users.c.setting_id).scalar_subquery(),
        local_authority_id=person.with_only_columns(
            sa.func.coalesce(setting_la, users.c.local_authority_id)
        ).scalar_subquery(),
        audience=person.with_only_columns(
            sa.case((users.c.job_role == "parent_carer", PARENTS_CARERS), else_=PRACTITIONERS)
        ).scalar_subquery(),
    )


def _reach_update_all() -> sa.Update:
    """The same as :func:`_reach_update` for every booking, joining the people once
    (``UPDATE ... FROM``) instead of looking each one up: minutes faster for a national
    database."""
    table, marks = Booking.__table__, Attendance.__table__
    users, settings = User.__table__, Setting.__table__
    person = (
        sa.select(
            users.c.id,
            users.c.setting_id,
            sa.func.coalesce(settings.c.local_authority_id, users.c.local_authority_id).label(
                "local_authority_id"),
            sa.case((users.c.job_role == "parent_carer", PARENTS_CARERS),
                    else_=PRACTITIONERS).label("audience"),
        )
        .outerjoin(settings, settings.c.id == users.c.setting_id)
        .subquery("person")
    )
    return (
        table.update()
        .where(table.c.user_id == person.c.id)
        .values(
            attended=sa.select(marks.c.id)
            .where(marks.c.booking_id == table.c.id, marks.c.attended.is_(True))
            .exists(),
            setting_id=person.c.setting_id,
            local_authority_id=person.c.local_authority_id,
            audience=person.c.audience,
        )
    )


def refresh_reach(booking_ids: list[int] | None = None, connection=None) -> None:
    """Set ``attended``, ``setting_id``, ``local_authority_id`` and ``audience`` of the
    bookings ``booking_ids`` (every booking when ``None``) from their attendance marks and
    their person as they are now, in the caller's transaction."""
    connection = connection or db.session.connection()
    if booking_ids is None:
        connection.execute(_reach_update_all())
        return
    ordered = sorted(set(booking_ids))
    for start in range(0, len(ordered), 5000):
        connection.execute(
            _reach_update().where(Booking.__table__.c.id.in_(ordered[start:start + 5000]))
        )


_STALE_KEY = "trainer.booking.reach_refreshed"


@sa.event.listens_for(Session, "after_flush")
def _refresh_reach_after_flush(session: Session, _context) -> None:
    """New bookings and changed attendance marks update their bookings' reach columns."""
    ids = {obj.id for obj in session.new if isinstance(obj, Booking)}
    ids |= {
        obj.booking_id
        for obj in (*session.new, *session.dirty)
        if isinstance(obj, Attendance) and obj.booking_id is not None
    }
    if ids:
        refresh_reach(list(ids), session.connection())
        session.info.setdefault(_STALE_KEY, set()).update(ids)


@sa.event.listens_for(Session, "after_flush_postexec")
def _expire_refreshed(session: Session, _context) -> None:
    """Loaded bookings read their new reach columns again on next access."""
    ids = session.info.pop(_STALE_KEY, None)
    if not ids:
        return
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Booking) and obj.id in ids:
            session.expire(obj, ["attended", "setting_id", "local_authority_id", "audience"])


# -- outcomes -------------------------------------------------------------------------------------


@dataclass
class FullAnswer:
    """What a plugin answering ``trainer_session_full`` tells the person."""

    message: str
    url: str | None = None
    link_text: str | None = None


class Outcome(enum.StrEnum):
    BOOKED = "booked"
    REFUSED = "refused"
    FULL = "full"
    CANCELLED = "cancelled"


@dataclass
class Result:
    """What happened. ``message`` is a sentence to show the person."""

    outcome: Outcome
    message: str
    booking: Booking | None = None
    url: str | None = None
    link_text: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.BOOKED, Outcome.CANCELLED)


class EngineError(ValueError):
    """A request the engine refuses; the message says why, and nothing was changed."""


# -- counting -------------------------------------------------------------------------------------


def confirmed_count(training_session_id: int) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Booking)
        .where(
            Booking.training_session_id == training_session_id,
            Booking.status == BookingStatus.CONFIRMED,
        )
    )


def places_held(training_session: TrainingSession) -> int:
    """Places plugins hold outside bookings (``trainer_places_held``)."""
    return sum(
        max(int(held), 0)
        for held in hooks.call("trainer_places_held", training_session=training_session)
        if held
    )


def free_places(training_session: TrainingSession) -> int:
    """Capacity minus confirmed bookings minus places held; never below zero."""
    taken = confirmed_count(training_session.id) + places_held(training_session)
    return max(training_session.capacity - taken, 0)


def confirmed_counts(session_ids: list[int]) -> dict[int, int]:
    """Confirmed bookings for many sessions in one query (for lists)."""
    if not session_ids:
        return {}
    rows = db.session.execute(
        sa.select(Booking.training_session_id, sa.func.count())
        .where(
            Booking.training_session_id.in_(session_ids),
            Booking.status == BookingStatus.CONFIRMED,
        )
        .group_by(Booking.training_session_id)
    ).all()
    counts = dict.fromkeys(session_ids, 0)
    counts.update({session_id: number for session_id, number in rows})
    return counts


def full_answer(training_session: TrainingSession, user: User | None) -> Result:
    """What a person is told about a session with no place left: a plugin's way forward
    (``trainer_session_full``, e.g. "Join the waiting list") or "fully booked"."""
    answer = hooks.call("trainer_session_full", training_session=training_session, user=user)
    if answer is not None:
        return Result(Outcome.FULL, answer.message, url=answer.url, link_text=answer.link_text)
    return Result(Outcome.FULL, "This training session is fully booked.")


def booking_for(user: User, training_session_id: int) -> Booking | None:
    return db.session.scalar(
        sa.select(Booking).where(
            Booking.user_id == user.id, Booking.training_session_id == training_session_id
        )
    )


def twilight_from() -> time:
    hours, _, minutes = current_app.config["TWILIGHT_FROM"].partition(":")
    return time(int(hours), int(minutes or 0))


# -- booking and cancelling -----------------------------------------------------------------------


def refusal(training_session: TrainingSession, user: User, now: datetime) -> str | None:
    """The core's reason ``user`` may not book now, or ``None``. Plugins are asked after."""
    if training_session.is_cancelled:
        return "This training session has been cancelled."
    window = training_session.booking_window_problem(now)
    if window == "opens":
        from trainer.times import moment

        return f"Booking opens on {moment(training_session.booking_opens_at)}."
    if window == "closed":
        return "Booking for this training session has closed."
    if window == "started":
        return "This training session has already started."
    if training_session.local_authority_id is not None:
        area = user.area
        if area is None or area.id != training_session.local_authority_id:
            return (
                f"This session is only for people working or living in "
                f"{training_session.local_authority.name}."
            )
    existing = booking_for(user, training_session.id)
    if existing is not None and existing.is_confirmed:
        return "You have already booked this training session."
    return None


def book(
    training_session_id: int,
    user: User,
    access_needs: str = "",
    share_with_la: bool = False,
    now: datetime | None = None,
) -> Result:
    """Book ``user`` a place, or say why not.

    Under the session's lock: the core's checks and plugins' refusals, then the count of
    confirmed bookings plus held places against capacity. When no place is left the plugins
    are asked (``trainer_session_full``); with no answer the result says "fully booked". On
    success the confirmation email with a calendar invite is queued and
    ``trainer_booking_confirmed`` fires, all in the same transaction.
    """
    now = now or utcnow()
    with write_transaction():
        training_session = lock_row(TrainingSession, training_session_id)
        if training_session is None:
            raise EngineError("There is no such training session.")
        reason = refusal(training_session, user, now)
        if reason is None:
            answers = hooks.call(
                "trainer_booking_refusal", training_session=training_session, user=user
            )
            reason = next((answer for answer in answers if answer), None)
        if reason is not None:
            return Result(Outcome.REFUSED, reason)
        if free_places(training_session) <= 0:
            return full_answer(training_session, user)
        booking = booking_for(user, training_session.id)
        if booking is None:
            booking = Booking(training_session=training_session, user=user)
            db.session.add(booking)
        else:
            booking.sequence += 1  # a re-booking must outrank the earlier cancellation
        booking.status = BookingStatus.CONFIRMED
        booking.access_needs = (access_needs or "").strip()
        booking.share_with_la = bool(share_with_la)
        booking.confirmed_at = now
        booking.cancelled_at = None
        booking.cancel_reason = None
        db.session.flush()
        _send_booking_email(booking, "booking_confirmed", "Booking confirmed")
        hooks.call("trainer_booking_confirmed", booking=booking)
        return Result(Outcome.BOOKED, "Your place is booked.", booking=booking)


def cancel(booking_id: int, reason: str, now: datetime | None = None) -> Result:
    """Cancel a confirmed booking before its session starts, freeing the place.

    Queues a cancellation email with ``METHOD:CANCEL`` for every meeting, then fires
    ``trainer_booking_cancelled`` and ``trainer_places_freed`` in the same transaction.
    Callers check that the person may cancel this booking.
    """
    now = now or utcnow()
    training_session_id = db.session.scalar(
        sa.select(Booking.training_session_id).where(Booking.id == booking_id)
    )
    if training_session_id is None:
        raise EngineError("There is no such booking.")
    with write_transaction():
        training_session = lock_row(TrainingSession, training_session_id)
        booking = db.session.get(Booking, booking_id, populate_existing=True)
        if not booking.is_confirmed:
            return Result(Outcome.REFUSED, "This booking is already cancelled.", booking=booking)
        if training_session.starts_at is not None and now >= training_session.starts_at:
            return Result(
                Outcome.REFUSED,
                "This training session has started, so the booking cannot be cancelled.",
                booking=booking,
            )
        _cancel_booking(booking, reason, now)
        _send_booking_email(booking, "booking_cancelled", "Booking cancelled", cancel=True)
        hooks.call("trainer_booking_cancelled", booking=booking)
        hooks.call("trainer_places_freed", training_session=training_session)
        return Result(Outcome.CANCELLED, "Your booking is cancelled.", booking=booking)


def _cancel_booking(booking: Booking, reason: str, now: datetime) -> None:
    booking.status = BookingStatus.CANCELLED
    booking.cancelled_at = now
    booking.cancel_reason = (reason or "").strip()[:1000]
    booking.sequence += 1


def change_capacity(training_session_id: int, capacity: int) -> TrainingSession:
    """Set a session's capacity. Never below the places already taken (confirmed + held).

    Raising it fires ``trainer_places_freed``. Raises :class:`EngineError` with the reason.
    """
    if capacity < 0 or capacity > 10_000:
        raise EngineError("Capacity must be between 0 and 10,000.")
    with write_transaction():
        training_session = lock_row(TrainingSession, training_session_id)
        if training_session is None:
            raise EngineError("There is no such training session.")
        taken = confirmed_count(training_session.id) + places_held(training_session)
        if capacity < taken:
            raise EngineError(
                f"Capacity cannot be less than the {taken} places already booked or held."
            )
        raised = capacity > training_session.capacity
        training_session.capacity = capacity
        db.session.flush()
        if raised:
            hooks.call("trainer_places_freed", training_session=training_session)
        return training_session


def cancel_session(training_session_id: int, reason: str, now: datetime | None = None) -> int:
    """Cancel a training session: everyone booked is told, with a calendar cancellation.

    Returns how many bookings were cancelled. Plugins hear ``trainer_booking_cancelled`` for
    each booking, then ``trainer_session_cancelled``, in the same transaction.
    """
    now = now or utcnow()
    with write_transaction():
        training_session = lock_row(TrainingSession, training_session_id)
        if training_session is None:
            raise EngineError("There is no such training session.")
        if training_session.is_cancelled:
            raise EngineError("This training session is already cancelled.")
        training_session.status = SessionStatus.CANCELLED
        training_session.cancel_reason = (reason or "").strip()[:1000]
        training_session.sequence += 1
        bookings = db.session.scalars(
            sa.select(Booking).where(
                Booking.training_session_id == training_session.id,
                Booking.status == BookingStatus.CONFIRMED,
            )
        ).all()
        for booking in bookings:
            _cancel_booking(booking, f"The session was cancelled: {reason}", now)
            _send_booking_email(
                booking, "session_cancelled", "Training session cancelled", cancel=True,
                reason=reason,
            )
            hooks.call("trainer_booking_cancelled", booking=booking)
        hooks.call("trainer_session_cancelled", training_session=training_session)
        return len(bookings)


def session_changed(training_session_id: int) -> int:
    """Tell everyone booked that dates, times or places changed, with an updated invite.

    Call after saving the change. Raises the session's calendar SEQUENCE. Returns how many
    people were told.
    """
    with write_transaction():
        training_session = lock_row(TrainingSession, training_session_id)
        return notify_session_changed(training_session)


def notify_session_changed(training_session: TrainingSession) -> int:
    """:func:`session_changed` inside the caller's :func:`write_transaction`, which must hold
    the session's lock (:func:`lock_row`): the change and the emails commit together."""
    training_session.refresh_times(twilight_from())
    training_session.sequence += 1
    bookings = db.session.scalars(
        sa.select(Booking).where(
            Booking.training_session_id == training_session.id,
            Booking.status == BookingStatus.CONFIRMED,
        )
    ).all()
    for booking in bookings:
        _send_booking_email(booking, "session_changed", "Training session changed")
    return len(bookings)


def record_attendance(
    meeting_id: int, marks: dict[int, bool], recorded_by: User | None
) -> int:
    """Record attended (``True``) or absent (``False``) for bookings at one meeting.

    ``marks`` maps booking ids to the mark; bookings not confirmed on this meeting's session
    are refused with :class:`EngineError` and nothing is saved. Fires
    ``trainer_attendance_recorded`` for each. Returns how many marks were recorded.
    """
    meeting = db.session.get(Meeting, meeting_id)
    if meeting is None:
        raise EngineError("There is no such meeting.")
    with write_transaction():
        # Two trainers saving a register at once would both insert the same marks (a unique
        # violation on PostgreSQL): a lock on the session makes them take turns, and waits for
        # bookings and cancellations. FOR NO KEY UPDATE, not FOR UPDATE: someone answering a
        # questionnaire holds their booking's lock while inserting rows that refer to the
        # session, and FOR UPDATE would deadlock with them.
        if not is_sqlite():  # SQLite: the write transaction already serialises writers
            db.session.execute(
                sa.select(TrainingSession.id)
                .where(TrainingSession.id == meeting.training_session_id)
                .with_for_update(key_share=True)
            )
        bookings = {
            booking.id: booking
            for booking in db.session.scalars(
                sa.select(Booking).where(
                    Booking.training_session_id == meeting.training_session_id,
                    Booking.status == BookingStatus.CONFIRMED,
                )
            )
        }
        unknown = set(marks) - set(bookings)
        if unknown:
            raise EngineError("The register includes people not booked on this session.")
        now = utcnow()
        for booking_id, attended in marks.items():
            booking = bookings[booking_id]
            attendance = booking.attendance_for(meeting)
            if attendance is None:
                attendance = Attendance(booking=booking, meeting_id=meeting.id)
                db.session.add(attendance)
            attendance.attended = bool(attended)
            attendance.recorded_at = now
            attendance.recorded_by_id = recorded_by.id if recorded_by else None
        db.session.flush()
        for booking_id in marks:
            hooks.call(
                "trainer_attendance_recorded", booking=bookings[booking_id], meeting=meeting
            )
        return len(marks)


# -- emails ---------------------------------------------------------------------------------------


def _send_booking_email(booking: Booking, template: str, subject: str, cancel: bool = False,
                        **context) -> None:
    training_session = booking.training_session
    invite = mail.Attachment(
        filename="cancel.ics" if cancel else "invite.ics",
        content_type=f"text/calendar; method={'CANCEL' if cancel else 'REQUEST'}",
        content=calendar.for_booking(booking, cancel=cancel),
    )
    mail.send_template(
        booking.user,
        f"{subject}: {training_session.course.title}",
        template,
        attachments=[invite],
        extra_paragraphs=_plugin_paragraphs(booking, template),
        booking=booking,
        training_session=training_session,
        session_url=url_for(
            "catalogue.session_page", session_id=training_session.id, _external=True
        ),
        my_training_url=url_for("bookings.my_training", _external=True),
        **context,
    )


def _plugin_paragraphs(booking: Booking, template: str) -> list[str]:
    """Paragraphs plugins add to a booking email (``trainer_booking_email``)."""
    answers = hooks.call("trainer_booking_email", booking=booking, template=template)
    return [paragraph for answer in answers if answer for paragraph in answer if paragraph]


# -- time-based work ------------------------------------------------------------------------------


def _claim_reminder(booking: Booking, meeting: Meeting, kind: str) -> bool:
    """Record that a reminder is being sent; ``False`` when it was sent already."""
    table = Reminder.__table__
    values = {"booking_id": booking.id, "meeting_id": meeting.id, "kind": kind,
              "sent_at": utcnow()}
    statement = insert_ignoring_conflicts(table, values).returning(table.c.booking_id)
    return db.session.execute(statement).scalar() is not None


def send_reminders(now: datetime) -> int:
    """Send every reminder that is due and not yet sent; return how many were sent.

    Due: a confirmed booking on a scheduled session whose meeting starts within
    ``REMINDER_HOURS_BEFORE`` hours (and, for online meetings, ``ONLINE_REMINDER_HOURS_BEFORE``
    hours, with the joining link) and has not started. A reminder row claimed in the same
    transaction as the email makes this idempotent, even with two ticks at once.
    """
    config = current_app.config
    kinds = [("before", timedelta(hours=config["REMINDER_HOURS_BEFORE"]), False),
             ("online", timedelta(hours=config["ONLINE_REMINDER_HOURS_BEFORE"]), True)]
    sent = 0
    for kind, ahead, online_only in kinds:
        statement = (
            sa.select(Booking, Meeting)
            .join(Meeting, Meeting.training_session_id == Booking.training_session_id)
            .join(TrainingSession, TrainingSession.id == Booking.training_session_id)
            .where(
                Booking.status == BookingStatus.CONFIRMED,
                TrainingSession.status == SessionStatus.SCHEDULED,
                Meeting.starts_at > now,
                Meeting.starts_at <= now + ahead,
                ~sa.exists().where(
                    Reminder.booking_id == Booking.id,
                    Reminder.meeting_id == Meeting.id,
                    Reminder.kind == kind,
                ),
            )
            .order_by(Meeting.starts_at)
        )
        if online_only:
            statement = statement.where(Meeting.online_url.is_not(None))
        due = [(booking.id, meeting.id) for booking, meeting in db.session.execute(statement)]
        db.session.rollback()
        for booking_id, meeting_id in due:
            with write_transaction():
                booking = db.session.get(Booking, booking_id)
                meeting = db.session.get(Meeting, meeting_id)
                if not booking.is_confirmed or not _claim_reminder(booking, meeting, kind):
                    continue
                mail.send_template(
                    booking.user,
                    f"Reminder: {booking.training_session.course.title}",
                    "reminder",
                    booking=booking,
                    meeting=meeting,
                    training_session=booking.training_session,
                    include_link=True,
                    extra_paragraphs=_plugin_paragraphs(booking, "reminder"),
                    session_url=url_for("catalogue.session_page",
                                        session_id=booking.training_session_id,
                                        _external=True),
                )
                sent += 1
    return sent


def end_sessions(now: datetime) -> int:
    """Fire ``trainer_session_ended`` once for each scheduled session whose last meeting has
    ended; return how many. The session is claimed with a conditional UPDATE in the same
    transaction as the hook's work, so two ticks never both handle it."""
    ids = list(
        db.session.scalars(
            sa.select(TrainingSession.id).where(
                TrainingSession.status == SessionStatus.SCHEDULED,
                TrainingSession.ends_at <= now,
                TrainingSession.ended_handled_at.is_(None),
            )
        )
    )
    db.session.rollback()
    handled = 0
    for session_id in ids:
        with write_transaction():
            claimed = db.session.execute(
                sa.update(TrainingSession)
                .where(TrainingSession.id == session_id,
                       TrainingSession.ended_handled_at.is_(None))
                .values(ended_handled_at=now)
            ).rowcount
            if claimed != 1:
                continue
            training_session = db.session.get(TrainingSession, session_id)
            hooks.call("trainer_session_ended", training_session=training_session)
            handled += 1
    return handled
