"""Questionnaire figures for a scope (a session, a course, a delivery partner, an LA, a region,
a date range), built from the database with :mod:`.analysis`.

Who sees what is decided here, not in the pages: administrators see everything; trainers the
sessions they manage; LA officers only people from their own LA, always as aggregates, with
every figure resting on fewer than ``CONFIDENCE_MIN_GROUP`` people suppressed.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from trainer.access import is_admin, managed_sessions
from trainer.booking import Attendance, Booking, BookingStatus
from trainer.catalogue import Course, SessionStatus, TrainingSession, start_of_london_day
from trainer.db import db, utcnow
from trainer.documents import spreadsheet_safe
from trainer.people import LocalAuthority, Role, Setting, User
from trainer.plugins.confidence import analysis, service
from trainer.plugins.confidence.models import (
    Rating,
    Respondent,
    Response,
    Stage,
    Statement,
    StatementKind,
    UsedLearning,
)

COMPARISONS = ((Stage.PRE, Stage.POST), (Stage.PRE, Stage.FOLLOW_UP))


@dataclass
class Scope:
    """Which answers to count. Empty fields do not restrict."""

    session_id: int | None = None
    course_id: int | None = None
    delivery_partner_id: int | None = None
    local_authority_id: int | None = None
    region_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None

    def is_single_course(self) -> bool:
        return self.session_id is not None or self.course_id is not None


def may_see_analysis(user) -> bool:
    return user.has_role(Role.ADMIN, Role.TRAINER, Role.LA_OFFICER)


def suppresses(user) -> bool:
    """LA officers (who are not also trainers or admins) see small numbers suppressed."""
    return not user.has_role(Role.ADMIN, Role.TRAINER)


def restrict(scope: Scope, user) -> Scope:
    """``scope`` narrowed to what ``user`` may see: an LA officer's own LA."""
    if suppresses(user):
        scope.local_authority_id = user.local_authority_id or -1
        scope.region_id = None
    return scope


def session_ids(scope: Scope, user) -> sa.Select:
    """Ids of the scheduled sessions in ``scope`` that ``user`` may see."""
    if is_admin(user) or suppresses(user):
        statement = sa.select(TrainingSession).join(TrainingSession.course)
    else:
        statement = managed_sessions(user)
    statement = statement.where(TrainingSession.status == SessionStatus.SCHEDULED)
    if scope.session_id is not None:
        statement = statement.where(TrainingSession.id == scope.session_id)
    if scope.course_id is not None:
        statement = statement.where(TrainingSession.course_id == scope.course_id)
    if scope.delivery_partner_id is not None:
        statement = statement.where(Course.delivery_partner_id == scope.delivery_partner_id)
    if scope.date_from is not None:
        statement = statement.where(
            TrainingSession.starts_at >= start_of_london_day(scope.date_from))
    if scope.date_to is not None:
        statement = statement.where(
            TrainingSession.starts_at < start_of_london_day(scope.date_to + timedelta(days=1)))
    return statement.with_only_columns(TrainingSession.id).order_by(None)


@dataclass
class Row:
    """One statement (or one kind's mean per person): shares per stage and the changes."""

    label: str
    kind: str
    shares: dict[Stage, analysis.Share]
    changes: dict[tuple[Stage, Stage], analysis.PairedChange]


@dataclass
class Figures:
    scope: Scope
    suppressed: bool
    min_group: int
    invited: dict[Stage, int]
    answered: dict[Stage, int]
    overall: list[Row]
    statements: list[Row]
    evaluation: list[tuple[str, analysis.Share]]
    used_learning: dict[str, int]
    session_count: int
    rates: dict[Stage, analysis.Share] = field(default_factory=dict)

    def hidden(self, n: int) -> bool:
        """Whether a figure resting on ``n`` people is suppressed for this viewer."""
        return self.suppressed and n < self.min_group

    @property
    def respondents(self) -> int:
        return max(self.answered.values(), default=0)


def _la_filter(statement: sa.Select, scope: Scope, la_column) -> sa.Select:
    if scope.local_authority_id is not None:
        statement = statement.where(la_column == scope.local_authority_id)
    if scope.region_id is not None:
        statement = statement.where(la_column.in_(
            sa.select(LocalAuthority.id).where(LocalAuthority.region_id == scope.region_id)))
    return statement


def _people_in(scope: Scope) -> sa.Select | None:
    """Ids of people whose LA (their setting's, else their own) is in the scope's LA or region,
    or ``None`` when the scope has no such restriction."""
    if scope.local_authority_id is not None:
        authorities = [scope.local_authority_id]
    elif scope.region_id is not None:
        authorities = sa.select(LocalAuthority.id).where(
            LocalAuthority.region_id == scope.region_id)
    else:
        return None
    return sa.union(
        sa.select(User.id).join(Setting, Setting.id == User.setting_id)
        .where(Setting.local_authority_id.in_(authorities)),
        sa.select(User.id).where(User.setting_id.is_(None),
                                 User.local_authority_id.in_(authorities)),
    )


def _invited(ids: sa.Select, scope: Scope, now: datetime) -> dict[Stage, int]:
    """How many could answer each stage: booked (before); marked attended, on sessions whose
    stage has opened (after, follow-up)."""
    follow_up_after = timedelta(weeks=service.setting("CONFIDENCE_FOLLOW_UP_WEEKS"))
    came = sa.exists().where(Attendance.booking_id == Booking.id, Attendance.attended)
    people = _people_in(scope)

    def count(sessions: sa.Select, *conditions) -> int:
        statement = sa.select(sa.func.count(Booking.id)).where(
            Booking.training_session_id.in_(sessions),
            Booking.status == BookingStatus.CONFIRMED, *conditions)
        if people is not None:
            statement = statement.where(Booking.user_id.in_(people))
        return db.session.scalar(statement) or 0

    return {
        Stage.PRE: count(ids),
        Stage.POST: count(ids.where(TrainingSession.ends_at <= now), came),
        Stage.FOLLOW_UP: count(ids.where(TrainingSession.ends_at <= now - follow_up_after),
                               came),
    }


STAGES = {str(stage): stage for stage in Stage}


def figures(scope: Scope, user, now: datetime | None = None) -> Figures:
    """Every figure for ``scope`` as ``user`` may see it."""
    now = now or utcnow()
    scope = restrict(scope, user)
    ids = session_ids(scope, user)
    session_count = db.session.scalar(sa.select(sa.func.count()).select_from(ids.subquery()))

    def scoped(statement: sa.Select) -> sa.Select:
        return _la_filter(statement.where(Respondent.training_session_id.in_(ids)), scope,
                          Respondent.local_authority_id)

    answered = dict.fromkeys(Stage, 0)
    answered.update({STAGES[stage]: count for stage, count in db.session.execute(scoped(
        sa.select(Response.stage, sa.func.count(Response.id))
        .join(Respondent, Respondent.id == Response.respondent_id)
        .group_by(Response.stage)))})
    used = {str(value): 0 for value in UsedLearning}
    used.update({value: count for value, count in db.session.execute(scoped(
        sa.select(Response.used_learning, sa.func.count(Response.id))
        .join(Respondent, Respondent.id == Response.respondent_id)
        .where(Response.stage == Stage.FOLLOW_UP)
        .group_by(Response.used_learning))) if value})

    def ratings_of(*columns) -> sa.Select:
        return scoped(
            sa.select(*columns)
            .select_from(Respondent)
            .join(Response, Response.respondent_id == Respondent.id)
            .join(Rating, Rating.response_id == Response.id)
            .join(Statement, Statement.id == Rating.statement_id))

    def row(label: str, kind: str, per_stage: dict[Stage, dict[int, float]]) -> Row:
        return Row(
            label=label,
            kind=kind,
            shares={stage: analysis.share_confident(per_stage.get(stage, {}).values())
                    for stage in Stage},
            changes={(first, later): analysis.paired_change(per_stage.get(first, {}),
                                                            per_stage.get(later, {}))
                     for first, later in COMPARISONS},
        )

    # Each person's average per kind and stage, worked out by the database.
    means: dict[str, dict[Stage, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    for respondent_id, stage, kind, average in db.session.execute(
            ratings_of(Respondent.id, Response.stage, Statement.kind, sa.func.avg(Rating.value))
            .where(Statement.kind != StatementKind.EVALUATION)
            .group_by(Respondent.id, Response.stage, Statement.kind)):
        means[kind][STAGES[stage]][respondent_id] = float(average)
    overall = [
        row(f"{StatementKind(kind).label}: each person's average across the statements", kind,
            means[kind])
        for kind in service.RATING_KINDS if kind in means
    ]

    statement_rows = []
    if scope.is_single_course():
        ratings: dict[int, dict[Stage, dict[int, int]]] = defaultdict(lambda: defaultdict(dict))
        for respondent_id, stage, statement_id, value in db.session.execute(
                ratings_of(Respondent.id, Response.stage, Rating.statement_id, Rating.value)
                .where(Statement.kind != StatementKind.EVALUATION)):
            ratings[statement_id][STAGES[stage]][respondent_id] = value
        ordered = sorted(
            db.session.scalars(sa.select(Statement).where(Statement.id.in_(list(ratings)))),
            key=lambda s: (service.RATING_KINDS.index(StatementKind(s.kind)), s.position, s.id))
        statement_rows = [row(s.text, s.kind, ratings[s.id]) for s in ordered]

    evaluation = [
        (text, analysis.Share(int(agreed or 0), int(total)))
        for text, total, agreed in db.session.execute(
            ratings_of(Statement.text, sa.func.count(Rating.value),
                       sa.func.sum(sa.case((Rating.value >= analysis.CONFIDENT_FROM, 1),
                                           else_=0)))
            .where(Statement.kind == StatementKind.EVALUATION, Response.stage == Stage.POST)
            .group_by(Statement.id, Statement.text, Statement.position)
            .order_by(Statement.position, Statement.id))
    ]
    invited = _invited(ids, scope, now)
    result = Figures(
        scope=scope, suppressed=suppresses(user),
        min_group=service.setting("CONFIDENCE_MIN_GROUP"), invited=invited, answered=answered,
        overall=overall, statements=statement_rows, evaluation=evaluation, used_learning=used,
        session_count=session_count or 0,
    )
    result.rates = {stage: analysis.response_rate(min(answered[stage], invited[stage]),
                                                  invited[stage]) for stage in Stage}
    return result


def headline(user) -> dict[Stage | str, int]:
    """Answers per stage and sessions with answers, for the reports page: counts only, cheap."""
    scope = restrict(Scope(), user)
    ids = session_ids(scope, user)
    counts = {str(stage): 0 for stage in Stage}
    counts.update({stage: count for stage, count in db.session.execute(_la_filter(
        sa.select(Response.stage, sa.func.count(Response.id))
        .join(Respondent, Respondent.id == Response.respondent_id)
        .where(Respondent.training_session_id.in_(ids))
        .group_by(Response.stage), scope, Respondent.local_authority_id))})
    counts["sessions"] = db.session.scalar(
        sa.select(sa.func.count(sa.distinct(Respondent.training_session_id)))
        .where(Respondent.training_session_id.in_(ids))) or 0
    return counts


# -- CSV ----------------------------------------------------------------------------------------


def _number(value: float | None, places: int = 2) -> str:
    return "" if value is None else f"{value:.{places}f}".rstrip("0").rstrip(".")


def to_csv(result: Figures) -> str:
    """Aggregates only (no person is named): one row per statement or kind, shares per stage
    and the matched-pair changes; evaluation rows after. Suppressed figures are left blank with
    "fewer than N" in their note."""
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["Section", "Statement"]
    for stage in Stage:
        header += [f"{stage.label}: respondents", f"{stage.label}: % rating 4 or 5"]
    for first, later in COMPARISONS:
        name = f"{first.label} to {later.label.lower()}"
        header += [f"{name}: matched pairs", f"{name}: median change",
                   f"{name}: lower quartile", f"{name}: upper quartile",
                   f"{name}: % improved", f"{name}: % same", f"{name}: % worse",
                   f"{name}: Wilcoxon p", f"{name}: effect size (rank-biserial)",
                   f"{name}: McNemar p (confident)"]
    header.append("Note")
    writer.writerow(header)
    hidden_note = f"fewer than {result.min_group} respondents: figure suppressed"
    for section, rows in (("Overall", result.overall), ("Statement", result.statements)):
        for row in rows:
            cells = [section, spreadsheet_safe(row.label)]
            note = ""
            for stage in Stage:
                share = row.shares[stage]
                if result.hidden(share.n):
                    cells += ["", ""]
                    note = hidden_note
                else:
                    cells += [share.n, _number(share.percent, 1)]
            for comparison in COMPARISONS:
                change = row.changes[comparison]
                if result.hidden(change.n):
                    cells += [""] * 10
                    note = hidden_note
                    continue
                cells += [change.n, _number(change.median), _number(change.lower_quartile),
                          _number(change.upper_quartile), _number(change.improved.percent, 1),
                          _number(change.same.percent, 1), _number(change.worse.percent, 1),
                          _number(change.wilcoxon_p, 4), _number(change.effect_size, 3),
                          _number(change.mcnemar_p, 4)]
            writer.writerow([*cells, note])
    for text, share in result.evaluation:
        cells = ["Evaluation", spreadsheet_safe(text), "", "", ]
        if result.hidden(share.n):
            cells += ["", ""]
            note = hidden_note
        else:
            cells += [share.n, _number(share.percent, 1)]
            note = "% answering 4 or 5 (agree)"
        writer.writerow([*cells, "", "", *([""] * 20), note])
    return out.getvalue()
