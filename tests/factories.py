"""Small builders of catalogue data for tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from trainer.booking import twilight_from
from trainer.catalogue import Course, Meeting, TrainingSession, Venue
from trainer.db import db
from trainer.people import DeliveryPartner, LocalAuthority


def partner(name: str = "Early Years Inclusion Partnership") -> DeliveryPartner:
    found = db.session.scalar(sa.select(DeliveryPartner).where(DeliveryPartner.name == name))
    if found is None:
        found = DeliveryPartner(name=name)
        db.session.add(found)
        db.session.flush()
    return found


def local_authority(name: str = "Leeds") -> LocalAuthority:
    return db.session.scalar(sa.select(LocalAuthority).where(LocalAuthority.name == name))


def course(title: str = "Supporting speech and language", **fields) -> Course:
    topics = fields.pop("topics", ["speech_language_communication"])
    audiences = fields.pop("audiences", ["practitioners"])
    made = Course(title=title, summary=fields.pop("summary", "What to do, and why."),
                  delivery_partner=fields.pop("delivery_partner", None) or partner(), **fields)
    made.topics = topics
    made.audiences = audiences
    db.session.add(made)
    db.session.flush()
    return made


def training_session(
    starts: list[datetime] | datetime | None = None,
    hours: float = 1.5,
    capacity: int = 20,
    course_: Course | None = None,
    venue: Venue | None = None,
    online_url: str | None = None,
    **fields,
) -> TrainingSession:
    """A scheduled session; ``starts`` are aware datetimes (default: a week from now)."""
    if starts is None:
        starts = [datetime.now(UTC).replace(microsecond=0) + timedelta(days=7)]
    if isinstance(starts, datetime):
        starts = [starts]
    made = TrainingSession(course=course_ or course(), capacity=capacity, **fields)
    for start in starts:
        made.meetings.append(
            Meeting(starts_at=start.astimezone(UTC),
                    ends_at=(start + timedelta(hours=hours)).astimezone(UTC),
                    venue=venue, online_url=online_url)
        )
    made.refresh_times(twilight_from())
    db.session.add(made)
    db.session.flush()
    return made
