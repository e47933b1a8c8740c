"""The waiting list's pages: joining and leaving, answering an offer, the trainers' list of a
session, and the demand report.

Links in offer emails carry a signed token naming the offer and its person, so they work
from a phone without signing in; opening one never changes anything (mail scanners open
links), the button on the page does, and only while the offer is open (single use).
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup
from wtforms import BooleanField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from trainer import booking as engine
from trainer.access import (
    MANAGERS,
    may_manage_session,
    public,
    roles_required,
    session_or_403,
    signed_in,
)
from trainer.catalogue import Course, TrainingSession
from trainer.db import db, utcnow, write_transaction
from trainer.forms import BaseForm, strip
from trainer.hooks import Panel
from trainer.people import Region
from trainer.plugins.waiting_list import demand, service
from trainer.plugins.waiting_list.models import EntryStatus, WaitlistEntry

bp = Blueprint("waiting_list", __name__, url_prefix="/waiting-list")

ACCESS_NEEDS_MAX = 1000


class ConfirmForm(BaseForm):
    """A button and its CSRF token."""


class AcceptForm(BaseForm):
    access_needs = TextAreaField(
        "Anything we should know, for example access needs (optional)",
        description="Only the trainers see this.",
        filters=[strip],
        validators=[Optional(), Length(max=ACCESS_NEEDS_MAX, message="Anything we should know "
                                       f"must be {ACCESS_NEEDS_MAX:,} characters or fewer")],
    )
    share_with_la = BooleanField("Share my attendance with my local authority", default=False)


class RemoveForm(BaseForm):
    reason = TextAreaField(
        "Why are they being removed?",
        description="We send this to them.",
        filters=[strip],
        validators=[
            DataRequired(message="Enter the reason to send them"),
            Length(max=service.REASON_MAX,
                   message=f"The reason must be {service.REASON_MAX:,} characters or fewer"),
        ],
    )


def _session_or_404(session_id: int) -> TrainingSession:
    training_session = db.session.get(TrainingSession, session_id) if session_id < 2**31 else None
    if training_session is None:
        abort(404)
    return training_session


def _managed_entry_or_403(entry_id: int) -> WaitlistEntry:
    entry = db.session.get(WaitlistEntry, entry_id) if entry_id < 2**31 else None
    if entry is None:
        abort(404)
    if not may_manage_session(current_user, entry.training_session):
        abort(403)
    return entry


# -- practitioners --------------------------------------------------------------------------------


@bp.route("/sessions/<int:session_id>/join", methods=["GET", "POST"])
@signed_in
def join(session_id: int):
    """Join a full session's waiting list (the page explains, the button joins)."""
    training_session = _session_or_404(session_id)
    user = current_user._get_current_object()
    form = ConfirmForm()
    problem = None
    if form.validate_on_submit():
        answer = service.join(training_session.id, user)
        if answer.ok:
            flash(answer.message, "success")
            return redirect(url_for("catalogue.session_page", session_id=session_id))
        problem = answer.message
    entry = service.entry_for(user, session_id)
    if problem is None and entry is None:
        problem = service.join_problem(training_session, user, utcnow())
    return render_template(
        "waiting_list/join.html",
        form=form,
        training_session=training_session,
        entry=entry,
        position=service.position_text(entry) if entry else None,
        waiting=service.waiting_count(session_id),
        problem=problem,
        offer_hours=service.setting("WAITLIST_OFFER_HOURS"),
    )


@bp.route("/entries/<int:entry_id>/leave", methods=["GET", "POST"])
@signed_in
def leave(entry_id: int):
    """Leave a waiting list: the person's own entries only (anybody else's is not found)."""
    entry = db.session.get(WaitlistEntry, entry_id) if entry_id < 2**31 else None
    if entry is None or entry.user_id != current_user.id:
        abort(404)
    form = ConfirmForm()
    if form.validate_on_submit():
        answer = service.leave(entry.id, current_user._get_current_object())
        flash(answer.message, "success" if answer.ok else "info")
        return redirect(url_for("bookings.my_training"))
    return render_template("waiting_list/leave.html", form=form, entry=entry,
                           training_session=entry.training_session,
                           offer=service.open_offer(entry) if entry.is_active else None)


@bp.route("/offers/<token>", methods=["GET", "POST"])
@public
def answer_offer(token: str):
    """Accept or decline an offered place, from the email's links. The signed link is the
    key: it names one offer for one person, and works until the offer is answered or ends."""
    offer = service.read_offer_token(token)
    if offer is None:
        return render_template("waiting_list/offer_problem.html",
                               problem="This link is not valid. Check you copied all of it, "
                               "or find the offer in My training."), 404
    choice = request.values.get("answer", "accept")
    if choice not in ("accept", "decline"):
        choice = "accept"
    now = utcnow()
    accept_form, decline_form = AcceptForm(prefix="accept"), ConfirmForm(prefix="decline")
    if request.method == "POST":
        if choice == "accept" and accept_form.validate_on_submit():
            answer = service.accept(offer.id, access_needs=accept_form.access_needs.data or "",
                                    share_with_la=accept_form.share_with_la.data, now=now)
            if answer.ok:
                return render_template("waiting_list/accepted.html", booking=answer.booking,
                                       training_session=answer.booking.training_session)
            return render_template("waiting_list/offer_problem.html", problem=answer.message,
                                   training_session=offer.entry.training_session)
        if choice == "decline" and decline_form.validate_on_submit():
            answer = service.decline(offer.id, now=now)
            if answer.ok:
                return render_template("waiting_list/declined.html",
                                       training_session=offer.entry.training_session)
            return render_template("waiting_list/offer_problem.html", problem=answer.message,
                                   training_session=offer.entry.training_session)
    problem = service.offer_problem(offer, now)
    if problem is not None:
        return render_template("waiting_list/offer_problem.html", problem=problem,
                               training_session=offer.entry.training_session)
    return render_template(
        "waiting_list/offer.html",
        offer=offer,
        token=token,
        choice=choice,
        accept_form=accept_form,
        decline_form=decline_form,
        training_session=offer.entry.training_session,
        area=offer.entry.user.area,
    )


# -- trainers and administrators ------------------------------------------------------------------


@bp.route("/manage/sessions/<int:session_id>")
@roles_required(*MANAGERS)
def manage_list(session_id: int):
    """A session's waiting list: position, person, setting, area, joined, offer."""
    training_session = session_or_403(session_id)
    entries = service.active_entries(session_id)
    offers = {entry.id: service.open_offer(entry) for entry in entries}
    history = service.active_entries(
        session_id,
        statuses=tuple(status for status in EntryStatus
                       if status not in (EntryStatus.WAITING, EntryStatus.OFFERED)),
    )
    return render_template(
        "waiting_list/manage_list.html",
        training_session=training_session,
        entries=entries,
        offers=offers,
        history=sorted(history, key=lambda entry: entry.ended_at or entry.joined_at,
                       reverse=True)[:50],
        free=engine.free_places(training_session),
    )


@bp.route("/manage/entries/<int:entry_id>/offer", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def manual_offer(entry_id: int):
    """Offer one person a place now, ahead of the list; adds a place when none is free."""
    entry = _managed_entry_or_403(entry_id)
    training_session = entry.training_session
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            answer = service.offer_to(entry.id)
        except service.WaitlistError as error:
            answer = service.Answer(False, str(error))
        flash(answer.message, "success" if answer.ok else "info")
        return redirect(url_for("waiting_list.manage_list", session_id=training_session.id))
    return render_template(
        "waiting_list/manual_offer.html", form=form, entry=entry,
        training_session=training_session, free=engine.free_places(training_session),
        window=service.offer_window(training_session, utcnow()),
    )


@bp.route("/manage/entries/<int:entry_id>/remove", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def remove_entry(entry_id: int):
    """Take someone off a list, with a reason that is emailed to them."""
    entry = _managed_entry_or_403(entry_id)
    form = RemoveForm()
    if form.validate_on_submit():
        answer = service.remove(entry.id, form.reason.data)
        flash(answer.message, "success" if answer.ok else "info")
        return redirect(url_for("waiting_list.manage_list", session_id=entry.training_session_id))
    return render_template("waiting_list/remove.html", form=form, entry=entry,
                           training_session=entry.training_session)


@bp.route("/demand")
@roles_required(*MANAGERS)
def demand_report():
    """Sessions and courses with waiting lists, people waiting by course, region and LA, and
    how many were placed in the end."""
    user = current_user._get_current_object()
    return render_template(
        "waiting_list/demand.html",
        figures=demand.headline(user),
        sessions=demand.sessions_with_lists(user),
        courses=demand.by_course(user),
        course_regions=demand.by_course_and_region(user),
        areas=demand.by_local_authority(user),
        new_session_url=_new_session_url,
    )


def _new_session_url(course_id: int, region_id: int | None) -> str:
    """The core's form for a new session of the course, coming back here to invite."""
    back = url_for("waiting_list.demand_invite", course_id=course_id,
                   region_id=region_id if region_id is not None else "none")
    query = {"then": back}
    if region_id is not None:
        query["region_id"] = region_id
    return url_for("manage.new_session", course_id=course_id) + "?" + urlencode(query)


def _region_arg() -> tuple[bool, int | None]:
    raw = request.args.get("region_id", "")
    if raw == "none":
        return True, None
    if raw.isdigit() and len(raw) < 10:
        return True, int(raw)
    return False, None


@bp.route("/demand/courses/<int:course_id>/invite", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def demand_invite(course_id: int):
    """After adding a session for some demand: invite everyone waiting for that course in
    that region to it, in list order."""
    user = current_user._get_current_object()
    session_id = request.args.get("session_id", "")
    ok, region_id = _region_arg()
    course = db.session.get(Course, course_id) if course_id < 2**31 else None
    if not ok or course is None:
        abort(404)
    new_session = None
    if session_id.isdigit() and len(session_id) < 10:
        new_session = session_or_403(int(session_id))
        if new_session.course_id != course.id:
            abort(404)
    region = db.session.get(Region, region_id) if region_id is not None else None
    entries = [
        entry for entry in demand.entries_for_demand(user, course.id, region_id)
        if new_session is None or entry.training_session_id != new_session.id
    ]
    form = ConfirmForm()
    if new_session is not None and form.validate_on_submit():
        with write_transaction():
            entries = [db.session.merge(entry) for entry in entries]
            target = db.session.get(TrainingSession, new_session.id)
            invited = service.invite_to_session(entries, target)
        flash(f"{invited} {'person was' if invited == 1 else 'people were'} invited to the new "
              "session.", "success")
        return redirect(url_for("waiting_list.demand_report"))
    return render_template(
        "waiting_list/invite.html", form=form, course=course, region=region,
        region_id=region_id, entries=entries, new_session=new_session,
        new_session_url=_new_session_url(course.id, region_id),
    )


# -- panels on core pages -------------------------------------------------------------------------


def session_panel(training_session: TrainingSession, user) -> list[Panel] | None:
    entry = service.entry_for(user, training_session.id)
    if entry is None:
        return None
    offer = service.open_offer(entry)
    html = render_template(
        "waiting_list/_session_panel.html", entry=entry, offer=offer,
        position=service.position_text(entry),
        offer_url=url_for("waiting_list.answer_offer", token=service.offer_token(offer))
        if offer else None,
    )
    return [Panel("Waiting list", Markup(html), order=10)]


def my_training_panel(user) -> list[Panel] | None:
    entries = [
        entry for entry in db.session.scalars(
            db.select(WaitlistEntry)
            .where(WaitlistEntry.user_id == user.id,
                   WaitlistEntry.status.in_((EntryStatus.WAITING, EntryStatus.OFFERED)))
            .order_by(WaitlistEntry.joined_at)
        )
    ]
    items = []
    for entry in entries:
        offer = service.open_offer(entry)
        items.append({
            "entry": entry,
            "offer": offer,
            "position": service.position_text(entry),
            "offer_url": url_for("waiting_list.answer_offer", token=service.offer_token(offer))
            if offer else None,
        })
    html = render_template("waiting_list/_my_training_panel.html", items=items)
    return [Panel("Waiting lists", Markup(html), order=10)]


def manage_session_panel(training_session: TrainingSession) -> list[Panel] | None:
    entries = service.active_entries(training_session.id)
    html = render_template(
        "waiting_list/_manage_panel.html", training_session=training_session,
        waiting=len(entries),
        offered=sum(1 for entry in entries if entry.status == EntryStatus.OFFERED),
    )
    return [Panel("Waiting list", Markup(html), order=10)]
