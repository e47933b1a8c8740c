"""Demo waiting lists: people waiting on some of the fully booked upcoming sessions."""

from __future__ import annotations

import random
from datetime import timedelta

import sqlalchemy as sa

from trainer.booking import Booking, BookingStatus
from trainer.catalogue import SessionStatus, TrainingSession
from trainer.db import db, utcnow
from trainer.people import User
from trainer.plugins.waiting_list.models import EntryStatus, WaitlistEntry

MAX_SESSIONS = 60


def create(rng: random.Random, echo) -> dict[str, int]:
    """Put 2 to 12 demo practitioners on the list of up to 60 full upcoming sessions, joined
    over the last fortnight in order."""
    now = utcnow()
    booked = (
        sa.select(sa.func.count())
        .select_from(Booking)
        .where(Booking.training_session_id == TrainingSession.id,
               Booking.status == BookingStatus.CONFIRMED)
        .scalar_subquery()
    )
    full = list(db.session.scalars(
        sa.select(TrainingSession.id)
        .where(TrainingSession.status == SessionStatus.SCHEDULED,
               TrainingSession.starts_at > now + timedelta(days=2),
               TrainingSession.local_authority_id.is_(None),
               booked >= TrainingSession.capacity)
        .order_by(TrainingSession.starts_at)
        .limit(MAX_SESSIONS)
    ))
    people = list(db.session.scalars(
        sa.select(User.id).where(User.email.like("%@example.net")).order_by(User.id).limit(5000)
    ))
    if not full or not people:
        return {"waiting_list_entries": 0}
    rows = []
    for session_id in full:
        taken = set(db.session.scalars(
            sa.select(Booking.user_id).where(Booking.training_session_id == session_id)
        ))
        candidates = [person for person in people if person not in taken]
        count = min(rng.randint(2, 12), len(candidates))
        joined = now - timedelta(days=14)
        for user_id in rng.sample(candidates, count):
            joined += timedelta(minutes=rng.randint(20, 1500))
            rows.append({"training_session_id": session_id, "user_id": user_id,
                         "status": EntryStatus.WAITING.value, "priority": 0.0,
                         "joined_at": min(joined, now)})
    db.session.execute(sa.insert(WaitlistEntry.__table__), rows)
    echo(f"  {len(rows)} people on {len(full)} waiting lists")
    return {"waiting_list_entries": len(rows)}
