"""The demand report: who is waiting for what, where, and how many were placed in the end.

Every figure is limited to the training sessions the user manages (an administrator: all of
them; a trainer: their delivery partner's and the ones they run, as
:func:`trainer.access.managed_sessions` decides). A person's area is their setting's local
authority, else the one they gave; people who gave none are counted under "Not known".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from trainer.access import managed_sessions
from trainer.booking import Booking, BookingStatus
from trainer.catalogue import Course, SessionStatus, TrainingSession
from trainer.db import db, utcnow
from trainer.people import LocalAuthority, Region, Setting, User
from trainer.plugins.waiting_list.models import (
    ACTIVE,
    EntryStatus,
    Hold,
    HoldStatus,
    WaitlistEntry,
)

NOT_KNOWN = "Not known"


@dataclass
class Headline:
    waiting: int
    sessions: int
    offers_open: int
    placed_from_list: int
    eventually_placed: int
    ever_waited: int

    @property
    def placed_share(self) -> int | None:
        if not self.ever_waited:
            return None
        return round(100 * self.eventually_placed / self.ever_waited)


def _scope(user) -> sa.Select:
    """Ids of the sessions ``user`` manages."""
    return managed_sessions(user).with_only_columns(TrainingSession.id).order_by(None)


def _area_columns():
    """(local authority id) of the person waiting: their setting's, else their own."""
    setting = aliased(Setting)
    la_id = sa.func.coalesce(setting.local_authority_id, User.local_authority_id)
    return setting, la_id


def _since(now: datetime) -> datetime:
    return now - timedelta(days=365)


def _placed_condition():
    """The person waiting went on to book a session of the same course after joining."""
    later = aliased(TrainingSession)
    return (
        sa.select(Booking.id)
        .join(later, later.id == Booking.training_session_id)
        .where(
            Booking.user_id == WaitlistEntry.user_id,
            Booking.status == BookingStatus.CONFIRMED,
            later.course_id == TrainingSession.course_id,
            Booking.confirmed_at >= WaitlistEntry.joined_at,
        )
        .exists()
    )


def headline(user, now: datetime | None = None) -> Headline:
    """The figures at the top of the report (and on the reports page)."""
    now = now or utcnow()
    scope = _scope(user)
    upcoming = sa.and_(
        TrainingSession.id.in_(scope),
        TrainingSession.status == SessionStatus.SCHEDULED,
        sa.or_(TrainingSession.starts_at.is_(None), TrainingSession.starts_at > now),
    )
    waiting, sessions = db.session.execute(
        sa.select(sa.func.count(), sa.func.count(sa.distinct(WaitlistEntry.training_session_id)))
        .select_from(WaitlistEntry)
        .join(TrainingSession, TrainingSession.id == WaitlistEntry.training_session_id)
        .where(WaitlistEntry.status.in_(ACTIVE), upcoming)
    ).one()
    offers_open = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Hold)
        .where(Hold.status == HoldStatus.OPEN, Hold.training_session_id.in_(scope))
    )
    recent = sa.and_(
        WaitlistEntry.joined_at >= _since(now), TrainingSession.id.in_(scope)
    )
    placed_from_list = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(WaitlistEntry)
        .join(TrainingSession, TrainingSession.id == WaitlistEntry.training_session_id)
        .where(recent, WaitlistEntry.status == EntryStatus.PLACED)
    )
    pairs = (
        sa.select(WaitlistEntry.user_id, TrainingSession.course_id,
                  sa.func.max(sa.case((_placed_condition(), 1), else_=0)).label("placed"))
        .join(TrainingSession, TrainingSession.id == WaitlistEntry.training_session_id)
        .where(recent)
        .group_by(WaitlistEntry.user_id, TrainingSession.course_id)
        .subquery()
    )
    ever, placed = db.session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(pairs.c.placed), 0))
    ).one()
    return Headline(waiting, sessions, offers_open, placed_from_list, int(placed), ever)


def sessions_with_lists(user, now: datetime | None = None, limit: int = 200) -> list[dict]:
    """Upcoming sessions with people waiting, most wanted first."""
    now = now or utcnow()
    scope = _scope(user)
    booked = (
        sa.select(sa.func.count())
        .select_from(Booking)
        .where(Booking.training_session_id == TrainingSession.id,
               Booking.status == BookingStatus.CONFIRMED)
        .scalar_subquery()
    )
    held = (
        sa.select(sa.func.count())
        .select_from(Hold)
        .where(Hold.training_session_id == TrainingSession.id, Hold.status == HoldStatus.OPEN)
        .scalar_subquery()
    )
    waiting = sa.func.count(WaitlistEntry.id)
    rows = db.session.execute(
        sa.select(TrainingSession, Course.title, booked, held, waiting)
        .join(Course, Course.id == TrainingSession.course_id)
        .join(WaitlistEntry, WaitlistEntry.training_session_id == TrainingSession.id)
        .where(
            TrainingSession.id.in_(scope),
            WaitlistEntry.status.in_(ACTIVE),
            TrainingSession.status == SessionStatus.SCHEDULED,
            sa.or_(TrainingSession.starts_at.is_(None), TrainingSession.starts_at > now),
        )
        .group_by(TrainingSession.id, Course.title)
        .order_by(waiting.desc(), TrainingSession.starts_at, TrainingSession.id)
        .limit(limit)
    ).all()
    return [
        {"session": training_session, "course": title, "booked": booked_count,
         "held": held_count, "waiting": waiting_count}
        for training_session, title, booked_count, held_count, waiting_count in rows
    ]


def by_course(user, now: datetime | None = None) -> list[dict]:
    """Per course: people waiting now, people who waited in the last year, and how many of
    those went on to book a session of the course."""
    now = now or utcnow()
    scope = _scope(user)
    upcoming_active = sa.and_(
        WaitlistEntry.status.in_(ACTIVE),
        TrainingSession.status == SessionStatus.SCHEDULED,
        sa.or_(TrainingSession.starts_at.is_(None), TrainingSession.starts_at > now),
    )
    pairs = (
        sa.select(
            TrainingSession.course_id.label("course_id"),
            WaitlistEntry.user_id.label("user_id"),
            sa.func.max(sa.case((upcoming_active, 1), else_=0)).label("waiting"),
            sa.func.max(sa.case((_placed_condition(), 1), else_=0)).label("placed"),
        )
        .join(TrainingSession, TrainingSession.id == WaitlistEntry.training_session_id)
        .where(TrainingSession.id.in_(scope), WaitlistEntry.joined_at >= _since(now))
        .group_by(TrainingSession.course_id, WaitlistEntry.user_id)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(Course.id, Course.title, sa.func.sum(pairs.c.waiting), sa.func.count(),
                  sa.func.sum(pairs.c.placed))
        .join(pairs, pairs.c.course_id == Course.id)
        .group_by(Course.id, Course.title)
        .order_by(sa.func.sum(pairs.c.waiting).desc(), Course.title)
    ).all()
    return [
        {"course_id": course_id, "course": title, "waiting": int(waiting or 0),
         "ever": ever, "placed": int(placed or 0),
         "share": round(100 * int(placed or 0) / ever) if ever else None}
        for course_id, title, waiting, ever, placed in rows
    ]


def _waiting_people(user, now: datetime):
    """Active entries on upcoming sessions in scope, with each person's LA and region."""
    setting, la_id = _area_columns()
    return (
        sa.select(
            WaitlistEntry.id.label("entry_id"),
            WaitlistEntry.user_id.label("user_id"),
            TrainingSession.course_id.label("course_id"),
            la_id.label("la_id"),
        )
        .join(TrainingSession, TrainingSession.id == WaitlistEntry.training_session_id)
        .join(User, User.id == WaitlistEntry.user_id)
        .outerjoin(setting, setting.id == User.setting_id)
        .where(
            TrainingSession.id.in_(_scope(user)),
            WaitlistEntry.status.in_(ACTIVE),
            TrainingSession.status == SessionStatus.SCHEDULED,
            sa.or_(TrainingSession.starts_at.is_(None), TrainingSession.starts_at > now),
        )
        .subquery()
    )


def by_course_and_region(user, now: datetime | None = None) -> list[dict]:
    """People waiting now (each counted once per course) by course and region: where a new
    session would be filled."""
    now = now or utcnow()
    people = _waiting_people(user, now)
    rows = db.session.execute(
        sa.select(Course.id, Course.title, Region.id, Region.name,
                  sa.func.count(sa.distinct(people.c.user_id)))
        .select_from(people)
        .join(Course, Course.id == people.c.course_id)
        .outerjoin(LocalAuthority, LocalAuthority.id == people.c.la_id)
        .outerjoin(Region, Region.id == LocalAuthority.region_id)
        .group_by(Course.id, Course.title, Region.id, Region.name)
        .order_by(sa.func.count(sa.distinct(people.c.user_id)).desc(), Course.title,
                  Region.name)
    ).all()
    return [
        {"course_id": course_id, "course": title, "region_id": region_id,
         "region": region or NOT_KNOWN, "waiting": count}
        for course_id, title, region_id, region, count in rows
    ]


def by_local_authority(user, now: datetime | None = None) -> list[dict]:
    """People waiting now by local authority (each person counted once)."""
    now = now or utcnow()
    people = _waiting_people(user, now)
    rows = db.session.execute(
        sa.select(LocalAuthority.name, Region.name, sa.func.count(sa.distinct(people.c.user_id)))
        .select_from(people)
        .outerjoin(LocalAuthority, LocalAuthority.id == people.c.la_id)
        .outerjoin(Region, Region.id == LocalAuthority.region_id)
        .group_by(LocalAuthority.name, Region.name)
        .order_by(sa.func.count(sa.distinct(people.c.user_id)).desc(), LocalAuthority.name)
    ).all()
    return [
        {"local_authority": la or NOT_KNOWN, "region": region or NOT_KNOWN, "waiting": count}
        for la, region, count in rows
    ]


def entries_for_demand(user, course_id: int, region_id: int | None,
                       now: datetime | None = None) -> list[WaitlistEntry]:
    """Everyone waiting (one entry per person, their earliest) for the course whose area is
    in the region (``None``: area not known), in list order: priority, then arrival."""
    now = now or utcnow()
    setting, la_id = _area_columns()
    region_of = (
        sa.select(LocalAuthority.region_id).where(LocalAuthority.id == la_id).scalar_subquery()
    )
    statement = (
        sa.select(WaitlistEntry)
        .join(TrainingSession, TrainingSession.id == WaitlistEntry.training_session_id)
        .join(User, User.id == WaitlistEntry.user_id)
        .outerjoin(setting, setting.id == User.setting_id)
        .where(
            TrainingSession.id.in_(_scope(user)),
            TrainingSession.course_id == course_id,
            WaitlistEntry.status.in_(ACTIVE),
            TrainingSession.status == SessionStatus.SCHEDULED,
            sa.or_(TrainingSession.starts_at.is_(None), TrainingSession.starts_at > now),
            region_of.is_(None) if region_id is None else region_of == region_id,
        )
        .order_by(WaitlistEntry.priority.desc(), WaitlistEntry.joined_at, WaitlistEntry.id)
    )
    seen, entries = set(), []
    for entry in db.session.scalars(statement):
        if entry.user_id not in seen:
            seen.add(entry.user_id)
            entries.append(entry)
    return entries


def people_waiting(training_session_ids) -> dict[int, int]:
    """People waiting (or holding an offer) per training session, for the core's
    oversubscription report; sessions with nobody waiting are left out. The lists waiting now
    are few (upcoming sessions only), so they are counted whole and then picked out, rather
    than asking the database about thousands of ids."""
    wanted = set(training_session_ids)
    if not wanted:
        return {}
    counts = db.session.execute(
        sa.select(WaitlistEntry.training_session_id, sa.func.count())
        .where(WaitlistEntry.status.in_(ACTIVE))
        .group_by(WaitlistEntry.training_session_id)
    ).all()
    return {session_id: count for session_id, count in counts if session_id in wanted}
