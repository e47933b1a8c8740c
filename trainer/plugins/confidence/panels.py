"""Panels the questionnaires add to core pages: the booking page, My training and the trainers'
page of a session."""

from __future__ import annotations

from flask import render_template, url_for
from flask_login import current_user
from markupsafe import Markup

from trainer.access import may_manage_session
from trainer.booking import Booking, BookingStatus
from trainer.catalogue import TrainingSession
from trainer.db import db, utcnow
from trainer.hooks import Panel
from trainer.plugins.confidence import report, service
from trainer.plugins.confidence.models import STAGE_TITLES, Respondent, Stage


def _open_stages(booking: Booking, now) -> list[dict]:
    """The stages ``booking``'s person may answer now, with whether they have."""
    items = []
    for stage in Stage:
        if service.window_problem(booking.training_session, stage, now):
            continue
        if service.eligibility_problem(booking, stage):
            continue
        items.append({
            "stage": stage, "title": STAGE_TITLES[stage],
            "answered": service.response_for(booking.user, booking.training_session_id, stage),
            "closes": service.window(booking.training_session, stage)[1],
            "url": url_for("confidence.answer", session_id=booking.training_session_id,
                           stage=stage),
        })
    return items


def booking_panel(booking: Booking, user) -> list[Panel] | None:
    if booking is None or booking.user_id != user.id or not booking.is_confirmed:
        return None
    items = _open_stages(booking, utcnow())
    if not items:
        return None
    html = render_template("confidence/_booking_panel.html", items=items, booking=booking)
    return [Panel("Questionnaires", Markup(html), order=20)]


def my_training_panel(user) -> list[Panel] | None:
    now = utcnow()
    bookings = db.session.scalars(db.select(Booking).where(
        Booking.user_id == user.id, Booking.status == BookingStatus.CONFIRMED)).all()
    items = []
    for booking in bookings:
        if booking.training_session.starts_at is None:
            continue
        for item in _open_stages(booking, now):
            if not item["answered"]:
                items.append({**item, "booking": booking})
    has_answers = db.session.scalar(db.select(db.exists().where(Respondent.user_id == user.id)))
    if not items and not has_answers:
        return None
    html = render_template("confidence/_my_training_panel.html", items=items,
                           has_answers=has_answers)
    return [Panel("Questionnaires", Markup(html), order=20)]


def manage_session_panel(training_session: TrainingSession) -> list[Panel] | None:
    if not may_manage_session(current_user, training_session):
        return None
    figures = report.figures(report.Scope(session_id=training_session.id),
                             current_user._get_current_object())
    html = render_template("confidence/_manage_panel.html", figures=figures,
                           training_session=training_session)
    return [Panel("Questionnaires", Markup(html), order=20)]
