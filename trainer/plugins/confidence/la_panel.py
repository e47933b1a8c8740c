"""The questionnaires' panel on a local authority's dashboard: how the confidence (and
knowledge) of people from the area changed, for training in the last twelve months.

Aggregates only, never a person. Who sees small numbers follows :mod:`.report`: for LA officers
(:func:`report.suppresses`) every figure resting on fewer than ``CONFIDENCE_MIN_GROUP`` people
is suppressed. One grouped query: each person's average per kind and stage, worked out by the
database, then paired here with :func:`.analysis.paired_change`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa
from flask import render_template, url_for
from markupsafe import Markup

from trainer import reports
from trainer.catalogue import SessionStatus, TrainingSession
from trainer.db import db
from trainer.hooks import Panel
from trainer.people import LocalAuthority
from trainer.plugins.confidence import analysis, report, service
from trainer.plugins.confidence.models import (
    Rating,
    Respondent,
    Response,
    Stage,
    Statement,
    StatementKind,
)


@dataclass(frozen=True)
class ChangeRow:
    kind: StatementKind
    earlier: Stage
    later: Stage
    change: analysis.PairedChange
    hidden: bool


def figures(authority: LocalAuthority, period: reports.Range, suppressed: bool,
            min_group: int) -> tuple[int, list[ChangeRow]]:
    """People from ``authority`` who answered, and the change before to after and before to
    follow-up for each kind of statement."""
    per_person = db.session.execute(
        sa.select(Respondent.id, Response.stage, Statement.kind, sa.func.avg(Rating.value))
        .join(Response, Response.respondent_id == Respondent.id)
        .join(Rating, Rating.response_id == Response.id)
        .join(Statement, Statement.id == Rating.statement_id)
        .join(TrainingSession, TrainingSession.id == Respondent.training_session_id)
        .where(
            Respondent.local_authority_id == authority.id,
            Statement.kind.in_([str(kind) for kind in service.RATING_KINDS]),
            TrainingSession.status == SessionStatus.SCHEDULED,
            TrainingSession.starts_at >= period.starts_at,
            TrainingSession.starts_at < period.ends_before,
        )
        .group_by(Respondent.id, Response.stage, Statement.kind)
    ).all()
    means: dict[str, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    people = set()
    for respondent_id, stage, kind, average in per_person:
        means[kind][stage][respondent_id] = float(average)
        people.add(respondent_id)
    rows = []
    for kind in service.RATING_KINDS:
        if kind not in means:
            continue
        for earlier, later in report.COMPARISONS:
            change = analysis.paired_change(means[kind].get(earlier, {}),
                                            means[kind].get(later, {}))
            rows.append(ChangeRow(kind, earlier, later, change,
                                  hidden=suppressed and change.n < min_group))
    return len(people), rows


def la_dashboard_panel(authority: LocalAuthority, user) -> list[Panel] | None:
    if user is None or not report.may_see_analysis(user):
        return None
    period = reports.Range.last_twelve_months()
    suppressed = report.suppresses(user)
    min_group = service.setting("CONFIDENCE_MIN_GROUP")
    people, rows = figures(authority, period, suppressed, min_group)
    html = render_template(
        "confidence/_la_panel.html", authority=authority, period=period, people=people,
        rows=rows, suppressed=suppressed, min_group=min_group,
        people_hidden=suppressed and people < min_group,
        analysis_url=url_for("confidence.analysis_page", local_authority=authority.id,
                             **{"from": period.start.isoformat(),
                                "to": period.end.isoformat()}),
    )
    return [Panel("Confidence before and after training", Markup(html), order=20)]
