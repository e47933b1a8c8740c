"""Questionnaire answers and people's privacy: subject access, erasure, the retention period,
who sees what in the analysis (LA officers, trainers of other partners, practitioners), and
answer links that cannot be turned to another person's answers."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from tests import factories
from tests.conftest import Browser, csrf_token
from tests.test_confidence_concurrency import (
    admin_figures,
    book_people,
    browser_for,
    hour,
    make_session,
    register,
    session_times,
    statement_ids,
    submit,
)
from trainer import hooks
from trainer.catalogue import TrainingSession
from trainer.db import db, utcnow, write_transaction
from trainer.mail import OutboxMessage
from trainer.people import Role, User
from trainer.plugins.confidence import report, service
from trainer.plugins.confidence.models import (
    Invitation,
    Rating,
    Respondent,
    Response,
    Stage,
    Statement,
    UsedLearning,
)

SECTION = "Questionnaire answers"
DOES_NOT_WORK = "This link does not work"
NO_ANSWERS = "No questionnaire answers match these filters yet."
COURSE = "Supporting speech and language"
OTHER_COURSE = "Autism in the early years"

ALICE_WORDS = {
    "pre": "Nervous about noticing speech delays",
    "post_do": "Use visual timetables at tidy-up time",
    "post": "The role play helped",
    "barriers": "No staff cover for planning",
}
BOB_WORDS = "Bob's private worry about his room leader"


@dataclass
class Held:
    """A session that ended two days ago, with four people booked: Alice, Bob and Cara came
    and answered before and after (Alice at follow-up too), Dan was absent."""

    session_id: int
    alice: int
    bob: int
    cara: int
    dan: int
    ended: datetime


def held_session(app, make_user) -> Held:
    start = hour(utcnow()) - timedelta(days=2, hours=2)
    session_id = make_session(app, start, hours=1.5, title=COURSE)
    alice = make_user("alice@example.org", name="Alice Answerer")[0]
    bob = make_user("bob@example.org", name="Bob Bystander")[0]
    cara = make_user("cara@example.org", name="Cara Counted")[0]
    dan = make_user("dan@example.org", name="Dan Absent")[0]
    bookings = book_people(app, session_id, [alice, bob, cara, dan], now=start - timedelta(days=7))
    # Marked after the session ended: the attendance hook invites those who came.
    register(app, session_id, {bookings[alice]: True, bookings[bob]: True, bookings[cara]: True,
                               bookings[dan]: False})
    _, ended = session_times(app, session_id)
    before = start - timedelta(days=1)
    submit(app, session_id, alice, Stage.PRE, [2, 1, 2, 3], now=before,
           comments=ALICE_WORDS["pre"])
    submit(app, session_id, bob, Stage.PRE, 3, now=before, comments=BOB_WORDS)
    submit(app, session_id, cara, Stage.PRE, [1, 2, 4, 2], now=before)
    post = len(statement_ids(app, session_id, Stage.POST))
    submit(app, session_id, alice, Stage.POST, [4, 4, 5, 3] + [5] * (post - 4),
           do_differently=ALICE_WORDS["post_do"], comments=ALICE_WORDS["post"])
    submit(app, session_id, bob, Stage.POST, [5] * post, do_differently="Bob's plan")
    submit(app, session_id, cara, Stage.POST, [2, 3, 4, 4] + [3] * (post - 4))
    submit(app, session_id, alice, Stage.FOLLOW_UP, 5, now=ended + timedelta(weeks=8, days=1),
           used_learning=UsedLearning.PARTLY, barriers=ALICE_WORDS["barriers"])
    return Held(session_id, alice, bob, cara, dan, ended)


def user_data(app, user_id: int) -> list[dict]:
    """Every plugin's answer to a subject access request."""
    with app.test_request_context():
        return hooks.call("trainer_user_data", user=db.session.get(User, user_id))


def questionnaire_part(results: list[dict]) -> dict | None:
    found = [result for result in results if SECTION in result]
    assert len(found) <= 1
    return found[0] if found else None


def texts_of(app, session_id: int, stage: Stage) -> list[str]:
    with app.app_context():
        course = db.session.get(TrainingSession, session_id).course
        return [statement.text for statement in service.questionnaire(course, stage)]


def erase(app, user_id: int) -> list[str]:
    with app.test_request_context(method="POST"):
        user = db.session.get(User, user_id)
        with write_transaction():
            return hooks.call("trainer_erase_user", user=user)


# -- subject access -------------------------------------------------------------------------------


def test_subject_access_lists_the_persons_own_answers_only(app, make_user):
    held = held_session(app, make_user)
    pre_texts = texts_of(app, held.session_id, Stage.PRE)

    results = user_data(app, held.alice)
    part = questionnaire_part(results)
    assert part is not None, "the questionnaire plugin hands over Alice's answers"
    answers = part[SECTION]
    assert [answer["stage"] for answer in answers] == ["Before", "After", "Follow-up"]
    assert {answer["course"] for answer in answers} == {COURSE}
    before, after, follow_up = answers
    # Each statement's wording with the rating Alice gave.
    for text, value in zip(pre_texts, [2, 1, 2, 3], strict=True):
        assert f"{text}: {value}" in before["ratings"]
    assert f"{pre_texts[2]}: 5" in after["ratings"]
    assert "The session was useful and informative: 5" in after["ratings"]
    assert before["other_comments"] == ALICE_WORDS["pre"]
    assert after["what_you_will_do_differently"] == ALICE_WORDS["post_do"]
    assert after["other_comments"] == ALICE_WORDS["post"]
    assert follow_up["used_what_you_learned"] == "Partly"
    assert follow_up["what_got_in_the_way"] == ALICE_WORDS["barriers"]
    assert [invitation["stage"] for invitation in part["Questionnaire invitations"]] == ["After"]
    # Nothing about anyone else.
    everything = json.dumps(results)
    for other in (BOB_WORDS, "Bob's plan", "Bob Bystander", "Cara Counted", "bob@example.org"):
        assert other not in everything

    bob = questionnaire_part(user_data(app, held.bob))
    assert [answer["other_comments"] for answer in bob[SECTION]] == [BOB_WORDS, None]
    assert ALICE_WORDS["pre"] not in json.dumps(bob)


def test_subject_access_has_nothing_from_questionnaires_for_people_without_answers(
        app, make_user):
    held = held_session(app, make_user)
    stranger = make_user("stranger@example.org", name="Stella Stranger")[0]
    # Dan booked but was absent: never invited after the training, never answered.
    assert questionnaire_part(user_data(app, held.dan)) is None
    assert questionnaire_part(user_data(app, stranger)) is None
    assert questionnaire_part(user_data(app, held.cara)) is not None


# -- erasure --------------------------------------------------------------------------------------


def respondent_of(app, session_id: int, user_id: int) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(Respondent.id).where(
            Respondent.training_session_id == session_id, Respondent.user_id == user_id))


def test_erasure_detaches_answers_and_leaves_every_figure_exactly_as_it_was(app, make_user):
    held = held_session(app, make_user)
    now = utcnow()
    before = admin_figures(app, make_user, held.session_id, now)
    # The figures rest on real pairs: three before-and-after, one follow-up, the evaluation.
    assert all(row.changes[(Stage.PRE, Stage.POST)].n == 3 for row in before.statements)
    assert before.answered == {Stage.PRE: 3, Stage.POST: 3, Stage.FOLLOW_UP: 1}
    assert [share.n for _, share in before.evaluation] == [3, 3, 3]
    respondent = respondent_of(app, held.session_id, held.alice)
    with app.app_context():
        ratings = db.session.scalar(sa.select(sa.func.count()).select_from(Rating))
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Invitation).where(
            Invitation.user_id == held.alice)) == 1

    summaries = erase(app, held.alice)
    assert any("detached" in summary for summary in summaries)

    with app.app_context():
        detached = db.session.get(Respondent, respondent)
        assert detached.user_id is None and detached.detached_at is not None
        assert len(detached.responses) == 3
        for response in detached.responses:
            assert (response.comments, response.do_differently, response.barriers) == ("", "", "")
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Rating)) == ratings
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Invitation).where(
            Invitation.user_id == held.alice)) == 0
    assert questionnaire_part(user_data(app, held.alice)) is None
    assert BOB_WORDS in json.dumps(user_data(app, held.bob)), "Bob's answers are untouched"

    after = admin_figures(app, make_user, held.session_id, now)
    assert after == before
    assert report.to_csv(after) == report.to_csv(before)

    # The trainers' page no longer shows Alice's own words.
    make_user("trainer@example.org", name="Tess Trainer", roles=[Role.TRAINER],
              delivery_partner_id=partner_id(app))
    page = browser_for(app, "trainer@example.org").get(
        f"/confidence/manage/sessions/{held.session_id}").get_data(as_text=True)
    assert BOB_WORDS.replace("'", "&#39;") in page
    for words in ALICE_WORDS.values():
        assert words not in page

    # Twice is harmless: nothing more changes.
    erase(app, held.alice)
    assert admin_figures(app, make_user, held.session_id, now) == before
    with app.app_context():
        assert db.session.get(Respondent, respondent).user_id is None
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Respondent)) == 3


def partner_id(app) -> int:
    with app.app_context():
        return factories.partner().id


# -- the retention period -------------------------------------------------------------------------


def test_retention_detaches_answers_of_sessions_past_the_period_only(app, make_user):
    held = held_session(app, make_user)
    # Alice also answered about a later session, one that ended yesterday.
    later = make_session(app, hour(utcnow()) - timedelta(days=1, hours=2), hours=1.5,
                         title=OTHER_COURSE)
    later_start, _ = session_times(app, later)
    (booking,) = book_people(app, later, [held.alice], now=later_start - timedelta(days=3)).values()
    register(app, later, {booking: True})
    submit(app, later, held.alice, Stage.PRE, 2, now=later_start - timedelta(hours=2),
           comments="Autism course worry")
    submit(app, later, held.alice, Stage.POST, 4)

    alice = browser_for(app, "alice@example.org")
    mine = alice.get("/confidence/my-answers").get_data(as_text=True)
    assert f"{COURSE}: Before the training" in mine
    assert f"{OTHER_COURSE}: Before the training" in mine

    now = utcnow()
    figures_before = admin_figures(app, make_user, held.session_id, now)
    later_before = admin_figures(app, make_user, later, now)
    days = app.config.get("CONFIDENCE_RETENTION_DAYS", service.DEFAULTS[
        "CONFIDENCE_RETENTION_DAYS"])
    with app.test_request_context(method="POST"):
        # Just inside the period: nothing happens.
        assert service.detach_expired(held.ended + timedelta(days=days) - timedelta(hours=1)) == 0
        # Past it for the first session only.
        assert service.detach_expired(held.ended + timedelta(days=days, hours=1)) == 3
        assert service.detach_expired(held.ended + timedelta(days=days, hours=2)) == 0

    with app.app_context():
        people = dict(db.session.execute(sa.select(
            Respondent.training_session_id, sa.func.count(Respondent.user_id))
            .group_by(Respondent.training_session_id)).all())
        assert people == {held.session_id: 0, later: 1}, "only the old session's are detached"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Invitation).where(
            Invitation.training_session_id == held.session_id)) == 0, "invitations name people"
    figures_after = admin_figures(app, make_user, held.session_id, now)
    assert figures_after == figures_before
    assert all(row.changes[(Stage.PRE, Stage.POST)].n == 3 for row in figures_after.statements), \
        "before and after still paired through the random key"
    assert admin_figures(app, make_user, later, now) == later_before

    mine = alice.get("/confidence/my-answers").get_data(as_text=True)
    assert COURSE not in mine and ALICE_WORDS["pre"] not in mine
    assert f"{OTHER_COURSE}: Before the training" in mine
    assert "Autism course worry" in mine
    assert questionnaire_part(user_data(app, held.alice))[SECTION][0]["course"] == OTHER_COURSE


# -- who sees what in the analysis ----------------------------------------------------------------


def la_id(app, name: str) -> int:
    with app.app_context():
        return factories.local_authority(name).id


def without_charts(html: str) -> str:
    return re.sub(r"<svg.*?</svg>", "", html, flags=re.S)


def chart_values(html: str) -> set[str]:
    """The labels at the ends of the chart's bars."""
    return set(re.findall(r'<text class="chart-value"[^>]*>([^<]*)</text>', html))


def csv_rows(body: str) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(body)))
    return rows[0], rows[1:]


def test_la_officers_see_only_their_own_people_and_no_small_numbers(app, make_user):
    leeds, bradford = la_id(app, "Leeds"), la_id(app, "Bradford")
    start = hour(utcnow()) - timedelta(days=2, hours=2)
    session_id = make_session(app, start, hours=1.5)
    from_leeds = [make_user(f"leeds{n}@example.org", name=f"Lena Leedsworth {n}",
                            local_authority_id=leeds)[0] for n in range(5)]
    from_bradford = [make_user(f"bradford{n}@example.org", name=f"Brad Bradfordson {n}",
                               local_authority_id=bradford)[0] for n in range(2)]
    everyone = from_leeds + from_bradford
    bookings = book_people(app, session_id, everyone, now=start - timedelta(days=7))
    register(app, session_id, {bookings[person]: True for person in everyone})
    for person in everyone:
        # Leeds: 2 before, 4 after; Bradford: 5 both times.
        low, high = (2, 4) if person in from_leeds else (5, 5)
        submit(app, session_id, person, Stage.PRE, low, now=start - timedelta(days=1))
        submit(app, session_id, person, Stage.POST, high)
    make_user("officer.leeds@example.org", name="Olive Leeds Officer",
              roles=[Role.LA_OFFICER], local_authority_id=leeds)
    make_user("officer.bradford@example.org", name="Oscar Bradford Officer",
              roles=[Role.LA_OFFICER], local_authority_id=bradford)
    names = ["Lena Leedsworth", "Brad Bradfordson", "Olive Leeds", "Oscar Bradford",
             "leeds0@example.org"]

    leeds_officer = browser_for(app, "officer.leeds@example.org")
    page = leeds_officer.get("/confidence/analysis")
    assert page.status_code == 200
    assert chart_values(page.get_data(as_text=True)) == {"0%", "100%", "no answers"}
    html = without_charts(page.get_data(as_text=True))
    assert "Figures for people from your local authority" in html
    assert "0% <span class=\"govuk-body-s\">(0 of 5)</span>" in html, "Leeds before: 0 of 5"
    assert "100% <span class=\"govuk-body-s\">(5 of 5)</span>" in html
    assert " of 7)" not in html and "(2 of" not in html, "Bradford's people are not counted"
    assert not any(name in html for name in names)

    bradford_officer = browser_for(app, "officer.bradford@example.org")
    html = bradford_officer.get("/confidence/analysis").get_data(as_text=True)
    assert chart_values(html) == {"fewer than 5", "no answers"}
    html = without_charts(html)
    assert "fewer than 5" in html
    assert not re.search(r"\d\s*%", html), "no percentage rests on two people"
    assert not re.search(r"\(\d+ of \d+\)", html)
    assert not any(name in html for name in names)

    for browser, suppressed_all in ((leeds_officer, False), (bradford_officer, True)):
        response = browser.get("/confidence/analysis.csv")
        assert response.status_code == 200 and response.mimetype == "text/csv"
        body = response.get_data(as_text=True)
        assert not any(name in body for name in names)
        header, rows = csv_rows(body)
        assert rows, "one row per statement"
        counts = [i for i, name in enumerate(header)
                  if name.endswith((": respondents", ": matched pairs"))]
        for row in rows:
            for i in counts:
                assert row[i] == "" or int(row[i]) >= 5, (header[i], row)
            figures = row[2:-1]
            if suppressed_all:
                assert not any(figures), row
                assert row[-1] == "fewer than 5 respondents: figure suppressed"
            elif row[0] == "Statement":
                assert row[header.index("Before: respondents")] == "5"
                assert row[header.index("Before: % rating 4 or 5")] == "0"
                assert row[header.index("Before to after: matched pairs")] == "5"


def test_trainers_of_other_partners_and_practitioners_cannot_see_a_sessions_answers(
        app, make_user):
    held = held_session(app, make_user)
    own = partner_id(app)
    with app.app_context():
        other = factories.partner("Another Training Company").id
        db.session.commit()
    make_user("own.trainer@example.org", name="Tess Trainer", roles=[Role.TRAINER],
              delivery_partner_id=own)
    make_user("other.trainer@example.org", name="Otto Other", roles=[Role.TRAINER],
              delivery_partner_id=other)
    manage = f"/confidence/manage/sessions/{held.session_id}"
    analysis = f"/confidence/analysis?session={held.session_id}"

    # The session's own trainer sees each person's answers and the figures.
    own_trainer = browser_for(app, "own.trainer@example.org")
    page = own_trainer.get(manage)
    assert page.status_code == 200
    assert "Alice Answerer" in page.get_data(as_text=True)
    assert ALICE_WORDS["post_do"] in page.get_data(as_text=True)
    html = own_trainer.get(analysis).get_data(as_text=True)
    assert "Who answered" in html and NO_ANSWERS not in html

    other_trainer = browser_for(app, "other.trainer@example.org")
    assert other_trainer.get(manage).status_code == 403
    assert other_trainer.get(
        f"/confidence/manage/sessions/{held.session_id}/bookings/1/post").status_code == 403
    page = other_trainer.get(analysis)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert NO_ANSWERS in html and "0 training sessions" in html
    assert "Who answered" not in html and "Alice Answerer" not in html
    _, rows = csv_rows(other_trainer.get(
        f"/confidence/analysis.csv?session={held.session_id}").get_data(as_text=True))
    assert rows == [], "no figure about the session in the CSV"

    practitioner = browser_for(app, "alice@example.org")
    assert practitioner.get("/confidence/analysis").status_code == 403
    assert practitioner.get(analysis).status_code == 403
    assert practitioner.get("/confidence/analysis.csv").status_code == 403
    assert practitioner.get(manage).status_code == 403


# -- answer links ---------------------------------------------------------------------------------


def answer_link(app, email: str) -> str:
    """The link in the email after the training sent to ``email``, as a path."""
    with app.app_context():
        body = db.session.scalar(sa.select(OutboxMessage.text_body).where(
            OutboxMessage.recipient == email,
            OutboxMessage.subject.startswith("How was the training?")))
    return re.search(r"https?://[^/\s]+(/confidence/answer/\S+)", body).group(1)


def with_person(path: str, user_id: int) -> str:
    """``path``'s token with the person swapped, its signature left as it was."""
    token = path.rsplit("/", 1)[1]
    payload, timestamp, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["u"] = user_id
    forged = base64.urlsafe_b64encode(
        json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")
    return f"/confidence/answer/{forged}.{timestamp}.{signature}"


def bobs_answers(app, session_id: int, bob: int) -> list[tuple]:
    with app.app_context():
        return list(db.session.execute(
            sa.select(Response.stage, Response.revisions, Response.comments,
                      Response.do_differently, Statement.text, Rating.value)
            .join(Respondent, Respondent.id == Response.respondent_id)
            .join(Rating, Rating.response_id == Response.id)
            .join(Statement, Statement.id == Rating.statement_id)
            .where(Respondent.user_id == bob, Respondent.training_session_id == session_id)
            .order_by(Response.stage, Statement.id)))


def test_an_answer_link_cannot_be_turned_to_another_persons_answers(app, make_user):
    held = held_session(app, make_user)
    link = answer_link(app, "alice@example.org")
    ids = statement_ids(app, held.session_id, Stage.POST)
    visitor = Browser(app.test_client())

    page = visitor.get(link)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert ALICE_WORDS["post"] in html, "Alice's link shows Alice's earlier answers"
    assert "Bob" not in html
    token = csrf_token(html)

    bob_before = bobs_answers(app, held.session_id, held.bob)
    assert bob_before and BOB_WORDS in {row[2] for row in bob_before}
    forged = with_person(link, held.bob)
    assert forged != link
    changes = {"csrf_token": token, "comments": "Forged words",
               **{f"s{statement_id}": "1" for statement_id in ids}}
    for bad in (forged, link[:-3], link + "x", link.replace(".", "..", 1)):
        page = visitor.get(bad)
        assert page.status_code == 404
        assert DOES_NOT_WORK in page.get_data(as_text=True)
        assert BOB_WORDS.replace("'", "&#39;") not in page.get_data(as_text=True)
        posted = visitor.client.post(bad, data=changes)
        assert posted.status_code == 404
        assert DOES_NOT_WORK in posted.get_data(as_text=True)
    assert bobs_answers(app, held.session_id, held.bob) == bob_before, "Bob's answers unchanged"

    # The genuine link does change Alice's answers (so the refusal above is the token's doing).
    saved = visitor.client.post(link, data=changes)
    assert saved.status_code == 200
    assert "Your answers have been updated" in saved.get_data(as_text=True)
    with app.app_context():
        comments = db.session.scalars(sa.select(Response.comments).join(Respondent).where(
            Respondent.user_id == held.alice, Response.stage == Stage.POST)).all()
    assert comments == ["Forged words"]
    assert bobs_answers(app, held.session_id, held.bob) == bob_before
