"""Questionnaires under concurrency: one person sending the same answers twice at once (a double
click, two tabs), before and after answers arriving together, default statements created by
several requests at once, and overlapping ticks sending invitations. Run on SQLite
(``BEGIN IMMEDIATE``) and on PostgreSQL (row locks)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from tests import factories
from tests.conftest import Auth, Browser, csrf_token
from tests.test_waiting_list_concurrency import at_once, email_of, emails, request
from trainer import booking as engine
from trainer.booking import Outcome
from trainer.catalogue import Course, TrainingSession
from trainer.db import db, utcnow, write_transaction
from trainer.people import Role, User
from trainer.plugins.confidence import defaults, report, service
from trainer.plugins.confidence.models import Respondent, Response, Stage, Statement

POST_SUBJECT = "How was the training?"
FOLLOW_UP_SUBJECT = "What have you done since the training?"
SAVED = "Thank you. Your answers have been saved."
UPDATED = "Your answers have been updated. Thank you."
ADMIN_EMAIL = "figures-admin@example.org"


# -- building data through the real code paths ----------------------------------------------------


def hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def last_started() -> datetime:
    """A meeting start 30 minutes ago: with 1.5 hours, still running."""
    return utcnow().replace(microsecond=0) - timedelta(minutes=30)


def make_session(app, starts: list[datetime] | datetime, hours: float = 1.5,
                 title: str = "Supporting speech and language") -> int:
    """A scheduled session of a new course (speech and language topic, the default delivery
    partner) at ``starts``."""
    with app.app_context():
        course = factories.course(title)
        session_id = factories.training_session(starts=starts, hours=hours, course_=course).id
        db.session.commit()
    return session_id


def people(make_user, count: int, prefix: str, **fields) -> list[int]:
    return [make_user(f"{prefix}{n}@example.org", name=f"{prefix.title()} Person {n}",
                      **fields)[0] for n in range(count)]


def book_people(app, session_id: int, user_ids: list[int],
                now: datetime | None = None) -> dict[int, int]:
    """Book each person (``now``: when they booked, for sessions already held). Returns the
    booking id of each person."""
    bookings = {}
    for user_id in user_ids:
        with request(app):
            result = engine.book(session_id, db.session.get(User, user_id), now=now)
            assert result.outcome == Outcome.BOOKED, result.message
            bookings[user_id] = result.booking.id
    return bookings


def meeting_ids(app, session_id: int) -> list[int]:
    with app.app_context():
        meetings = db.session.get(TrainingSession, session_id).meetings
        return [meeting.id for meeting in sorted(meetings, key=lambda m: m.starts_at)]


def register(app, session_id: int, marks: dict[int, bool], meeting: int = -1) -> None:
    """Mark bookings attended (``True``) or absent at the session's last (or given) meeting."""
    with request(app):
        engine.record_attendance(meeting_ids(app, session_id)[meeting], marks, None)


def session_times(app, session_id: int) -> tuple[datetime, datetime]:
    with app.app_context():
        training_session = db.session.get(TrainingSession, session_id)
        return training_session.starts_at, training_session.ends_at


def statement_ids(app, session_id: int, stage: Stage) -> list[int]:
    """What the stage's questionnaire asks, creating the defaults as the page does."""
    with request(app):
        course = db.session.get(TrainingSession, session_id).course
        service.ensure_statements(course)
        return [statement.id for statement in service.questionnaire(course, stage)]


def submit(app, session_id: int, user_id: int, stage: Stage, values: list[int] | int,
           now: datetime | None = None, **text) -> service.Outcome:
    """Answer ``stage`` as the person would: a rating for every statement, and free text."""
    ids = statement_ids(app, session_id, stage)
    if isinstance(values, int):
        values = [values] * len(ids)
    with request(app):
        outcome = service.submit(
            session_id, db.session.get(User, user_id), stage,
            service.Answers(ratings=dict(zip(ids, values, strict=True)), **text), now=now)
    assert outcome.ok, outcome.message
    return outcome


def browser_for(app, email: str) -> Browser:
    """A browser of its own, signed in as ``email``."""
    browser = Browser(app.test_client())
    assert Auth(browser).sign_in(email).status_code == 302, "signed in"
    return browser


def admin_figures(app, make_user, session_id: int, now: datetime | None = None) -> report.Figures:
    """The session's figures as an administrator sees them."""
    with app.app_context():
        admin_id = db.session.scalar(sa.select(User.id).where(User.email == ADMIN_EMAIL))
    if admin_id is None:
        admin_id, _ = make_user(ADMIN_EMAIL, name="Figures Admin", roles=[Role.ADMIN])
    with app.app_context():
        return report.figures(report.Scope(session_id=session_id),
                              db.session.get(User, admin_id), now)


# -- the same stage sent several times at once -----------------------------------------------------


def patterns(count: int, length: int) -> list[list[int]]:
    """``count`` (up to 25) different sets of ratings, one per submission."""
    return [[(number // 5 ** (position % 2) + position) % 5 + 1 for position in range(length)]
            for number in range(count)]


def same_stage_at_once(app, make_user, stage: Stage, count: int = 8) -> None:
    """One person sends ``count`` different answers to the same stage at the same moment: one
    is saved first and each later one replaces it whole; what is left is exactly one of the
    submissions, its ratings and its comment together."""
    start = hour(utcnow()) - timedelta(days=3)
    # Two meetings: the second (last) one started 30 minutes ago, so "after" is open.
    session_id = make_session(app, [start, last_started()], hours=1.5)
    (person,) = people(make_user, 1, "eager")
    bookings = book_people(app, session_id, [person], now=start - timedelta(days=2))
    register(app, session_id, {bookings[person]: True}, meeting=0)
    ids = statement_ids(app, session_id, stage)
    sets = patterns(count, len(ids))
    assert len({tuple(values) for values in sets}) == count
    now = start - timedelta(hours=1) if stage == Stage.PRE else None

    def send(number: int) -> Callable[[], object]:
        def job():
            answers = service.Answers(
                ratings=dict(zip(ids, sets[number], strict=True)),
                comments=f"Submission {number}",
                do_differently=f"Change {number}" if stage == Stage.POST else "")
            return service.submit(session_id, db.session.get(User, person), stage, answers,
                                  now=now)
        return job

    outcomes = at_once(app, [send(number) for number in range(count)])
    assert all(outcome.ok for outcome in outcomes), [outcome.message for outcome in outcomes]
    assert Counter(outcome.message for outcome in outcomes) == Counter(
        {SAVED: 1, UPDATED: count - 1}), "the first is saved, every later one replaces it"

    with app.app_context():
        respondents = list(db.session.scalars(
            sa.select(Respondent).where(Respondent.training_session_id == session_id)))
        assert [respondent.user_id for respondent in respondents] == [person]
        (response,) = db.session.scalars(sa.select(Response).where(
            Response.respondent_id == respondents[0].id))
        assert response.stage == stage
        assert response.revisions == count - 1
        winner = int(response.comments.removeprefix("Submission "))
        ratings = {rating.statement_id: rating.value for rating in response.ratings}
        assert len(response.ratings) == len(ids), "one rating per statement, none left over"
        assert ratings == dict(zip(ids, sets[winner], strict=True)), \
            "the ratings are those sent with the comment that was kept, never a mix"
        if stage == Stage.POST:
            assert response.do_differently == f"Change {winner}"
    # The trainers' figures count one answer, not several.
    figures = admin_figures(app, make_user, session_id)
    assert figures.answered[stage] == 1
    assert all(row.shares[stage].n == 1 for row in figures.statements)


@pytest.mark.parametrize("round_", range(3))
def test_same_answers_sent_at_once_keep_one_complete_response(app, make_user, round_):
    same_stage_at_once(app, make_user, Stage.PRE)


def test_after_answers_sent_at_once_keep_one_complete_response(app, make_user):
    same_stage_at_once(app, make_user, Stage.POST)


@pytest.mark.postgres
@pytest.mark.parametrize("round_", range(3))
def test_same_answers_sent_at_once_on_postgres(app, make_user, round_):
    same_stage_at_once(app, make_user, Stage.PRE)


@pytest.mark.postgres
def test_after_answers_sent_at_once_on_postgres(app, make_user):
    same_stage_at_once(app, make_user, Stage.POST)


def tabs_at_once(app, make_user, tabs: int = 6) -> None:
    """The person has the "after" questionnaire open in several tabs and sends each (different
    answers) at the same moment: every tab gets the thank-you page, none an error, and one
    complete set of answers is kept."""
    start = hour(utcnow()) - timedelta(days=3)
    session_id = make_session(app, [start, last_started()], hours=1.5)
    person, email = make_user("tabs@example.org", name="Tabitha Tabs")
    bookings = book_people(app, session_id, [person], now=start - timedelta(days=2))
    register(app, session_id, {bookings[person]: True}, meeting=0)
    ids = statement_ids(app, session_id, Stage.POST)
    sets = patterns(tabs, len(ids))
    url = f"/confidence/sessions/{session_id}/post"
    browsers = [browser_for(app, email) for _ in range(tabs)]
    forms = []
    for number, browser in enumerate(browsers):
        page = browser.get(url)
        assert page.status_code == 200
        forms.append({"csrf_token": csrf_token(page.get_data(as_text=True)),
                      "comments": f"Tab {number}",
                      **{f"s{statement_id}": str(value)
                         for statement_id, value in zip(ids, sets[number], strict=True)}})
    barrier = threading.Barrier(tabs)
    answers: list[tuple[int, str] | BaseException] = [None] * tabs

    def send(number: int) -> None:
        try:
            barrier.wait()
            response = browsers[number].client.post(url, data=forms[number])
            answers[number] = (response.status_code, response.get_data(as_text=True))
        except BaseException as error:  # noqa: BLE001 - reported below
            answers[number] = error

    threads = [threading.Thread(target=send, args=(number,)) for number in range(tabs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(isinstance(answer, tuple) for answer in answers), answers
    assert [status for status, _ in answers] == [200] * tabs
    assert all("Answers saved" in body for _, body in answers)
    assert sum(SAVED in body for _, body in answers) == 1
    assert sum(UPDATED in body for _, body in answers) == tabs - 1

    with app.app_context():
        (response,) = db.session.scalars(sa.select(Response).join(Respondent).where(
            Respondent.training_session_id == session_id))
        winner = int(response.comments.removeprefix("Tab "))
        assert {rating.statement_id: rating.value for rating in response.ratings} == dict(
            zip(ids, sets[winner], strict=True))
    # The person's own page shows that one set.
    mine = browsers[0].get("/confidence/my-answers").get_data(as_text=True)
    assert mine.count("After the training") == 1 and f"Tab {winner}" in mine


def test_answers_sent_from_several_tabs_at_once(app, make_user):
    tabs_at_once(app, make_user)


@pytest.mark.postgres
def test_answers_sent_from_several_tabs_at_once_on_postgres(app, make_user):
    tabs_at_once(app, make_user)


# -- before and after at once ---------------------------------------------------------------------


def before_and_after_at_once(app, make_user) -> None:
    """Three people each send their "before" answers (a late paper form, dated before the
    training) and their "after" answers at the same moment: each is one respondent with both
    stages, so each counts as one matched pair."""
    start = hour(utcnow()) - timedelta(days=3)
    session_id = make_session(app, [start, last_started()], hours=1.5)
    trio = people(make_user, 3, "paired")
    bookings = book_people(app, session_id, trio, now=start - timedelta(days=2))
    register(app, session_id, {bookings[person]: True for person in trio}, meeting=0)
    pre_ids = statement_ids(app, session_id, Stage.PRE)
    post_ids = statement_ids(app, session_id, Stage.POST)
    before = start - timedelta(hours=1)

    def send(person: int, stage: Stage) -> Callable[[], object]:
        ids, value, now = (pre_ids, 2, before) if stage == Stage.PRE else (post_ids, 4, None)
        return lambda: service.submit(
            session_id, db.session.get(User, person), stage,
            service.Answers(ratings=dict.fromkeys(ids, value)), now=now)

    jobs = [send(person, stage) for person in trio for stage in (Stage.PRE, Stage.POST)]
    outcomes = at_once(app, jobs)
    assert [outcome.message for outcome in outcomes] == [SAVED] * len(jobs)

    with app.app_context():
        rows = db.session.execute(
            sa.select(Respondent.user_id, Response.stage)
            .join(Response, Response.respondent_id == Respondent.id)
            .where(Respondent.training_session_id == session_id)).all()
        respondents = db.session.scalar(sa.select(sa.func.count()).select_from(Respondent))
    assert respondents == 3, "one respondent per person, never two"
    assert sorted(rows) == sorted((person, stage) for person in trio
                                  for stage in (Stage.PRE, Stage.POST))
    figures = admin_figures(app, make_user, session_id)
    assert figures.statements, "the course's statements are reported"
    for row in figures.statements:
        change = row.changes[(Stage.PRE, Stage.POST)]
        assert change.n == 3, "everyone's before and after are paired"
        assert (change.unmatched_earlier, change.unmatched_later) == (0, 0)
        assert change.median == 2


@pytest.mark.parametrize("round_", range(3))
def test_before_and_after_at_once_make_one_paired_respondent(app, make_user, round_):
    before_and_after_at_once(app, make_user)


@pytest.mark.postgres
@pytest.mark.parametrize("round_", range(3))
def test_before_and_after_at_once_on_postgres(app, make_user, round_):
    before_and_after_at_once(app, make_user)


# -- default statements created at once -----------------------------------------------------------


def statements_at_once(app) -> None:
    """Six requests for two new courses' questionnaires create the defaults at the same moment:
    each default exists once, and the shared evaluation statements once."""
    with app.app_context():
        speech = factories.course("Speech at once").id
        autism = factories.course("Autism at once", topics=["autism", "makaton"]).id
        db.session.commit()

    def ensure(course_id: int) -> Callable[[], object]:
        return lambda: service.ensure_statements(db.session.get(Course, course_id))

    at_once(app, [ensure(speech), ensure(autism)] * 3)

    with app.app_context():
        origins = Counter(db.session.scalars(sa.select(Statement.origin)))
        texts = Counter(db.session.scalars(sa.select(Statement.text)))
        made = len(defaults.EVALUATION)
        for course_id in (speech, autism):
            course = db.session.get(Course, course_id)
            expected = defaults.for_topics(course.topics)
            made += len(expected)
            asked = [statement.text for statement in service.questionnaire(course, Stage.POST)]
            assert asked == [text for _, _, text in expected] + [
                text for _, text in defaults.EVALUATION], "each statement is asked once"
            for suffix, _, text in expected:
                assert origins[f"course:{course_id}:{suffix}"] == 1
                assert texts[text] == 1
    assert all(origins[f"evaluation:{suffix}"] == 1 for suffix, _ in defaults.EVALUATION)
    assert sum(origins.values()) == made == 4 + 5 + 3, origins


@pytest.mark.parametrize("round_", range(3))
def test_default_statements_created_once_when_requests_race(app, round_):
    statements_at_once(app)


@pytest.mark.postgres
@pytest.mark.parametrize("round_", range(3))
def test_default_statements_created_once_on_postgres(app, round_):
    statements_at_once(app)


# -- invitations sent by overlapping ticks --------------------------------------------------------


def follow_ups_at_once(app, make_user) -> None:
    """Two ticks at the same moment, eight weeks after the training: each person marked
    attended gets one follow-up email; the absent one none; a later tick sends nothing."""
    ended = hour(utcnow()) - timedelta(hours=2)
    start = ended - timedelta(hours=1.5)
    session_id = make_session(app, start, hours=1.5)
    group = people(make_user, 5, "follow")
    bookings = book_people(app, session_id, group, now=start - timedelta(days=5))
    register(app, session_id, {bookings[p]: p != group[-1] for p in group})
    came = group[:-1]
    tick_at = ended + timedelta(weeks=8, hours=1)

    first, second = at_once(app, [lambda: service.send_follow_ups(tick_at)] * 2)
    assert first + second == len(came)
    assert emails(app, FOLLOW_UP_SUBJECT) == Counter(
        {email_of(app, person): 1 for person in came})
    with request(app):
        assert service.send_follow_ups(tick_at + timedelta(hours=1)) == 0
    assert sum(emails(app, FOLLOW_UP_SUBJECT).values()) == len(came)


@pytest.mark.parametrize("round_", range(3))
def test_two_ticks_send_each_follow_up_once(app, make_user, round_):
    follow_ups_at_once(app, make_user)


@pytest.mark.postgres
@pytest.mark.parametrize("round_", range(3))
def test_two_ticks_send_each_follow_up_once_on_postgres(app, make_user, round_):
    follow_ups_at_once(app, make_user)


def after_invitations_at_once(app, make_user) -> None:
    """The session has just ended. At the same moment: two ticks marking it ended (which invite
    everyone marked attended), a direct ``invite_after``, and the trainer saving the register
    (re-marking three people and adding three, one absent), whose hook invites each person
    marked attended. Everyone who came gets the email after the training exactly once."""
    group = people(make_user, 7, "after")
    early, late, absent = group[:3], group[3:6], group[6]
    ends = utcnow() + timedelta(seconds=2)
    start = ends - timedelta(hours=1.5)
    session_id = make_session(app, start, hours=1.5)
    bookings = book_people(app, session_id, group, now=start - timedelta(days=5))
    # Marked while the session is still running: nobody is invited yet.
    register(app, session_id, {bookings[person]: True for person in early})
    assert utcnow() < ends, "setting up took too long: the session ended before the register"
    assert sum(emails(app, POST_SUBJECT).values()) == 0
    while utcnow() <= ends + timedelta(milliseconds=50):
        time.sleep(0.05)
    (meeting,) = meeting_ids(app, session_id)

    def tick():
        return engine.end_sessions(utcnow())

    def invite_after():
        with write_transaction():
            return service.invite_after(db.session.get(TrainingSession, session_id))

    def mark(marks: dict[int, bool]) -> Callable[[], object]:
        return lambda: engine.record_attendance(meeting, marks, None)

    results = at_once(app, [
        tick, tick, invite_after,
        mark({bookings[person]: True for person in early + late[:1]}),
        mark({bookings[person]: True for person in late[1:]}),
        mark({bookings[absent]: False}),
    ])
    assert results[0] + results[1] == 1, "the session is marked ended once"
    assert emails(app, POST_SUBJECT) == Counter(
        {email_of(app, person): 1 for person in early + late}), \
        "one email after the training to each person who came, none to the absent one"
    # A later re-save of the register, or another tick, sends nothing more.
    register(app, session_id, {bookings[person]: True for person in group[:6]})
    with request(app):
        assert engine.end_sessions(utcnow()) == 0
    assert sum(emails(app, POST_SUBJECT).values()) == 6


@pytest.mark.parametrize("round_", range(3))
def test_session_end_and_register_at_once_invite_each_person_once(app, make_user, round_):
    after_invitations_at_once(app, make_user)


@pytest.mark.postgres
@pytest.mark.parametrize("round_", range(3))
def test_session_end_and_register_at_once_on_postgres(app, make_user, round_):
    after_invitations_at_once(app, make_user)

