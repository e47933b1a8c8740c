"""The home page, the signed-in dashboard, the information pages and the health check."""

from __future__ import annotations

import sqlalchemy as sa
from flask import (
    Blueprint,
    current_app,
    jsonify,
    redirect,
    render_template,
    send_from_directory,
    url_for,
)
from flask_login import current_user
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from trainer.access import public, signed_in
from trainer.booking import Booking, BookingStatus
from trainer.catalogue import TrainingSession
from trainer.db import db, utcnow
from trainer.web import page_panels

bp = Blueprint("pages", __name__)


@bp.route("/")
@public
def home():
    """The start page."""
    if current_user.is_authenticated:
        return redirect(url_for("pages.dashboard"))
    return render_template("pages/home.html", panels=page_panels("home", None, None))


@bp.route("/dashboard")
@signed_in
def dashboard():
    """The signed-in home page: the next few bookings, and panels from plugins."""
    upcoming = db.session.scalars(
        sa.select(Booking)
        .join(Booking.training_session)
        .where(
            Booking.user_id == current_user.id,
            Booking.status == BookingStatus.CONFIRMED,
            TrainingSession.ends_at > utcnow(),
        )
        .order_by(TrainingSession.starts_at)
        .limit(3)
    ).all()
    return render_template(
        "pages/dashboard.html",
        upcoming=upcoming,
        panels=page_panels("dashboard", None, current_user),
    )


@bp.route("/accessibility")
@public
def accessibility():
    """Accessibility statement."""
    return render_template("pages/accessibility.html")


@bp.route("/privacy")
@public
def privacy():
    """Privacy notice."""
    return render_template("pages/privacy.html")


@bp.route("/healthz")
@public
def healthz():
    """200 when the database answers, 503 when it does not."""
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="unavailable", database="unreachable"), 503
    return jsonify(status="ok", database="ok")


@bp.route("/assets/<path:filename>")
@public
def govuk_assets(filename: str):
    """GOV.UK Frontend's fonts and images, where its stylesheet expects them."""
    folder = current_app.static_folder + "/govuk/assets"
    return send_from_directory(folder, filename, max_age=7 * 24 * 3600)
