"""Booking a place, "My training", cancelling, certificates and the private calendar feed.

Views parse and render; :mod:`trainer.booking` decides. Every booking page is for its owner
only: somebody else's booking answers 404, so its existence is not revealed. The private
calendar feed is the one public view here: calendar programs cannot sign in, so the secret
token in its address is the key, and resetting the token revokes the old address.
"""

from __future__ import annotations

import secrets
from datetime import datetime

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy.orm import selectinload
from wtforms import BooleanField, RadioField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from trainer import booking as engine
from trainer import calendar
from trainer.access import public, signed_in
from trainer.booking import Booking, BookingStatus
from trainer.catalogue import Course, TrainingSession
from trainer.db import db, utcnow
from trainer.documents import Line
from trainer.documents import certificate_pdf as certificate_pdf_document
from trainer.forms import BaseForm, choices, strip
from trainer.people import User
from trainer.times import day
from trainer.web import page_panels

bp = Blueprint("bookings", __name__, url_prefix="/my-training")

ACCESS_NEEDS_MAX = 1000
CANCEL_REASONS = {
    "cannot_attend": "I can no longer attend",
    "time": "The time no longer suits me",
    "other": "Other",
}


def hours_text(hours: float) -> str:
    """``7.5 hours``, ``1 hour``, ``0 hours``."""
    number = f"{round(hours or 0, 2):g}"
    return f"{number} hour" if number == "1" else f"{number} hours"


@bp.context_processor
def _helpers():
    return {"hours_text": hours_text}


# -- forms ----------------------------------------------------------------------------------------


class BookForm(BaseForm):
    access_needs = TextAreaField(
        "Anything we should know, for example access needs (optional)",
        description="For example, step-free access, a British Sign Language interpreter, "
        "or that you need to leave early. Only the trainers see this.",
        filters=[strip],
        validators=[
            Optional(),
            Length(
                max=ACCESS_NEEDS_MAX,
                message=f"Anything we should know must be {ACCESS_NEEDS_MAX:,} characters "
                "or fewer",
            ),
        ],
    )
    share_with_la = BooleanField("Share my attendance with my local authority", default=False)


class CancelForm(BaseForm):
    reason = RadioField(
        "Why are you cancelling?",
        choices=choices(CANCEL_REASONS.items()),
        validators=[DataRequired(message="Select why you are cancelling")],
    )
    other = TextAreaField(
        "If you chose Other, tell us why",
        filters=[strip],
        validators=[
            Length(max=ACCESS_NEEDS_MAX,
                   message=f"Your reason must be {ACCESS_NEEDS_MAX:,} characters or fewer")
        ],
    )

    def validate_other(self, field):
        if self.reason.data == "other" and not field.data:
            raise ValidationError("Tell us why you are cancelling")

    def reason_text(self) -> str:
        if self.reason.data == "other":
            return f"Other: {self.other.data}"
        return CANCEL_REASONS[self.reason.data]


# -- helpers --------------------------------------------------------------------------------------


def _session_or_404(session_id: int) -> TrainingSession:
    training_session = db.session.get(TrainingSession, session_id)
    if training_session is None:
        abort(404)
    return training_session


def _own_booking_or_404(booking_id: int) -> Booking:
    """The signed-in person's booking; anybody else's is "not found", never "forbidden"."""
    booking = db.session.get(Booking, booking_id)
    if booking is None or booking.user_id != current_user.id:
        abort(404)
    return booking


def _can_cancel(booking: Booking, now: datetime) -> bool:
    starts_at = booking.training_session.starts_at
    return booking.is_confirmed and (starts_at is None or now < starts_at)


def _bookings_of(user: User) -> list[Booking]:
    return list(
        db.session.scalars(
            sa.select(Booking)
            .join(Booking.training_session)
            .where(Booking.user_id == user.id)
            .options(
                selectinload(Booking.training_session)
                .selectinload(TrainingSession.course)
                .selectinload(Course.delivery_partner)
            )
            .order_by(TrainingSession.starts_at, Booking.id)
        )
    )


def _ics_response(content: bytes, filename: str, inline: bool = False):
    response = make_response(content)
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    disposition = "inline" if inline else "attachment"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return response


# -- booking --------------------------------------------------------------------------------------


@bp.route("/book/<int:session_id>", methods=["GET", "POST"])
@signed_in
def book(session_id: int):
    """Book a place: the session's summary and a short form; refusals are shown on the page.

    A confirmed booking redirects to its confirmation page (POST/redirect/GET); a refusal or a
    full session is shown here with status 200 and nothing is saved.
    """
    training_session = _session_or_404(session_id)
    user = current_user._get_current_object()
    form = BookForm()
    result = None
    if form.validate_on_submit():
        try:
            result = engine.book(
                training_session.id,
                user,
                access_needs=form.access_needs.data or "",
                share_with_la=form.share_with_la.data,
            )
        except engine.EngineError:
            abort(404)
        if result.ok:
            return redirect(url_for("bookings.confirmed", booking_id=result.booking.id))
        training_session = _session_or_404(session_id)
    # Say before the form is filled in when the core would refuse anyway.
    problem = None
    if result is None and request.method == "GET":
        problem = engine.refusal(training_session, user, utcnow())
        if problem is None and engine.free_places(training_session) <= 0:
            result = engine.full_answer(training_session, user)
    existing = engine.booking_for(user, training_session.id)
    return render_template(
        "bookings/book.html",
        form=form,
        training_session=training_session,
        result=result,
        problem=problem,
        existing=existing if existing is not None and existing.is_confirmed else None,
        area=user.area,
    )


@bp.route("/bookings/<int:booking_id>/confirmed")
@signed_in
def confirmed(booking_id: int):
    """The confirmation page shown after booking."""
    booking = _own_booking_or_404(booking_id)
    if not booking.is_confirmed:
        return redirect(url_for("bookings.booking_page", booking_id=booking.id))
    return render_template(
        "bookings/confirmed.html",
        booking=booking,
        training_session=booking.training_session,
        reminder_hours=current_app.config["REMINDER_HOURS_BEFORE"],
        online_reminder_hours=current_app.config["ONLINE_REMINDER_HOURS_BEFORE"],
    )


# -- My training ----------------------------------------------------------------------------------


@bp.route("/")
@signed_in
def my_training():
    """The person's bookings, attended training and CPD hours."""
    now = utcnow()
    bookings = _bookings_of(current_user)
    upcoming, past, cancelled = [], [], []
    for booking in bookings:
        ends_at = booking.training_session.ends_at
        if not booking.is_confirmed:
            cancelled.append(booking)
        elif ends_at is None or ends_at > now:
            upcoming.append(booking)
        else:
            past.append(booking)
    past.reverse()  # most recent first
    cancelled.sort(key=lambda item: item.cancelled_at or now, reverse=True)
    cpd_hours = sum(booking.attended_hours for booking in bookings if booking.is_confirmed)
    return render_template(
        "bookings/my_training.html",
        upcoming=upcoming,
        past=past,
        cancelled=cancelled,
        cpd_hours=cpd_hours,
        now=now,
        panels=page_panels("my_training", None, current_user),
    )


@bp.route("/bookings/<int:booking_id>")
@signed_in
def booking_page(booking_id: int):
    """One booking: dates, place or joining link, and what can be done with it."""
    booking = _own_booking_or_404(booking_id)
    now = utcnow()
    return render_template(
        "bookings/booking.html",
        booking=booking,
        training_session=booking.training_session,
        can_cancel=_can_cancel(booking, now),
        panels=page_panels("booking", booking, current_user),
        now=now,
    )


@bp.route("/bookings/<int:booking_id>/invite.ics")
@signed_in
def invite(booking_id: int):
    """The booking's calendar invite (a cancellation once it is cancelled)."""
    booking = _own_booking_or_404(booking_id)
    content = calendar.for_booking(booking, cancel=not booking.is_confirmed)
    return _ics_response(content, f"training-booking-{booking.id}.ics")


# -- cancelling -----------------------------------------------------------------------------------


@bp.route("/bookings/<int:booking_id>/cancel", methods=["GET", "POST"])
@signed_in
def cancel(booking_id: int):
    """Cancel a booking before the session starts, with a reason."""
    booking = _own_booking_or_404(booking_id)
    form = CancelForm()
    refusal = None
    if not booking.is_confirmed:
        refusal = "This booking is already cancelled."
    elif not _can_cancel(booking, utcnow()):
        refusal = "This training session has started, so the booking cannot be cancelled."
    if refusal is None and form.validate_on_submit():
        result = engine.cancel(booking.id, form.reason_text())
        if result.ok:
            return redirect(url_for("bookings.cancelled", booking_id=booking.id))
        refusal = result.message
        booking = _own_booking_or_404(booking_id)
    return render_template(
        "bookings/cancel.html",
        booking=booking,
        training_session=booking.training_session,
        form=form,
        refusal=refusal,
    )


@bp.route("/bookings/<int:booking_id>/cancelled")
@signed_in
def cancelled(booking_id: int):
    """The confirmation page shown after cancelling."""
    booking = _own_booking_or_404(booking_id)
    if booking.is_confirmed:
        return redirect(url_for("bookings.booking_page", booking_id=booking.id))
    return render_template(
        "bookings/cancelled.html", booking=booking, training_session=booking.training_session
    )


# -- certificate ----------------------------------------------------------------------------------


@bp.route("/bookings/<int:booking_id>/certificate.pdf")
@signed_in
def certificate(booking_id: int):
    """A certificate of attendance (PDF), once every meeting has been attended."""
    booking = _own_booking_or_404(booking_id)
    if not (booking.is_confirmed and booking.completed):
        return render_template(
            "errors/error.html",
            title="There is no certificate for this booking yet",
            body="A certificate of attendance is ready once the trainer has recorded that "
            "you attended every part of the training.",
        ), 404
    response = make_response(certificate_pdf(booking))
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="certificate-{booking.id}.pdf"'
    )
    return response


def certificate_pdf(booking: Booking) -> bytes:
    """The certificate of attendance for a completed ``booking`` (fonts as
    :func:`trainer.documents.certificate_pdf` says)."""
    training_session = booking.training_session
    course = training_session.course
    service = current_app.config["SERVICE_NAME"]
    lines = [
        Line("Certificate of attendance", 30, 10, bold=True),
        Line("This is to certify that", 14),
        Line(booking.user.name, 26, 8, bold=True),
        Line("attended", 14),
        Line(course.title, 20, 8, bold=True),
    ]
    meetings = training_session.meetings
    days = list(dict.fromkeys(day(meeting.starts_at) for meeting in meetings))
    if len(days) == 1:
        lines.append(Line(f"on {days[0]}", 13, 2))
    else:
        lines.append(Line(f"in {len(meetings)} parts, on {', '.join(days)}", 13, 2))
    lines.append(Line(f"Total: {hours_text(booking.attended_hours)} of training", 13, 2))
    lines.append(Line(f"Level: {course.level_label}", 12, 2))
    if course.accredited:
        credits = f"{course.credits} credits" if course.credits else "accredited"
        lines.append(Line(f"Accredited course: {credits}", 12, 2))
    lines.append(Line(f"Delivered by {course.delivery_partner.name}", 12, 4))
    return certificate_pdf_document(
        f"Certificate of attendance: {course.title}", lines,
        f"{service}. Booking reference {booking.id}. Issued {day(utcnow())}.")


# -- private calendar feed ------------------------------------------------------------------------


def _feed_url(user: User) -> str:
    return url_for("bookings.feed", token=user.calendar_token, _external=True)


@bp.route("/calendar")
@signed_in
def subscribe():
    """The address of the person's private calendar feed, made on the first visit."""
    user = current_user
    if not user.calendar_token:
        user.calendar_token = secrets.token_urlsafe(32)
        db.session.commit()
    url = _feed_url(user)
    return render_template(
        "bookings/subscribe.html",
        feed_url=url,
        webcal_url="webcal://" + url.split("://", 1)[1],
    )


@bp.route("/calendar/reset", methods=["POST"])
@signed_in
def reset_feed():
    """Give the feed a new secret address; the old one stops working at once."""
    current_user.calendar_token = secrets.token_urlsafe(32)
    db.session.commit()
    flash(
        "Your calendar address has been changed. The old address no longer works: add the "
        "new one to your calendar.",
        "success",
    )
    return redirect(url_for("bookings.subscribe"))


@bp.route("/calendar/<token>.ics")
@public
def feed(token: str):
    """The person's bookings as a calendar feed. The secret token is the key: calendar
    programs cannot sign in. Cancelled bookings stay in the feed, marked cancelled."""
    if len(token) < 32:
        abort(404)
    user = db.session.scalar(sa.select(User).where(User.calendar_token == token))
    if user is None or not user.active:
        abort(404)
    bookings = [
        booking for booking in _bookings_of(user)
        if booking.status in (BookingStatus.CONFIRMED, BookingStatus.CANCELLED)
    ]
    content = calendar.for_sessions(
        [booking.training_session for booking in bookings],
        f"My training – {current_app.config['SERVICE_NAME']}",
        {booking.training_session_id: booking for booking in bookings},
    )
    response = _ics_response(content, "my-training.ics", inline=True)
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
