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
from statistics import mean

import sqlalchemy as sa

from trainer.access import is_admin, managed_sessions
from trainer.booking import Attendance, Booking, BookingStatus
from trainer.catalogue import Course, SessionStatus, TrainingSession, start_of_london_day
from trainer.db import db, utcnow
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


def _invited(ids: sa.Select, scope: Scope, now: datetime) -> dict[Stage, int]:
    person_la = sa.func.coalesce(Setting.local_authority_id, User.local_authority_id)
    base = (
        sa.select(sa.func.count(Booking.id))
        .join(User, User.id == Booking.user_id)
        .outerjoin(Setting, Setting.id == User.setting_id)
        .join(TrainingSession, TrainingSession.id == Booking.training_session_id)
        .where(Booking.training_session_id.in_(ids),
               Booking.status == BookingStatus.CONFIRMED)
    )
    base = _la_filter(base, scope, person_la)
    came = sa.exists().where(Attendance.booking_id == Booking.id, Attendance.attended)
    follow_up_after = timedelta(weeks=service.setting("CONFIDENCE_FOLLOW_UP_WEEKS"))
    return {
        Stage.PRE: db.session.scalar(base) or 0,
        Stage.POST: db.session.scalar(base.where(came, TrainingSession.ends_at <= now)) or 0,
        Stage.FOLLOW_UP: db.session.scalar(
            base.where(came, TrainingSession.ends_at <= now - follow_up_after)) or 0,
    }


def figures(scope: Scope, user, now: datetime | None = None) -> Figures:
    """Every figure for ``scope`` as ``user`` may see it."""
    now = now or utcnow()
    scope = restrict(scope, user)
    ids = session_ids(scope, user)
    session_count = db.session.scalar(sa.select(sa.func.count()).select_from(ids.subquery()))
    rows = db.session.execute(_la_filter(
        sa.select(Respondent.key, Response.stage, Rating.statement_id, Rating.value)
        .join(Response, Response.respondent_id == Respondent.id)
        .join(Rating, Rating.response_id == Response.id)
        .where(Respondent.training_session_id.in_(ids)),
        scope, Respondent.local_authority_id)).all()
    answered_rows = db.session.execute(_la_filter(
        sa.select(Response.stage, sa.func.count(Response.id))
        .join(Respondent, Respondent.id == Response.respondent_id)
        .where(Respondent.training_session_id.in_(ids))
        .group_by(Response.stage), scope, Respondent.local_authority_id)).all()
    answered = {stage: 0 for stage in Stage}
    answered.update({Stage(stage): count for stage, count in answered_rows})
    used_rows = db.session.execute(_la_filter(
        sa.select(Response.used_learning, sa.func.count(Response.id))
        .join(Respondent, Respondent.id == Response.respondent_id)
        .where(Respondent.training_session_id.in_(ids), Response.stage == Stage.FOLLOW_UP)
        .group_by(Response.used_learning), scope, Respondent.local_authority_id)).all()
    used = {str(value): 0 for value in UsedLearning}
    used.update({value: count for value, count in used_rows if value})

    statement_ids = {statement_id for _, _, statement_id, _ in rows}
    statements = {
        statement.id: statement for statement in db.session.scalars(
            sa.select(Statement).where(Statement.id.in_(statement_ids)))
    } if statement_ids else {}
    # ratings[statement id][stage][respondent key] = value
    ratings: dict[int, dict[Stage, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    by_kind: dict[str, dict[Stage, dict[str, list[int]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list)))
    for key, stage, statement_id, value in rows:
        stage = Stage(stage)
        ratings[statement_id][stage][key] = value
        kind = statements[statement_id].kind
        if kind != StatementKind.EVALUATION:
            by_kind[kind][stage][key].append(value)

    def row(label: str, kind: str, per_stage: dict[Stage, dict[str, float]]) -> Row:
        return Row(
            label=label,
            kind=kind,
            shares={stage: analysis.share_confident(per_stage.get(stage, {}).values())
                    for stage in Stage},
            changes={(first, later): analysis.paired_change(per_stage.get(first, {}),
                                                            per_stage.get(later, {}))
                     for first, later in COMPARISONS},
        )

    overall = [
        row(f"{StatementKind(kind).label}: each person's average across the statements", kind,
            {stage: {key: mean(values) for key, values in people.items()}
             for stage, people in by_kind[kind].items()})
        for kind in service.RATING_KINDS if kind in by_kind
    ]
    statement_rows = []
    if scope.is_single_course():
        ordered = sorted(
            (s for s in statements.values() if s.kind != StatementKind.EVALUATION),
            key=lambda s: (service.RATING_KINDS.index(StatementKind(s.kind)), s.position, s.id))
        statement_rows = [row(s.text, s.kind, ratings[s.id]) for s in ordered]
    evaluation = [
        (s.text, analysis.share_confident(ratings[s.id].get(Stage.POST, {}).values()))
        for s in sorted(statements.values(), key=lambda s: (s.position, s.id))
        if s.kind == StatementKind.EVALUATION
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


# -- CSV ----------------------------------------------------------------------------------------


def _cell(value) -> str:
    """Plain text for a spreadsheet; a leading = + - @ is neutralised so no formula runs."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


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
            cells = [section, _cell(row.label)]
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
        cells = ["Evaluation", _cell(text), "", "", ]
        if result.hidden(share.n):
            cells += ["", ""]
            note = hidden_note
        else:
            cells += [share.n, _number(share.percent, 1)]
            note = "% answering 4 or 5 (agree)"
        writer.writerow([*cells, "", "", *([""] * 20), note])
    return out.getvalue()
