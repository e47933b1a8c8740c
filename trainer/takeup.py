"""Take-up of training in one local authority: the figures of the LA dashboard.

The definitions are the reports' (:mod:`trainer.reports`):

* An **attendance** is a booking whose person attended at least one meeting of the training
  session: a person counts once per session however many meetings it has.
* A person is **from** a local authority when their setting is in it, or, with no setting,
  when it is the local authority on their profile, as it was when they booked or their
  attendance was last recorded (kept on the booking: a person who moves later still counts
  where they trained, and in the setting they were in).
* A **period** picks the training sessions that start on its days, London time.

Consent: a person's attendance is listed by name only when they agreed, on booking, to share it
with their local authority (``Booking.share_with_la``). Every other attendance appears only in
counts, and :class:`Summary` says how many are not shown by name.

Everything is aggregated by the database: the dashboard finds the area's attendances once and
groups them three ways in one statement (:func:`area_figures`), whatever the size of the local
authority; long lists are shown a page at a time (:class:`Page`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from trainer.booking import Booking
from trainer.catalogue import (
    TOPIC_LABELS,
    Course,
    CourseTopic,
    Topic,
    TrainingSession,
    start_of_london_day,
)
from trainer.db import db
from trainer.people import SETTING_TYPE_LABELS, Setting, User
from trainer.reports import Page, Range

MAX_MONTHS = 24
NO_SETTING = "No setting (parents, carers and others)"


# -- who and what counts --------------------------------------------------------------------------


def people_in(local_authority_id: int) -> sa.Select:
    """``(user_id, setting_id)`` of every person from the local authority now: people whose
    setting is in it, and people with no setting who gave it on their profile (``setting_id``
    empty). Plugins use it to count their own records by local authority (people waiting)."""
    with_setting = (
        sa.select(User.id.label("user_id"), User.setting_id.label("setting_id"))
        .join(Setting, Setting.id == User.setting_id)
        .where(Setting.local_authority_id == local_authority_id)
    )
    # "No setting" is written so that no index on setting_id can serve it: the planner then
    # finds these few people by their local authority, not by scanning everybody without one.
    without_setting = sa.select(User.id, User.setting_id).where(
        sa.func.coalesce(User.setting_id, 0) == 0, User.local_authority_id == local_authority_id
    )
    return sa.union_all(with_setting, without_setting)


def attendances(local_authority_id: int, period: Range) -> sa.Subquery:
    """One row per attendance by a person from the local authority at a session starting in
    ``period``: booking, person, their setting (or none), consent, session, course, start."""
    return attendance_rows(local_authority_id, period).subquery("attended")


def attendance_rows(local_authority_id: int, period: Range) -> sa.Select:
    """The statement behind :func:`attendances`: bookings marked attended whose person was
    from the local authority when they trained (the booking's reach columns, kept by
    :mod:`trainer.booking`)."""
    return (
        sa.select(
            Booking.id.label("booking_id"),
            Booking.user_id.label("user_id"),
            Booking.setting_id.label("setting_id"),
            Booking.share_with_la.label("share_with_la"),
            TrainingSession.id.label("training_session_id"),
            TrainingSession.course_id.label("course_id"),
            TrainingSession.starts_at.label("starts_at"),
        )
        .join(TrainingSession, TrainingSession.id == Booking.training_session_id)
        .where(
            Booking.local_authority_id == local_authority_id,
            Booking.attended.is_(True),
            TrainingSession.starts_at >= period.starts_at,
            TrainingSession.starts_at < period.ends_before,
        )
    )


# -- pages of long lists --------------------------------------------------------------------------


def _page(statement: sa.Select, total: int, page: int | None, per_page: int,
          make) -> Page:
    """Rows of ``statement`` for page ``page`` (from 1; ``None``: every row) as ``make(row)``."""
    if page is not None:
        statement = statement.limit(per_page).offset((page - 1) * per_page)
    items = [make(row) for row in db.session.execute(statement)]
    if page is None:
        return Page(items, 1, max(len(items), 1), len(items))
    return Page(items, page, per_page, total)


# -- the figures ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    attendances: int
    people: int
    named: int  # attendances the person agreed to share by name
    settings: int  # settings in the local authority
    settings_attended: int  # of them, settings whose people attended
    no_setting_attendances: int
    no_setting_people: int

    @property
    def not_named(self) -> int:
        return self.attendances - self.named

    @property
    def settings_without(self) -> int:
        return self.settings - self.settings_attended


@dataclass(frozen=True)
class SettingRow:
    setting_id: int
    name: str
    setting_type: str
    postcode: str
    people: int = 0
    attendances: int = 0

    @property
    def type_label(self) -> str:
        return SETTING_TYPE_LABELS.get(self.setting_type, self.setting_type)


@dataclass(frozen=True)
class AreaFigures:
    """The headline figures and the settings of a local authority, split into those whose
    people attended (most attendances first) and those whose people did not (by name), with
    attendance by topic and month and the first attendances shown by name."""

    summary: Summary
    attended: list[SettingRow]
    without: list[SettingRow]
    topics: TopicTable
    latest_named: list[NamedRow]


_SETTINGS, _MONTHS, _NAMED, _PEOPLE = 1, 2, 3, 4


def area_figures(local_authority_id: int, period: Range, named_first: int = 10) -> AreaFigures:
    """Every figure of the dashboard, finding the area's attendances once.

    One statement reads the attendances into a common table expression (materialised, as it
    is used several times) and groups them four ways: per setting (attendances, people and
    consent), per course and month, the latest ``named_first`` attendances shared by name, and
    the distinct people over all (a person who changed setting counts in each setting, once in
    the total). Small queries then read the area's settings, the courses' topics and the named
    people's details.
    """
    months = period.months()
    rows = attendance_rows(local_authority_id, period).cte("attended")
    number = sa.Integer()
    nothing = sa.cast(sa.null(), number)
    # Month number of each attendance, from London month boundaries worked out here: the
    # same SQL on SQLite and PostgreSQL, whatever their date functions.
    month = sa.case(
        *((rows.c.starts_at < start_of_london_day(first), index)
          for index, first in enumerate(months[1:])),
        else_=len(months) - 1,
    )
    numbered = sa.select(rows.c.course_id, month.label("month")).subquery("numbered")
    shared = rows.c.share_with_la.is_(True)
    latest = (sa.select(rows.c.booking_id).where(shared)
              .order_by(rows.c.starts_at.desc(), rows.c.booking_id.desc())
              .limit(named_first).subquery("latest"))
    parts = db.session.execute(sa.union_all(
        sa.select(sa.literal_column(str(_SETTINGS), number).label("part"),
                  rows.c.setting_id.label("a"), nothing.label("b"),
                  sa.func.count(sa.distinct(rows.c.user_id)).label("c"),
                  sa.func.count().label("d"),
                  sa.func.sum(sa.case((shared, 1), else_=0)).label("e"))
        .group_by(rows.c.setting_id),
        sa.select(sa.literal_column(str(_MONTHS), number), numbered.c.course_id,
                  numbered.c.month, nothing, sa.func.count(), nothing)
        .group_by(numbered.c.course_id, numbered.c.month),
        sa.select(sa.literal_column(str(_NAMED), number), latest.c.booking_id, nothing,
                  nothing, nothing, nothing),
        sa.select(sa.literal_column(str(_PEOPLE), number), nothing, nothing,
                  sa.func.count(sa.distinct(rows.c.user_id)), nothing, nothing),
    )).all()

    counts = {a: (c, d, int(e or 0)) for part, a, _b, c, d, e in parts if part == _SETTINGS}
    settings = db.session.execute(
        sa.select(Setting.id, Setting.name, Setting.setting_type, Setting.postcode)
        .where(Setting.local_authority_id == local_authority_id)
        .order_by(Setting.name, Setting.id)
    ).all()
    attended, without = [], []
    for row in settings:
        if row.id in counts:
            attended.append(SettingRow(*row, *counts[row.id][:2]))
        else:
            without.append(SettingRow(*row))
    moved = set(counts) - {row.id for row in settings} - {None}
    if moved:  # settings that have since moved to another local authority
        attended.extend(SettingRow(*row, *counts[row.id][:2]) for row in db.session.execute(
            sa.select(Setting.id, Setting.name, Setting.setting_type, Setting.postcode)
            .where(Setting.id.in_(moved)).order_by(Setting.name, Setting.id)))
    attended.sort(key=lambda row: -row.attendances)  # stable: by name within a count
    alone_people, alone, _ = counts.get(None, (0, 0, 0))
    summary = Summary(
        attendances=sum(total for _, total, _ in counts.values()),
        people=next(c for part, _a, _b, c, _d, _e in parts if part == _PEOPLE),
        named=sum(named for _, _, named in counts.values()),
        settings=len(settings), settings_attended=len(attended) - len(moved),
        no_setting_attendances=alone, no_setting_people=alone_people,
    )
    per_course = [(a, b, d) for part, a, b, _c, d, _e in parts if part == _MONTHS]
    latest_ids = [a for part, a, *_ in parts if part == _NAMED]
    return AreaFigures(summary, attended, without, _topic_table(months, per_course),
                       _named_rows(latest_ids))


def summary(local_authority_id: int, period: Range) -> Summary:
    """Headline figures for the local authority in ``period``."""
    return area_figures(local_authority_id, period, named_first=0).summary


def paged(items: Sequence, page: int | None = 1, per_page: int = 25) -> Page:
    """Page ``page`` (from 1; ``None``: all of them) of a list already in memory."""
    if page is None:
        return Page(list(items), 1, max(len(items), 1), len(items))
    start = (page - 1) * per_page
    return Page(list(items[start:start + per_page]), page, per_page, len(items))


def by_setting(local_authority_id: int, period: Range, page: int | None = 1,
               per_page: int = 25) -> Page:
    """Settings whose people attended, most attendances first: people who attended and
    attendances."""
    return paged(area_figures(local_authority_id, period, 0).attended, page, per_page)


def without_attendance(local_authority_id: int, period: Range, page: int | None = 1,
                       per_page: int = 25) -> Page:
    """Settings in the local authority none of whose people attended in ``period``, by
    name."""
    return paged(area_figures(local_authority_id, period, 0).without, page, per_page)


@dataclass(frozen=True)
class NamedRow:
    person: str
    setting: str | None
    course: str
    starts_at: datetime
    training_session_id: int


def named(local_authority_id: int, period: Range, page: int | None = 1, per_page: int = 25,
          total: int | None = None) -> Page:
    """Attendances the people agreed to share with their local authority, newest session
    first (the latest booking first within a session): person, setting, course and date.
    Nobody else is ever listed.
    ``total`` (:attr:`Summary.named`) saves a query."""
    rows = attendances(local_authority_id, period)
    consented = rows.c.share_with_la.is_(True)
    statement = (
        sa.select(User.name, Setting.name, Course.title, rows.c.starts_at,
                  rows.c.training_session_id)
        .select_from(rows)
        .join(User, User.id == rows.c.user_id)
        .outerjoin(Setting, Setting.id == rows.c.setting_id)
        .join(Course, Course.id == rows.c.course_id)
        .where(consented)
        .order_by(rows.c.starts_at.desc(), rows.c.booking_id.desc())
    )
    if total is None and page is not None:
        total = db.session.scalar(sa.select(sa.func.count()).select_from(rows)
                                  .where(consented))
    return _page(statement, total or 0, page, per_page, lambda row: NamedRow(*row))


def _named_rows(booking_ids: list[int]) -> list[NamedRow]:
    """The attendances ``booking_ids`` (all shared by name), in the order of :func:`named`."""
    if not booking_ids:
        return []
    return [NamedRow(*row) for row in db.session.execute(
        sa.select(User.name, Setting.name, Course.title, TrainingSession.starts_at,
                  TrainingSession.id)
        .select_from(Booking)
        .join(User, User.id == Booking.user_id)
        .outerjoin(Setting, Setting.id == Booking.setting_id)
        .join(TrainingSession, TrainingSession.id == Booking.training_session_id)
        .join(Course, Course.id == TrainingSession.course_id)
        .where(Booking.id.in_(booking_ids))
        .order_by(TrainingSession.starts_at.desc(), Booking.id.desc())
    )]


@dataclass(frozen=True)
class TopicRow:
    topic: str | None  # None: every topic together
    label: str
    counts: list[int]

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True)
class TopicTable:
    months: list[date]
    topics: list[TopicRow]
    all_topics: TopicRow


def by_topic(local_authority_id: int, period: Range) -> TopicTable:
    """Attendances per course topic per month of ``period``, and of every topic together.
    A course may cover several topics: its attendances count under each, so the topics add
    up to more than the total."""
    return area_figures(local_authority_id, period, 0).topics


def _topic_table(months: list[date], per_course: list[tuple[int, int, int]]) -> TopicTable:
    """The topic table from attendances counted per (course, month number)."""
    topics_of: dict[int, list[str]] = {}
    for course_id, topic in db.session.execute(
            sa.select(CourseTopic.course_id, CourseTopic.topic).where(
                CourseTopic.course_id.in_({course_id for course_id, _, _ in per_course}))):
        topics_of.setdefault(course_id, []).append(topic)
    counts: dict[str, list[int]] = {str(topic): [0] * len(months) for topic in Topic}
    every = [0] * len(months)
    for course_id, number, count in per_course:
        every[number] += count
        for topic in topics_of.get(course_id, []):
            counts.setdefault(topic, [0] * len(months))[number] += count
    topics = sorted(
        (TopicRow(topic, TOPIC_LABELS.get(topic, topic), values)
         for topic, values in counts.items()),
        key=lambda row: row.label,
    )
    return TopicTable(months, topics, TopicRow(None, "All topics", every))


def month_label(first: date) -> str:
    """``Apr 2026``."""
    return f"{first:%b %Y}"


def setting_rows_csv(rows: Sequence[SettingRow], summary_: Summary | None = None) -> list[list]:
    """The by-setting table as CSV rows, with the people who have no setting last."""
    out = [["Setting", "Type", "Postcode", "People who attended", "Attendances"]]
    out += [[row.name, row.type_label, row.postcode, row.people, row.attendances]
            for row in rows]
    if summary_ is not None and summary_.no_setting_attendances:
        out.append([NO_SETTING, "", "", summary_.no_setting_people,
                    summary_.no_setting_attendances])
    return out
