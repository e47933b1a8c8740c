"""Reach, oversubscription and the national overview: who came to training, from where, and
how full the sessions were.

The definitions are the same on every page and in every CSV file:

* An **attendance** is a booking whose person attended at least one meeting of the training
  session, so a person counts once per session however many meetings it has.
* A person's **local authority** is their setting's, else the one on their profile, as it was
  when they booked or when their attendance was last recorded (kept on the booking, so a
  person who moves later still counts where they trained); people with neither count under
  "Not known" and in no local authority.
* A **date range** picks the training sessions that start on those days, London time.
* **Audience**: parents and carers are the people whose job role is "Parent or carer";
  everybody else counts as a practitioner.
* The **share of local authorities** is the number represented divided by the number in the
  register (all of England's), as a whole percentage rounded half up.
* **Totals** count distinct people and local authorities over the whole range: a person at
  three sessions is one person in the total, not three.

Scope: administrators see every course; trainers see their delivery partner's courses and the
sessions they run (:func:`trainer.access.managed_sessions`).

Speed: a year of national training is hundreds of thousands of attendances, which take seconds
to read. The reach figures and the overview are therefore kept per application process,
keyed by the range, the viewer's scope and the **report version**: a counter in the
``report_version`` table that goes up in the same transaction as any change that can move a
figure (an attendance mark and with it where the person came from; a session's date, course
or status; a course's title or topics; a local authority's place). So a figure
is never stale: the first view after a register is taken computes afresh, later views reuse
it. Code that writes those tables with bulk statements (demo data, imports) calls
:func:`data_changed`. Booked places and waiting lists change by the minute and are never kept.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import chain

import numpy as np
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, Session, mapped_column

from trainer import hooks
from trainer.access import is_admin, managed_sessions
from trainer.booking import PARENTS_CARERS, Attendance, Booking, BookingStatus
from trainer.catalogue import (
    TOPIC_LABELS,
    Course,
    CourseTopic,
    SessionStatus,
    Topic,
    TrainingSession,
    start_of_london_day,
)
from trainer.db import db, utcnow
from trainer.people import LocalAuthority, Region
from trainer.times import LONDON

NOT_KNOWN = "Not known"
AUDIENCES = {"practitioners": "Practitioners", "parents_carers": "Parents and carers"}


def whole_percent(part: int, whole: int) -> int | None:
    """``part`` of ``whole`` as a whole percentage rounded half up; ``None`` when ``whole``
    is 0."""
    if not whole:
        return None
    return int((Decimal(100 * part) / Decimal(whole)).quantize(Decimal(1), ROUND_HALF_UP))


def percent_text(value: int | None) -> str:
    return "–" if value is None else f"{value}%"


# -- the report version and the kept figures -----------------------------------------------------


class ReportVersion(db.Model):
    """One row (id 1) whose ``value`` rises with every change that can move a reach figure."""

    __tablename__ = "report_version"
    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(default=0)


sa.event.listen(
    ReportVersion.__table__,
    "after_create",
    sa.DDL("INSERT INTO report_version (id, value) VALUES (1, 0)"),
)

# (model, attributes whose change moves a figure; None: any change, and new or deleted rows)
_WATCHED: tuple[tuple[type, tuple[str, ...] | None], ...] = (
    (Attendance, None),
    (CourseTopic, None),
    (LocalAuthority, None),
    (Booking, ("user_id", "training_session_id", "attended", "setting_id",
               "local_authority_id", "audience")),
    (TrainingSession, ("starts_at", "status", "course_id")),
    (Course, ("title",)),
)


def _moves_figures(session: Session) -> bool:
    for instance in (*session.new, *session.deleted):
        for model, attributes in _WATCHED:
            if isinstance(instance, model) and (attributes is None or instance in
                                                session.deleted):
                return True
    for instance in session.dirty:
        for model, attributes in _WATCHED:
            if not isinstance(instance, model):
                continue
            state = sa.inspect(instance)
            names = attributes or [attribute.key for attribute in state.mapper.column_attrs]
            if any(state.attrs[name].history.has_changes() for name in names):
                return True
    return False


@sa.event.listens_for(Session, "before_flush")
def _bump_on_change(session: Session, _context, _instances) -> None:
    if _moves_figures(session):
        session.execute(sa.update(ReportVersion).where(ReportVersion.id == 1).values(
            value=ReportVersion.value + 1))


def data_changed() -> None:
    """Say that figures may have moved (after bulk writes the ORM does not see), in the
    caller's transaction."""
    db.session.execute(sa.update(ReportVersion).where(ReportVersion.id == 1).values(
        value=ReportVersion.value + 1))


def report_version() -> int | None:
    """The current report version; ``None`` (keep nothing) when the row is missing."""
    return db.session.scalar(sa.select(ReportVersion.value).where(ReportVersion.id == 1))


KEEP = 32  # figures kept per process, the least recently used dropped first


def kept(kind: str, user, when, compute):
    """``compute()``, or the figures computed for the same ``kind``, scope, range and report
    version in this process."""
    version = report_version()
    if version is None or not current_app.config["REPORT_CACHE"]:
        return compute()
    scope = "all" if user is None or is_admin(user) else f"user:{user.id}"
    key = (kind, scope, when, version)
    store: dict = current_app.extensions.setdefault("trainer.reports", {})
    if key in store:
        store[key] = store.pop(key)  # most recently used last
        return store[key]
    result = compute()
    store[key] = result
    while len(store) > KEEP:
        store.pop(next(iter(store)))
    return result


# -- tables ---------------------------------------------------------------------------------------


@dataclass
class Column:
    title: str
    numeric: bool = False


@dataclass
class Table:
    """A table of a report, shown on its page and exported as CSV from the same rows."""

    name: str  # used in the CSV's address and file name
    title: str
    columns: list[Column]
    rows: list[list] = field(default_factory=list)
    total: list | None = None  # a last row of totals, when the table has one
    note: str = ""
    # Per row, the training session its second cell names, for pages to link (CSV: no links).
    session_ids: list[int] | None = None

    @property
    def headers(self) -> list[str]:
        return [column.title for column in self.columns]

    def csv_rows(self) -> list[list]:
        return [self.headers, *self.rows, *([self.total] if self.total else [])]


# -- the range and the scope ----------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    """The first day of the month ``months`` after ``day``'s month (negative: before)."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def london_today() -> date:
    return utcnow().astimezone(LONDON).date()


@dataclass(frozen=True)
class Range:
    """London days ``start`` to ``end``, both included: the training sessions starting then."""

    start: date
    end: date

    @classmethod
    def past_year(cls, today: date | None = None) -> Range:
        """The 365 days up to and including ``today``."""
        today = today or london_today()
        return cls(today - timedelta(days=364), today)

    @classmethod
    def last_twelve_months(cls, today: date | None = None) -> Range:
        """This month so far and the eleven before it."""
        today = today or london_today()
        return cls(add_months(today, -11), today)

    @property
    def starts_at(self) -> datetime:
        return start_of_london_day(self.start)

    @property
    def ends_before(self) -> datetime:
        return start_of_london_day(self.end + timedelta(days=1))

    def months(self) -> list[date]:
        """The first day of each month the range touches, in order."""
        first, last = self.start.replace(day=1), self.end.replace(day=1)
        months = []
        while first <= last:
            months.append(first)
            first = add_months(first, 1)
        return months

    def sessions_in(self) -> sa.ColumnElement[bool]:
        return sa.and_(
            TrainingSession.starts_at >= self.starts_at,
            TrainingSession.starts_at < self.ends_before,
        )


@dataclass
class Page:
    """One page of a long list; what the ``pager`` macro needs, like Flask-SQLAlchemy's."""

    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return math.ceil(self.total / self.per_page) if self.per_page else 0

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def prev_num(self) -> int | None:
        return self.page - 1 if self.has_prev else None

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def next_num(self) -> int | None:
        return self.page + 1 if self.has_next else None


def _scope(user) -> list[sa.ColumnElement[bool]]:
    """Conditions limiting training sessions to those ``user`` may report on."""
    if user is None or is_admin(user):
        return []
    ids = managed_sessions(user).with_only_columns(TrainingSession.id).order_by(None)
    return [TrainingSession.id.in_(ids)]


def attendances(user, when: Range) -> sa.Subquery:
    """One row per attendance in ``when`` that ``user`` may see: the session, its course and
    start, the person, and their setting, local authority and audience as recorded on the
    booking (:class:`trainer.booking.Booking`)."""
    return (
        sa.select(
            Booking.training_session_id.label("session_id"),
            TrainingSession.course_id.label("course_id"),
            TrainingSession.starts_at.label("starts_at"),
            Booking.user_id.label("user_id"),
            Booking.setting_id.label("setting_id"),
            Booking.local_authority_id.label("la_id"),
            Booking.audience.label("audience"),
        )
        .join(TrainingSession, TrainingSession.id == Booking.training_session_id)
        .where(when.sessions_in(), Booking.attended.is_(True), *_scope(user))
        .subquery("attendance_rows")
    )


# -- reach ----------------------------------------------------------------------------------------


@dataclass
class Figures:
    """Attendances, distinct people and distinct local authorities of one group."""

    key: object
    label: str
    attendances: int = 0
    people: int = 0
    local_authorities: int = 0
    sessions: int = 0

    def la_share(self, la_total: int) -> int | None:
        return whole_percent(self.local_authorities, la_total)


def la_total() -> int:
    """The number of local authorities in the register."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(LocalAuthority)) or 0


@dataclass
class Reach:
    when: Range
    la_total: int
    total: Figures
    courses: list[Figures]
    regions: list[Figures]
    audiences: list[Figures]


class _Columns:
    """The attendances of a range as numpy columns, fetched in one query and grouped in
    memory: each figure is a few vectorised counts, so a year of national training (300,000
    attendances) is read once and grouped in milliseconds. Missing ids (no local authority,
    no setting) are 0; audience is 1 for parents and carers, else 0."""

    def __init__(self, user, when: Range, settings: bool = False):
        base = attendances(user, when)
        columns = [
            base.c.session_id,
            base.c.user_id,
            sa.func.coalesce(base.c.la_id, 0),
            sa.case((base.c.audience == PARENTS_CARERS, 1), else_=0),
        ]
        if settings:  # only the overview counts settings; the others need not read them
            columns.append(sa.func.coalesce(base.c.setting_id, 0))
        rows = _fetch_ints(sa.select(*columns))
        width = len(columns)
        table = np.fromiter(chain.from_iterable(rows), dtype=np.int64,
                            count=width * len(rows)).reshape(-1, width)
        self.sessions, self.users, self.las, self.audiences = table.T[:4]
        self.settings = table.T[4] if settings else None
        course_of = dict(db.session.execute(
            sa.select(TrainingSession.id, TrainingSession.course_id).where(when.sessions_in())
        ).all())
        self.courses = _mapped(self.sessions, course_of)
        region_of = dict(db.session.execute(
            sa.select(LocalAuthority.id, LocalAuthority.region_id)).all())
        self.regions = _mapped(self.las, region_of)

    def total(self, label: str = "All training") -> Figures:
        return Figures(None, label, len(self.users), _distinct(self.users),
                       _distinct(self.las[self.las > 0]), _distinct(self.sessions))

    def grouped(self, keys: np.ndarray) -> dict[int, Figures]:
        """Figures per value of ``keys`` (one key per attendance)."""
        result: dict[int, Figures] = {}
        counts = np.bincount(keys) if len(keys) else np.zeros(0, dtype=np.int64)
        for key in np.flatnonzero(counts).tolist():
            result[key] = Figures(key, "", int(counts[key]))
        known = self.las > 0
        for name, per_key in (
            ("people", _distinct_per_key(keys, self.users)),
            ("local_authorities", _distinct_per_key(keys[known], self.las[known])),
            ("sessions", _distinct_per_key(keys, self.sessions)),
        ):
            for key, count in per_key.items():
                setattr(result[key], name, count)
        return result


# Distinct values are counted by marking them in a table of booleans when it stays this small
# (one byte per possible value: a few megabytes), else by sorting.
BITMAP_LIMIT = 16_000_000
_SHIFT = 2**32  # ids are below 2**31, so key * _SHIFT + id is unique per pair


def _unique(column: np.ndarray) -> np.ndarray:
    """The distinct values of ``column``, sorted."""
    ordered = np.sort(column)
    if not len(ordered):
        return ordered
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


def _distinct(column: np.ndarray) -> int:
    """How many different values ``column`` (non-negative ids) holds."""
    if not len(column):
        return 0
    top = int(column.max()) + 1
    if top <= BITMAP_LIMIT:
        seen = np.zeros(top, dtype=bool)
        seen[column] = True
        return int(np.count_nonzero(seen))
    return len(_unique(column))


def _distinct_per_key(keys: np.ndarray, column: np.ndarray) -> dict[int, int]:
    """For each key, how many different values of ``column`` go with it (both non-negative
    ids, one pair per attendance)."""
    if not len(keys):
        return {}
    width, top = int(keys.max()) + 1, int(column.max()) + 1
    if width * top <= BITMAP_LIMIT:
        seen = np.zeros((width, top), dtype=bool)
        seen[keys, column] = True
        counts = np.count_nonzero(seen, axis=1)
        return {key: int(counts[key]) for key in np.flatnonzero(counts).tolist()}
    distinct_keys = _unique(keys * _SHIFT + column) // _SHIFT
    counts = np.bincount(distinct_keys)
    return {key: int(counts[key]) for key in np.flatnonzero(counts).tolist()}


def _mapped(column: np.ndarray, mapping: dict[int, int | None]) -> np.ndarray:
    """``column`` with each id replaced by ``mapping[id]`` (0 where missing or ``None``)."""
    lookup = np.zeros(max([int(column.max(initial=0)), *mapping.keys()]) + 1, dtype=np.int64)
    for key, value in mapping.items():
        lookup[key] = value or 0
    return lookup[column]


def _fetch_ints(statement: sa.Select) -> list[tuple]:
    """The rows of ``statement`` (integer columns only) straight from the database driver:
    a year of national attendances is 300,000 rows, and building a SQLAlchemy row for each
    would cost more than the query. The statement's values are rendered into it; they come
    from dates and ids, never from text a person typed."""
    connection = db.session.connection()
    sql = str(statement.compile(dialect=connection.dialect,
                                compile_kwargs={"literal_binds": True}))
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql)
        return cursor.fetchall()
    finally:
        cursor.close()


def reach(user, when: Range) -> Reach:
    """Totals and the figures by course, by region and by audience for ``when``."""
    return kept("reach", user, when, lambda: _reach(user, when))


def _reach(user, when: Range) -> Reach:
    data = _Columns(user, when)
    by_course = data.grouped(data.courses)
    titles = dict(
        db.session.execute(
            sa.select(Course.id, Course.title).where(Course.id.in_(list(by_course)))
        ).all()
    ) if by_course else {}
    courses = []
    for course_id, figures in by_course.items():
        figures.label = titles.get(course_id, str(course_id))
        courses.append(figures)
    courses.sort(key=lambda figures: (-figures.attendances, figures.label))

    by_region = data.grouped(data.regions)
    regions = []
    for region in db.session.scalars(sa.select(Region).order_by(Region.name)):
        figures = by_region.pop(region.id, Figures(region.id, ""))
        figures.label = region.name
        regions.append(figures)
    if 0 in by_region:
        unknown = by_region[0]
        unknown.label = NOT_KNOWN
        regions.append(unknown)

    by_audience = data.grouped(data.audiences)
    audiences = []
    for number, (key, label) in enumerate(AUDIENCES.items()):
        figures = by_audience.get(number, Figures(key, ""))
        figures.key = key
        figures.label = label
        audiences.append(figures)
    return Reach(
        when=when,
        la_total=la_total(),
        total=data.total(),
        courses=courses,
        regions=regions,
        audiences=audiences,
    )


@dataclass
class SessionReach:
    session_id: int
    starts_at: datetime
    course_title: str
    booked: int
    attendances: int
    local_authorities: int


def sessions_reach(
    user, when: Range, page: int | None = None, per_page: int = 50, now: datetime | None = None
) -> tuple[list[SessionReach], int]:
    """The sessions of ``when`` that have started, latest first, with their figures: one page
    of them (``page`` from 1), or all when ``page`` is ``None``; and how many there are. One
    grouped query per page, whatever its length."""
    conditions = (
        when.sessions_in(),
        TrainingSession.starts_at <= (now or utcnow()),
        TrainingSession.status == SessionStatus.SCHEDULED,
        *_scope(user),
    )
    count = db.session.scalar(
        sa.select(sa.func.count(TrainingSession.id)).join(TrainingSession.course)
        .where(*conditions)
    ) or 0
    attended = sa.and_(Booking.attended.is_(True))
    chosen = sa.and_(*conditions)
    if page is not None:
        # The page's sessions first (by the start index), then only their bookings are read.
        ids = (
            sa.select(TrainingSession.id).join(TrainingSession.course).where(*conditions)
            .order_by(TrainingSession.starts_at.desc(), TrainingSession.id.desc())
            .limit(per_page).offset((page - 1) * per_page)
        )
        chosen = TrainingSession.id.in_(list(db.session.scalars(ids)))
    statement = (
        sa.select(
            TrainingSession.id, TrainingSession.starts_at, Course.title,
            sa.func.count(sa.case((Booking.status == BookingStatus.CONFIRMED, Booking.id))),
            sa.func.count(sa.case((attended, Booking.id))),
            sa.func.count(sa.distinct(sa.case((attended, Booking.local_authority_id)))),
        )
        .join(Course, Course.id == TrainingSession.course_id)
        .outerjoin(Booking, Booking.training_session_id == TrainingSession.id)
        .where(chosen)
        .group_by(TrainingSession.id, TrainingSession.starts_at, Course.title)
        .order_by(TrainingSession.starts_at.desc(), TrainingSession.id.desc())
    )
    return [SessionReach(*row) for row in db.session.execute(statement)], count


def _chunks(ids: Sequence[int], size: int = 5000) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def _figures_row(figures: Figures, la_count: int, sessions: bool = True) -> list:
    row = [figures.label]
    if sessions:
        row.append(figures.sessions)
    return row + [
        figures.attendances,
        figures.people,
        figures.local_authorities,
        percent_text(figures.la_share(la_count)),
    ]


def _figures_columns(first: str, sessions: bool = True) -> list[Column]:
    columns = [Column(first)]
    if sessions:
        columns.append(Column("Sessions with attendance", True))
    return columns + [
        Column("Attendances", True),
        Column("People", True),
        Column("Local authorities", True),
        Column("Share of all local authorities", True),
    ]


def reach_tables(result: Reach) -> list[Table]:
    """The reach report's summary tables: by course (with the distinct total), by region and
    by audience."""
    la_count = result.la_total
    total = ["Total (distinct over the range)", *_figures_row(result.total, la_count)[1:]]
    return [
        Table(
            "courses", "By course", _figures_columns("Course"),
            [_figures_row(figures, la_count) for figures in result.courses], total,
            note="A person at several courses counts once in the total.",
        ),
        Table(
            "regions", "By region (of the person's local authority)",
            _figures_columns("Region"),
            [_figures_row(figures, la_count) for figures in result.regions], total,
        ),
        Table(
            "audiences", "By audience", _figures_columns("Audience"),
            [_figures_row(figures, la_count) for figures in result.audiences], total,
        ),
    ]


def sessions_table(rows: list[SessionReach], la_count: int) -> Table:
    from trainer.times import day

    return Table(
        "sessions", "By training session",
        [Column("Date"), Column("Course"), Column("Session"), Column("Booked", True),
         Column("Attendances", True), Column("Local authorities", True),
         Column("Share of all local authorities", True)],
        [
            [day(row.starts_at), row.course_title, str(row.session_id), row.booked,
             row.attendances, row.local_authorities,
             percent_text(whole_percent(row.local_authorities, la_count))]
            for row in rows
        ],
        session_ids=[row.session_id for row in rows],
    )


# -- oversubscription -----------------------------------------------------------------------------


def people_waiting(session_ids: Sequence[int]) -> dict[int, int] | None:
    """People waiting per training session, from plugins (``trainer_people_waiting``); ``None``
    when no plugin answers (there is no waiting list)."""
    answers = []
    for chunk in _chunks(list(session_ids)):
        answers.extend(hooks.call("trainer_people_waiting", training_session_ids=list(chunk)))
    if not answers and session_ids:
        return None
    waiting: dict[int, int] = defaultdict(int)
    for answer in answers:
        for session_id, count in answer.items():
            waiting[session_id] += count
    return dict(waiting)


@dataclass
class Fill:
    key: object
    label: str
    sessions: int = 0
    places: int = 0
    booked: int = 0
    full: int = 0
    waiting: int | None = None

    @property
    def fill_rate(self) -> int | None:
        return whole_percent(self.booked, self.places)


@dataclass
class Oversubscription:
    when: Range
    total: Fill
    courses: list[Fill]
    sessions: list[tuple[datetime, Fill]]  # (start, figures); the fill's key is the session id
    session_count: int
    has_waiting_list: bool


def oversubscription(
    user, when: Range, page: int | None = 1, per_page: int = 50
) -> Oversubscription:
    """Places, bookings, fill rate, full sessions and people waiting in ``when``: in total,
    by course, and per session (fullest first; one page, or all when ``page`` is ``None``).
    Always computed afresh: bookings change by the minute."""
    # Confirmed bookings counted per session through the (session, status) index: only the
    # range's sessions' bookings are read.
    rows = db.session.connection().execute(
        sa.select(TrainingSession.id, TrainingSession.course_id, Course.title,
                  TrainingSession.capacity, sa.func.count(Booking.id),
                  TrainingSession.starts_at)
        .join(Course, Course.id == TrainingSession.course_id)
        .outerjoin(Booking, sa.and_(Booking.training_session_id == TrainingSession.id,
                                    Booking.status == BookingStatus.CONFIRMED))
        .where(when.sessions_in(), TrainingSession.status == SessionStatus.SCHEDULED,
               *_scope(user))
        .group_by(TrainingSession.id, TrainingSession.course_id, Course.title,
                  TrainingSession.capacity, TrainingSession.starts_at)
    ).all()
    waiting = people_waiting([row[0] for row in rows])
    has_list = waiting is not None
    waiting = waiting or {}

    def fill_of(row) -> Fill:
        session_id, _course, title, capacity, count, _starts = row
        return Fill(session_id, title, 1, capacity, count, int(count >= capacity),
                    waiting.get(session_id, 0) if has_list else None)

    fills = [fill_of(row) for row in rows]
    courses: dict[int, Fill] = {}
    for row, fill in zip(rows, fills, strict=True):
        course = courses.setdefault(row[1], Fill(row[1], row[2], 0, 0, 0, 0,
                                                 0 if has_list else None))
        course.sessions += 1
        course.places += fill.places
        course.booked += fill.booked
        course.full += fill.full
        if has_list:
            course.waiting += fill.waiting
    by_course = sorted(courses.values(), key=lambda fill: (-(fill.fill_rate or 0), fill.label))
    total = Fill(
        None, "All training", len(fills), sum(fill.places for fill in fills),
        sum(fill.booked for fill in fills), sum(fill.full for fill in fills),
        sum(waiting.values()) if has_list else None,
    )
    starts = {row[0]: row[5] for row in rows}
    fills.sort(key=lambda fill: (-(fill.booked / fill.places if fill.places else 0),
                                 starts[fill.key], fill.key))
    if page is not None:
        fills = fills[(page - 1) * per_page:page * per_page]
    return Oversubscription(when, total, by_course,
                            [(starts[fill.key], fill) for fill in fills], len(rows), has_list)


def _fill_row(fill: Fill, has_list: bool) -> list:
    row = [fill.sessions, fill.places, fill.booked, percent_text(fill.fill_rate), fill.full]
    return row + ([fill.waiting or 0] if has_list else [])


def _fill_columns(has_list: bool) -> list[Column]:
    columns = [Column("Sessions", True), Column("Places", True), Column("Booked", True),
               Column("Fill rate", True), Column("Sessions full", True)]
    return columns + ([Column("People waiting", True)] if has_list else [])


def oversubscription_tables(result: Oversubscription) -> list[Table]:
    from trainer.times import day

    has_list = result.has_waiting_list
    courses = Table(
        "courses", "By course", [Column("Course"), *_fill_columns(has_list)],
        [[fill.label, *_fill_row(fill, has_list)] for fill in result.courses],
        ["Total", *_fill_row(result.total, has_list)],
    )
    sessions = Table(
        "sessions", "By training session (fullest first)",
        [Column("Date"), Column("Course"), Column("Session"), Column("Places", True),
         Column("Booked", True), Column("Fill rate", True), Column("Full"),
         *([Column("People waiting", True)] if has_list else [])],
        [
            [day(starts_at), fill.label, str(fill.key), fill.places,
             fill.booked, percent_text(fill.fill_rate), "Yes" if fill.full else "No",
             *([fill.waiting or 0] if has_list else [])]
            for starts_at, fill in result.sessions
        ],
        session_ids=[fill.key for _starts_at, fill in result.sessions],
    )
    return [courses, sessions]


# -- the national overview ------------------------------------------------------------------------


@dataclass
class Overview:
    when: Range
    la_total: int
    total: Figures
    settings_reached: int
    sessions_delivered: int
    months: list[tuple[str, int, int]]  # (month, attendances, sessions)
    regions: list[tuple[Region, int, int, int]]  # (region, LAs, LAs reached, attendances)
    topics: list[tuple[str, int, int]]  # (topic, attendances, people)
    upcoming: Oversubscription | None  # the next three months, never kept


def overview(when: Range | None = None, now: datetime | None = None) -> Overview:
    """National headline figures for ``when`` (default: the past year) and the next three
    months' sessions, for administrators."""
    now = now or utcnow()
    when = when or Range.past_year()
    today = now.astimezone(LONDON).date()
    result = kept("overview", None, (when, today), lambda: _overview(when, now))
    upcoming = oversubscription(None, Range(today, today + timedelta(days=90)), page=None)
    return dataclasses.replace(result, upcoming=upcoming)


def _overview(when: Range, now: datetime) -> Overview:
    data = _Columns(None, when, settings=True)
    total = data.total()
    delivered = db.session.scalar(
        sa.select(sa.func.count()).select_from(TrainingSession).where(
            when.sessions_in(), TrainingSession.starts_at <= now,
            TrainingSession.status == SessionStatus.SCHEDULED)
    ) or 0

    months: dict[date, list[int]] = {month: [0, 0] for month in when.months()}
    starts = dict(db.session.execute(
        sa.select(TrainingSession.id, TrainingSession.starts_at).where(when.sessions_in())
    ).all())
    per_session = np.bincount(data.sessions) if len(data.sessions) else np.zeros(0, np.int64)
    for session_id in np.flatnonzero(per_session).tolist():
        count = int(per_session[session_id])
        month = starts[session_id].astimezone(LONDON).date().replace(day=1)
        if month in months:
            months[month][0] += count
            months[month][1] += 1

    by_region = data.grouped(data.regions)
    la_counts = dict(
        db.session.execute(
            sa.select(LocalAuthority.region_id, sa.func.count()).group_by(
                LocalAuthority.region_id)
        ).all()
    )
    regions = []
    for region in db.session.scalars(sa.select(Region).order_by(Region.name)):
        figures = by_region.get(region.id, Figures(region.id, region.name))
        regions.append((region, la_counts.get(region.id, 0), figures.local_authorities,
                        figures.attendances))

    topic_courses: dict[str, list[int]] = defaultdict(list)
    for course_id, topic in db.session.execute(sa.select(CourseTopic.course_id, CourseTopic.topic)):
        topic_courses[topic].append(course_id)
    topics = []
    for topic, course_ids in topic_courses.items():
        chosen = np.isin(data.courses, course_ids)
        label = TOPIC_LABELS[Topic(topic)] if topic in set(Topic) else topic
        topics.append((label, int(chosen.sum()), _distinct(data.users[chosen])))
    topics.sort(key=lambda row: (-row[1], row[0]))
    return Overview(
        when=when,
        la_total=la_total(),
        total=total,
        settings_reached=_distinct(data.settings[data.settings > 0]),
        sessions_delivered=delivered,
        months=[(month.strftime("%B %Y"), values[0], values[1])
                for month, values in months.items()],
        regions=regions,
        topics=topics,
        upcoming=None,
    )


def overview_tables(result: Overview) -> list[Table]:
    return [
        Table("months", "Attendances by month",
              [Column("Month"), Column("Sessions with attendance", True),
               Column("Attendances", True)],
              [[month, sessions, count] for month, count, sessions in result.months],
              ["Total", result.total.sessions, result.total.attendances]),
        Table("regions", "Local authorities reached by region",
              [Column("Region"), Column("Local authorities", True),
               Column("Reached", True), Column("Share reached", True),
               Column("Attendances", True)],
              [[region.name, count, reached, percent_text(whole_percent(reached, count)),
                attended] for region, count, reached, attended in result.regions],
              ["England", result.la_total, result.total.local_authorities,
               percent_text(result.total.la_share(result.la_total)),
               result.total.attendances]),
        Table("topics", "Attendances by topic",
              [Column("Topic"), Column("Attendances", True), Column("People", True)],
              [list(row) for row in result.topics],
              note="A course can cover several topics, so these do not add up to the total."),
    ]
