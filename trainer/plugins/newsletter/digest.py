"""The monthly digest: from ``NEWSLETTER_DIGEST_DAY`` each month, every confirmed subscriber
is sent the bookable training sessions of the month ahead in their regions and topics (people
with nothing to hear about are sent nothing).

``tick`` does it once per month: the month's :class:`DigestRun` (unique by month) records the
window of sessions and a cursor over subscribers, moved on a batch at a time in transactions
holding the run's row lock, and each digest sent is a :class:`Digest` row unique per
(subscriber, month). Ticks may repeat, run at once or resume after a gap: within the month the
run finishes where it stopped; nobody gets a month's digest twice.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask import current_app, render_template, url_for
from sqlalchemy.orm import selectinload

from trainer import mail, times
from trainer.catalogue import (
    Course,
    SessionStatus,
    TrainingSession,
    confirmed_count_subquery,
    start_of_london_day,
)
from trainer.db import Busy, db, insert_ignoring_conflicts, skip_locked, utcnow, write_transaction
from trainer.plugins.newsletter import service
from trainer.plugins.newsletter.models import (
    Digest,
    DigestRun,
    Subscriber,
    SubscriberStatus,
)


@dataclass
class Listed:
    """A bookable session as a digest lists it."""

    id: int
    starts_at: datetime
    region_id: int | None
    local_authority_id: int | None  # only people of this LA may book it
    topics: frozenset[str]
    text: str


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def one_month_later(day: date) -> date:
    """The same day a month later (the month's last day when it has no such day)."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def due_month(now: datetime) -> str | None:
    """The month whose digest is due at ``now`` (London time), or ``None`` before the day."""
    today = times.to_london(now).date()
    wanted = max(service.setting("NEWSLETTER_DIGEST_DAY"), 1)
    day = min(wanted, calendar.monthrange(today.year, today.month)[1])
    return month_key(today) if today.day >= day else None


def bookable_sessions(start: datetime, end: datetime, now: datetime) -> list[Listed]:
    """Scheduled sessions starting in [start, end) and not yet begun, whose booking has not
    closed and that have places left, soonest first, each with its text for the email."""
    statement = (
        sa.select(TrainingSession)
        .join(TrainingSession.course)
        .options(selectinload(TrainingSession.course).selectinload(Course.topic_rows),
                 selectinload(TrainingSession.local_authority))
        .where(
            TrainingSession.status == SessionStatus.SCHEDULED,
            TrainingSession.starts_at >= max(start, now),
            TrainingSession.starts_at < end,
            sa.or_(TrainingSession.booking_closes_at.is_(None),
                   TrainingSession.booking_closes_at > now),
            TrainingSession.capacity > confirmed_count_subquery(),
        )
        .order_by(TrainingSession.starts_at, TrainingSession.id)
    )
    listed = []
    for training_session in db.session.scalars(statement):
        listed.append(Listed(
            id=training_session.id,
            starts_at=training_session.starts_at,
            region_id=training_session.area_region_id(),
            local_authority_id=training_session.local_authority_id,
            topics=frozenset(training_session.course.topics),
            text=render_template("emails/newsletter/_digest_session.txt",
                                 training_session=training_session,
                                 url=url_for("catalogue.session_page",
                                             session_id=training_session.id, _external=True)),
        ))
    return listed


def pick(sessions: list[Listed], region_ids: set[int], topics: set[str],
         la_id: int | None) -> list[Listed]:
    """The sessions for a subscriber: in a region they chose (sessions for no region, such as
    national online ones, suit everybody), on a topic they chose (none chosen: all), and not
    limited to another local authority."""
    chosen = []
    for item in sessions:
        if item.local_authority_id is not None and item.local_authority_id != la_id:
            continue
        if region_ids and item.region_id is not None and item.region_id not in region_ids:
            continue
        if topics and not (item.topics & topics):
            continue
        chosen.append(item)
    return chosen


def _start_run(month: str, now: datetime) -> DigestRun | None:
    run = db.session.scalar(sa.select(DigestRun).where(DigestRun.month == month))
    if run is not None:
        return run
    start = now
    end = start_of_london_day(one_month_later(times.to_london(now).date()))
    with write_transaction():
        db.session.execute(insert_ignoring_conflicts(DigestRun.__table__, {
            "month": month, "started_at": now, "window_start": start, "window_end": end,
            "cursor": 0, "queued_count": 0}))
    return db.session.scalar(sa.select(DigestRun).where(DigestRun.month == month))


def digest_batch(run: DigestRun, sessions: list[Listed], limit: int,
                 now: datetime | None = None) -> int:
    """Queue the digests of the next ``limit`` confirmed subscribers after the run's cursor, in
    the caller's transaction (holding the run's lock). Returns how many were queued."""
    now = now or utcnow()
    subscribers = list(db.session.scalars(
        sa.select(Subscriber)
        .options(selectinload(Subscriber.user))
        .where(Subscriber.status == SubscriberStatus.CONFIRMED, Subscriber.id > run.cursor,
               ~sa.exists().where(Digest.subscriber_id == Subscriber.id,
                                  Digest.month == run.month))
        .order_by(Subscriber.id)
        .limit(limit)))
    most = max(service.setting("NEWSLETTER_DIGEST_MAX_SESSIONS"), 1)
    find_url = url_for("catalogue.find_training", _external=True)
    messages, made = [], []
    for subscriber in subscribers:
        la_id, _job_role = service.effective_area(subscriber)
        chosen = pick(sessions, set(subscriber.region_ids), set(subscriber.topics), la_id)
        if not chosen:
            continue
        recipient, name = service.address_of(subscriber)
        unsubscribe = service.unsubscribe_url(subscriber)
        count = len(chosen)
        messages.append({
            "recipient": recipient,
            "recipient_name": name,
            "subject": f"{count} free training {'session' if count == 1 else 'sessions'} "
                       "coming up for you",
            "text_body": render_template(
                "emails/newsletter/digest.txt",
                name=name, items=[item.text for item in chosen[:most]],
                more=max(count - most, 0), find_url=find_url,
                window_end=run.window_end,
                service_name=current_app.config["SERVICE_NAME"],
                preferences_url=service.preferences_url(subscriber),
                unsubscribe_url=unsubscribe),
            "headers": service.list_headers(unsubscribe),
        })
        made.append((subscriber.id, count))
    message_ids = mail.queue_many(messages)
    if made:
        db.session.execute(sa.insert(Digest.__table__), [
            {"subscriber_id": subscriber_id, "month": run.month, "sessions": count,
             "message_id": message_id, "queued_at": now}
            for (subscriber_id, count), message_id in zip(made, message_ids, strict=True)
        ])
    if subscribers:
        run.cursor = subscribers[-1].id
    run.queued_count += len(made)
    if len(subscribers) < limit:
        run.finished_at = now
    return len(made)


def send_due(now: datetime | None = None, deadline: float | None = None) -> int:
    """``tick``'s part: build this month's digest once it is due. Returns digests queued."""
    now = now or utcnow()
    db.session.rollback()
    month = due_month(now)
    if month is None:
        return 0
    try:
        run = _start_run(month, now)
    except Busy:
        return 0
    if run is None or run.finished_at is not None:
        return 0
    sessions = bookable_sessions(run.window_start, run.window_end, now)
    db.session.rollback()
    limit = max(service.setting("NEWSLETTER_BATCH_SIZE"), 1)
    queued = 0
    while deadline is None or time.monotonic() < deadline:
        try:
            with write_transaction():
                locked = db.session.scalars(
                    skip_locked(sa.select(DigestRun).where(DigestRun.id == run.id,
                                                           DigestRun.finished_at.is_(None)))
                    .execution_options(populate_existing=True)).first()
                if locked is None:
                    break  # finished, or another worker has it now
                queued += digest_batch(locked, sessions, limit, now)
        except Busy:
            break
    return queued


def latest_runs(limit: int = 6) -> list[DigestRun]:
    return list(db.session.scalars(
        sa.select(DigestRun).order_by(DigestRun.month.desc()).limit(limit)))
