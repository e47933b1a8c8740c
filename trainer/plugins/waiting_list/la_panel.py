"""The waiting list's panel on a local authority's dashboard: how many people from the area
are waiting now, for which training sessions. Counts only: nobody is named."""

from __future__ import annotations

import sqlalchemy as sa
from flask import render_template
from markupsafe import Markup

from trainer import takeup
from trainer.catalogue import Course, TrainingSession
from trainer.db import db
from trainer.hooks import Panel
from trainer.people import LocalAuthority
from trainer.plugins.waiting_list.models import ACTIVE, WaitlistEntry

SHOWN = 20


def la_dashboard_panel(authority: LocalAuthority) -> list[Panel]:
    """People from ``authority`` on a waiting list now (waiting, or offered a place), in all
    and per training session (the soonest ``SHOWN`` sessions)."""
    people = takeup.people_in(authority.id).subquery("people")
    waiting = (
        sa.select(WaitlistEntry.training_session_id, WaitlistEntry.user_id)
        .join(people, people.c.user_id == WaitlistEntry.user_id)
        .where(WaitlistEntry.status.in_([str(status) for status in ACTIVE]))
        .subquery("waiting")
    )
    total_people, total_sessions = db.session.execute(
        sa.select(sa.func.count(sa.distinct(waiting.c.user_id)),
                  sa.func.count(sa.distinct(waiting.c.training_session_id)))
    ).one()
    count = sa.func.count(sa.distinct(waiting.c.user_id))
    rows = db.session.execute(
        sa.select(Course.title, TrainingSession.id, TrainingSession.starts_at, count)
        .select_from(waiting)
        .join(TrainingSession, TrainingSession.id == waiting.c.training_session_id)
        .join(Course, Course.id == TrainingSession.course_id)
        .group_by(Course.title, TrainingSession.id, TrainingSession.starts_at)
        .order_by(TrainingSession.starts_at, TrainingSession.id)
        .limit(SHOWN)
    ).all()
    html = render_template("waiting_list/_la_panel.html", authority=authority, rows=rows,
                           total_people=total_people, total_sessions=total_sessions)
    return [Panel("People on waiting lists", Markup(html), order=40)]
