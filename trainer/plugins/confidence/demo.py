"""Demo questionnaire answers: before and after past sessions (with a realistic rise in
confidence), and before some upcoming ones."""

from __future__ import annotations

import random
from datetime import timedelta

import sqlalchemy as sa

from trainer.booking import Attendance, Booking, BookingStatus
from trainer.catalogue import Course, SessionStatus, TrainingSession
from trainer.db import db, utcnow
from trainer.people import Setting, User
from trainer.plugins.confidence import defaults
from trainer.plugins.confidence.models import (
    Rating,
    Respondent,
    Response,
    Stage,
    Statement,
    StatementKind,
    new_key,
)

MAX_SESSIONS = 2000
BATCH = 5000
WILL_DO = [
    "Use more visual supports at tidy-up time.",
    "Share the strategies with the rest of the room team.",
    "Talk to parents earlier when I notice something.",
    "Plan small-group time for the children who need it.",
    "",
    "",
]


def _clip(value: float) -> int:
    return max(1, min(5, round(value)))


def _insert(model, rows: list[dict]) -> None:
    for start in range(0, len(rows), BATCH):
        db.session.execute(model.__table__.insert(), rows[start:start + BATCH])


def create(rng: random.Random, echo) -> dict[str, int]:
    """Answers for up to 2,000 past sessions and the pre questionnaire of upcoming ones."""
    now = utcnow()
    for course in db.session.scalars(sa.select(Course)):
        _statements(course)
    statements: dict[int | None, list[tuple[int, str]]] = {}
    for course_id, statement_id, kind in db.session.execute(
            sa.select(Statement.course_id, Statement.id, Statement.kind)
            .order_by(Statement.position)):
        statements.setdefault(course_id, []).append((statement_id, kind))
    evaluation = statements.get(None, [])

    sessions = db.session.execute(
        sa.select(TrainingSession.id, TrainingSession.course_id, TrainingSession.starts_at,
                  TrainingSession.ends_at)
        .where(TrainingSession.status == SessionStatus.SCHEDULED,
               TrainingSession.starts_at < now + timedelta(days=21))
        .order_by(TrainingSession.starts_at.desc()).limit(MAX_SESSIONS)).all()
    by_id = {row.id: row for row in sessions}
    bookings = db.session.execute(
        sa.select(Booking.id, Booking.training_session_id, Booking.user_id)
        .join(User, User.id == Booking.user_id)
        .where(Booking.training_session_id.in_(list(by_id)),
               Booking.status == BookingStatus.CONFIRMED,
               User.email.like("%@example.net"))
        .order_by(Booking.id)).all()
    came = set(db.session.scalars(
        sa.select(Attendance.booking_id).where(Attendance.attended).distinct()))
    areas = dict(db.session.execute(
        sa.select(User.id, sa.func.coalesce(
            sa.select(Setting.local_authority_id)
            .where(Setting.id == User.setting_id).scalar_subquery(),
            User.local_authority_id))
        .where(User.id.in_({row.user_id for row in bookings}))).all()) if bookings else {}

    respondents, plans = [], []
    for booking_id, session_id, user_id in bookings:
        session = by_id[session_id]
        past = session.ends_at < now
        answers_pre = rng.random() < (0.75 if past else 0.4)
        answers_post = past and booking_id in came and rng.random() < 0.65
        if not (answers_pre or answers_post):
            continue
        key = new_key()
        respondents.append({"key": key, "training_session_id": session_id, "user_id": user_id,
                            "local_authority_id": areas.get(user_id), "detached_at": None})
        plans.append((key, session, answers_pre, answers_post))
    first_respondent = _next_id(Respondent)
    _insert(Respondent, respondents)
    ids = {key: respondent_id for key, respondent_id in db.session.execute(
        sa.select(Respondent.key, Respondent.id).where(Respondent.id >= first_respondent))}

    responses, rating_plans = [], []
    for key, session, answers_pre, answers_post in plans:
        course_statements = statements.get(session.course_id, [])
        grip = rng.gauss(2.6, 0.7)  # how confident this person starts
        gain = rng.gauss(1.1, 0.7)
        before = {statement_id: _clip(grip + rng.gauss(0, 0.5))
                  for statement_id, _ in course_statements}
        if answers_pre:
            responses.append(_response(ids[key], Stage.PRE,
                                       session.starts_at - timedelta(days=rng.randint(1, 10))))
            rating_plans.append((ids[key], Stage.PRE, before))
        if answers_post:
            after = {statement_id: _clip(value + gain + rng.gauss(0, 0.4))
                     for statement_id, value in before.items()}
            after.update({statement_id: _clip(rng.gauss(4.3, 0.7))
                          for statement_id, _ in evaluation})
            responses.append({**_response(ids[key], Stage.POST,
                                          session.ends_at + timedelta(hours=rng.randint(1, 72))),
                              "do_differently": rng.choice(WILL_DO)})
            rating_plans.append((ids[key], Stage.POST, after))
    first_response = _next_id(Response)
    _insert(Response, responses)
    response_ids = {
        (respondent_id, stage): response_id for response_id, respondent_id, stage in
        db.session.execute(sa.select(Response.id, Response.respondent_id, Response.stage).where(
            Response.id >= first_response))
    }
    ratings = [
        {"response_id": response_ids[(respondent_id, stage)], "statement_id": statement_id,
         "value": value}
        for respondent_id, stage, values in rating_plans
        for statement_id, value in values.items()
    ]
    _insert(Rating, ratings)
    echo(f"  {len(respondents)} people answered questionnaires ({len(responses)} answers, "
         f"{len(ratings)} ratings)")
    return {"questionnaire_answers": len(responses)}


def _next_id(model) -> int:
    return (db.session.scalar(sa.select(sa.func.max(model.id))) or 0) + 1


def _response(respondent_id: int, stage: Stage, when) -> dict:
    return {"respondent_id": respondent_id, "stage": str(stage), "submitted_at": when,
            "revisions": 0, "recorded_how": None, "recorded_by_id": None,
            "used_learning": None, "do_differently": "", "barriers": "", "comments": ""}


def _statements(course: Course) -> None:
    """The course's default statements (and the shared evaluation ones), without committing:
    demo data is one transaction."""
    for position, (suffix, kind, text) in enumerate(defaults.for_topics(course.topics), 1):
        db.session.add(Statement(course_id=course.id, kind=kind, text=text, position=position,
                                 origin=f"course:{course.id}:{suffix}"))
    if not db.session.scalar(sa.select(sa.exists().where(
            Statement.kind == StatementKind.EVALUATION))):
        for position, (suffix, text) in enumerate(defaults.EVALUATION, 1):
            db.session.add(Statement(course_id=None, kind=StatementKind.EVALUATION, text=text,
                                     position=position, origin=f"evaluation:{suffix}"))
    db.session.flush()

