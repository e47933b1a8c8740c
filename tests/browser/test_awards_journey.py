"""The awards journey in a real Chromium, with axe-core on every page visited.

A SENCO, on a phone, applies for the test scheme: a self-assessment for each criterion, a PDF
of evidence with a caption on one and written evidence on the other, then submits. An admin,
on a desktop, forms a moderation panel (a parent or carer, and a professional who chairs it)
and assigns the application to it. Each member declares no conflict of interest (seeing no
evidence before that), then reads the evidence, downloads the file and assesses. The chair
sees the scores side by side and records "Awarded for 2 years". The SENCO sees the decision and
the award (the assessors are not named), downloads the certificate and opens the
verification page, which says the award is valid.

A second, shorter test goes through the declaration page with the keyboard alone.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from tests.awards_support import PDF_BYTES, TEST_SCHEME, make_setting
from tests.browser.conftest import (
    add_user,
    assert_fits,
    axe_check,
    heading,
    missing_requirements,
    nav,
    press_tab_until,
    sign_in,
    sign_in_on_phone,
)

if missing_requirements():
    pytest.skip(
        "browser journeys need: " + "; ".join(missing_requirements()), allow_module_level=True
    )

from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.browser

SETTING = "Little Acorns Nursery"
SCHEME = "Test inclusion award"
FAMILIES = "Partnership with families"
ENVIRONMENT = "The communication environment"
PANEL = "North Leeds panel"

SENCO = ("priya.shah@example.org", "Priya Shah")
ADMIN = ("ada.admin@example.org", "Ada Admin")
CARER = ("pat.okonjo@example.org", "Pat Okonjo")  # a parent or carer on the panel
PROFESSIONAL = ("robin.fairweather@example.org", "Robin Fairweather")  # chairs the panel

FILE_NAME = "family-planning-meetings.pdf"
FILE_CAPTION = "Notes of our termly planning meetings with families"
WRITTEN_EVIDENCE = "Every room has a quiet corner with cushions, picture books and a puppet box."
WRITTEN_CAPTION = "Our quiet corners"
NARRATIVES = {
    FAMILIES: "Families plan each child's support with their key person every term.",
    ENVIRONMENT: "We have rearranged every room so that children can talk in small groups.",
}
SELF_SCORES = {FAMILIES: "Met", ENVIRONMENT: "Exceeded"}
CARER_COMMENTS = {FAMILIES: "Families told us they shape the plans.",
                  ENVIRONMENT: "Lovely quiet corners for talk."}
PROFESSIONAL_COMMENTS = {FAMILIES: "Good partnership; a parents' forum would help.",
                         ENVIRONMENT: "Planned for talk in every room."}
REASONS = "Families are true partners here, and every room is planned for talk."


# -- helpers -----------------------------------------------------------------------------------


def success_banner(page):
    return page.locator(".govuk-notification-banner--success")


def criterion_status(page, title: str):
    """The status shown beside a criterion in the application's task list."""
    return page.locator(".govuk-task-list__item").filter(
        has=page.get_by_role("link", name=title, exact=True)
    ).locator(".govuk-task-list__status")


def score_group(page, title: str):
    """A panel member's radios for one criterion's score."""
    return page.get_by_role("group", name=f"Your score for “{title}”", exact=True)


def row_by_column(table, row_name: str) -> dict[str, str]:
    """One body row of a table (found by its text), each cell's text by its column's header."""
    headers = [" ".join(text.split()) for text in table.locator("thead th").all_inner_texts()]
    row = table.locator("tbody tr").filter(has_text=row_name)
    expect(row).to_have_count(1)
    cells = [" ".join(text.split()) for text in row.locator("th, td").all_inner_texts()]
    assert len(cells) == len(headers), (headers, cells)
    return dict(zip(headers, cells, strict=True))


def assert_names_absent(page, names) -> None:
    """None of ``names`` is anywhere in the page's markup (hidden text included)."""
    markup = page.content()
    for name in names:
        assert name not in markup, f"{name!r} is named on {page.url}"


def application_id_of(app) -> int:
    from awards.models import Application
    from trainer.db import db

    with app.app_context():
        return db.session.scalar(sa.select(Application.id).where(
            Application.scheme_key == TEST_SCHEME))


def evidence_file_path(app) -> str:
    """The download address of the application's one evidence file."""
    from awards.models import Evidence
    from trainer.db import db

    with app.app_context():
        evidence_id = db.session.scalar(sa.select(Evidence.id).where(Evidence.kind == "file"))
    return f"/awards/evidence/{evidence_id}"


def emails(app, address: str, subject: str) -> list[tuple[str, str]]:
    """The emails queued for ``address`` whose subject starts with ``subject``: (subject,
    text)."""
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


def sign_out(page) -> None:
    """Forget who is signed in (a new person uses the same desktop browser)."""
    page.context.clear_cookies()


def declare_and_assess(page, app, email: str, scores: dict[str, str],
                       comments: dict[str, str]) -> None:
    """A panel member signs in, declares no conflict (no evidence shown before that), reads
    the evidence, downloads the file and submits their assessment."""
    assert len(emails(app, email, "An award application for your panel")) == 1
    sign_out(page)
    sign_in(page, email, check=axe_check)
    axe_check(page)
    # Before declaring, the file is refused and the assessment page sends them to declare.
    assert page.request.get(evidence_file_path(app)).status == 403
    application_id = application_id_of(app)
    early = page.request.get(f"/awards/panel/applications/{application_id}", max_redirects=0)
    assert early.status == 302, early.status
    assert early.headers["location"].endswith(
        f"/awards/panel/applications/{application_id}/declaration"), early.headers
    nav(page, "Awards").click()
    page.get_by_role("link", name="Moderation panels: applications to assess").click()
    expect(heading(page, "Your moderation panel")).to_be_visible()
    assigned = page.get_by_role("table", name="Applications assigned to you")
    expect(assigned.locator("tbody tr")).to_have_count(1)
    expect(assigned).to_contain_text(SETTING)
    expect(assigned).to_contain_text(SCHEME)
    axe_check(page)

    # The declaration comes first, and shows none of the evidence.
    assigned.get_by_role("link", name=re.compile(rf"^Declare interests\s*: {SETTING}$")).click()
    expect(heading(page, "Declare your interests")).to_be_visible()
    expect(page.locator('a[href*="/awards/evidence/"]')).to_have_count(0)
    for secret in (FILE_CAPTION, FILE_NAME, WRITTEN_EVIDENCE, WRITTEN_CAPTION,
                   *NARRATIVES.values()):
        expect(page.locator("main")).not_to_contain_text(secret)
    axe_check(page)
    page.get_by_label("No, I have no conflict of interest").check()
    page.get_by_role("button", name="Send declaration").click()

    # Now the self-assessment and the evidence, with the file to download.
    expect(heading(page, "Assess the application")).to_be_visible()
    expect(success_banner(page)).to_contain_text("You have declared no conflict of interest")
    main = page.locator("main")
    for narrative in NARRATIVES.values():
        expect(main).to_contain_text(narrative)
    expect(main).to_contain_text(WRITTEN_EVIDENCE)
    expect(main).to_contain_text(WRITTEN_CAPTION)
    file_link = page.get_by_role("link", name=FILE_CAPTION)
    expect(file_link).to_have_attribute("href", re.compile(r"^/awards/evidence/\d+$"))
    axe_check(page)
    answer = page.request.get(file_link.get_attribute("href"))
    assert answer.status == 200, answer.status
    assert answer.headers["content-disposition"].startswith("attachment"), answer.headers
    assert answer.headers["x-content-type-options"] == "nosniff", answer.headers
    with page.expect_download() as downloading:
        file_link.click()
    download = downloading.value
    assert download.suggested_filename == FILE_NAME, download.suggested_filename
    with open(download.path(), "rb") as saved:
        assert saved.read() == PDF_BYTES

    for title, label in scores.items():
        score_group(page, title).get_by_label(label, exact=True).check()
        page.get_by_label(f"Your comment on “{title}”", exact=True).fill(comments[title])
    page.get_by_role("button", name="Submit assessment").click()
    expect(heading(page, "Moderation")).to_be_visible()
    expect(success_banner(page)).to_contain_text("Your assessment has been submitted")
    axe_check(page)


# -- the journey -------------------------------------------------------------------------------


@pytest.mark.browser
def test_a_setting_applies_the_panel_decides_and_the_setting_gets_its_award(
        phone_390, page, live_server, tmp_path):
    from trainer.people import Role

    app = live_server.app
    setting_id = make_setting(app, SETTING, "Leeds")
    add_user(app, *SENCO, job_role="senco", setting_id=setting_id)
    add_user(app, *ADMIN, roles=[Role.ADMIN])
    add_user(app, *CARER)
    add_user(app, *PROFESSIONAL)

    # -- 1. The SENCO, on a phone, starts an application from Awards -> their setting.
    a = phone_390
    sign_in_on_phone(a, SENCO[0])
    assert_fits(a)
    axe_check(a)
    nav(a, "Awards").click()
    expect(heading(a, "Awards for early years settings")).to_be_visible()
    assert_fits(a)
    axe_check(a)
    a.get_by_role("link", name="Your setting's applications and awards").click()
    expect(heading(a, "Your setting's awards")).to_be_visible()
    expect(a.get_by_text("Your setting has not applied for an award yet.")).to_be_visible()
    assert_fits(a)
    axe_check(a)
    a.get_by_role("link", name=f"Start an application for the {SCHEME}").click()
    expect(heading(a, f"Apply for the {SCHEME}")).to_be_visible()
    assert_fits(a)
    axe_check(a)
    a.get_by_label("District or locality (optional)").fill("Chapel Allerton")
    a.get_by_role("button", name="Start application").click()

    expect(heading(a, f"{SCHEME} application")).to_be_visible()
    expect(success_banner(a)).to_contain_text("Application started.")
    expect(criterion_status(a, FAMILIES)).to_have_text("Not started")
    expect(criterion_status(a, ENVIRONMENT)).to_have_text("Not started")
    assert_fits(a)
    axe_check(a)

    # Partnership with families: a self-assessment and a PDF with a caption.
    a.get_by_role("link", name=FAMILIES, exact=True).click()
    expect(heading(a, FAMILIES)).to_be_visible()
    expect(a.get_by_text("No evidence added for this criterion yet.")).to_be_visible()
    assert_fits(a)
    axe_check(a)
    a.get_by_role("group", name="How well does your setting meet this criterion?")\
        .get_by_label(SELF_SCORES[FAMILIES], exact=True).check()
    a.get_by_label("Your narrative").fill(NARRATIVES[FAMILIES])
    a.get_by_role("button", name="Save self-assessment").click()
    expect(success_banner(a)).to_contain_text(f"Your self-assessment for “{FAMILIES}”")
    expect(a.get_by_label("Your narrative")).to_have_value(NARRATIVES[FAMILIES])
    assert_fits(a)
    axe_check(a)

    pdf = tmp_path / FILE_NAME
    pdf.write_bytes(PDF_BYTES)
    a.get_by_label("File", exact=True).set_input_files(pdf)
    a.get_by_label("Caption", exact=True).fill(FILE_CAPTION)
    a.get_by_role("button", name="Upload file").click()
    expect(success_banner(a)).to_contain_text(f"“{FILE_NAME}” has been added.")
    listed = a.get_by_role("table", name="Evidence for this criterion")
    expect(listed.locator("tbody tr")).to_have_count(1)
    expect(listed).to_contain_text(FILE_CAPTION)
    expect(listed).to_contain_text(FILE_NAME)
    expect(listed.get_by_role("link", name=f"Download {FILE_NAME}")).to_have_attribute(
        "href", re.compile(r"^/awards/evidence/\d+$"))
    assert_fits(a)
    axe_check(a)

    a.get_by_role("link", name="Back to the application").click()
    expect(heading(a, f"{SCHEME} application")).to_be_visible()
    expect(criterion_status(a, FAMILIES)).to_have_text("Completed")
    axe_check(a)

    # The communication environment: a self-assessment and written evidence.
    a.get_by_role("link", name=ENVIRONMENT, exact=True).click()
    expect(heading(a, ENVIRONMENT)).to_be_visible()
    a.get_by_role("group", name="How well does your setting meet this criterion?")\
        .get_by_label(SELF_SCORES[ENVIRONMENT], exact=True).check()
    a.get_by_label("Your narrative").fill(NARRATIVES[ENVIRONMENT])
    a.get_by_role("button", name="Save self-assessment").click()
    expect(success_banner(a)).to_contain_text(f"Your self-assessment for “{ENVIRONMENT}”")
    a.get_by_label("Evidence", exact=True).fill(WRITTEN_EVIDENCE)
    a.get_by_label("Caption (optional)").fill(WRITTEN_CAPTION)
    a.get_by_role("button", name="Add written evidence").click()
    expect(success_banner(a)).to_contain_text("Your evidence has been added.")
    listed = a.get_by_role("table", name="Evidence for this criterion")
    expect(listed.locator("tbody tr")).to_have_count(1)
    expect(listed).to_contain_text(WRITTEN_CAPTION)
    expect(listed).to_contain_text("Written evidence")
    assert_fits(a)
    axe_check(a)

    # Check and submit.
    a.get_by_role("link", name="Back to the application").click()
    expect(criterion_status(a, ENVIRONMENT)).to_have_text("Completed")
    a.get_by_role("link", name="Check and submit your application").click()
    expect(heading(a, "Check and submit your application")).to_be_visible()
    expect(a.get_by_text("Every criterion has a self-assessment or evidence.")).to_be_visible()
    assert_fits(a)
    axe_check(a)
    a.get_by_role("button", name="Submit application").click()
    expect(heading(a, f"{SCHEME} application")).to_be_visible()
    expect(success_banner(a)).to_contain_text("Your application has been submitted.")
    expect(a.locator("main .govuk-tag").first).to_have_text("Submitted")
    expect(a.get_by_role("link", name="Check and submit your application")).to_have_count(0)
    assert_fits(a)
    axe_check(a)
    application_id = application_id_of(app)
    assert len(emails(app, SENCO[0], f"Application submitted: {SCHEME}")) == 1

    # -- 2. The admin, on a desktop, forms the panel and assigns the application to it.
    b = page
    sign_in(b, ADMIN[0])
    nav(b, "Awards").click()
    expect(heading(b, "Awards for early years settings")).to_be_visible()
    axe_check(b)
    b.get_by_role("link", name="Manage applications and panels").click()
    expect(heading(b, "Award applications")).to_be_visible()
    axe_check(b)
    b.get_by_role("link", name="Moderation panels").click()
    expect(heading(b, "Moderation panels")).to_be_visible()
    expect(b.locator("#no-panels")).to_be_visible()
    axe_check(b)
    b.get_by_label("Panel name").fill(PANEL)
    b.get_by_role("button", name="Create panel").click()
    expect(heading(b, PANEL)).to_be_visible()
    axe_check(b)
    for (email, name), kind in ((CARER, "Parent or carer"), (PROFESSIONAL, "Professional")):
        b.get_by_label("Email address of their account").fill(email)
        b.get_by_role("group", name="Are they a professional or a parent or carer?")\
            .get_by_label(kind, exact=True).check()
        b.get_by_role("button", name="Add member").click()
        expect(success_banner(b)).to_contain_text(f"{name} has been added to {PANEL}.")
    members = b.get_by_role("table", name="Members")
    expect(members.locator("tbody tr")).to_have_count(2)
    expect(b.locator("#no-chair")).to_be_visible()
    axe_check(b)
    members.get_by_role(
        "button", name=re.compile(rf"^Make chair\s*: {PROFESSIONAL[1]}$")).click()
    expect(success_banner(b)).to_contain_text(f"{PROFESSIONAL[1]} is now the chair of {PANEL}.")
    expect(members.locator("tbody tr").filter(has_text=PROFESSIONAL[1])).to_contain_text("Chair")
    expect(b.locator("#no-chair")).to_have_count(0)
    axe_check(b)

    b.get_by_role("link", name="Moderation panels").click()  # the back link
    b.get_by_role("link", name="Award applications").click()
    expect(heading(b, "Award applications")).to_be_visible()
    b.get_by_role("link", name=SETTING, exact=True).click()
    expect(b).to_have_url(re.compile(rf"/awards/admin/applications/{application_id}$"))
    expect(heading(b, SETTING)).to_be_visible()
    expect(b.locator("#evidence-files")).to_contain_text(FILE_CAPTION)
    axe_check(b)
    b.get_by_label("Assign to a panel").select_option(label=PANEL)
    b.get_by_role("button", name="Assign", exact=True).click()
    expect(success_banner(b)).to_contain_text("The application has been assigned")
    expect(b.locator(".govuk-summary-list")).to_contain_text(PANEL)
    expect(b.locator("#declarations")).to_have_count(0)
    axe_check(b)

    # -- 3. The parent or carer declares and assesses.
    declare_and_assess(
        b, app, CARER[0],
        scores={FAMILIES: "Exceeded", ENVIRONMENT: "Exceeded"},
        comments=CARER_COMMENTS)
    # Not ready yet: the chair has not assessed.
    expect(b.locator("#not-ready")).to_be_visible()
    expect(b.get_by_role("button", name="Record and release the decision")).to_have_count(0)

    # -- 4. The professional, who chairs the panel, does the same ...
    declare_and_assess(
        b, app, PROFESSIONAL[0],
        scores={FAMILIES: "Met", ENVIRONMENT: "Exceeded"},
        comments=PROFESSIONAL_COMMENTS)

    # -- 5. ... then moderates: the scores side by side, differences highlighted.
    expect(b.locator("#ready")).to_be_visible()
    scores = b.get_by_role("table", name="The panel's scores side by side")
    expect(scores.locator("tbody tr")).to_have_count(2)
    families = row_by_column(scores, FAMILIES)
    assert set(families) == {"Criterion", "Setting's own score", "Assessor 1 (parent or carer)",
                             "Assessor 2 (professional)", "Agreement"}, families
    assert families["Setting's own score"] == "Met", families
    assert families["Assessor 1 (parent or carer)"].startswith("Exceeded"), families
    assert CARER_COMMENTS[FAMILIES] in families["Assessor 1 (parent or carer)"], families
    assert families["Assessor 2 (professional)"].startswith("Met"), families
    assert PROFESSIONAL_COMMENTS[FAMILIES] in families["Assessor 2 (professional)"], families
    assert families["Agreement"] == "Scores differ", families
    environment = row_by_column(scores, ENVIRONMENT)
    assert environment["Agreement"] == "Scores agree", environment
    assert_names_absent(b, [CARER[1]])  # assessors are numbered, not named
    axe_check(b)
    b.get_by_role("group", name="What has the panel agreed?")\
        .get_by_label("Awarded for 2 years", exact=True).check()
    b.get_by_label("Reasons for the decision").fill(REASONS)
    b.get_by_role("button", name="Record and release the decision").click()
    expect(success_banner(b)).to_contain_text("The decision has been recorded")
    expect(b.locator("#decided")).to_have_text(
        "The decision has been recorded and released to the setting.")
    expect(b.locator("main")).to_contain_text("Awarded for 2 years")
    expect(b.get_by_role("button", name="Record and release the decision")).to_have_count(0)
    axe_check(b)

    # -- 6. The SENCO is told by email, and, back on the phone, sees the outcome, the
    # feedback and the award.
    told = emails(app, SENCO[0], f"{SCHEME}: the panel's decision")
    assert len(told) == 1, told
    _, body = told[0]
    assert "Outcome: Awarded for 2 years" in body, body
    assert REASONS in body, body
    assert f"/awards/applications/{application_id}" in body, body
    assert CARER[1] not in body and PROFESSIONAL[1] not in body, body
    a.goto("/awards/setting")
    expect(heading(a, "Your setting's awards")).to_be_visible()
    expect(a.locator("main")).to_contain_text(f"{SCHEME}: valid until")
    assert_fits(a)
    axe_check(a)
    a.get_by_role("link", name=SCHEME, exact=True).first.click()
    expect(heading(a, f"{SCHEME} application")).to_be_visible()
    expect(a.get_by_role("heading", level=2, name="The panel's decision")).to_be_visible()
    main = a.locator("main")
    expect(main).to_contain_text("Awarded for 2 years")
    expect(main).to_contain_text(REASONS)
    expect(a.locator("#award")).to_contain_text("valid until")
    assert_names_absent(a, [CARER[1], PROFESSIONAL[1]])
    assert_fits(a)
    axe_check(a)

    certificate = a.get_by_role("link", name="Download your certificate (PDF)")
    with a.expect_download() as downloading:
        certificate.click()
    download = downloading.value
    assert download.suggested_filename.endswith(".pdf"), download.suggested_filename
    with open(download.path(), "rb") as saved:
        assert saved.read(5) == b"%PDF-"

    verify = a.locator("main").get_by_role("link", name=re.compile(r"awards.verify.[-\w]+$"))
    expect(verify).to_have_count(1)
    expect(verify).to_have_attribute("href", re.compile(rf"^{live_server.url}/awards/verify/"))
    verify.click()
    expect(heading(a, "This award is valid")).to_be_visible()
    expect(a.locator(".govuk-panel--confirmation")).to_contain_text(
        f"{SETTING} holds the {SCHEME} until")
    expect(a.locator("#status")).to_contain_text("Valid")
    assert_names_absent(a, [CARER[1], PROFESSIONAL[1]])
    assert_fits(a)
    axe_check(a)


# -- the declaration page with the keyboard alone ----------------------------------------------


def assigned_application(app, senco_id: int, admin_id: int, member_emails) -> int:
    """A submitted application of the test scheme, assigned to a panel of ``member_emails``
    (a parent or carer, then a professional who chairs it); the application's id."""
    from awards import applications, moderation, panels
    from trainer.db import db
    from trainer.people import User

    with app.test_request_context():
        senco = db.session.get(User, senco_id)
        application_id = applications.start(TEST_SCHEME, senco).id
        for key in ("families", "environment"):
            applications.save_self_assessment(application_id, key, 1, f"Our {key} story.", senco)
        applications.add_text_evidence(application_id, "families", WRITTEN_EVIDENCE,
                                       WRITTEN_CAPTION, senco)
        applications.submit(application_id, senco)
    with app.test_request_context():
        admin = db.session.get(User, admin_id)
        panel_id = panels.create_panel(PANEL, admin).id
        carer_email, professional_email = member_emails
        panels.add_member(panel_id, carer_email, "parent_carer", admin)
        chair = panels.add_member(panel_id, professional_email, "professional", admin)
        panels.make_chair(panel_id, chair.id, admin)
        moderation.assign(application_id, panel_id, admin)
    return application_id


@pytest.mark.browser
def test_declaring_interests_with_the_keyboard_alone(page, live_server):
    from trainer.people import Role

    app = live_server.app
    setting_id = make_setting(app, SETTING, "Leeds")
    senco_id = add_user(app, *SENCO, job_role="senco", setting_id=setting_id)
    admin_id = add_user(app, *ADMIN, roles=[Role.ADMIN])
    add_user(app, *CARER)
    add_user(app, *PROFESSIONAL)
    application_id = assigned_application(app, senco_id, admin_id,
                                          (CARER[0], PROFESSIONAL[0]))

    sign_in(page, CARER[0])
    page.goto(f"/awards/panel/applications/{application_id}/declaration")
    expect(heading(page, "Declare your interests")).to_be_visible()
    axe_check(page)
    send = page.get_by_role("button", name="Send declaration")

    # Sent with nothing chosen: the error summary appears and takes the focus.
    press_tab_until(page, send)
    page.keyboard.press("Enter")
    expect(page).to_have_title(re.compile(r"^Error: "))
    summary = page.locator(".govuk-error-summary")
    expect(summary.get_by_role("heading", name="There is a problem")).to_be_visible()
    expect(summary).to_be_focused()
    message = "Say whether you have a conflict of interest"
    expect(summary.get_by_role("link", name=message, exact=True)).to_be_visible()
    group = page.get_by_role("group", name="Do you have a conflict of interest with this setting?")
    expect(group.locator(".govuk-error-message")).to_contain_text(message)
    axe_check(page)

    # The summary's link takes the focus to the first option, from the keyboard too.
    press_tab_until(page, summary.get_by_role("link", name=message))
    page.keyboard.press("Enter")
    no_conflict = page.get_by_label("No, I have no conflict of interest")
    expect(no_conflict).to_be_focused()

    # Tab away and back to the radios, Space to choose, Tab to the button and Enter.
    page.keyboard.press("Shift+Tab")
    press_tab_until(page, no_conflict)
    expect(no_conflict).not_to_be_checked()
    page.keyboard.press("Space")
    expect(no_conflict).to_be_checked()
    press_tab_until(page, send)
    page.keyboard.press("Enter")
    expect(heading(page, "Assess the application")).to_be_visible()
    expect(success_banner(page)).to_contain_text("You have declared no conflict of interest")
    expect(page.locator("main")).to_contain_text(WRITTEN_EVIDENCE)
    axe_check(page)
