"""Demo data for the local authority dashboard: the demo LA officer's requests for bespoke
sessions (one waiting, one answered), and enough attendance in their area that people agreed
to share by name for the dashboard to have names to show."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from trainer import reports, takeup
from trainer.bespoke import RequestStatus, SessionRequest
from trainer.booking import Booking
from trainer.catalogue import Course
from trainer.db import db, utcnow
from trainer.people import User

OFFICER = "la.officer@example.org"
ADMIN = "admin@example.org"
NAMED_AT_LEAST = 6


def create(echo) -> dict[str, int]:
    """Called by :func:`trainer.demo.create` once training, bookings and registers exist."""
    officer = db.session.scalar(sa.select(User).where(User.email == OFFICER))
    admin = db.session.scalar(sa.select(User).where(User.email == ADMIN))
    courses = list(db.session.scalars(sa.select(Course).order_by(Course.id).limit(2)))
    if officer is None or officer.local_authority_id is None or len(courses) < 2:
        return {}
    now = utcnow()
    today = reports.london_today()
    db.session.add_all([
        SessionRequest(
            local_authority_id=officer.local_authority_id, course_id=courses[0].id,
            requested_by_id=officer.id, first_choice=today + timedelta(weeks=6),
            second_choice=today + timedelta(weeks=7), expected_numbers=18,
            notes="Twilight sessions suit our childminders best. We can host at the "
                  "central library.",
            status=RequestStatus.OPEN, created_at=now - timedelta(days=2)),
        SessionRequest(
            local_authority_id=officer.local_authority_id, course_id=courses[1].id,
            requested_by_id=officer.id, first_choice=today + timedelta(weeks=3),
            expected_numbers=30, notes="For our SENCO network meeting.",
            status=RequestStatus.ACCEPTED,
            answer="Yes, we can run it then. Our trainer will be in touch to arrange the room.",
            answered_by_id=admin.id if admin else None, answered_at=now - timedelta(days=5),
            created_at=now - timedelta(days=12)),
    ])
    named = _consented_attendance(officer.local_authority_id)
    echo(f"  2 requests for bespoke sessions; {named} attendances in the demo LA officer's "
         f"area shown by name")
    return {"session_requests": 2}


def _consented_attendance(la_id: int) -> int:
    """Make sure some people in the area agreed to be named: if fewer than
    ``NAMED_AT_LEAST`` attendances in the last year are shared, share the first few more."""
    rows = takeup.attendances(la_id, reports.Range.last_twelve_months())
    shared = db.session.scalar(sa.select(sa.func.count()).select_from(rows)
                               .where(rows.c.share_with_la.is_(True))) or 0
    if shared < NAMED_AT_LEAST:
        more = list(db.session.scalars(
            sa.select(rows.c.booking_id).where(rows.c.share_with_la.is_(False))
            .order_by(rows.c.booking_id).limit(NAMED_AT_LEAST - shared)))
        if more:
            db.session.execute(sa.update(Booking).where(Booking.id.in_(more))
                               .values(share_with_la=True))
            shared += len(more)
    return shared
