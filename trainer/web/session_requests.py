"""Administrators' side of bespoke session requests: the list (open ones first) and answering
one, which emails the person who asked (:mod:`trainer.bespoke`)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import RadioField, TextAreaField
from wtforms.validators import DataRequired, Length

from trainer import bespoke
from trainer.access import roles_required
from trainer.bespoke import RequestStatus, SessionRequest
from trainer.db import db
from trainer.forms import BaseForm, choices, strip
from trainer.people import Role

bp = Blueprint("session_requests", __name__, url_prefix="/admin/session-requests")

DECISIONS = [("accept", "Accept: we will arrange the session"),
             ("decline", "Decline: we cannot arrange it")]


class AnswerForm(BaseForm):
    decision = RadioField("Your answer", choices=choices(DECISIONS),
                          validators=[DataRequired(message="Select accept or decline")])
    message = TextAreaField(
        "Message to the person who asked",
        description="This is emailed to them. Say what happens next, or why not.",
        filters=[strip],
        validators=[DataRequired(message="Enter a message to the person who asked"),
                    Length(max=bespoke.MAX_ANSWER, message=(
                        f"The message must be {bespoke.MAX_ANSWER} characters or fewer"))])


@bp.route("")
@roles_required(Role.ADMIN)
def index():
    """Every request, open ones first then newest first, optionally of one status."""
    status = request.args.get("status") or None
    if status is not None and status not in set(RequestStatus):
        abort(404)
    page = request.args.get("page", 1, type=int)
    if page < 1:
        abort(404)
    pagination = db.paginate(bespoke.listing(status), page=page,
                             per_page=current_app.config["PAGE_SIZE"], error_out=False)
    return render_template("session_requests/index.html", pagination=pagination,
                           status=status, statuses=list(RequestStatus))


@bp.route("/<int:request_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def detail(request_id: int):
    """One request, with the form to accept or decline it while it is open."""
    found = db.get_or_404(SessionRequest, request_id)
    form = AnswerForm()
    if request.method == "POST" and not found.is_open:
        flash("This request has already been answered, so your answer was not saved.", "info")
        return redirect(url_for("session_requests.detail", request_id=request_id))
    if form.validate_on_submit():
        try:
            answered = bespoke.answer(request_id, current_user._get_current_object(),
                                      accept=form.decision.data == "accept",
                                      message=form.message.data)
        except bespoke.AlreadyAnswered as error:
            flash(str(error), "info")
        else:
            who = answered.requested_by
            flash(f"Request {answered.status_label.lower()}."
                  + (f" {who.name} has been emailed your answer." if who and who.active
                     else ""), "success")
        return redirect(url_for("session_requests.detail", request_id=request_id))
    return render_template("session_requests/detail.html", session_request=found, form=form)
