"""Confidence questionnaires: the stages and their windows, emails, answering and changing one's
mind, answers recorded by trainers, reminders, statements, the analysis pages and CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests import factories
from tests.conftest import PASSWORD, Auth, Browser, body_of, link_in
from trainer import booking as engine
from trainer.catalogue import TrainingSession
from trainer.db import db, utcnow
from trainer.hooks import plugin_manager
from trainer.hookspecs import hookimpl
from trainer.mail import OutboxMessage
from trainer.people import Role, User
from trainer.plugins.confidence import service
from trainer.plugins.confidence.models import (
    Respondent,
    Response,
    Stage,
    Statement,
    StatementKind,
)


def NOW() -> datetime:  # noqa: N802 - reads as the constant it stands for
    return datetime.now(UTC).replace(microsecond=0)


# -- helpers --------------------------------------------------------------------------------------


def make_session(app, starts: datetime, hours: float = 2, parts: int = 1, **fields) -> int:
    with app.app_context():
        made = factories.training_session(
            starts=[starts + timedelta(weeks=n) for n in range(parts)], hours=hours, **fields)
        db.session.commit()
        return made.id


def book(app, session_id: int, user_id: int, now: datetime | None = None) -> int:
    with app.test_request_context():
        result = engine.book(session_id, db.session.get(User, user_id), now=now)
        assert result.booking is not None, result.message
        return result.booking.id


def register(app, session_id: int, marks: dict[int, bool]) -> None:
    """Take the register for every meeting: booking id -> attended."""
    with app.test_request_context():
        for meeting in db.session.get(TrainingSession, session_id).meetings:
            engine.record_attendance(meeting.id, marks, None)


def statements(app, session_id: int, stage: Stage) -> list[tuple[int, str]]:
    with app.app_context():
        training_session = db.session.get(TrainingSession, session_id)
        service.ensure_statements(training_session.course)
        return [(s.id, s.kind) for s in service.questionnaire(training_session.course, stage)]


def ratings(app, session_id: int, stage: Stage, value: int | list[int]) -> dict[str, str]:
    chosen = statements(app, session_id, stage)
    values = value if isinstance(value, list) else [value] * len(chosen)
    return {f"s{statement_id}": str(v) for (statement_id, _), v in zip(chosen, values,
                                                                       strict=False)}


def response_count(app, stage: Stage | None = None) -> int:
    with app.app_context():
        statement = sa.select(sa.func.count(Response.id))
        if stage:
            statement = statement.where(Response.stage == stage)
        return db.session.scalar(statement)


def answer_values(app, user_id: int, session_id: int, stage: Stage) -> list[int]:
    with app.app_context():
        response = service.response_for(db.session.get(User, user_id), session_id, stage)
        return sorted(r.value for r in response.ratings) if response else []


def client_for(app, email: str) -> Browser:
    browser = Browser(app.test_client())
    Auth(browser).sign_in(email, PASSWORD)
    return browser


def text(response) -> str:
    html = response.get_data(as_text=True)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'")


def mails_to(mailbox, email: str, subject_part: str = "") -> list:
    return [m for m in mailbox() if m["To"].endswith(f"<{email}>") or m["To"] == email
            if subject_part in m["Subject"]]


# -- before the training --------------------------------------------------------------------------


def test_the_confirmation_links_to_the_questionnaire_which_works_without_signing_in(
        app, make_user, mailbox):
    user_id, email = make_user("pat@example.org", name="Pat Lee")
    session_id = make_session(app, NOW() + timedelta(days=5))
    book(app, session_id, user_id)
    confirmation = mails_to(mailbox, email, "Booking confirmed")[0]
    assert "tell us how confident you feel" in body_of(confirmation)
    path = link_in(confirmation, "/confidence/answer/")

    anonymous = Browser(app.test_client())
    page = anonymous.get(path)
    assert page.status_code == 200
    assert "Before the training" in text(page)
    assert "1 – Not at all confident" in text(page) and "5 – Very confident" in text(page)
    done = anonymous.submit(path, {**ratings(app, session_id, Stage.PRE, 2),
                                   "comments": "Looking forward to it"})
    assert done.status_code == 200 and "Answers saved" in text(done)
    assert answer_values(app, user_id, session_id, Stage.PRE)[0] == 2

    # A change of mind while the stage is open replaces the answers: still one response.
    again = anonymous.get(path)
    assert "Answering again replaces those answers" in text(again)
    assert 'value="2" checked' in again.get_data(as_text=True)
    changed = anonymous.submit(path, ratings(app, session_id, Stage.PRE, 3))
    assert "Your answers have been updated" in text(changed)
    assert response_count(app, Stage.PRE) == 1
    assert set(answer_values(app, user_id, session_id, Stage.PRE)) == {3}


def test_a_missing_or_impossible_rating_is_named_and_nothing_is_saved(app, make_user):
    user_id, email = make_user()
    session_id = make_session(app, NOW() + timedelta(days=5))
    book(app, session_id, user_id)
    browser = client_for(app, email)
    url = f"/confidence/sessions/{session_id}/pre"
    chosen = ratings(app, session_id, Stage.PRE, 4)
    first_key = next(iter(chosen))
    with app.app_context():
        first_text = db.session.get(Statement, int(first_key[1:])).text

    missing = browser.submit(url, {k: v for k, v in chosen.items() if k != first_key})
    assert missing.status_code == 200
    assert "There is a problem" in text(missing)
    assert f"Choose a rating for “{first_text}”" in text(missing)
    assert f'href="#{first_key}-0"' in missing.get_data(as_text=True)

    impossible = browser.submit(url, {**chosen, first_key: "7"})
    assert impossible.status_code == 200 and "Not a valid choice" in text(impossible)
    long_text = browser.submit(url, {**chosen, "comments": "x" * 2001})
    assert long_text.status_code == 200 and "2,000 characters or fewer" in text(long_text)
    assert response_count(app) == 0


def test_the_questionnaire_before_closes_when_the_training_starts(app, make_user):
    user_id, email = make_user()
    start = NOW() - timedelta(minutes=30)
    session_id = make_session(app, start)
    book(app, session_id, user_id, now=start - timedelta(days=3))
    given = {int(k[1:]): 2 for k in ratings(app, session_id, Stage.PRE, 2)}
    with app.app_context():
        early = service.submit(session_id, db.session.get(User, user_id), Stage.PRE,
                               service.Answers(given), now=start - timedelta(days=1))
        assert early.ok
    browser = client_for(app, email)
    url = f"/confidence/sessions/{session_id}/pre"
    page = browser.get(url)
    assert "closed when the training started" in text(page)
    assert "answers from" in text(page)  # what they gave is kept
    late = browser.submit(url, ratings(app, session_id, Stage.PRE, 5), form_url="/dashboard")
    assert late.status_code == 200 and "can no longer be given or changed" in text(late)
    assert set(answer_values(app, user_id, session_id, Stage.PRE)) == {2}


def test_only_people_booked_can_answer(app, make_user):
    _, email = make_user()
    session_id = make_session(app, NOW() + timedelta(days=5))
    page = client_for(app, email).get(f"/confidence/sessions/{session_id}/pre")
    assert "Only people booked on this training session" in text(page)
    assert client_for(app, email).get(f"/confidence/sessions/{session_id}/later").status_code \
        == 404


def test_the_booking_page_and_my_training_show_the_open_questionnaire(app, make_user):
    user_id, email = make_user()
    session_id = make_session(app, NOW() + timedelta(days=5))
    booking_id = book(app, session_id, user_id)
    browser = client_for(app, email)
    booking_page = text(browser.get(f"/my-training/bookings/{booking_id}"))
    assert "Questionnaires" in booking_page and "Answer the questionnaire" in booking_page
    assert "Supporting speech and language: before the training" in text(
        browser.get("/my-training/"))
    browser.submit(f"/confidence/sessions/{session_id}/pre",
                   ratings(app, session_id, Stage.PRE, 3))
    assert "you answered on" in text(browser.get(f"/my-training/bookings/{booking_id}"))
    mine = text(browser.get("/confidence/my-answers"))
    assert "3 out of 5" in mine and "Change your answers" in mine


def test_the_reminder_two_days_before_repeats_the_link_until_answered(app, make_user, mailbox):
    answered_id, answered_email = make_user("done@example.org")
    waiting_id, waiting_email = make_user("waiting@example.org")
    start = NOW() + timedelta(days=1, hours=12)
    session_id = make_session(app, start)
    book(app, session_id, answered_id, now=start - timedelta(days=7))
    book(app, session_id, waiting_id, now=start - timedelta(days=7))
    given = {int(k[1:]): 3 for k in ratings(app, session_id, Stage.PRE, 3)}
    with app.app_context():
        assert service.submit(session_id, db.session.get(User, answered_id), Stage.PRE,
                              service.Answers(given)).ok
    with app.test_request_context():
        engine.send_reminders(utcnow())
    reminder = mails_to(mailbox, waiting_email, "Reminder")[0]
    assert "not yet told us how confident you feel" in body_of(reminder)
    assert "/confidence/answer/" in body_of(reminder)
    assert "/confidence/" not in body_of(mails_to(mailbox, answered_email, "Reminder")[0])


def test_cancelling_removes_answers_given_before_the_training(app, make_user):
    user_id, email = make_user()
    session_id = make_session(app, NOW() + timedelta(days=5))
    booking_id = book(app, session_id, user_id)
    client_for(app, email).submit(f"/confidence/sessions/{session_id}/pre",
                                  ratings(app, session_id, Stage.PRE, 3))
    assert response_count(app) == 1
    with app.test_request_context():
        engine.cancel(booking_id, "Cannot come")
    assert response_count(app) == 0


# -- after the training ---------------------------------------------------------------------------


def ended_session(app, make_user, people: int = 3, **fields):
    """A session that ended an hour ago, with ``people`` booked a week before."""
    start = NOW() - timedelta(hours=3)
    session_id = make_session(app, start, **fields)
    booked = []
    for n in range(people):
        user_id, email = make_user(f"person{n}@example.org", name=f"Person {n}")
        booked.append((user_id, email, book(app, session_id, user_id,
                                            now=start - timedelta(days=7))))
    return session_id, booked


def test_the_questionnaire_after_goes_to_those_marked_attended_when_the_session_ends(
        app, make_user, mailbox, runner):
    session_id, booked = ended_session(app, make_user)
    (came_id, came_email, came_booking), (_, absent_email, absent_booking), \
        (_, unmarked_email, _) = booked
    with app.test_request_context():
        engine.record_attendance(
            db.session.get(TrainingSession, session_id).meetings[0].id,
            {came_booking: True, absent_booking: False}, None)
    # The register was taken after the end, so the email went at once; tick must not send it
    # again.
    assert len(mails_to(mailbox, came_email, "How was the training?")) == 1
    result = runner.invoke(args=["trainer", "tick"])
    assert result.exit_code == 0, result.output
    assert "Questionnaires:" in result.output
    assert len(mails_to(mailbox, came_email, "How was the training?")) == 1
    assert not mails_to(mailbox, absent_email, "How was the training?")
    assert not mails_to(mailbox, unmarked_email, "How was the training?")

    path = link_in(mails_to(mailbox, came_email, "How was the training?")[0],
                   "/confidence/answer/")
    anonymous = Browser(app.test_client())
    page = text(anonymous.get(path))
    assert "After the training" in page
    assert "The session was useful and informative" in page
    assert "What will you do differently?" in page
    done = anonymous.submit(path, {**ratings(app, session_id, Stage.POST, 5),
                                   "do_differently": "Visual timetables"})
    assert "Answers saved" in text(done)
    with app.app_context():
        response = service.response_for(db.session.get(User, came_id), session_id, Stage.POST)
        assert response.do_differently == "Visual timetables"
        kinds = {rating.statement.kind for rating in response.ratings}
        assert StatementKind.EVALUATION in kinds


def test_tick_sends_the_after_questionnaire_for_registers_taken_during_the_session(
        app, make_user, mailbox, runner):
    start = NOW() - timedelta(hours=1)
    session_id = make_session(app, start, hours=3)  # still running
    user_id, email = make_user()
    booking_id = book(app, session_id, user_id, now=start - timedelta(days=2))
    register(app, session_id, {booking_id: True})
    assert not mails_to(mailbox, email, "How was the training?")
    with app.app_context():  # the session ends; the next tick notices
        session = db.session.get(TrainingSession, session_id)
        for meeting in session.meetings:
            meeting.ends_at = NOW() - timedelta(minutes=1)
        session.ends_at = NOW() - timedelta(minutes=1)
        db.session.commit()
    runner.invoke(args=["trainer", "tick"])
    runner.invoke(args=["trainer", "tick"])
    sent = mails_to(mailbox, email, "How was the training?")
    assert len(sent) == 1
    # Built by a command, not a request: the link is on the public address.
    assert "http://localhost/confidence/answer/" in body_of(sent[0])


def test_people_not_marked_attended_cannot_answer_after(app, make_user):
    session_id, booked = ended_session(app, make_user, people=1)
    _, email, _ = booked[0]
    page = client_for(app, email).get(f"/confidence/sessions/{session_id}/post")
    assert "Only people marked as attending can answer" in text(page)


def test_the_follow_up_goes_weeks_later_asks_what_they_did_and_closes(app, make_user, mailbox):
    session_id, booked = ended_session(app, make_user, people=1)
    user_id, email, booking_id = booked[0]
    register(app, session_id, {booking_id: True})
    with app.app_context():
        ended = db.session.get(TrainingSession, session_id).ends_at
    with app.test_request_context():
        assert service.send_follow_ups(ended + timedelta(weeks=7)) == 0
        assert service.send_follow_ups(ended + timedelta(weeks=8, hours=1)) == 1
        assert service.send_follow_ups(ended + timedelta(weeks=8, hours=2)) == 0
    follow_up = mails_to(mailbox, email, "What have you done since the training?")
    assert len(follow_up) == 1
    values = {int(k[1:]): 4 for k in ratings(app, session_id, Stage.FOLLOW_UP, 4)}
    with app.app_context():
        person = db.session.get(User, user_id)
        missing = service.submit(session_id, person, Stage.FOLLOW_UP, service.Answers(values),
                                 now=ended + timedelta(weeks=8, days=1))
        assert not missing.ok and "used what you learned" in missing.message
        saved = service.submit(session_id, person, Stage.FOLLOW_UP, service.Answers(
            values, used_learning="partly", barriers="Staffing"),
            now=ended + timedelta(weeks=8, days=1))
        assert saved.ok
        late = service.submit(session_id, person, Stage.FOLLOW_UP, service.Answers(
            values, used_learning="yes"), now=ended + timedelta(weeks=8, days=29))
        assert not late.ok and "closed on" in late.message
        response = service.response_for(person, session_id, Stage.FOLLOW_UP)
        assert (response.used_learning, response.barriers) == ("partly", "Staffing")


# -- trainers -------------------------------------------------------------------------------------


@pytest.fixture
def trainer_email(make_user):
    _, email = make_user("trainer@example.org", name="Tess Trainer", roles=[Role.TRAINER])
    return email


@pytest.fixture
def own_partner(app):
    with app.app_context():
        trainer = db.session.scalar(sa.select(User).where(User.email == "trainer@example.org"))
        trainer.delivery_partner = factories.partner()
        db.session.commit()


def test_trainers_record_answers_on_someones_behalf_marked_as_such(
        app, make_user, trainer_email, own_partner):
    session_id, booked = ended_session(app, make_user, people=2)
    user_id, _, booking_id = booked[0]
    trainer = client_for(app, trainer_email)
    url = f"/confidence/manage/sessions/{session_id}/bookings/{booking_id}/post"
    page = trainer.get(url)
    assert "recording answers on behalf of Person 0" in text(page)
    unsaid = trainer.submit(url, ratings(app, session_id, Stage.POST, 4))
    assert unsaid.status_code == 200 and "Say how these answers were collected" in text(unsaid)
    done = trainer.submit(url, {**ratings(app, session_id, Stage.POST, 4),
                                "recorded_how": "paper"}, follow_redirects=True)
    assert "Answers recorded for Person 0" in text(done)
    assert "From a paper form" in text(done)
    with app.app_context():
        response = service.response_for(db.session.get(User, user_id), session_id, Stage.POST)
        assert response.recorded_how == "paper" and response.recorded_by.name == "Tess Trainer"
    mine = text(client_for(app, "person0@example.org").get("/confidence/my-answers"))
    assert "recorded by a trainer" in mine


def test_the_reminder_button_emails_those_who_have_not_answered_once_a_day(
        app, make_user, trainer_email, own_partner, mailbox):
    session_id = make_session(app, NOW() + timedelta(days=5))
    ids = [make_user(f"p{n}@example.org", name=f"P {n}")[0] for n in range(3)]
    for user_id in ids:
        book(app, session_id, user_id)
    client_for(app, "p0@example.org").submit(f"/confidence/sessions/{session_id}/pre",
                                             ratings(app, session_id, Stage.PRE, 3))
    trainer = client_for(app, trainer_email)
    page = text(trainer.get(f"/confidence/manage/sessions/{session_id}"))
    assert "Not answered yet (2)" in page and "P 1" in page and "P 2" in page
    url = f"/confidence/manage/sessions/{session_id}/remind/pre"
    form = f"/confidence/manage/sessions/{session_id}"
    sent = trainer.submit(url, form_url=form, follow_redirects=True)
    assert "Reminder sent to 2 people" in text(sent)
    assert len(mails_to(mailbox, "p1@example.org", "A reminder")) == 1
    assert not mails_to(mailbox, "p0@example.org", "A reminder")
    again = trainer.submit(url, form_url=form, follow_redirects=True)
    assert "Nobody needed a reminder" in text(again)
    assert len(mails_to(mailbox, "p1@example.org", "A reminder")) == 1


def test_trainers_of_other_partners_and_practitioners_are_refused(app, make_user, trainer_email):
    session_id = make_session(app, NOW() + timedelta(days=5))  # trainer has no partner here
    trainer = client_for(app, trainer_email)
    assert trainer.get(f"/confidence/manage/sessions/{session_id}").status_code == 403
    _, practitioner = make_user()
    assert client_for(app, practitioner).get("/confidence/analysis").status_code == 403
    assert client_for(app, practitioner).get(
        f"/confidence/manage/sessions/{session_id}").status_code == 403


# -- statements -----------------------------------------------------------------------------------


def test_courses_start_with_statements_for_their_topics(app):
    with app.app_context():
        course = factories.course(topics=["autism"])
        plain = factories.course(title="Something else", topics=[])
        db.session.commit()
        service.ensure_statements(course)
        service.ensure_statements(plain)
        service.ensure_statements(course)  # a second time changes nothing
        autism = [s.text for s in service.course_statements(course.id)]
        assert "I feel confident supporting autistic children in my setting" in autism
        assert len(autism) == 3
        assert [s.text for s in service.course_statements(plain.id)][0].startswith(
            "I feel confident applying")
        assert [s.text for s in service.evaluation_statements()] == [
            "The session was useful and informative", "It increased my understanding",
            "I know how to apply this in my role"]


def test_trainers_add_reword_and_retire_statements_but_rated_wording_is_fixed(
        app, make_user, trainer_email, own_partner):
    session_id = make_session(app, NOW() + timedelta(days=5))
    with app.app_context():
        course_id = db.session.get(TrainingSession, session_id).course_id
    trainer = client_for(app, trainer_email)
    url = f"/confidence/manage/courses/{course_id}/statements"
    assert "I know the typical stages of speech and language development" in text(trainer.get(url))
    empty = trainer.submit(url, {"kind": "confidence", "text": "  "})
    assert empty.status_code == 200 and "Enter the statement" in text(empty)
    trainer.submit(url, {"kind": "knowledge", "text": "I know three ways to <b>model</b> words"})
    page = trainer.get(url).get_data(as_text=True)
    assert "I know three ways to &lt;b&gt;model&lt;/b&gt; words" in page

    user_id, email = make_user()
    book(app, session_id, user_id)
    client_for(app, email).submit(f"/confidence/sessions/{session_id}/pre",
                                  ratings(app, session_id, Stage.PRE, 3))
    with app.app_context():
        rated = service.course_statements(course_id)[0]
        rated_id, rated_text = rated.id, rated.text
    edit = f"/confidence/manage/statements/{rated_id}"
    assert "its wording is fixed" in text(trainer.get(edit))
    trainer.client.post(edit, data={"text": "Changed"})
    with app.app_context():
        assert db.session.get(Statement, rated_id).text == rated_text

    trainer.submit(f"/confidence/manage/statements/{rated_id}/retire", form_url=url)
    asked = [statement_id for statement_id, _ in statements(app, session_id, Stage.PRE)]
    assert rated_id not in asked
    assert "Retired" in text(trainer.get(url))


def test_only_administrators_edit_the_evaluation_statements(
        app, make_user, trainer_email, own_partner):
    assert client_for(app, trainer_email).get("/confidence/manage/evaluation").status_code == 403
    _, admin = make_user("admin@example.org", roles=[Role.ADMIN])
    browser = client_for(app, admin)
    browser.get("/confidence/manage/courses/1/statements")  # 404 or page: creates nothing odd
    browser.submit("/confidence/manage/evaluation", {"text": "The venue was accessible"})
    with app.app_context():
        assert "The venue was accessible" in [s.text for s in service.evaluation_statements()]


# -- analysis -------------------------------------------------------------------------------------


def answered_session(app, make_user, before: list[int], after: list[int]):
    """People rating every statement ``before[i]`` then ``after[i]`` (0: no answer)."""
    session_id, booked = ended_session(app, make_user, people=len(before))
    register(app, session_id, {booking: True for _, _, booking in booked})
    pre_ids = [int(k[1:]) for k in ratings(app, session_id, Stage.PRE, 1)]
    post_ids = [int(k[1:]) for k in ratings(app, session_id, Stage.POST, 1)]
    with app.app_context():
        start = db.session.get(TrainingSession, session_id).starts_at
        for (user_id, _, _), first, later in zip(booked, before, after, strict=True):
            person = db.session.get(User, user_id)
            pre = dict.fromkeys(pre_ids, first)
            post = dict.fromkeys(post_ids, later)
            if first:
                assert service.submit(session_id, person, Stage.PRE, service.Answers(pre),
                                      now=start - timedelta(days=1)).ok
            if later:
                assert service.submit(session_id, person, Stage.POST,
                                      service.Answers(post)).ok
    return session_id


def test_a_sessions_figures_match_a_hand_count(app, make_user, trainer_email, own_partner):
    # Before 2, 3, 4, 2 and after 4, 4, 5, (none); one more answered after only (5).
    session_id = answered_session(app, make_user, [2, 3, 4, 2, 0], [4, 4, 5, 0, 5])
    trainer = client_for(app, trainer_email)
    page = text(trainer.get(f"/confidence/manage/sessions/{session_id}"))
    # Before: 1 of 4 rated 4 or 5 (25%); after: 4 of 4 (100%).
    assert "25% (1 of 4)" in page and "100% (4 of 4)" in page
    # Matched pairs: 3; changes +2, +1, +1: median +1, all improved; confident 33% -> 100%.
    assert "+1 (1 to 1.5)" in page
    assert "100% / 0% / 0%" in page and "33% → 100%" in page
    assert "Not compared: 1 answered before only and 1 after only." in page
    # Evaluation: all four rated 5.
    assert "The session was useful and informative 100% 4" in page

    csv_text = trainer.get(f"/confidence/analysis.csv?session={session_id}").get_data(
        as_text=True)
    rows = list(csv.reader(io.StringIO(csv_text)))
    header, statement_rows = rows[0], [row for row in rows if row[0] == "Statement"]
    first = dict(zip(header, statement_rows[0], strict=True))
    assert first["Before: respondents"] == "4" and first["Before: % rating 4 or 5"] == "25"
    assert first["Before to after: matched pairs"] == "3"
    assert first["Before to after: median change"] == "1"
    assert "Person" not in csv_text  # aggregates only


def test_the_analysis_page_filters_and_refuses_bad_dates(app, make_user, trainer_email,
                                                         own_partner):
    answered_session(app, make_user, [2, 3, 4], [4, 4, 5])
    trainer = client_for(app, trainer_email)
    page = trainer.get("/confidence/analysis")
    assert page.status_code == 200 and "Share rating 4 or 5" in text(page)
    assert '<svg' in page.get_data(as_text=True) and 'role="img"' in page.get_data(as_text=True)
    bad = trainer.get("/confidence/analysis?from=31/2/2026")
    assert bad.status_code == 200 and "must be a real date" in text(bad)
    backwards = trainer.get("/confidence/analysis?from=2/3/2026&to=1/3/2026")
    assert "must be the same as or after the from date" in text(backwards)
    superscript = trainer.get("/confidence/analysis?session=%C2%B2")  # "²" passes isdigit()
    assert superscript.status_code == 200 and "must be a number" in text(superscript)
    future = trainer.get("/confidence/analysis?from=1/1/2040")
    assert "No questionnaire answers match these filters yet" in text(future)


def test_la_officers_see_only_their_la_with_small_numbers_suppressed(
        app, make_user):
    with app.app_context():
        leeds_id = factories.local_authority("Leeds").id
    answered_session(app, make_user, [2, 3, 4], [4, 4, 5])
    with app.app_context():
        for respondent in db.session.scalars(sa.select(Respondent)):
            respondent.local_authority_id = leeds_id
        db.session.commit()
    _, officer = make_user("officer@example.org", roles=[Role.LA_OFFICER],
                           local_authority_id=leeds_id)
    browser = client_for(app, officer)
    page = text(browser.get("/confidence/analysis"))
    assert "people from your local authority" in page
    assert "fewer than 5" in page
    assert "(1 of 3)" not in page and "(3 of 3)" not in page and "Person 0" not in page
    csv_text = browser.get("/confidence/analysis.csv").get_data(as_text=True)
    assert "figure suppressed" in csv_text and "Person" not in csv_text
    assert ",3," not in csv_text  # no count of three people anywhere


# -- hooks, and the plugin switched off -----------------------------------------------------------


class ExtraParagraph:
    @hookimpl
    def trainer_booking_email(self, booking, template):
        return [f"Parking: ask at reception ({template})."]


def test_plugins_add_paragraphs_to_booking_emails(app, make_user, mailbox):
    plugin = ExtraParagraph()
    plugin_manager(app).register(plugin)
    try:
        user_id, email = make_user()
        booking_id = book(app, make_session(app, NOW() + timedelta(days=5)), user_id)
        with app.test_request_context():
            engine.cancel(booking_id, "Cannot come")
    finally:
        plugin_manager(app).unregister(plugin)
    assert "Parking: ask at reception (booking_confirmed)." in body_of(
        mails_to(mailbox, email, "Booking confirmed")[0])
    assert "Parking: ask at reception (booking_cancelled)." in body_of(
        mails_to(mailbox, email, "Booking cancelled")[0])


def test_with_the_plugin_disabled_bookings_carry_no_questionnaire(app_factory, make_user):
    app = app_factory(DISABLED_PLUGINS=["confidence"])
    with app.app_context():
        made = factories.training_session(starts=NOW() + timedelta(days=5))
        db.session.commit()
        session_id = made.id
    user_id, email = make_user()
    with app.test_request_context():
        engine.book(session_id, db.session.get(User, user_id))
        message = db.session.scalar(sa.select(OutboxMessage))
        assert "confident" not in message.text_body
    assert app.test_client().get("/confidence/analysis").status_code == 404


def test_subject_access_and_erasure_through_the_hooks(app, make_user):
    from trainer import hooks
    from trainer.db import write_transaction

    user_id, email = make_user("pat@example.org")
    session_id = make_session(app, NOW() + timedelta(days=5))
    book(app, session_id, user_id)
    client_for(app, email).submit(f"/confidence/sessions/{session_id}/pre",
                                  {**ratings(app, session_id, Stage.PRE, 3),
                                   "comments": "My own words"})
    asked = len(statements(app, session_id, Stage.PRE))
    with app.test_request_context():
        person = db.session.get(User, user_id)
        sections = [s for s in hooks.call("trainer_user_data", user=person) if s]
        answers = next(s["Questionnaire answers"] for s in sections
                       if "Questionnaire answers" in s)
        assert answers[0]["stage"] == "Before" and answers[0]["other_comments"] == "My own words"
        assert ": 3" in answers[0]["ratings"]
        with write_transaction():
            hooks.call("trainer_erase_user", user=db.session.get(User, user_id))
        respondent = db.session.scalar(sa.select(Respondent))
        assert respondent.user_id is None and respondent.responses[0].comments == ""
        assert len(respondent.responses[0].ratings) == asked


def test_closed_accounts_are_not_invited_or_listed_and_retention_clears_invitations(
        app, make_user, mailbox):
    from trainer.plugins.confidence.models import Invitation

    session_id, booked = ended_session(app, make_user, people=2)
    register(app, session_id, {booking: True for _, _, booking in booked})
    assert len(mails_to(mailbox, "person1@example.org", "How was the training?")) == 1
    with app.app_context():
        db.session.get(User, booked[0][0]).active = False  # closed (or erased) account
        db.session.commit()
        ended = db.session.get(TrainingSession, session_id).ends_at
    with app.test_request_context():
        assert service.send_follow_ups(ended + timedelta(weeks=8, hours=1)) == 1
        waiting = service.not_answered(db.session.get(TrainingSession, session_id), Stage.POST)
        assert [booking.user.name for booking in waiting] == ["Person 1"]
    assert not mails_to(mailbox, "person0@example.org", "What have you done")
    assert len(mails_to(mailbox, "person1@example.org", "What have you done")) == 1
    with app.test_request_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Invitation)) > 0
        service.detach_expired(ended + timedelta(days=service.DEFAULTS[
            "CONFIDENCE_RETENTION_DAYS"] + 1))
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Invitation)) == 0
