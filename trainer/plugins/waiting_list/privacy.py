"""Subject access and erasure for the waiting list.

What it holds about a person: their entries on waiting lists (joined, status, priority, when
and why an entry ended) and the offers of places made to them.

Erasure takes them off every list they are still on, as leaving does: an offer they hold is
withdrawn and the place goes to the next person. Their past entries and offers stay, linked to
the anonymised account, so the demand report's counts (people who waited, offers made, people
placed) are unchanged; the reason a trainer gave for removing them, their own words to them,
is cleared.
"""

from __future__ import annotations

import sqlalchemy as sa

from trainer.db import db
from trainer.people import User
from trainer.plugins.waiting_list import service
from trainer.plugins.waiting_list.models import Offer, WaitlistEntry


def _iso(moment) -> str | None:
    return moment.isoformat() if moment is not None else None


def user_data(user: User) -> dict[str, list[dict]] | None:
    """``user``'s waiting-list entries and the offers made to them."""
    entries = list(db.session.scalars(
        sa.select(WaitlistEntry).where(WaitlistEntry.user_id == user.id)
        .order_by(WaitlistEntry.joined_at, WaitlistEntry.id)))
    if not entries:
        return None
    offers = list(db.session.scalars(
        sa.select(Offer).where(Offer.entry_id.in_([entry.id for entry in entries]))
        .order_by(Offer.created_at, Offer.id)))
    sections = {
        "Waiting lists": [
            {"training_session_id": entry.training_session_id,
             "course": entry.training_session.course.title,
             "joined_at": _iso(entry.joined_at),
             "status": entry.status_label,
             "priority": entry.priority,
             "ended_at": _iso(entry.ended_at),
             "reason_given": entry.end_reason or None}
            for entry in entries
        ],
        "Waiting list offers": [
            {"training_session_id": offer.entry.training_session_id,
             "offered_at": _iso(offer.created_at),
             "held_until": _iso(offer.hold.expires_at),
             "status": offer.status,
             "answered_at": _iso(offer.answered_at)}
            for offer in offers
        ],
    }
    return {title: rows for title, rows in sections.items() if rows}


def erase_user(user: User) -> str:
    """Take ``user`` off every list they are on and clear the reasons given to them; past
    entries and offers stay for the counts. Safe to call twice."""
    left = service.leave_every_list(user)
    db.session.execute(
        sa.update(WaitlistEntry).where(WaitlistEntry.user_id == user.id)
        .values(end_reason=None).execution_options(synchronize_session=False))
    return f"Waiting lists: left {left} lists; past entries kept for the counts"
