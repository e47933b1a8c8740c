"""Training sessions: the list of those you manage, adding them (with their meetings,
optionally repeated), changing them, their number of places, and cancelling them.

Every form is validated in full before anything is written, and each change is written in one
transaction, so bad input never half-saves. People booked are told of changes and
cancellations by :mod:`trainer.booking`.
"""

from __future__ import annotations

from urllib.parse import urlencode

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from trainer import booking
from trainer.access import (
    MANAGERS,
    course_or_403,
    managed_sessions,
    may_manage_course,
    may_manage_session,
    roles_required,
    session_or_403,
)
from trainer.booking import EngineError, Reminder
from trainer.catalogue import Course, Meeting, Mode, TrainingSession, Venue
from trainer.db import db, lock_row, utcnow, write_transaction
from trainer.forms import choices
from trainer.people import LocalAuthority, Region, Role, User, UserRole
from trainer.times import london_wall_clock
from trainer.web import page_panels
from trainer.web.manage import bp, page_number
from trainer.web.manage.forms import CancelSessionForm, CapacityForm
from trainer.web.manage.session_form import (
    MAX_MEETINGS,
    MEETING_ROWS,
    NEW_VENUE,
    PlannedMeeting,
    SessionForm,
)
from trainer.web.security import local_url

# -- choices ------------------------------------------------------------------------------------


def _local_authority_choices(blank: str):
    rows = db.session.execute(
        sa.select(LocalAuthority.id, LocalAuthority.name).order_by(LocalAuthority.name)
    ).all()
    return choices([("", blank)] + [(row.id, row.name) for row in rows])


def _region_choices():
    rows = db.session.execute(sa.select(Region.id, Region.name).order_by(Region.name)).all()
    return choices([("", "Work it out from the venue or local authority")]
                   + [(row.id, row.name) for row in rows])


def _venue_choices(course: Course, training_session: TrainingSession | None):
    """Venues the course's delivery partner has used (and the session's own), and "new"."""
    used = (
        sa.select(Meeting.venue_id)
        .join(TrainingSession, TrainingSession.id == Meeting.training_session_id)
        .join(Course, Course.id == TrainingSession.course_id)
        .where(Course.delivery_partner_id == course.delivery_partner_id,
               Meeting.venue_id.is_not(None))
    )
    own = [m.venue_id for m in training_session.meetings if m.venue_id] if training_session \
        else []
    venues = db.session.scalars(
        sa.select(Venue).where(sa.or_(Venue.id.in_(used), Venue.id.in_(own)))
        .order_by(Venue.name).limit(500)
    ).all()
    return choices(
        [("", "No venue (online)"), (NEW_VENUE, "A new venue (enter its details below)")]
        + [(venue.id, f"{venue.name}, {venue.postcode}") for venue in venues]
    )


def _trainer_choices(course: Course, training_session: TrainingSession | None):
    """Trainers of the course's delivery partner, you, and the session's current trainers."""
    people = {
        user.id: user
        for user in db.session.scalars(
            sa.select(User)
            .join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role == Role.TRAINER,
                   User.delivery_partner_id == course.delivery_partner_id,
                   User.active.is_(True))
        )
    }
    people[current_user.id] = current_user._get_current_object()
    for trainer in training_session.trainers if training_session else []:
        people[trainer.id] = trainer
    ordered = sorted(people.values(), key=lambda user: (user.name.lower(), user.id))
    return choices((user.id, f"{user.name} ({user.email})") for user in ordered)


def _prepare_session_form(form: SessionForm, course: Course,
                          training_session: TrainingSession | None) -> None:
    form.local_authority.choices = _local_authority_choices("Open to everyone")
    form.venue_local_authority.choices = _local_authority_choices("Select a local authority")
    form.region.choices = _region_choices()
    form.trainers.choices = _trainer_choices(course, training_session)
    venues = _venue_choices(course, training_session)
    for entry in form.meetings:
        entry.form.venue.choices = venues


# -- the list of sessions -----------------------------------------------------------------------


@bp.route("/")
@roles_required(*MANAGERS)
def index():
    """The training sessions you manage: upcoming soonest first, or past latest first."""
    show = request.args.get("show", "upcoming")
    if show not in ("upcoming", "past"):
        abort(404)
    now = utcnow()
    statement = managed_sessions(current_user)
    if show == "upcoming":
        statement = statement.where(
            sa.or_(TrainingSession.ends_at >= now, TrainingSession.ends_at.is_(None))
        ).order_by(TrainingSession.starts_at, TrainingSession.id)
    else:
        statement = statement.where(TrainingSession.ends_at < now).order_by(
            TrainingSession.starts_at.desc(), TrainingSession.id.desc()
        )
    pagination = db.paginate(statement, page=page_number(),
                             per_page=current_app.config["PAGE_SIZE"], error_out=False)
    booked = booking.confirmed_counts([item.id for item in pagination.items])
    return render_template("manage/index.html", pagination=pagination, booked=booked,
                           show=show)


# -- training sessions --------------------------------------------------------------------------


@bp.route("/courses/<int:course_id>/sessions/new", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def new_session(course_id: int):
    """Add a training session of a course, with its meetings, optionally repeated."""
    course = course_or_403(course_id)
    defaults = {"trainers": [current_user.id], "mode": Mode.IN_PERSON}
    if request.args.get("region_id", "").isdigit():
        defaults["region"] = request.args["region_id"]
    form = SessionForm(data=defaults if request.method == "GET" else None)
    _prepare_session_form(form, course, None)
    then = local_url(request.args.get("then"))
    if form.validate_on_submit():
        created = _create_sessions(course, form)
        if then and len(created) == 1:
            flash("The training session has been added.", "success")
            joiner = "&" if "?" in then else "?"
            return redirect(f"{then}{joiner}{urlencode({'session_id': created[0]})}")
        if len(created) == 1:
            flash("The training session has been added.", "success")
            return redirect(url_for("manage.session", session_id=created[0]))
        flash(f"{len(created)} training sessions have been added.", "success")
        return redirect(url_for("manage.index"))
    return render_template("manage/session_form.html", form=form, course=course,
                           training_session=None)


def _create_sessions(course: Course, form: SessionForm) -> list[int]:
    """Write every planned session in one transaction; return their ids."""
    created = []
    with write_transaction():
        venue = _new_venue(form) if form.uses_new_venue else None
        trainers = _chosen_trainers(form)
        for occurrence in form.plan:
            training_session = TrainingSession(
                course_id=course.id,
                capacity=form.capacity.data,
                mode=form.mode.data,
                booking_opens_at=occurrence.booking_opens_at,
                booking_closes_at=occurrence.booking_closes_at,
                local_authority_id=_optional_id(form.local_authority.data),
                region_id=_optional_id(form.region.data),
                notes=form.notes.data or "",
                trainers=list(trainers),
            )
            for item, starts_at, ends_at in occurrence.meetings:
                training_session.meetings.append(
                    Meeting(starts_at=starts_at, ends_at=ends_at, online_url=item.online_url,
                            **_venue_of(item, venue))
                )
            training_session.refresh_times(booking.twilight_from())
            db.session.add(training_session)
            created.append(training_session)
        db.session.flush()
        ids = [training_session.id for training_session in created]
    return ids


def _new_venue(form: SessionForm) -> Venue:
    venue = Venue(
        name=form.venue_name.data,
        address=form.venue_address.data or "",
        postcode=form.venue_postcode.data,
        local_authority_id=_optional_id(form.venue_local_authority.data),
        accessibility_notes=form.venue_accessibility.data or "",
    )
    db.session.add(venue)
    db.session.flush()
    return venue


def _venue_of(item: PlannedMeeting, new_venue: Venue | None) -> dict:
    if item.venue == NEW_VENUE:
        return {"venue": new_venue}
    return {"venue_id": _optional_id(item.venue)}


def _chosen_trainers(form: SessionForm) -> list[User]:
    return list(db.session.scalars(sa.select(User).where(User.id.in_(form.trainers.data))))


def _optional_id(value: str | None) -> int | None:
    return int(value) if value else None


@bp.route("/sessions/<int:session_id>")
@roles_required(*MANAGERS)
def session(session_id: int):
    """A training session you manage: details, meetings, places, registers and actions."""
    training_session = session_or_403(session_id)
    return render_template(
        "manage/session.html",
        training_session=training_session,
        booked=booking.confirmed_count(training_session.id),
        held=booking.places_held(training_session),
        may_edit_course=may_manage_course(current_user, training_session.course),
        panels=page_panels("manage_session", training_session, current_user),
    )


@bp.route("/sessions/<int:session_id>/edit", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def edit_session(session_id: int):
    """Change a session's details and meetings; people booked are sent an updated invite."""
    training_session = session_or_403(session_id)
    if training_session.is_cancelled:
        flash("This training session is cancelled, so it cannot be changed.", "info")
        return redirect(url_for("manage.session", session_id=session_id))
    form = SessionForm(data=_session_data(training_session) if request.method == "GET"
                       else None, existing=training_session)
    _prepare_session_form(form, training_session.course, training_session)
    if form.validate_on_submit():
        try:
            told = _update_session(training_session.id, form)
        except EngineError as error:
            form.form_errors.append(str(error))
            return render_template("manage/session_form.html", form=form,
                                   course=training_session.course,
                                   training_session=training_session)
        if told is not None:
            people = "person" if told == 1 else "people"
            flash(f"The training session has been saved. {told} {people} booked "
                  f"{'was' if told == 1 else 'were'} sent an updated invite.", "success")
        else:
            flash("The training session has been saved.", "success")
        if not may_manage_session(current_user, db.session.get(TrainingSession, session_id)):
            return redirect(url_for("manage.index"))  # they took themselves off it
        return redirect(url_for("manage.session", session_id=session_id))
    return render_template("manage/session_form.html", form=form,
                           course=training_session.course, training_session=training_session)


def _session_data(training_session: TrainingSession) -> dict:
    opens_at, closes_at = training_session.booking_opens_at, training_session.booking_closes_at
    opens = london_wall_clock(opens_at) if opens_at else None
    closes = london_wall_clock(closes_at) if closes_at else None
    meetings = []
    for meeting in training_session.meetings:
        starts, ends = london_wall_clock(meeting.starts_at), london_wall_clock(meeting.ends_at)
        meetings.append({
            "meeting_id": str(meeting.id),
            "date": f"{starts.day}/{starts.month}/{starts.year}",
            "start": f"{starts:%H:%M}",
            "end": f"{ends:%H:%M}",
            "venue": str(meeting.venue_id or ""),
            "online_url": meeting.online_url or "",
        })
    rows = min(max(MEETING_ROWS, len(meetings) + 1), MAX_MEETINGS)
    meetings += [{} for _ in range(rows - len(meetings))]
    return {
        "mode": training_session.mode,
        "opens_date": f"{opens.day}/{opens.month}/{opens.year}" if opens else "",
        "opens_time": f"{opens:%H:%M}" if opens else "",
        "closes_date": f"{closes.day}/{closes.month}/{closes.year}" if closes else "",
        "closes_time": f"{closes:%H:%M}" if closes else "",
        "local_authority": str(training_session.local_authority_id or ""),
        "region": str(training_session.region_id or ""),
        "trainers": [trainer.id for trainer in training_session.trainers]
        or [current_user.id],
        "notes": training_session.notes,
        "meetings": meetings,
    }


def _signature(meeting: Meeting) -> tuple:
    return (meeting.starts_at, meeting.ends_at, meeting.venue_id, meeting.online_url)


def _update_session(session_id: int, form: SessionForm) -> int | None:
    """Save the form in one transaction under the session's lock. When meetings changed
    (times, venues or links) everyone booked is sent an updated invite in that same
    transaction; returns how many, or ``None`` when no meeting changed."""
    [occurrence] = form.plan
    with write_transaction():
        training_session = lock_row(TrainingSession, session_id)
        before = {meeting.id: _signature(meeting) for meeting in training_session.meetings}
        venue = _new_venue(form) if form.uses_new_venue else None
        training_session.mode = form.mode.data
        training_session.booking_opens_at = occurrence.booking_opens_at
        training_session.booking_closes_at = occurrence.booking_closes_at
        training_session.local_authority_id = _optional_id(form.local_authority.data)
        training_session.region_id = _optional_id(form.region.data)
        training_session.notes = form.notes.data or ""
        training_session.trainers = _chosen_trainers(form)
        by_id = {meeting.id: meeting for meeting in training_session.meetings}
        known = set(form.removed) | {item.meeting_id for item, _, _ in occurrence.meetings}
        if not known - {None} <= set(by_id):
            raise EngineError("Someone else changed the meetings of this session while you "
                              "were editing it. Reload the page and try again.")
        for meeting_id in form.removed:
            training_session.meetings.remove(by_id[meeting_id])
        for item, starts_at, ends_at in occurrence.meetings:
            meeting = by_id.get(item.meeting_id) if item.meeting_id else None
            if meeting is None:
                meeting = Meeting()
                training_session.meetings.append(meeting)
            meeting.starts_at, meeting.ends_at = starts_at, ends_at
            meeting.online_url = item.online_url
            if item.venue == NEW_VENUE:
                meeting.venue = venue
            else:
                venue_id = _optional_id(item.venue)
                meeting.venue = db.session.get(Venue, venue_id) if venue_id else None
        db.session.flush()
        training_session.refresh_times(booking.twilight_from())
        after = {meeting.id: _signature(meeting) for meeting in training_session.meetings}
        moved = [meeting_id for meeting_id, signature in after.items()
                 if meeting_id in before and before[meeting_id][0] != signature[0]]
        if moved:  # a new time deserves a new reminder
            db.session.execute(sa.delete(Reminder).where(Reminder.meeting_id.in_(moved)))
        if before == after:
            return None
        return booking.notify_session_changed(training_session)


@bp.route("/sessions/<int:session_id>/capacity", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def capacity(session_id: int):
    """Change the number of places; never below the places already booked or held."""
    training_session = session_or_403(session_id)
    if training_session.is_cancelled:
        flash("This training session is cancelled, so its places cannot be changed.", "info")
        return redirect(url_for("manage.session", session_id=session_id))
    form = CapacityForm(data={"capacity": training_session.capacity}
                        if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            booking.change_capacity(session_id, form.capacity.data)
        except EngineError as error:
            form.capacity.errors.append(str(error))
        else:
            flash(f"The training session now has {form.capacity.data} places.", "success")
            return redirect(url_for("manage.session", session_id=session_id))
    return render_template(
        "manage/capacity.html", form=form, training_session=training_session,
        booked=booking.confirmed_count(session_id),
        held=booking.places_held(training_session),
    )


@bp.route("/sessions/<int:session_id>/cancel", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def cancel_session(session_id: int):
    """Cancel a training session: everyone booked is told, with a calendar cancellation."""
    training_session = session_or_403(session_id)
    if training_session.is_cancelled:
        flash("This training session is already cancelled.", "info")
        return redirect(url_for("manage.session", session_id=session_id))
    form = CancelSessionForm()
    if form.validate_on_submit():
        try:
            told = booking.cancel_session(session_id, form.reason.data)
        except EngineError as error:
            form.reason.errors.append(str(error))
        else:
            return render_template("manage/cancelled.html",
                                   training_session=db.session.get(TrainingSession, session_id),
                                   told=told)
    return render_template("manage/cancel.html", form=form, training_session=training_session,
                           booked=booking.confirmed_count(session_id))
