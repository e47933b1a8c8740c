"""Subject access and erasure (DESIGN guarantee 7): what the service holds about a person,
as JSON or CSV, and erasing them.

:func:`user_data` gathers the core's own records (the account, bookings, attendance) and every
plugin's answer to ``trainer_user_data``. :func:`erase_user` asks every plugin to let go of the
person (``trainer_erase_user``) and then anonymises the account in the same transaction.

Erasure keeps the statistics. The account row stays, renamed "Erased account" with an address
nobody can receive mail at, no usable password and no roles, and it is deactivated so nobody
can sign in as it. Bookings and attendance marks stay, so every count is the same as before;
the person's own words on them (access needs, a cancellation reason) go. The local authority
the person was counted in stays as the account's area, so figures by area do not change; their
setting, job role and delivery partner go. Mail addressed to them is deleted from the outbox.
Requests for bespoke sessions they made stay, for their local authority, without the link to
them or their notes (:func:`trainer.bespoke.forget_person`).
"""

from __future__ import annotations

import csv
import io
import json
import secrets

import sqlalchemy as sa

from trainer import bespoke, hooks
from trainer.booking import Attendance, Booking
from trainer.catalogue import Meeting
from trainer.db import db, write_transaction
from trainer.documents import spreadsheet_safe
from trainer.mail import OutboxMessage
from trainer.people import Role, User, UserRole

ERASED_NAME = "Erased account"
CSV_COLUMNS = ("section", "record", "field", "value")
REQUESTS_SECTION = "Your requests for bespoke sessions"


def erased_email(user_id: int) -> str:
    """The address an erased account is left with: unique, and no mail can reach it."""
    return f"erased-{user_id}@invalid.example"


def is_erased(user: User) -> bool:
    return user.email == erased_email(user.id)


def _iso(moment) -> str | None:
    return moment.isoformat() if moment is not None else None


def core_data(user: User) -> dict[str, list[dict]]:
    """The core's own records about ``user``: the account, bookings and attendance marks, and
    the requests for bespoke sessions they made (a section only when there are some)."""
    area = user.area
    account = {
        "name": user.name,
        "email": user.email,
        "job_role": user.job_role_label,
        "setting": user.setting.name if user.setting is not None else None,
        "local_authority": area.name if area is not None else None,
        "delivery_partner": (user.delivery_partner.name
                             if user.delivery_partner is not None else None),
        "access": ", ".join(sorted(role.label for role in user.roles)) or None,
        "account_active": user.active,
        "created_at": _iso(user.created_at),
        "email_verified_at": _iso(user.email_verified_at),
        "last_sign_in_at": _iso(user.last_login_at),
        "private_calendar_feed": user.calendar_token is not None,
    }
    bookings = []
    attendance = []
    for booking in db.session.scalars(
            sa.select(Booking).where(Booking.user_id == user.id).order_by(Booking.id)):
        training_session = booking.training_session
        bookings.append({
            "booking_id": booking.id,
            "training_session_id": training_session.id,
            "course": training_session.course.title,
            "first_meeting_starts_at": _iso(training_session.starts_at),
            "status": booking.status,
            "booked_at": _iso(booking.created_at),
            "confirmed_at": _iso(booking.confirmed_at),
            "cancelled_at": _iso(booking.cancelled_at),
            "cancellation_reason": booking.cancel_reason or None,
            "access_needs": booking.access_needs or None,
            "consent_to_share_with_local_authority": booking.share_with_la,
        })
        meetings = {meeting.id: meeting for meeting in training_session.meetings}
        for mark in sorted(booking.attendances, key=lambda a: a.id):
            meeting: Meeting | None = meetings.get(mark.meeting_id)
            attendance.append({
                "training_session_id": training_session.id,
                "course": training_session.course.title,
                "meeting_starts_at": _iso(meeting.starts_at) if meeting else None,
                "attended": mark.attended,
                "recorded_at": _iso(mark.recorded_at),
            })
    data = {"Your account": [account], "Your bookings": bookings,
            "Your attendance": attendance}
    requests = bespoke.user_data(user)
    if requests:
        data[REQUESTS_SECTION] = requests
    return data


def user_data(user: User) -> dict[str, list[dict]]:
    """Everything held about ``user``: the core's sections, then each plugin's. A plugin's
    section with the title of one already present is added to it."""
    data = core_data(user)
    for answer in hooks.call("trainer_user_data", user=user):
        if not answer:
            continue
        for title, records in answer.items():
            data.setdefault(title, []).extend(records or [])
    return data


def to_json(data: dict[str, list[dict]]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str)


def to_csv(data: dict[str, list[dict]]) -> str:
    """One row per value: section, record number (from 1), field, value. Every cell is made
    safe to open in a spreadsheet."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for title, records in data.items():
        for number, record in enumerate(records, start=1):
            for field, value in record.items():
                if isinstance(value, bool):
                    value = "yes" if value else "no"
                writer.writerow([spreadsheet_safe(cell)
                                 for cell in (title, number, field, value)])
    return buffer.getvalue()


class ErasureRefused(ValueError):
    """Erasure was not done; the message says why."""


def erase_user(user: User, by: User | None = None) -> list[str]:
    """Erase ``user`` (see the module's docstring for what stays), in one transaction.

    ``by`` is the administrator doing it, or ``None`` when the person erases themself; an
    administrator may not erase their own account this way (they could be the last one), and
    the last active administrator may not be erased at all (:class:`ErasureRefused`).
    Safe to call again on an erased account. Returns a summary from each plugin and the core.
    """
    if by is not None and by.id == user.id:
        raise ErasureRefused("You cannot erase your own account from here. Ask another "
                             "administrator, or use Your data in your account.")
    user_id = user.id
    with write_transaction():
        user = db.session.get(User, user_id, populate_existing=True)
        if user.has_role(Role.ADMIN) and not _other_admin(user_id):
            raise ErasureRefused("You are the only administrator. Make someone else an "
                                 "administrator before you delete your account.")
        old_email = user.email
        summaries = [summary for summary in hooks.call("trainer_erase_user", user=user)
                     if summary]
        bookings = list(db.session.scalars(sa.select(Booking).where(Booking.user_id == user_id)))
        for booking in bookings:
            booking.access_needs = ""
            booking.cancel_reason = None
        marks = db.session.scalar(
            sa.select(sa.func.count()).select_from(Attendance)
            .join(Booking, Booking.id == Attendance.booking_id)
            .where(Booking.user_id == user_id))
        requests = bespoke.forget_person(user_id)
        erased_mail = _erase_mail(old_email)
        if user.email != erased_email(user_id):
            # The hash of a random secret that is thrown away: no password matches it, and
            # every browser the person was signed in on is signed out (the cookie carries part
            # of the hash). Done once, so erasing again changes nothing.
            user.set_password(secrets.token_urlsafe(32))
        area = user.area
        user.local_authority_id = area.id if area is not None else None
        user.setting_id = None
        user.job_role = None
        user.delivery_partner_id = None
        user.calendar_token = None
        user.email_verified_at = None
        user.active = False
        user.name = ERASED_NAME
        user.email = erased_email(user_id)
        db.session.execute(sa.delete(UserRole).where(UserRole.user_id == user_id))
        db.session.expire(user, ["role_rows"])
        summaries.append(
            f"Account: name, email address, password, setting and role removed; "
            f"{len(bookings)} bookings and {marks} attendance marks kept without their notes; "
            f"{erased_mail} emails to them deleted"
            + (f"; {requests} requests for bespoke sessions kept without their name or notes"
               if requests else ""))
    return summaries


def _other_admin(user_id: int) -> bool:
    """Whether an active administrator other than ``user_id`` exists."""
    return db.session.scalar(sa.select(sa.exists().where(
        UserRole.role == str(Role.ADMIN), UserRole.user_id != user_id,
        UserRole.user_id == User.id, User.active.is_(True))))


def _erase_mail(email: str) -> int:
    """Delete the outbox's mail to ``email``, and take the address out of mail to anyone else
    (which may mention it). Returns how many messages were deleted."""
    deleted = db.session.execute(
        sa.delete(OutboxMessage).where(OutboxMessage.recipient == email)).rowcount or 0
    for column in (OutboxMessage.subject, OutboxMessage.text_body, OutboxMessage.html_body):
        db.session.execute(
            sa.update(OutboxMessage)
            .where(column.contains(email, autoescape=True))
            .values({column.key: sa.func.replace(column, email, ERASED_NAME)})
            .execution_options(synchronize_session=False))
    return deleted
