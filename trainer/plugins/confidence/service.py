"""The questionnaires' rules: which statements, when each stage is open, who may answer,
saving answers, invitations and reminders, detachment and erasure.

Stages and their windows (London time is only for display; everything is stored in UTC):

* **before** (``pre``): open from booking until the first meeting starts;
* **after** (``post``): open from the start of the last meeting (so trainers can collect answers
  in the room) until ``CONFIDENCE_POST_DAYS`` after the session ends; the email goes when the
  session has ended, to those marked attended;
* **follow-up**: open ``CONFIDENCE_FOLLOW_UP_WEEKS`` after the session ends, for
  ``CONFIDENCE_FOLLOW_UP_DAYS``.

One response per person per stage: answering again while the stage is open replaces the
earlier answers; after it closes nothing changes and the person is told why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app, url_for
from sqlalchemy.orm import selectinload

from trainer import mail, tokens
from trainer.booking import Attendance, Booking, BookingStatus
from trainer.catalogue import Course, SessionStatus, TrainingSession
from trainer.db import db, insert_ignoring_conflicts, lock_row, utcnow, write_transaction
from trainer.people import User
from trainer.plugins.confidence import defaults
from trainer.plugins.confidence.models import (
    STAGE_TITLES,
    Invitation,
    Rating,
    RecordedHow,
    Respondent,
    Response,
    Stage,
    Statement,
    StatementKind,
    UsedLearning,
)
from trainer.times import day, moment

TOKEN_PURPOSE = "confidence-answer"
TOKEN_MAX_AGE_SECONDS = 180 * 24 * 3600  # the stage's own window decides; this only bounds it
DEFAULTS = {
    "CONFIDENCE_POST_DAYS": 21,
    "CONFIDENCE_FOLLOW_UP_WEEKS": 8,
    "CONFIDENCE_FOLLOW_UP_DAYS": 28,
    "CONFIDENCE_RETENTION_DAYS": 730,
    "CONFIDENCE_MIN_GROUP": 5,
}
TEXT_MAX = 2000
STATEMENT_MAX = 300
RATING_KINDS = (StatementKind.CONFIDENCE, StatementKind.KNOWLEDGE)


def setting(name: str) -> int:
    """A questionnaire config value (``TRAINER_CONFIDENCE_*`` in the environment), a number."""
    value = current_app.config.get(name, DEFAULTS[name])
    try:
        return int(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be a whole number, not {value!r}") from error


def _add_missing(table, rows: list[dict]) -> None:
    if rows:
        db.session.execute(insert_ignoring_conflicts(table, rows))


# -- statements ---------------------------------------------------------------------------------


def ensure_statements(course: Course) -> None:
    """Give ``course`` its default statements, and the service its evaluation statements, the
    first time they are needed. Commits; safe when two requests do it at once."""
    has_course = db.session.scalar(
        sa.select(sa.exists().where(Statement.course_id == course.id)))
    has_evaluation = db.session.scalar(
        sa.select(sa.exists().where(Statement.kind == StatementKind.EVALUATION)))
    if has_course and has_evaluation:
        return
    with write_transaction():
        add_default_statements(course, course_too=not has_course,
                               evaluation_too=not has_evaluation)


def add_default_statements(course: Course, course_too: bool = True,
                           evaluation_too: bool = True) -> None:
    """:func:`ensure_statements`' work inside the caller's transaction: the defaults not yet
    made (each default is made at most once, even by two transactions at once)."""
    now = utcnow()
    if course_too:
        _add_missing(Statement.__table__, [
            {"course_id": course.id, "kind": kind, "text": text, "position": position,
             "origin": f"course:{course.id}:{suffix}", "created_at": now}
            for position, (suffix, kind, text) in enumerate(
                defaults.for_topics(course.topics), start=1)
        ])
    if evaluation_too:
        _add_missing(Statement.__table__, [
            {"course_id": None, "kind": StatementKind.EVALUATION, "text": text,
             "position": position, "origin": f"evaluation:{suffix}", "created_at": now}
            for position, (suffix, text) in enumerate(defaults.EVALUATION, start=1)
        ])


def course_statements(course_id: int, include_retired: bool = False) -> list[Statement]:
    """The course's confidence then knowledge statements, in order."""
    statement = sa.select(Statement).where(Statement.course_id == course_id)
    if not include_retired:
        statement = statement.where(Statement.retired_at.is_(None))
    rows = db.session.scalars(statement.order_by(Statement.position, Statement.id)).all()
    return sorted(rows, key=lambda row: RATING_KINDS.index(StatementKind(row.kind)))


def evaluation_statements(include_retired: bool = False) -> list[Statement]:
    statement = sa.select(Statement).where(Statement.kind == StatementKind.EVALUATION)
    if not include_retired:
        statement = statement.where(Statement.retired_at.is_(None))
    return list(db.session.scalars(statement.order_by(Statement.position, Statement.id)))


def questionnaire(course: Course, stage: Stage) -> list[Statement]:
    """What to rate at ``stage``: the course's statements, plus the evaluation after it."""
    chosen = course_statements(course.id)
    if stage == Stage.POST:
        chosen += evaluation_statements()
    return chosen


def has_ratings(statement_id: int) -> bool:
    return bool(db.session.scalar(
        sa.select(sa.exists().where(Rating.statement_id == statement_id))))


# -- windows and eligibility --------------------------------------------------------------------


def window(training_session: TrainingSession, stage: Stage) -> tuple[datetime | None, datetime]:
    """When ``stage`` opens (``None``: from booking) and closes for ``training_session``."""
    if stage == Stage.PRE:
        return None, training_session.starts_at
    ended = training_session.ends_at
    if stage == Stage.POST:
        last_start = max(meeting.starts_at for meeting in training_session.meetings)
        return last_start, ended + timedelta(days=setting("CONFIDENCE_POST_DAYS"))
    opens = ended + timedelta(weeks=setting("CONFIDENCE_FOLLOW_UP_WEEKS"))
    return opens, opens + timedelta(days=setting("CONFIDENCE_FOLLOW_UP_DAYS"))


def is_open(training_session: TrainingSession, stage: Stage, now: datetime) -> bool:
    return window_problem(training_session, stage, now) is None


def window_problem(training_session: TrainingSession, stage: Stage, now: datetime) -> str | None:
    """Why ``stage`` cannot be answered at ``now``, or ``None`` when it is open."""
    if training_session.status == SessionStatus.CANCELLED:
        return "This training session was cancelled, so there is no questionnaire to answer."
    if training_session.starts_at is None:
        return "This training session has no dates yet."
    opens, closes = window(training_session, stage)
    if opens is not None and now < opens:
        if stage == Stage.POST:
            return "The questionnaire after the training opens when the training ends."
        return f"The follow-up questionnaire opens on {day(opens)}."
    if now >= closes:
        if stage == Stage.PRE:
            return ("The questionnaire before the training closed when the training started "
                    f"({moment(closes)}), so answers can no longer be given or changed.")
        return (f"This questionnaire closed on {moment(closes)}, so answers can no longer be "
                "given or changed.")
    return None


def attended(booking: Booking) -> bool:
    """Marked present at one meeting or more."""
    return any(attendance.attended for attendance in booking.attendances)


def booking_of(user: User, session_id: int) -> Booking | None:
    return db.session.scalar(sa.select(Booking).where(
        Booking.user_id == user.id, Booking.training_session_id == session_id))


def eligibility_problem(
    booking: Booking | None, stage: Stage, on_behalf: bool = False
) -> str | None:
    """Why this person may not answer ``stage``: before the training, anyone booked; after it,
    those marked attended (a trainer recording answers may use any confirmed booking)."""
    if booking is None or booking.status != BookingStatus.CONFIRMED:
        return "Only people booked on this training session can answer its questionnaires."
    if stage != Stage.PRE and not on_behalf and not attended(booking):
        return ("Only people marked as attending can answer this questionnaire. If you came, "
                "ask the trainer to update the register.")
    return None


# -- answers ------------------------------------------------------------------------------------


@dataclass
class Answers:
    """What someone gave: a rating per statement id and the free-text answers."""

    ratings: dict[int, int]
    do_differently: str = ""
    comments: str = ""
    used_learning: str | None = None
    barriers: str = ""


@dataclass
class Outcome:
    ok: bool
    message: str
    replaced: bool = False


def respondent_for(user: User, session_id: int) -> Respondent | None:
    return db.session.scalar(sa.select(Respondent).where(
        Respondent.user_id == user.id, Respondent.training_session_id == session_id))


def response_for(user: User, session_id: int, stage: Stage) -> Response | None:
    return db.session.scalar(
        sa.select(Response).join(Respondent).where(
            Respondent.user_id == user.id,
            Respondent.training_session_id == session_id,
            Response.stage == stage,
        ))


def submit(
    training_session_id: int,
    user: User,
    stage: Stage,
    answers: Answers,
    recorded_by: User | None = None,
    recorded_how: str | None = None,
    now: datetime | None = None,
) -> Outcome:
    """Save ``user``'s answers at ``stage``, replacing earlier ones while the stage is open.

    Refused (nothing saved) when the stage is closed or not yet open, when the person may not
    answer, or when a rating is missing or not 1 to 5 for the stage's statements. With
    ``recorded_by`` the answers are marked as recorded on the person's behalf
    (``recorded_how``: paper or in the room).
    """
    now = now or utcnow()
    with write_transaction():
        booking = booking_of(user, training_session_id)
        if booking is not None:
            booking = lock_row(Booking, booking.id)  # one writer per person and session
        training_session = db.session.get(TrainingSession, training_session_id)
        if training_session is None:
            return Outcome(False, "There is no such training session.")
        problem = (window_problem(training_session, stage, now)
                   or eligibility_problem(booking, stage, on_behalf=recorded_by is not None))
        if problem:
            return Outcome(False, problem)
        if recorded_by is not None and recorded_how not in set(RecordedHow):
            return Outcome(False, "Say how these answers were collected.")
        statements = questionnaire(training_session.course, stage)
        problem = _ratings_problem(statements, answers)
        if problem:
            return Outcome(False, problem)
        if stage == Stage.FOLLOW_UP and answers.used_learning not in set(UsedLearning):
            return Outcome(False, "Say whether you have used what you learned.")
        respondent = respondent_for(user, training_session_id)
        if respondent is None:
            area = user.area
            respondent = Respondent(training_session_id=training_session_id, user_id=user.id,
                                    local_authority_id=area.id if area else None)
            db.session.add(respondent)
            db.session.flush()
        response = db.session.scalar(sa.select(Response).where(
            Response.respondent_id == respondent.id, Response.stage == stage))
        replaced = response is not None
        if response is None:
            response = Response(respondent_id=respondent.id, stage=stage)
            db.session.add(response)
        else:
            response.revisions += 1
            response.ratings.clear()
            db.session.flush()
        response.submitted_at = now
        response.recorded_by_id = recorded_by.id if recorded_by else None
        response.recorded_how = recorded_how if recorded_by else None
        response.do_differently = answers.do_differently[:TEXT_MAX]
        response.comments = answers.comments[:TEXT_MAX]
        response.used_learning = answers.used_learning if stage == Stage.FOLLOW_UP else None
        response.barriers = answers.barriers[:TEXT_MAX] if stage == Stage.FOLLOW_UP else ""
        response.ratings.extend(
            Rating(statement_id=statement.id, value=answers.ratings[statement.id])
            for statement in statements
        )
    if recorded_by is not None:
        message = f"Answers recorded for {user.name}."
    elif replaced:
        message = "Your answers have been updated. Thank you."
    else:
        message = "Thank you. Your answers have been saved."
    return Outcome(True, message, replaced=replaced)


def _ratings_problem(statements: list[Statement], answers: Answers) -> str | None:
    for statement in statements:
        value = answers.ratings.get(statement.id)
        if value not in (1, 2, 3, 4, 5):
            return f"Choose a rating from 1 to 5 for “{statement.text}”."
    return None


# -- links and emails ---------------------------------------------------------------------------


def answer_token(session_id: int, user_id: int, stage: Stage) -> str:
    return tokens.make(TOKEN_PURPOSE, {"s": session_id, "u": user_id, "t": str(stage)})


def read_answer_token(token: str) -> tuple[int, int, Stage]:
    """``(session id, user id, stage)``; raises :class:`tokens.TokenError` when not valid."""
    payload = tokens.read(TOKEN_PURPOSE, token, TOKEN_MAX_AGE_SECONDS)
    try:
        return int(payload["s"]), int(payload["u"]), Stage(payload["t"])
    except (KeyError, TypeError, ValueError) as error:
        raise tokens.TokenError() from error


def answer_url(session_id: int, user_id: int, stage: Stage) -> str:
    """The email link to ``stage``'s questionnaire."""
    with mail.link_context():
        return url_for("confidence.answer_by_link",
                       token=answer_token(session_id, user_id, stage), _external=True)


def _claim(session_id: int, user_id: int, stage: Stage, now: datetime) -> bool:
    """Record that the invitation is being sent; ``False`` when it was sent already."""
    _add_missing(Invitation.__table__, [{"training_session_id": session_id, "user_id": user_id,
                                         "stage": str(stage), "invited_at": None,
                                         "reminders": 0}])
    claimed = db.session.execute(
        sa.update(Invitation)
        .where(Invitation.training_session_id == session_id, Invitation.user_id == user_id,
               Invitation.stage == stage, Invitation.invited_at.is_(None))
        .values(invited_at=now)
    ).rowcount
    return claimed == 1


def _send(booking: Booking, stage: Stage, template: str, subject: str) -> None:
    training_session = booking.training_session
    with mail.link_context():
        mail.send_template(
            booking.user,
            f"{subject}: {training_session.course.title}",
            f"confidence/{template}",
            training_session=training_session,
            stage=stage,
            stage_title=STAGE_TITLES[stage],
            closes=window(training_session, stage)[1],
            answer_url=answer_url(training_session.id, booking.user_id, stage),
        )


def invite(booking: Booking, stage: Stage, now: datetime) -> bool:
    """Email ``booking``'s person a link to ``stage`` once, if it is open, they may answer and
    have not. Runs inside the caller's transaction; ``True`` when an email was queued."""
    training_session = booking.training_session
    if not booking.user.active:
        return False  # closed or erased accounts get no more email
    if window_problem(training_session, stage, now) or eligibility_problem(booking, stage):
        return False
    if response_for(booking.user, training_session.id, stage) is not None:
        return False
    if not _claim(training_session.id, booking.user_id, stage, now):
        return False
    if stage == Stage.POST:
        _send(booking, stage, "post", "How was the training?")
    else:
        _send(booking, stage, "follow_up", "What have you done since the training?")
    return True


def invite_after(training_session: TrainingSession, now: datetime | None = None) -> int:
    """Invite everyone marked attended to the questionnaire after the training."""
    now = now or utcnow()
    sent = 0
    for booking in attended_bookings(training_session.id):
        sent += invite(booking, Stage.POST, now)
    return sent


def attended_bookings(session_id: int) -> list[Booking]:
    return list(db.session.scalars(
        sa.select(Booking).where(
            Booking.training_session_id == session_id,
            Booking.status == BookingStatus.CONFIRMED,
            sa.exists().where(Attendance.booking_id == Booking.id, Attendance.attended),
        ).options(selectinload(Booking.user).selectinload(User.setting),
                  selectinload(Booking.attendances))
        .order_by(Booking.id)))


def send_follow_ups(now: datetime) -> int:
    """Invite attendees of sessions whose follow-up is open and who were not yet invited."""
    weeks = timedelta(weeks=setting("CONFIDENCE_FOLLOW_UP_WEEKS"))
    closes_after = timedelta(days=setting("CONFIDENCE_FOLLOW_UP_DAYS"))
    due = db.session.execute(
        sa.select(Booking.id)
        .join(TrainingSession, TrainingSession.id == Booking.training_session_id)
        .where(
            TrainingSession.status == SessionStatus.SCHEDULED,
            TrainingSession.ends_at <= now - weeks,
            TrainingSession.ends_at > now - weeks - closes_after,
            Booking.status == BookingStatus.CONFIRMED,
            sa.exists().where(Attendance.booking_id == Booking.id, Attendance.attended),
            ~sa.exists().where(
                Invitation.training_session_id == Booking.training_session_id,
                Invitation.user_id == Booking.user_id,
                Invitation.stage == Stage.FOLLOW_UP,
                Invitation.invited_at.is_not(None),
            ),
        )
    ).scalars().all()
    db.session.rollback()
    sent = 0
    for booking_id in due:
        with write_transaction():
            booking = db.session.get(Booking, booking_id)
            sent += invite(booking, Stage.FOLLOW_UP, now)
    return sent


def not_answered(training_session: TrainingSession, stage: Stage) -> list[Booking]:
    """Bookings whose person may answer ``stage`` and has not, by name."""
    if stage == Stage.PRE:
        candidates = db.session.scalars(sa.select(Booking).where(
            Booking.training_session_id == training_session.id,
            Booking.status == BookingStatus.CONFIRMED)
            .options(selectinload(Booking.user).selectinload(User.setting))).all()
    else:
        candidates = attended_bookings(training_session.id)
    answered = set(db.session.scalars(
        sa.select(Respondent.user_id).join(Response).where(
            Respondent.training_session_id == training_session.id, Response.stage == stage)))
    waiting = [booking for booking in candidates
               if booking.user_id not in answered and booking.user.active]
    return sorted(waiting, key=lambda booking: booking.user.name.lower())


def remind(training_session_id: int, stage: Stage, now: datetime | None = None) -> int:
    """Email everyone who has not answered ``stage`` a reminder with their link; people
    reminded in the last day are skipped. Returns how many were sent."""
    now = now or utcnow()
    sent = 0
    with write_transaction():
        training_session = db.session.get(TrainingSession, training_session_id)
        if training_session is None or window_problem(training_session, stage, now):
            return 0
        for booking in not_answered(training_session, stage):
            _add_missing(Invitation.__table__, [{"training_session_id": training_session.id,
                                         "user_id": booking.user_id, "stage": str(stage),
                                         "invited_at": None, "reminders": 0}])
            claimed = db.session.execute(
                sa.update(Invitation)
                .where(Invitation.training_session_id == training_session.id,
                       Invitation.user_id == booking.user_id, Invitation.stage == stage,
                       sa.or_(Invitation.reminded_at.is_(None),
                              Invitation.reminded_at <= now - timedelta(days=1)))
                .values(reminded_at=now, reminders=Invitation.reminders + 1)
            ).rowcount
            if claimed:
                _send(booking, stage, "reminder", "A reminder: your questionnaire")
                sent += 1
    return sent


def booking_email_paragraphs(booking: Booking, template: str) -> list[str] | None:
    """The link to the questionnaire before the training, in the confirmation and reminder
    emails while it is open and unanswered."""
    if template not in ("booking_confirmed", "reminder"):
        return None
    training_session = booking.training_session
    if window_problem(training_session, Stage.PRE, utcnow()):
        return None
    if response_for(booking.user, training_session.id, Stage.PRE) is not None:
        return None
    link = answer_url(training_session.id, booking.user_id, Stage.PRE)
    first = ("Before the training, please tell us how confident you feel about what it covers."
             if template == "booking_confirmed" else
             "You have not yet told us how confident you feel before the training. It takes "
             "about two minutes.")
    return [f"{first} Your answers help trainers plan the session and show what difference "
            f"it makes. You can answer until the training starts:\n{link}"]


# -- cancellations, retention and erasure -------------------------------------------------------


def forget_unattended(session_id: int, user_id: int | None = None) -> int:
    """Remove answers of people no longer coming (cancelled bookings), so the figures describe
    only those who took part."""
    statement = sa.select(Respondent).where(Respondent.training_session_id == session_id)
    if user_id is not None:
        statement = statement.where(Respondent.user_id == user_id)
    removed = 0
    for respondent in db.session.scalars(statement):
        if all(response.stage == Stage.PRE for response in respondent.responses):
            db.session.delete(respondent)
            removed += 1
    invitations = sa.delete(Invitation).where(Invitation.training_session_id == session_id)
    if user_id is not None:
        invitations = invitations.where(Invitation.user_id == user_id)
    db.session.execute(invitations)
    return removed


def detach(respondents: list[Respondent], now: datetime, erase_text: bool = False) -> int:
    """Cut the link between answers and the person; the pairing (``key``) and ratings stay.
    With ``erase_text`` the person's own words go too."""
    for respondent in respondents:
        db.session.execute(sa.delete(Invitation).where(
            Invitation.training_session_id == respondent.training_session_id,
            Invitation.user_id == respondent.user_id))
        respondent.user_id = None
        respondent.detached_at = now
        for response in respondent.responses:
            response.recorded_by_id = None
            if erase_text:
                response.do_differently = response.comments = response.barriers = ""
    return len(respondents)


def detach_expired(now: datetime) -> int:
    """Detach answers about sessions that ended more than ``CONFIDENCE_RETENTION_DAYS`` ago."""
    cutoff = now - timedelta(days=setting("CONFIDENCE_RETENTION_DAYS"))
    with write_transaction():
        respondents = list(db.session.scalars(
            sa.select(Respondent).join(TrainingSession).where(
                Respondent.user_id.is_not(None), TrainingSession.ends_at < cutoff)))
        detached = detach(respondents, now)
        # Invitations of people who never answered name them too.
        db.session.execute(sa.delete(Invitation).where(Invitation.training_session_id.in_(
            sa.select(TrainingSession.id).where(TrainingSession.ends_at < cutoff))))
        return detached
