"""The questionnaires' pages: answering (signed in, or from an email link), one's own answers,
the trainers' page of a session (who has not answered, reminders, answers recorded on
someone's behalf), statement editing, and the analysis with its CSV export.

Links in emails carry a signed token naming the person, session and stage, so they work from a
phone without signing in. Whether the stage is open is checked on every request, so a link
stops working for changes once its stage closes.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.orm import selectinload

from trainer import charts, tokens
from trainer.access import (
    MANAGERS,
    course_or_403,
    is_admin,
    may_manage_course,
    public,
    roles_required,
    session_or_403,
    signed_in,
)
from trainer.booking import Booking, BookingStatus
from trainer.catalogue import TrainingSession
from trainer.db import db, utcnow, write_transaction
from trainer.forms import BaseForm
from trainer.people import Role, User
from trainer.plugins.confidence import filters, forms, report, service
from trainer.plugins.confidence.models import (
    STAGE_TITLES,
    USED_LEARNING_LABELS,
    Respondent,
    Stage,
    Statement,
    StatementKind,
)
from trainer.plugins.confidence.models import (
    Response as Answer,
)

bp = Blueprint("confidence", __name__, url_prefix="/confidence")


@bp.app_template_filter("confidence_stage_title")
def stage_title(stage: str) -> str:
    return STAGE_TITLES[Stage(stage)]


@bp.app_template_filter("confidence_stage_label")
def stage_label(stage: str) -> str:
    return Stage(stage).label


@bp.app_template_filter("confidence_number")
def number(value: float, signed: bool = False) -> str:
    """``1``, ``0.67``, ``+1.5``: at most two decimals, no trailing zeros."""
    text = f"{value:+.2f}" if signed else f"{value:.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@bp.app_template_filter("confidence_used_label")
def used_label(value: str) -> str:
    return USED_LEARNING_LABELS.get(value, value)



def _stage_or_404(stage: str) -> Stage:
    try:
        return Stage(stage)
    except ValueError:
        abort(404)


def _session_or_404(session_id: int) -> TrainingSession:
    training_session = db.session.get(TrainingSession, session_id) if session_id < 2**31 else None
    if training_session is None:
        abort(404)
    return training_session


def _questionnaire(training_session: TrainingSession, user: User, stage: Stage,
                   recorded_by: User | None = None, done_url: str | None = None):
    """Show and take one person's questionnaire for one stage."""
    now = utcnow()
    booking = service.booking_of(user, training_session.id)
    on_behalf = recorded_by is not None
    problem = (service.window_problem(training_session, stage, now)
               or service.eligibility_problem(booking, stage, on_behalf=on_behalf))
    previous = service.response_for(user, training_session.id, stage)
    if problem:
        return render_template("confidence/closed.html", training_session=training_session,
                               stage=stage, problem=problem, previous=previous,
                               on_behalf=on_behalf)
    service.ensure_statements(training_session.course)
    statements = service.questionnaire(training_session.course, stage)
    form = forms.questionnaire_form(statements, stage, on_behalf, previous)
    if form.validate_on_submit():
        outcome = service.submit(
            training_session.id, user, stage, forms.answers_from(form, statements),
            recorded_by=recorded_by,
            recorded_how=form.recorded_how.data if on_behalf else None,
        )
        if outcome.ok:
            if done_url:
                flash(outcome.message, "success")
                return redirect(done_url)
            return render_template("confidence/thanks.html", training_session=training_session,
                                   stage=stage, outcome=outcome)
        form.form_errors.append(outcome.message)
    opens, closes = service.window(training_session, stage)
    return render_template(
        "confidence/questionnaire.html", form=form, training_session=training_session,
        stage=stage, title=STAGE_TITLES[stage], statements=statements, previous=previous,
        closes=closes, person=user, on_behalf=on_behalf,
        groups=forms.grouped(statements),
    )


@bp.route("/sessions/<int:session_id>/<stage>", methods=["GET", "POST"])
@signed_in
def answer(session_id: int, stage: str):
    """The signed-in person's own questionnaire for a session and stage."""
    training_session = _session_or_404(session_id)
    return _questionnaire(training_session, current_user._get_current_object(),
                          _stage_or_404(stage))


@bp.route("/answer/<token>", methods=["GET", "POST"])
@public
def answer_by_link(token: str):
    """The questionnaire from an email link: the token names the person, session and stage."""
    try:
        session_id, user_id, stage = service.read_answer_token(token)
    except tokens.TokenError as error:
        return render_template("confidence/link_problem.html", expired=error.expired), 404
    user = db.session.get(User, user_id)
    training_session = db.session.get(TrainingSession, session_id)
    if user is None or training_session is None or not user.active:
        return render_template("confidence/link_problem.html", expired=False), 404
    return _questionnaire(training_session, user, stage)


@bp.route("/my-answers")
@signed_in
def my_answers():
    """Every answer the signed-in person has given (their own only)."""
    answers = db.session.scalars(
        db.select(Answer).join(Respondent)
        .where(Respondent.user_id == current_user.id)
        .order_by(Answer.submitted_at.desc())
    ).all()
    return render_template("confidence/my_answers.html", answers=answers, now=utcnow(),
                           service=service)


# -- trainers -----------------------------------------------------------------------------------


@bp.route("/manage/sessions/<int:session_id>")
@roles_required(*MANAGERS)
def manage_session(session_id: int):
    """A session's questionnaires: who answered, who has not, reminders, answers, figures."""
    training_session = session_or_403(session_id)
    now = utcnow()
    stages = []
    for stage in Stage:
        opens, closes = service.window(training_session, stage) \
            if training_session.starts_at else (None, None)
        stages.append({
            "stage": stage, "title": STAGE_TITLES[stage], "opens": opens, "closes": closes,
            "problem": service.window_problem(training_session, stage, now),
            "waiting": service.not_answered(training_session, stage),
        })
    answers = db.session.scalars(
        db.select(Answer).join(Respondent)
        .where(Respondent.training_session_id == session_id)
        .options(selectinload(Answer.respondent).selectinload(Respondent.user))
        .order_by(Answer.stage, Answer.submitted_at)
    ).all()
    figures = report.figures(report.Scope(session_id=session_id),
                             current_user._get_current_object(), now)
    bookings = db.session.scalars(db.select(Booking).where(
        Booking.training_session_id == session_id,
        Booking.status == BookingStatus.CONFIRMED)
        .options(selectinload(Booking.user).selectinload(User.setting))).all()
    return render_template(
        "confidence/manage_session.html", training_session=training_session, stages=stages,
        answers=answers, figures=figures, form=BaseForm(), charts=_charts(figures),
        bookings=sorted(bookings, key=lambda booking: booking.user.name.lower()),
        may_edit=may_manage_course(current_user, training_session.course),
    )


@bp.route("/manage/sessions/<int:session_id>/remind/<stage>", methods=["POST"])
@roles_required(*MANAGERS)
def remind(session_id: int, stage: str):
    """Email a reminder to everyone who has not answered (not twice in a day)."""
    training_session = session_or_403(session_id)
    stage = _stage_or_404(stage)
    form = BaseForm()
    if form.validate_on_submit():
        problem = service.window_problem(training_session, stage, utcnow())
        if problem:
            flash(problem, "error")
        else:
            sent = service.remind(session_id, stage)
            flash(f"Reminder sent to {sent} {'person' if sent == 1 else 'people'}."
                  if sent else "Nobody needed a reminder: everyone who has not answered was "
                  "reminded in the last day.", "success" if sent else "info")
    return redirect(url_for(".manage_session", session_id=session_id))


@bp.route("/manage/sessions/<int:session_id>/bookings/<int:booking_id>/<stage>",
          methods=["GET", "POST"])
@roles_required(*MANAGERS)
def record(session_id: int, booking_id: int, stage: str):
    """Record someone's answers on their behalf (a paper form, or asked in the room)."""
    training_session = session_or_403(session_id)
    booking = db.session.get(Booking, booking_id) if booking_id < 2**31 else None
    if booking is None or booking.training_session_id != training_session.id:
        abort(404)
    return _questionnaire(training_session, booking.user, _stage_or_404(stage),
                          recorded_by=current_user._get_current_object(),
                          done_url=url_for(".manage_session", session_id=session_id))


# -- statements -----------------------------------------------------------------------------------


def _may_edit(statement: Statement) -> bool:
    if statement.course_id is None:
        return is_admin(current_user)
    return may_manage_course(current_user, statement.course)


def _add_statement(course_id: int | None, kind: str, text: str) -> None:
    with write_transaction():
        last = db.session.scalar(
            db.select(db.func.max(Statement.position)).where(
                Statement.course_id.is_(None) if course_id is None
                else Statement.course_id == course_id)) or 0
        db.session.add(Statement(course_id=course_id, kind=kind, text=text, position=last + 1))


@bp.route("/manage/courses/<int:course_id>/statements", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def course_statements(course_id: int):
    """A course's statements: add, change the wording (until rated), retire."""
    course = course_or_403(course_id)
    service.ensure_statements(course)
    form = forms.NewStatementForm()
    if form.validate_on_submit():
        _add_statement(course.id, form.kind.data, form.text.data)
        flash("Statement added. It is asked from now on.", "success")
        return redirect(url_for(".course_statements", course_id=course.id))
    statements = service.course_statements(course.id, include_retired=True)
    return render_template("confidence/statements.html", course=course, form=form,
                           statements=statements, rated={s.id for s in statements
                                                         if service.has_ratings(s.id)},
                           retire_form=BaseForm())


@bp.route("/manage/evaluation", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def evaluation_statements():
    """The evaluation statements every course shares (administrators)."""
    form = forms.StatementForm()
    if form.validate_on_submit():
        _add_statement(None, StatementKind.EVALUATION, form.text.data)
        flash("Statement added. It is asked after every training session from now on.",
              "success")
        return redirect(url_for(".evaluation_statements"))
    statements = service.evaluation_statements(include_retired=True)
    return render_template("confidence/statements.html", course=None, form=form,
                           statements=statements, rated={s.id for s in statements
                                                         if service.has_ratings(s.id)},
                           retire_form=BaseForm())


def _statement_or_403(statement_id: int) -> Statement:
    statement = db.session.get(Statement, statement_id) if statement_id < 2**31 else None
    if statement is None:
        abort(404)
    if not _may_edit(statement):
        abort(403)
    return statement


def _statements_url(statement: Statement) -> str:
    if statement.course_id is None:
        return url_for(".evaluation_statements")
    return url_for(".course_statements", course_id=statement.course_id)


@bp.route("/manage/statements/<int:statement_id>", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def edit_statement(statement_id: int):
    """Change a statement's wording; once people have rated it, its wording is fixed."""
    statement = _statement_or_403(statement_id)
    rated = service.has_ratings(statement.id)
    form = forms.StatementForm(obj=statement)
    if not rated and form.validate_on_submit():
        with write_transaction():
            db.session.get(Statement, statement.id).text = form.text.data
        flash("Statement changed.", "success")
        return redirect(_statements_url(statement))
    return render_template("confidence/edit_statement.html", statement=statement, form=form,
                           rated=rated, back=_statements_url(statement))


@bp.route("/manage/statements/<int:statement_id>/retire", methods=["POST"])
@roles_required(*MANAGERS)
def retire_statement(statement_id: int):
    """Stop asking a statement (or ask it again). Answers already given are kept."""
    statement = _statement_or_403(statement_id)
    if BaseForm().validate_on_submit():
        with write_transaction():
            row = db.session.get(Statement, statement.id)
            row.retired_at = None if row.retired_at else utcnow()
            retired = row.retired_at is not None
        flash("Statement retired: it is no longer asked. Answers already given are kept."
              if retired else "Statement restored: it is asked again.", "success")
    return redirect(_statements_url(statement))


# -- analysis -------------------------------------------------------------------------------------


def _charts(figures: report.Figures) -> list[Markup]:
    """The share rating 4 or 5 at each stage, per statement (or overall), as SVG."""
    rows = figures.statements or figures.overall
    if not rows:
        return []
    groups = []
    for row in rows:
        bars = []
        for stage in Stage:
            share = row.shares[stage]
            if share.n == 0:
                bars.append(charts.Bar(stage.label, None, "no answers"))
            elif figures.hidden(share.n):
                bars.append(charts.Bar(stage.label, None, f"fewer than {figures.min_group}"))
            else:
                bars.append(charts.Bar(stage.label, share.percent))
        groups.append(charts.Group(row.label, bars))
    return [charts.bar_chart(
        "Share rating 4 or 5 (confident) before, after and at follow-up", groups,
        [stage.label for stage in Stage], chart_id="confidence-chart",
        description="Each statement has a bar for before, after and follow-up.")]


@bp.route("/analysis")
@roles_required(Role.TRAINER, Role.ADMIN, Role.LA_OFFICER)
def analysis_page():
    """Confidence before, after and at follow-up, and the evaluation, for a chosen scope."""
    user = current_user._get_current_object()
    form = filters.AnalysisFilters(user)
    scope = form.scope() if form.validate() else None
    result = report.figures(scope, user) if scope is not None else None
    return render_template(
        "confidence/analysis.html", form=form, figures=result,
        charts=_charts(result) if result else [],
        csv_url=url_for(".analysis_csv", **request.args) if result else None,
    )


@bp.route("/analysis.csv")
@roles_required(Role.TRAINER, Role.ADMIN, Role.LA_OFFICER)
def analysis_csv():
    """The analysis's aggregates as CSV (nobody is named; small numbers suppressed for LAs)."""
    user = current_user._get_current_object()
    form = filters.AnalysisFilters(user)
    if not form.validate():
        return redirect(url_for(".analysis_page", **request.args))
    body = report.to_csv(report.figures(form.scope(), user))
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": 'attachment; filename="confidence-analysis.csv"'})
