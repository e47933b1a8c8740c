"""The questionnaire form, built from the statements asked at a stage, and the statement forms."""

from __future__ import annotations

from flask import request
from wtforms import RadioField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from trainer.forms import BaseForm, choices, strip
from trainer.plugins.confidence import service
from trainer.plugins.confidence.models import (
    RECORDED_HOW_LABELS,
    USED_LEARNING_LABELS,
    RecordedHow,
    Response,
    Stage,
    Statement,
    StatementKind,
)

TEXT_LENGTH = Length(max=service.TEXT_MAX,
                     message=f"Answers must be {service.TEXT_MAX:,} characters or fewer")
# How a trainer may say they collected answers ("imported" is for CSV imports only).
ON_BEHALF = (RecordedHow.PAPER, RecordedHow.IN_ROOM)




def questionnaire_form(statements: list[Statement], stage: Stage, on_behalf: bool = False,
                       previous: Response | None = None) -> BaseForm:
    """A form with a 1-to-5 question per statement and the stage's free-text questions,
    filled with ``previous`` answers when there are some."""

    class QuestionnaireForm(BaseForm):
        pass

    for statement in statements:
        low, high = statement.scale_ends
        setattr(QuestionnaireForm, f"s{statement.id}", RadioField(
            statement.text,
            choices=choices([(1, f"1 – {low}"), (2, "2"), (3, "3"), (4, "4"),
                             (5, f"5 – {high}")]),
            validators=[InputRequired(message=f"Choose a rating for “{statement.text}”")],
        ))
    if stage == Stage.POST:
        QuestionnaireForm.do_differently = TextAreaField(
            "What will you do differently? (optional)", filters=[strip],
            validators=[Optional(), TEXT_LENGTH])
    if stage == Stage.FOLLOW_UP:
        QuestionnaireForm.used_learning = RadioField(
            "Have you used what you learned?", choices=choices(USED_LEARNING_LABELS.items()),
            validators=[InputRequired(message="Say whether you have used what you learned")])
        QuestionnaireForm.barriers = TextAreaField(
            "What got in the way? (optional)", filters=[strip],
            validators=[Optional(), TEXT_LENGTH])
    QuestionnaireForm.comments = TextAreaField(
        "Any other comments? (optional)", filters=[strip], validators=[Optional(), TEXT_LENGTH])
    if on_behalf:
        QuestionnaireForm.recorded_how = RadioField(
            "How were these answers collected?",
            choices=choices((how, RECORDED_HOW_LABELS[how]) for how in ON_BEHALF),
            validators=[InputRequired(message="Say how these answers were collected")])
    form = QuestionnaireForm()
    if previous is not None and request.method != "POST":
        values = {rating.statement_id: rating.value for rating in previous.ratings}
        for statement in statements:
            if statement.id in values:
                getattr(form, f"s{statement.id}").data = str(values[statement.id])
        for name in ("do_differently", "barriers", "comments", "used_learning"):
            if hasattr(form, name):
                getattr(form, name).data = getattr(previous, name)
        if on_behalf and previous.recorded_how:
            form.recorded_how.data = previous.recorded_how
    return form


def answers_from(form, statements: list[Statement]) -> service.Answers:
    def given(name: str) -> str:
        field = getattr(form, name, None)
        return (field.data or "") if field is not None else ""

    return service.Answers(
        ratings={statement.id: int(getattr(form, f"s{statement.id}").data)
                 for statement in statements},
        do_differently=given("do_differently"),
        comments=given("comments"),
        used_learning=given("used_learning") or None,
        barriers=given("barriers"),
    )


class StatementForm(BaseForm):
    text = TextAreaField(
        "Statement", description="Written as something a person agrees with, for example “I "
        "feel confident identifying children with speech, language and communication needs”.",
        filters=[strip],
        validators=[DataRequired(message="Enter the statement"),
                    Length(max=service.STATEMENT_MAX, message="The statement must be "
                           f"{service.STATEMENT_MAX} characters or fewer")])


class NewStatementForm(StatementForm):
    kind = RadioField("What does it ask about?", choices=choices([
        (StatementKind.CONFIDENCE, "Confidence (1 Not at all confident to 5 Very confident)"),
        (StatementKind.KNOWLEDGE, "Knowledge (1 Very little to 5 A great deal)"),
    ]), validators=[InputRequired(message="Choose whether it asks about confidence or knowledge")])


def grouped(statements: list[Statement]) -> list[tuple[str, list[Statement]]]:
    """The statements under their page headings (confidence, knowledge, the evaluation)."""
    headings = {
        StatementKind.CONFIDENCE: "How confident do you feel?",
        StatementKind.KNOWLEDGE: "How much do you know?",
        StatementKind.EVALUATION: "About the training",
    }
    groups: dict[str, list[Statement]] = {}
    for statement in statements:
        groups.setdefault(headings[StatementKind(statement.kind)], []).append(statement)
    return list(groups.items())
