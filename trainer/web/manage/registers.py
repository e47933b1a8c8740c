"""Registers: taking the register of a meeting (attended or absent for each person booked)
and downloading a session's register as CSV, safe to open in a spreadsheet.
"""

from __future__ import annotations

import csv
import io

import sqlalchemy as sa
from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from trainer import booking
from trainer.access import MANAGERS, roles_required, session_or_403
from trainer.booking import Booking, BookingStatus, EngineError
from trainer.catalogue import Meeting
from trainer.db import db
from trainer.documents import spreadsheet_safe
from trainer.people import User
from trainer.times import london_wall_clock
from trainer.web.manage import bp

ATTENDED, ABSENT = "attended", "absent"


def _confirmed_bookings(session_id: int) -> list[Booking]:
    return list(db.session.scalars(
        sa.select(Booking)
        .join(User, User.id == Booking.user_id)
        .where(Booking.training_session_id == session_id,
               Booking.status == BookingStatus.CONFIRMED)
        .options(selectinload(Booking.user).selectinload(User.setting),
                 selectinload(Booking.user).selectinload(User.local_authority))
        .order_by(sa.func.lower(User.name), User.id)
    ))


@bp.route("/sessions/<int:session_id>/register/<int:meeting_id>", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def register(session_id: int, meeting_id: int):
    """Take the register of one meeting: attended or absent for each person booked."""
    training_session = session_or_403(session_id)
    meeting = db.session.get(Meeting, meeting_id)
    if meeting is None or meeting.training_session_id != training_session.id:
        abort(404)
    bookings = _confirmed_bookings(session_id)
    marks: dict[int, str] = {}
    for item in bookings:
        attendance = item.attendance_for(meeting)
        if attendance is not None:
            marks[item.id] = ATTENDED if attendance.attended else ABSENT
    errors: list[tuple[str, str]] = []
    if request.method == "POST":  # the CSRF token is checked before any view runs
        chosen: dict[int, bool] = {}
        for item in bookings:
            value = request.form.get(f"attendance-{item.id}", "")
            if value in (ATTENDED, ABSENT):
                chosen[item.id] = value == ATTENDED
                marks[item.id] = value
            elif value:
                errors.append((f"attendance-{item.id}",
                               f"Select attended or absent for {item.user.name}"))
        if not chosen and not errors:
            errors.append((f"attendance-{bookings[0].id}" if bookings else "",
                           "Mark at least one person as attended or absent"))
        if not errors:
            try:
                booking.record_attendance(meeting.id, chosen, current_user)
            except EngineError as error:
                errors.append(("", f"{error} Reload the page and try again."))
            else:
                attended = sum(chosen.values())
                flash(f"Register saved: {attended} attended, {len(chosen) - attended} "
                      "absent.", "success")
                return redirect(url_for("manage.register", session_id=session_id,
                                        meeting_id=meeting_id))
    counts = {ATTENDED: sum(1 for mark in marks.values() if mark == ATTENDED),
              ABSENT: sum(1 for mark in marks.values() if mark == ABSENT)}
    return render_template(
        "manage/register.html", training_session=training_session, meeting=meeting,
        number=training_session.meetings.index(meeting) + 1, bookings=bookings, marks=marks,
        counts=counts, errors=errors, error_messages=dict(reversed(errors)),
    )




@bp.route("/sessions/<int:session_id>/register.csv")
@roles_required(*MANAGERS)
def register_csv(session_id: int):
    """The register as CSV: one row per person booked, a column per meeting."""
    training_session = session_or_403(session_id)
    meetings = training_session.meetings
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    header = ["Name", "Email", "Setting", "Local authority", "Consent to share with LA",
              "Access needs"]
    for number, meeting in enumerate(meetings, start=1):
        local = london_wall_clock(meeting.starts_at)
        header.append(f"Meeting {number}: {local:%Y-%m-%d %H:%M} (London)")
    writer.writerow(header)
    for item in _confirmed_bookings(session_id):
        person = item.user
        row = [person.name, person.email, person.setting.name if person.setting else "",
               person.area.name if person.area else "", "Yes" if item.share_with_la else "No",
               item.access_needs]
        for meeting in meetings:
            attendance = item.attendance_for(meeting)
            row.append("" if attendance is None
                       else ATTENDED if attendance.attended else ABSENT)
        writer.writerow([spreadsheet_safe(cell) for cell in row])
    filename = f"register-session-{training_session.id}.csv"
    return Response(
        "\ufeff" + buffer.getvalue(),  # a byte order mark, so spreadsheets read UTF-8
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"',
                 "Cache-Control": "no-store"},
    )
