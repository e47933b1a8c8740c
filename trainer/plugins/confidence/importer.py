"""Questionnaire answers from a CSV file (Administration → Imports → Questionnaire answers):
ratings collected elsewhere, for example on paper or in another survey tool.

One row is one rating: a person (by email address), booked on a training session (by its
reference), rating one statement at one stage. Ratings join the person's answers at that
stage like answers recorded by a trainer, marked as imported.
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa

from trainer.booking import Booking, BookingStatus
from trainer.catalogue import Course
from trainer.db import db
from trainer.imports import (
    Check,
    Column,
    Counts,
    Duplicates,
    Importer,
    Problems,
    choice_parser,
    normalise_reference,
    parse_email,
    parse_whole_number,
    plain,
    sessions_by_reference,
    users_by_email,
)
from trainer.plugins.confidence import service
from trainer.plugins.confidence.models import (
    STAGE_LABELS,
    Rating,
    RecordedHow,
    Respondent,
    Response,
    Stage,
    Statement,
    StatementKind,
)


class QuestionnaireAnswersImporter(Importer):
    kind = "questionnaire-answers"
    title = "Questionnaire answers"
    description = ("Confidence, knowledge and evaluation ratings from 1 to 5 collected "
                   "outside the service, for example on paper. One row per rating. Only "
                   "people booked on the session can have answers; they count in the "
                   "questionnaire figures like answers recorded by a trainer.")
    key = ("The session reference, email address, stage and statement. Importing a rating "
           "again changes nothing; a different rating replaces the earlier one.")
    columns = (
        Column("reference", "The training session's reference, or its number (in the "
               "address of its page under Manage training).", "EYIP-2026-041", True, 40),
        Column("email", "The email address of the person who answered. They must be "
               "booked on the session (import their attendance first if need be).",
               "sam.jones@example.net", True, 254),
        Column("stage", "before, after or follow-up. “after” can be imported once the "
               "session's last meeting has started, “follow-up” once it has ended.",
               "before", True),
        Column("statement", "The statement rated, worded exactly as the course's "
               "questionnaire has it (capitals, spacing and curly apostrophes do not "
               "matter). Evaluation statements belong to the “after” stage.",
               "I feel confident identifying children with speech, language and "
               "communication needs", True),
        Column("rating", "From 1 (not at all) to 5 (very much).", "3", True),
    )
    parse_stage = staticmethod(choice_parser(STAGE_LABELS, "stage", "before, after or follow-up"))

    def validate(self, rows, context):
        problems = Problems()
        check = Check(problems)
        duplicates = Duplicates(problems, "rating")
        sessions = sessions_by_reference([row["reference"] for row in rows])
        users = users_by_email(row["email"] for row in rows)
        booked = _confirmed(sessions.values(), users.values())
        statements = _statements_for({item.course for item in sessions.values()})
        for row in rows:
            reference = normalise_reference(row["reference"])
            training_session = sessions.get(reference) if reference else None
            if reference and training_session is None:
                problems.add(row, "reference", "There is no training session with the "
                                               f"reference “{row['reference']}”")
            elif training_session is not None and training_session.is_cancelled:
                problems.add(row, "reference", "This training session was cancelled")
                training_session = None
            email = check(row, "email", parse_email)
            user = users.get(email) if email else None
            if email and user is None:
                problems.add(row, "email", "No account has this email address. Import their "
                                           "attendance first")
            elif user is not None and training_session is not None and \
                    (training_session.id, user.id) not in booked:
                problems.add(row, "email", "This person is not booked on this training "
                                           "session")
            stage = check(row, "stage", self.parse_stage)
            stage = Stage(stage) if stage else None
            if stage and training_session is not None:
                self._check_stage(row, training_session, stage, context.now, problems)
            rating = check(row, "rating", parse_whole_number, 1, 5)
            statement = None
            if training_session is not None and row["statement"]:
                statement = self._statement(row, training_session, stage, statements, problems)
            if training_session and user and stage and statement:
                duplicates.check(row, (training_session.id, user.id, stage, statement.id),
                                 "statement")
            row.data = {"session": training_session, "user": user, "stage": stage,
                        "statement": statement, "rating": rating}
        return problems

    @staticmethod
    def _check_stage(row, training_session, stage, now, problems) -> None:
        if training_session.starts_at is None:
            problems.add(row, "reference", "This training session has no dates yet")
        elif stage == Stage.POST and now < service.window(training_session, Stage.POST)[0]:
            problems.add(row, "stage", "Answers after the training can be imported once its "
                                       "last meeting has started")
        elif stage == Stage.FOLLOW_UP and now < training_session.ends_at:
            problems.add(row, "stage", "Follow-up answers can be imported once the training "
                                       "has ended")

    @staticmethod
    def _statement(row, training_session, stage, statements, problems) -> Statement | None:
        for_course = statements["course"].get(training_session.course_id, {})
        found = for_course.get(plain(row["statement"]))
        if found is None:
            found = statements["evaluation"].get(plain(row["statement"]))
            if found is not None and stage not in (None, Stage.POST):
                problems.add(row, "statement", "Evaluation statements are answered after the "
                                               "training: use the stage “after”")
                return None
        if found is None:
            problems.add(row, "statement", "This is not one of the statements of this course's "
                                           "questionnaire. Copy the wording from the "
                                           "course's questionnaire")
        return found

    def apply(self, rows, context):
        counts = Counts()
        keys = {(row.data["session"].id, row.data["user"].id) for row in rows}
        respondents = _respondents(keys)
        responses: dict[tuple[int, str], Response] = {}
        revised: set[int] = set()
        for row in rows:
            data = row.data
            user, training_session = data["user"], data["session"]
            respondent = respondents.get((training_session.id, user.id))
            if respondent is None:
                area = user.area
                respondent = Respondent(training_session_id=training_session.id,
                                        user_id=user.id,
                                        local_authority_id=area.id if area else None)
                db.session.add(respondent)
                db.session.flush()
                respondents[(training_session.id, user.id)] = respondent
            response = responses.get((respondent.id, data["stage"]))
            if response is None:
                response = next((item for item in respondent.responses
                                 if item.stage == data["stage"]), None)
            if response is None:
                response = Response(respondent=respondent, stage=str(data["stage"]),
                                    submitted_at=context.now, recorded_how=RecordedHow.IMPORTED,
                                    recorded_by_id=context.by.id if context.by else None)
                db.session.add(response)
            responses[(respondent.id, data["stage"])] = response
            rating = next((item for item in response.ratings
                           if item.statement_id == data["statement"].id), None)
            if rating is None:
                response.ratings.append(Rating(statement_id=data["statement"].id,
                                               value=data["rating"]))
                counts.add("created")
            elif rating.value != data["rating"]:
                rating.value = data["rating"]
                if response.id is not None and response.id not in revised:
                    response.revisions += 1
                    revised.add(response.id)
                counts.add("updated")
            else:
                counts.add("unchanged")
        return counts


def _confirmed(sessions, users) -> set[tuple[int, int]]:
    session_ids = sorted({item.id for item in sessions})
    user_ids = sorted({user.id for user in users})
    if not session_ids or not user_ids:
        return set()
    rows = db.session.execute(
        sa.select(Booking.training_session_id, Booking.user_id).where(
            Booking.training_session_id.in_(session_ids), Booking.user_id.in_(user_ids),
            Booking.status == BookingStatus.CONFIRMED))
    return {(session_id, user_id) for session_id, user_id in rows}


def _statements_for(courses: set[Course]) -> dict:
    """The courses' statements (retired ones too: answers may predate retiring) and the
    evaluation statements, by their wording as compared. Courses that have none yet are
    given the defaults, as the questionnaire does when it is first shown."""
    course_ids = sorted(course.id for course in courses)
    having = set(db.session.scalars(sa.select(Statement.course_id).where(
        Statement.course_id.in_(course_ids)).distinct())) if course_ids else set()
    has_evaluation = bool(db.session.scalar(sa.select(sa.exists().where(
        Statement.kind == StatementKind.EVALUATION))))
    for course in sorted(courses, key=lambda item: item.id):
        if course.id not in having or not has_evaluation:
            service.add_default_statements(course, course_too=course.id not in having,
                                           evaluation_too=not has_evaluation)
            has_evaluation = True
    if not courses and not has_evaluation:
        return {"course": {}, "evaluation": {}}
    by_course: dict[int, dict[str, Statement]] = defaultdict(dict)
    evaluation: dict[str, Statement] = {}
    found = db.session.scalars(sa.select(Statement).where(sa.or_(
        Statement.course_id.in_(course_ids), Statement.kind == StatementKind.EVALUATION))
        .order_by(Statement.retired_at.is_not(None), Statement.id))
    for statement in found:
        if statement.kind == StatementKind.EVALUATION:
            evaluation.setdefault(plain(statement.text), statement)
        else:
            by_course[statement.course_id].setdefault(plain(statement.text), statement)
    return {"course": by_course, "evaluation": evaluation}


def _respondents(keys: set[tuple[int, int]]) -> dict[tuple[int, int], Respondent]:
    session_ids = sorted({session_id for session_id, _ in keys})
    user_ids = sorted({user_id for _, user_id in keys})
    if not keys:
        return {}
    return {(item.training_session_id, item.user_id): item for item in db.session.scalars(
        sa.select(Respondent).where(Respondent.training_session_id.in_(session_ids),
                                    Respondent.user_id.in_(user_ids)))}
