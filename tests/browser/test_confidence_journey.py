"""The confidence questionnaires' journey in a real Chromium, with axe-core on every page visited.

A practitioner (on a phone) books a session that starts in a few hours. From the booking page
they answer the questionnaire before the training: once with a rating missing (the error summary
names it and nothing is saved), then in full. Time passes: the session is over. The trainer (on
a desktop) takes the register and marks the practitioner attended, which sends the "How was the
training?" email at once. The practitioner opens its link without being signed in and answers
the questionnaire after the training, evaluation included. The trainer then sees the session's
figures: who answered, the matched pair, the evaluation and the chart.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests import factories
from tests.browser.conftest import (
    add_user,
    assert_fits,
    axe_check,
    heading,
    missing_requirements,
    nav,
    panel,
    sign_in,
    sign_in_on_phone,
)

if missing_requirements():
    pytest.skip(
        "browser journeys need: " + "; ".join(missing_requirements()), allow_module_level=True
    )

from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.browser

COURSE = "Supporting speech and language"  # topic: speech, language and communication
PRACTITIONER = ("chloe.mensah@example.org", "Chloe Mensah")
TRAINER = ("tess.trainer@example.org", "Tess Trainer")

# The statements the course starts with (its topic's defaults) and the shared evaluation.
CONFIDENCE = [
    "I feel confident identifying children with speech, language and communication needs",
    "I feel confident supporting children's communication in everyday routines",
]
KNOWLEDGE = [
    "I know the typical stages of speech and language development",
    "I know when and how to ask for specialist speech and language advice",
]
EVALUATION = [
    "The session was useful and informative",
    "It increased my understanding",
    "I know how to apply this in my role",
]
SCALES = {  # the labels of 1 and 5 on each kind's scale
    **{text: ("Not at all confident", "Very confident") for text in CONFIDENCE},
    **{text: ("Very little", "A great deal") for text in KNOWLEDGE},
    **{text: ("Strongly disagree", "Strongly agree") for text in EVALUATION},
}
BEFORE = {CONFIDENCE[0]: 2, CONFIDENCE[1]: 1, KNOWLEDGE[0]: 2, KNOWLEDGE[1]: 3}
AFTER = {CONFIDENCE[0]: 4, CONFIDENCE[1]: 5, KNOWLEDGE[0]: 4, KNOWLEDGE[1]: 3}
EVALUATED = {EVALUATION[0]: 5, EVALUATION[1]: 4, EVALUATION[2]: 3}
DO_DIFFERENTLY = "Use visual timetables at tidy-up time and give children more time to answer."


# -- data and helpers ------------------------------------------------------------------------------


def add_session(app, trainer_id: int) -> int:
    """An online session starting in three hours, for two hours, run by the trainer; its id."""
    from trainer.db import db, utcnow
    from trainer.people import User

    starts = utcnow().replace(second=0, microsecond=0) + timedelta(hours=3)
    with app.app_context():
        made = factories.training_session(
            starts=starts, hours=2, capacity=12, course_=factories.course(COURSE),
            online_url="https://meet.example.org/speech-and-language", mode="online",
        )
        made.trainers = [db.session.get(User, trainer_id)]
        db.session.commit()
        return made.id


def let_time_pass(app, session_id: int, hours: int) -> None:
    """Move the clock ``hours`` on, as far as this session is concerned.

    The app reads the real clock, so instead everything recorded about the session so far (its
    meetings, the bookings and the questionnaire answers) is moved ``hours`` into the past.
    """
    from trainer.booking import Booking, twilight_from
    from trainer.catalogue import TrainingSession
    from trainer.db import db
    from trainer.plugins.confidence.models import Respondent, Response

    gone = timedelta(hours=hours)
    with app.test_request_context():
        training_session = db.session.get(TrainingSession, session_id)
        for meeting in training_session.meetings:
            meeting.starts_at -= gone
            meeting.ends_at -= gone
        training_session.refresh_times(twilight_from())
        for booking in db.session.scalars(
            sa.select(Booking).where(Booking.training_session_id == session_id)
        ):
            booking.confirmed_at -= gone
        for response in db.session.scalars(
            sa.select(Response).join(Respondent)
            .where(Respondent.training_session_id == session_id)
        ):
            response.submitted_at -= gone
        db.session.commit()


def saved_answers(app, session_id: int) -> list[tuple[str, dict[str, int], str]]:
    """The answers saved for the session: (stage, ratings by statement, do differently)."""
    from trainer.db import db
    from trainer.plugins.confidence.models import Respondent, Response

    with app.app_context():
        responses = db.session.scalars(
            sa.select(Response).join(Respondent)
            .where(Respondent.training_session_id == session_id)
            .order_by(Response.id)
        ).all()
        return [
            (str(response.stage),
             {rating.statement.text: rating.value for rating in response.ratings},
             response.do_differently)
            for response in responses
        ]


def emails(app, address: str, subject: str) -> list[tuple[str, str]]:
    """The emails queued for ``address`` in the outbox whose subject starts with ``subject``."""
    from trainer.db import db
    from trainer.mail import OutboxMessage

    with app.app_context():
        messages = db.session.scalars(
            sa.select(OutboxMessage)
            .where(OutboxMessage.recipient == address,
                   OutboxMessage.subject.startswith(subject))
            .order_by(OutboxMessage.id)
        ).all()
        return [(message.subject, message.text_body) for message in messages]


def link_in(body: str, path: str) -> str:
    match = re.search(rf"https?://\S+{re.escape(path)}\S*", body)
    assert match, body
    return match.group(0)


def statement_group(page, text):
    """The radios of one statement: a fieldset whose legend is the statement."""
    return page.get_by_role("group", name=text, exact=True)


def rate(page, ratings: dict[str, int]) -> None:
    """Choose each statement's rating by its label: "1 – Not at all confident" ... "5 – ..."."""
    for text, value in ratings.items():
        low, high = SCALES[text]
        label = {1: f"1 – {low}", 5: f"5 – {high}"}.get(value, str(value))
        statement_group(page, text).get_by_label(label, exact=True).check()


def table_rows(table) -> list[list[str]]:
    """The table body's rows, each the text of its header and data cells."""
    return [
        [" ".join(cell.split()) for cell in row.locator("th, td").all_inner_texts()]
        for row in table.locator("tbody tr").all()
    ]


# -- the journey -----------------------------------------------------------------------------------


@pytest.mark.browser
def test_questionnaires_before_and_after_the_training(phone_390, page, live_server):
    from trainer.people import Role

    app = live_server.app
    practitioner_email, practitioner_name = PRACTITIONER
    trainer_email, _ = TRAINER
    add_user(app, *PRACTITIONER)
    trainer_id = add_user(app, *TRAINER, roles=[Role.TRAINER])
    session_id = add_session(app, trainer_id)

    # -- 1. The practitioner, on a phone, books the session (it starts in three hours).
    a = phone_390
    sign_in_on_phone(a, practitioner_email)
    axe_check(a)
    a.goto(f"/training/sessions/{session_id}")
    expect(heading(a, COURSE)).to_be_visible()
    assert_fits(a)
    axe_check(a)
    a.get_by_role("button", name="Book a place").click()
    expect(a).to_have_title(re.compile(f"^Book a place: {COURSE}"))
    assert_fits(a)
    axe_check(a)
    a.get_by_role("button", name="Confirm booking").click()
    expect(a).to_have_url(re.compile(r"/my-training/bookings/\d+/confirmed$"))
    booking_id = int(re.search(r"/bookings/(\d+)/", a.url).group(1))
    expect(heading(a, "Booking confirmed")).to_be_visible()
    assert_fits(a)
    axe_check(a)

    # The confirmation email links to the questionnaire before the training.
    confirmations = emails(app, practitioner_email, "Booking confirmed")
    assert len(confirmations) == 1, confirmations
    _, body = confirmations[0]
    assert "please tell us how confident you feel" in body, body
    pre_link = link_in(body, "/confidence/answer/")
    assert pre_link.startswith(f"{live_server.url}/confidence/answer/"), pre_link

    # The booking page has a "Questionnaires" panel with the way in.
    a.get_by_role("link", name="View or cancel this booking").click()
    expect(a).to_have_url(re.compile(rf"/my-training/bookings/{booking_id}$"))
    expect(heading(a, COURSE)).to_be_visible()
    questionnaires = panel(a, "Questionnaires")
    expect(questionnaires).to_contain_text("tell us how confident you feel")
    # ("Answer the questionnaire", then ": before the training" for screen readers only.)
    answer_link = questionnaires.get_by_role(
        "link", name=re.compile(r"^Answer the questionnaire\s*: before the training$")
    )
    expect(answer_link).to_have_attribute("href", f"/confidence/sessions/{session_id}/pre")
    assert_fits(a)
    axe_check(a)
    answer_link.click()

    # The questionnaire before the training: every statement rated 1 to 5.
    expect(a).to_have_url(re.compile(rf"/confidence/sessions/{session_id}/pre$"))
    expect(heading(a, "Before the training")).to_be_visible()
    expect(a).to_have_title(re.compile(f"^Before the training: {COURSE}"))
    for group in ("How confident do you feel?", "How much do you know?"):
        expect(a.get_by_role("heading", level=2, name=group)).to_be_visible()
    expect(a.get_by_role("heading", level=2, name="About the training")).to_have_count(0)
    for text in BEFORE:
        expect(statement_group(a, text).get_by_role("radio")).to_have_count(5)
    confident = statement_group(a, CONFIDENCE[0])
    expect(confident.get_by_label("1 – Not at all confident", exact=True)).to_be_visible()
    expect(confident.get_by_label("5 – Very confident", exact=True)).to_be_visible()
    expect(a.get_by_label("What will you do differently? (optional)")).to_have_count(0)
    assert_fits(a)
    axe_check(a)

    # Sent with one statement not rated: the error summary names it, and nothing is saved.
    missing = KNOWLEDGE[1]
    rate(a, {text: value for text, value in BEFORE.items() if text != missing})
    a.get_by_role("button", name="Send answers").click()
    expect(a).to_have_title(re.compile(f"^Error: Before the training: {COURSE}"))
    summary = a.locator(".govuk-error-summary")
    expect(summary.get_by_role("heading", name="There is a problem")).to_be_visible()
    expect(summary.get_by_role("listitem")).to_have_count(1)
    message = f"Choose a rating for “{missing}”"
    expect(summary.get_by_role("link", name=message, exact=True)).to_be_visible()
    expect(statement_group(a, missing).locator(".govuk-error-message")).to_contain_text(message)
    # What was chosen is kept.
    expect(statement_group(a, CONFIDENCE[0]).get_by_label("2", exact=True)).to_be_checked()
    expect(statement_group(a, CONFIDENCE[1]).get_by_label("1 – Not at all confident"))\
        .to_be_checked()
    assert_fits(a)
    axe_check(a)
    assert saved_answers(app, session_id) == []
    # The summary's link takes the focus to the statement's first option.
    summary.get_by_role("link", name=message).click()
    expect(statement_group(a, missing).get_by_label("1 – Very little", exact=True))\
        .to_be_focused()

    rate(a, {missing: BEFORE[missing]})
    a.get_by_role("button", name="Send answers").click()
    expect(heading(a, "Answers saved")).to_be_visible()
    expect(a).to_have_title(re.compile("^Answers saved"))
    expect(a.locator(".govuk-panel--confirmation")).to_contain_text(
        "Thank you. Your answers have been saved."
    )
    expect(a.get_by_text("We will ask you again after the training")).to_be_visible()
    expect(a.get_by_role("link", name="See all your answers")).to_be_visible()
    assert_fits(a)
    axe_check(a)
    assert saved_answers(app, session_id) == [("pre", BEFORE, "")]

    # -- 2. Time passes: the session started five hours ago and ended three hours ago.
    let_time_pass(app, session_id, hours=8)

    # The trainer, on a desktop, takes the register of the (only) meeting.
    b = page
    sign_in(b, trainer_email)
    axe_check(b)
    nav(b, "Manage training").click()
    expect(heading(b, "Manage training")).to_be_visible()
    b.get_by_role("navigation", name="Training sessions by date")\
        .get_by_role("link", name="Past").click()
    past = b.get_by_role("table", name=re.compile("1 past training session"))
    expect(past).to_contain_text(COURSE)
    axe_check(b)
    past.get_by_role("link", name=re.compile(f"^Manage {COURSE}")).click()
    expect(b).to_have_url(re.compile(rf"/manage/sessions/{session_id}$"))
    expect(heading(b, COURSE)).to_be_visible()
    expect(panel(b, "Questionnaires")).to_contain_text(
        "Answered: before 1 of 1, after 0, follow-up 0."
    )
    axe_check(b)

    b.get_by_role("link", name="Take the register for meeting 1").click()
    expect(heading(b, "Register for meeting 1")).to_be_visible()
    expect(b.locator("#register-summary")).to_have_text(
        "Marked so far: 0 attended, 0 absent, 1 not marked."
    )
    axe_check(b)
    person = b.get_by_role("group", name=practitioner_name)
    person.get_by_label("Attended").check()
    b.get_by_role("button", name="Save the register").click()
    banner = b.locator(".govuk-notification-banner--success")
    expect(banner.locator(".govuk-notification-banner__heading")).to_have_text(
        "Register saved: 1 attended, 0 absent."
    )
    expect(b.locator("#register-summary")).to_have_text(
        "Marked so far: 1 attended, 0 absent, 0 not marked."
    )
    expect(person.get_by_label("Attended")).to_be_checked()
    axe_check(b)

    # The register was taken after the session ended, so the email went at once.
    invitations = emails(app, practitioner_email, "How was the training?")
    assert len(invitations) == 1, invitations
    subject, body = invitations[0]
    assert subject == f"How was the training?: {COURSE}", subject
    assert f"Thank you for coming to {COURSE}." in body, body
    post_link = link_in(body, "/confidence/answer/")
    # Made while serving the trainer's request, so it names the live server (not EXTERNAL_URL).
    assert post_link.startswith(f"{live_server.url}/confidence/answer/"), post_link
    assert post_link != pre_link

    # The next tick marks the session ended; it does not send the email a second time.
    result = app.test_cli_runner().invoke(args=["trainer", "tick"])
    assert result.exit_code == 0, result.output
    assert "Sessions ended: 1" in result.output, result.output
    assert len(emails(app, practitioner_email, "How was the training?")) == 1

    # -- 3. The practitioner opens the links from their emails on the phone, not signed in.
    a.context.clear_cookies()

    # The link before the training no longer takes answers, and says why.
    a.goto(pre_link)
    expect(heading(a, "You cannot answer this questionnaire")).to_be_visible()
    expect(a.locator("#questionnaire-problem")).to_contain_text(
        "The questionnaire before the training closed when the training started"
    )
    expect(a.get_by_text(re.compile(r"^Your answers from .+ are kept\.$"))).to_be_visible()
    assert_fits(a)
    axe_check(a)

    # The link after the training: the statements again, the evaluation and what will change.
    a.goto(post_link)
    expect(heading(a, "After the training")).to_be_visible()
    expect(a).to_have_title(re.compile(f"^After the training: {COURSE}"))
    main_navigation = a.get_by_role("navigation", name="Main")  # behind "Menu", hidden
    expect(main_navigation.get_by_role("link", name="Sign in", include_hidden=True))\
        .to_have_count(1)
    for group in ("How confident do you feel?", "How much do you know?", "About the training"):
        expect(a.get_by_role("heading", level=2, name=group)).to_be_visible()
    for text in {**AFTER, **EVALUATED}:
        expect(statement_group(a, text).get_by_role("radio")).to_have_count(5)
    expect(statement_group(a, EVALUATION[0]).get_by_label("5 – Strongly agree", exact=True))\
        .to_be_visible()
    assert_fits(a)
    axe_check(a)
    rate(a, {**AFTER, **EVALUATED})
    a.get_by_label("What will you do differently? (optional)").fill(DO_DIFFERENTLY)
    a.get_by_role("button", name="Send answers").click()

    expect(heading(a, "Answers saved")).to_be_visible()
    expect(a.locator(".govuk-panel--confirmation")).to_contain_text(
        "Thank you. Your answers have been saved."
    )
    expect(a.get_by_text("In a few weeks we will ask what you have done")).to_be_visible()
    expect(a.get_by_role("link", name="See all your answers")).to_have_count(0)  # signed out
    assert_fits(a)
    axe_check(a)
    assert saved_answers(app, session_id) == [
        ("pre", BEFORE, ""),
        ("post", {**AFTER, **EVALUATED}, DO_DIFFERENTLY),
    ]

    # -- 4. The trainer sees the session's figures (trainers' figures are never suppressed).
    b.get_by_role("link", name="Back", exact=True).click()
    expect(heading(b, COURSE)).to_be_visible()
    questionnaires = panel(b, "Questionnaires")
    expect(questionnaires).to_contain_text("Answered: before 1 of 1, after 1 of 1, follow-up 0.")
    questionnaires.get_by_role("link", name="Questionnaires: answers, reminders and figures")\
        .click()
    expect(b).to_have_url(re.compile(rf"/confidence/manage/sessions/{session_id}$"))
    expect(heading(b, "Questionnaires")).to_be_visible()
    expect(b).to_have_title(re.compile(f"^Questionnaires: {COURSE}"))
    expect(b.locator("#stage-pre + p")).to_contain_text("1 answered of 1.")
    expect(b.locator("#stage-post + p")).to_contain_text("1 answered of 1.")

    answered = b.get_by_role("table", name=re.compile("^Answers at each stage"))
    assert table_rows(answered) == [
        ["Before the training", "1", "1", "100%"],
        ["After the training", "1", "1", "100%"],
        ["Follow-up: what you did with it", "0", "0", "–"],
    ]

    chart = b.get_by_role("img", name=re.compile(r"^Share rating 4 or 5 \(confident\)"))
    expect(chart).to_be_visible()
    expect(chart).to_have_attribute("id", "confidence-chart")

    shares = b.locator("#confident-table")
    assert table_rows(shares) == [
        [CONFIDENCE[0], "0% (0 of 1)", "100% (1 of 1)", "no answers"],
        [CONFIDENCE[1], "0% (0 of 1)", "100% (1 of 1)", "no answers"],
        [KNOWLEDGE[0], "0% (0 of 1)", "100% (1 of 1)", "no answers"],
        [KNOWLEDGE[1], "0% (0 of 1)", "0% (0 of 1)", "no answers"],
    ]

    # The matched pair, before compared with after.
    pairs = table_rows(b.locator("#change-post"))
    assert [row[:5] for row in pairs] == [
        [CONFIDENCE[0], "1", "+2 (2 to 2)", "100% / 0% / 0%", "0% → 100%"],
        [CONFIDENCE[1], "1", "+4 (4 to 4)", "100% / 0% / 0%", "0% → 100%"],
        [KNOWLEDGE[0], "1", "+2 (2 to 2)", "100% / 0% / 0%", "0% → 100%"],
        [KNOWLEDGE[1], "1", "+0 (0 to 0)", "0% / 100% / 0%", "0% → 0%"],
    ], pairs
    assert all(len(row) == 7 for row in pairs), pairs
    assert table_rows(b.locator("#change-follow_up")) == [
        [text, "no matched pairs yet"] for text in [*CONFIDENCE, *KNOWLEDGE]
    ]

    evaluation = b.get_by_role("table", name=re.compile("^Share answering 4 or 5"))
    assert table_rows(evaluation) == [
        [EVALUATION[0], "100%", "1"],
        [EVALUATION[1], "100%", "1"],
        [EVALUATION[2], "0%", "1"],
    ]
    expect(b.get_by_role("main")).not_to_contain_text("fewer than")

    # Each person's answers, for the trainers of the session only.
    people = b.get_by_role("table", name=re.compile("^Each person's answers"))
    expect(people.locator("tbody tr")).to_have_count(2)
    expect(people).to_contain_text(practitioner_name)
    expect(people).to_contain_text(f"Will do differently: {DO_DIFFERENTLY}")
    axe_check(b)


def test_the_analysis_and_statement_pages_for_admins_and_la_officers(page, live_server):
    """Figures for a session with enough answers, then the pages around them, each axe-checked:
    the analysis (chart and tables), a bad date, the CSV link, the statements pages, and the
    LA officer's view with small numbers suppressed."""
    from datetime import UTC, datetime

    from trainer import booking as engine
    from trainer.catalogue import TrainingSession
    from trainer.db import db
    from trainer.people import LocalAuthority, Role, User
    from trainer.plugins.confidence import service
    from trainer.plugins.confidence.models import Stage

    app = live_server.app
    add_user(app, "ada@example.org", "Ada Admin", roles=[Role.ADMIN])
    with app.app_context():
        leeds = db.session.scalar(
            sa.select(LocalAuthority.id).where(LocalAuthority.name == "Leeds"))
    add_user(app, "lena@example.org", "Lena Officer", roles=[Role.LA_OFFICER],
             local_authority_id=leeds)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=4)
    with app.app_context():
        session_id = factories.training_session(
            starts=start, hours=2, course_=factories.course(COURSE)).id
        db.session.commit()
    people = [add_user(app, f"p{n}@example.org", f"Person {n}", local_authority_id=leeds)
              for n in range(6)]
    with app.test_request_context():
        bookings = [engine.book(session_id, db.session.get(User, person),
                                now=start - timedelta(days=5)).booking.id for person in people]
        meeting = db.session.get(TrainingSession, session_id).meetings[0]
        engine.record_attendance(meeting.id, dict.fromkeys(bookings, True), None)
        training_session = db.session.get(TrainingSession, session_id)
        service.ensure_statements(training_session.course)
    with app.test_request_context():
        training_session = db.session.get(TrainingSession, session_id)
        asked = {stage: [s.id for s in service.questionnaire(training_session.course, stage)]
                 for stage in (Stage.PRE, Stage.POST)}
        for number, person in enumerate(people):
            user = db.session.get(User, person)
            service.submit(session_id, user, Stage.PRE, service.Answers(
                dict.fromkeys(asked[Stage.PRE], 2 + number % 2)), now=start - timedelta(days=1))
            if number < 4:  # four answer afterwards: fewer than five for the LA officer
                service.submit(session_id, user, Stage.POST, service.Answers(
                    dict.fromkeys(asked[Stage.POST], 4 + number % 2)))

    sign_in(page, "ada@example.org")
    page.goto(f"/confidence/analysis?session={session_id}")
    expect(page.get_by_role("heading", level=1, name="Confidence and evaluations")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("Share rating 4 or 5"))).to_be_visible()
    expect(page.locator("#confident-table")).to_contain_text("0% (0 of 6)")
    axe_check(page)
    page.goto("/confidence/analysis?from=31/2/2026")
    expect(page.get_by_role("link", name=re.compile("must be a real date"))).to_be_visible()
    axe_check(page)
    page.goto("/confidence/manage/evaluation")
    axe_check(page)
    page.get_by_role("button", name="Add statement").click()
    expect(page.get_by_role("link", name="Enter the statement")).to_be_visible()
    axe_check(page)
    with app.app_context():
        course_id = db.session.get(TrainingSession, session_id).course_id
    page.goto(f"/confidence/manage/courses/{course_id}/statements")
    expect(page.get_by_text("Rated").first).to_be_visible()
    axe_check(page)

    page.context.clear_cookies()
    sign_in(page, "lena@example.org")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Training impact").click()
    expect(page.get_by_text("people from your local authority")).to_be_visible()
    expect(page.locator("#confident-table")).to_contain_text("0% (0 of 6)")
    expect(page.locator("#confident-table")).to_contain_text("fewer than 5")
    axe_check(page)
