"""The admin pages for applications, panels and the audit log, and the role/route matrix:
who can see what of a submitted application assigned to a panel."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from awards import evidence
from awards.models import Application, AuditEvent, Evidence, PanelMember
from tests import test_awards_moderation
from tests.awards_support import PDF_BYTES, TEST_SCHEME, make_moderator, make_staff
from tests.test_awards_moderation import (
    assess,
    assign,
    declare,
    get_application,
    page,
    ready_panel,
    submitted_application,
)
from trainer.db import db, utcnow
from trainer.people import Role
from trainer.times import to_london

# The applicant, staff, panel and admins of test_awards_moderation's world.
world = test_awards_moderation.world

# -- who can see what -----------------------------------------------------------------------------


def file_evidence(app, application_id: int) -> int:
    """A PDF stored as evidence for the application; returns its id."""
    with app.app_context():
        checked = evidence.check_upload("plan.pdf", PDF_BYTES, "application/pdf")
        stored_name, sha256 = evidence.store(checked)
        item = Evidence(application_id=application_id, criterion_key="families", kind="file",
                        caption="Our SEND plan", stored_name=stored_name,
                        original_name="plan.pdf", content_type="application/pdf",
                        size=len(PDF_BYTES), sha256=sha256)
        db.session.add(item)
        db.session.commit()
        return item.id


ROUTES = ("assess", "declare", "moderation", "application", "evidence_file",
          "admin_application")
OK, REDIRECT, FORBIDDEN, SIGN_IN = 200, "declare", 403, "sign in"

# What each visitor gets from each route: a status, "declare" (sent to declare first), or
# "sign in" (sent to the sign-in page).
MATRIX = {
    "anonymous": dict.fromkeys(ROUTES, SIGN_IN),
    "practitioner": dict.fromkeys(ROUTES, FORBIDDEN),
    "applicant": {**dict.fromkeys(ROUTES, FORBIDDEN), "application": OK, "evidence_file": OK},
    "other applicant": dict.fromkeys(ROUTES, FORBIDDEN),
    "member before declaring": {**dict.fromkeys(ROUTES, FORBIDDEN), "declare": OK,
                                "assess": REDIRECT, "moderation": REDIRECT},
    # The application page is the setting's own; panel members work from the assess page.
    "member, no conflict": {**dict.fromkeys(ROUTES, OK), "admin_application": FORBIDDEN,
                            "application": FORBIDDEN},
    "member, conflict": dict.fromkeys(ROUTES, FORBIDDEN),
    "moderator not on the panel": dict.fromkeys(ROUTES, FORBIDDEN),
    "admin": dict.fromkeys(ROUTES, OK),
}


def route_urls(application_id: int, evidence_id: int) -> dict[str, str]:
    panel = f"/awards/panel/applications/{application_id}"
    return {
        "assess": panel, "declare": f"{panel}/declaration",
        "moderation": f"{panel}/moderation",
        "application": f"/awards/applications/{application_id}",
        "evidence_file": f"/awards/evidence/{evidence_id}",
        "admin_application": f"/awards/admin/applications/{application_id}",
    }


@pytest.mark.parametrize("visitor", list(MATRIX))
def test_who_can_see_what(app, world, auth, client, visitor):
    evidence_id = file_evidence(app, world.application_id)
    assign(app, world)
    emails = {
        "practitioner": world.practitioner[1], "applicant": world.applicant[1],
        "other applicant": "senco@bees.example", "member before declaring": world.carer[1],
        "member, no conflict": world.carer[1], "member, conflict": world.carer[1],
        "moderator not on the panel": world.outsider[1], "admin": world.admin[1],
    }
    if visitor == "member, no conflict":
        declare(app, world, world.carer)
    if visitor == "member, conflict":
        declare(app, world, world.carer, conflict=True, details="I work there")
    if visitor != "anonymous":
        auth.sign_in(emails[visitor])
    urls = route_urls(world.application_id, evidence_id)
    found = {}
    for route, url in urls.items():
        response = client.get(url)
        response.close()
        if response.status_code == 302 and "/auth/sign-in" in response.location:
            found[route] = SIGN_IN
        elif response.status_code == 302 and response.location.endswith(urls["declare"]):
            found[route] = REDIRECT
        else:
            found[route] = response.status_code
    assert found == MATRIX[visitor]
    if MATRIX[visitor]["evidence_file"] == OK:
        response = client.get(urls["evidence_file"])
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.data == PDF_BYTES
        response.close()


def test_admins_see_the_panel_pages_read_only(app, world, auth, client):
    ready_panel(app, world)
    auth.sign_in(world.admin[1])
    base = f"/awards/panel/applications/{world.application_id}"
    html = page(client, base)
    assert "read-only" in html and "Submit assessment" not in html
    assert "Assessor 1 (parent or carer)" in html
    html = page(client, f"{base}/moderation")
    assert "Only the panel" in html and "Record the panel" not in html
    html = page(client, f"{base}/declaration")
    assert "Pat Parent: no conflict of interest" in html and "Send declaration" not in html
    assert "no applications assigned to you" in page(client, "/awards/panel")


# -- the applications list ------------------------------------------------------------------------


def test_admin_home_lists_filters_counts_and_pages(app, world, auth, client):
    auth.sign_in(world.admin[1])
    app.config["PAGE_SIZE"] = 2
    for _ in range(2):
        submitted_application(app, world.setting_id, status="draft")
    html = page(client, "/awards/admin")
    assert "3 applications" in html
    counts = re.sub(r"\s+", " ", html.split('id="status-counts"', 1)[1].split("</dl>", 1)[0])
    assert "Draft</dt> <dd class=\"govuk-summary-list__value\">2" in counts
    assert "Submitted</dt> <dd class=\"govuk-summary-list__value\">1" in counts
    assert "Next" in html and "Moderation panels" in html and "Audit log" in html
    assert "/awards/admin/awards" in html and "/awards/admin/celebration" in html
    html = page(client, "/awards/admin?status=submitted")
    assert "1 application" in html and "Next" not in html
    html = page(client, "/awards/admin?page=2")
    assert "Little Acorns Nursery" in html
    html = page(client, f"/awards/admin?scheme={TEST_SCHEME}&status=withdrawn")
    assert "There are no applications matching these filters" in html
    assert client.get("/awards/admin?page=0").status_code == 404


def test_admin_home_with_nothing(app, make_user, auth, client):
    admin = make_user("admin@example.org", roles=[Role.ADMIN])
    auth.sign_in(admin[1])
    assert "There are no applications" in page(client, "/awards/admin")
    assert "There are no panels yet" in page(client, "/awards/admin/panels")
    assert "There are no entries" in page(client, "/awards/admin/audit-log")


# -- one application ------------------------------------------------------------------------------


def test_assigning_from_the_application_page(app, world, auth, browser, client, mailbox):
    auth.sign_in(world.admin[1])
    url = f"/awards/admin/applications/{world.application_id}"
    html = page(client, url)
    assert "Little Acorns Nursery" in html and "Leeds" in html and "Not assigned" in html
    response = browser.submit(f"{url}/panel", {"panel": ""}, form_url=url)
    html = response.get_data(as_text=True)
    assert "There is a problem" in html and "Choose a panel" in html
    response = browser.submit(f"{url}/panel", {"panel": str(world.panel_id)}, form_url=url,
                              follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "The application has been assigned" in html and "North panel" in html
    assert "Assigned to a panel" in html  # its history
    assert len([m for m in mailbox() if "for your panel" in m["Subject"]]) == 3
    response = browser.submit(f"{url}/panel", {"panel": str(world.panel_id)}, form_url=url)
    assert "already assigned to North panel" in response.get_data(as_text=True)


def test_the_application_page_shows_conflicts_assessments_and_the_decision(
        app, world, auth, client):
    evidence_id = file_evidence(app, world.application_id)
    assign(app, world)
    declare(app, world, world.chair, conflict=True, details="I chair its board")
    declare(app, world, world.carer)
    declare(app, world, world.professional)
    assess(app, world, world.carer)
    assess(app, world, world.professional, submit=False)
    auth.sign_in(world.admin[1])
    html = page(client, f"/awards/admin/applications/{world.application_id}")
    assert "<strong>Conflict of interest</strong> – I chair its board" in html
    assert "Pat Parent, " in html and "no conflict of interest" in html
    assert "Robin Professional (professional): draft, not submitted" in html
    assert "1 of the 2 assessments needed have been submitted." in html
    assert "Declared a conflict of interest" in html
    assert f'href="/awards/evidence/{evidence_id}">Our SEND plan</a>' in html
    assert f'href="/awards/panel/applications/{world.application_id}"' in html


def test_extending_a_drafts_deadline(app, world, auth, browser, client):
    draft = submitted_application(app, world.setting_id, status="draft")
    auth.sign_in(world.admin[1])
    url = f"/awards/admin/applications/{draft}"
    new_day = get_application(app, draft).window_closes + timedelta(days=14)
    response = browser.submit(f"{url}/deadline", {"deadline_day": "31", "deadline_month": "2",
                                                  "deadline_year": "2030"}, form_url=url)
    html = response.get_data(as_text=True)
    assert "The new deadline must be a real date" in html and 'href="#deadline_day"' in html
    yesterday = to_london(utcnow()).date() - timedelta(days=1)
    response = browser.submit(f"{url}/deadline", {
        "deadline_day": str(yesterday.day), "deadline_month": str(yesterday.month),
        "deadline_year": str(yesterday.year)}, form_url=url)
    assert "must be after today" in response.get_data(as_text=True)
    response = browser.submit(f"{url}/deadline", {
        "deadline_day": str(new_day.day), "deadline_month": str(new_day.month),
        "deadline_year": str(new_day.year)}, form_url=url, follow_redirects=True)
    assert "The deadline has been extended" in response.get_data(as_text=True)
    assert get_application(app, draft).deadline == new_day
    html = page(client, f"/awards/admin/applications/{world.application_id}")
    assert "Extend the deadline" not in html  # submitted: nothing to extend


# -- panels ---------------------------------------------------------------------------------------


def test_creating_panels(app, world, auth, browser, client):
    auth.sign_in(world.admin[1])
    html = page(client, "/awards/admin/panels")
    assert "North panel" in html and "Chris Chair" in html and "(1 parent or carer)" in html
    response = browser.submit("/awards/admin/panels", {"name": "NORTH PANEL"})
    html = response.get_data(as_text=True)
    assert "There is a problem" in html and "already a panel called" in html
    response = browser.submit("/awards/admin/panels", {"name": ""})
    assert "Enter a name for the panel" in response.get_data(as_text=True)
    response = browser.submit("/awards/admin/panels", {"name": "East panel"},
                              follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "East panel has been created" in html and "This panel has no members yet" in html


def test_managing_a_panels_members(app, world, auth, browser, client, make_user):
    newcomer = make_user("newcomer@example.org", name="Nell Newcomer")
    auth.sign_in(world.admin[1])
    url = f"/awards/admin/panels/{world.panel_id}"
    html = page(client, url)
    assert "Pat Parent" in html and "Parent or carer" in html and "Chair" in html
    response = browser.submit(url, {"email": "nobody@example.org",
                                    "member_type": "professional"})
    html = response.get_data(as_text=True)
    assert "There is a problem" in html and 'href="#email"' in html
    assert "no account with the email address nobody@example.org" in html
    response = browser.submit(url, {"email": world.carer[1], "member_type": "parent_carer"})
    assert "Pat Parent is already on North panel" in response.get_data(as_text=True)
    response = browser.submit(url, {"email": newcomer[1]})
    assert "Choose whether they are a professional" in response.get_data(as_text=True)
    response = browser.submit(url, {"email": newcomer[1], "member_type": "parent_carer"},
                              follow_redirects=True)
    assert "Nell Newcomer has been added to North panel" in response.get_data(as_text=True)
    with app.app_context():
        members = {m.user.name: m.id for m in db.session.scalars(sa.select(PanelMember))}
    response = browser.submit(f"{url}/members/{members['Nell Newcomer']}/chair", {},
                              form_url=url, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "Nell Newcomer is now the chair of North panel" in html
    row = html.split("Nell Newcomer<br>", 1)[1].split("</tr>", 1)[0]
    assert ">Chair<" in row and "Make chair" not in row
    ready_panel(app, world)
    response = browser.submit(f"{url}/members/{members['Pat Parent']}/remove", {},
                              form_url=url, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "Pat Parent has been removed from North panel" in html
    assert "assessments they submitted stay" in html
    response = browser.submit(f"{url}/members/{members['Pat Parent']}/remove", {},
                              form_url=url, follow_redirects=True)
    assert "That person is not on this panel" in response.get_data(as_text=True)


def test_removing_the_chair_says_the_panel_needs_one(app, world, auth, browser):
    auth.sign_in(world.admin[1])
    url = f"/awards/admin/panels/{world.panel_id}"
    with app.app_context():
        chair_id = db.session.scalar(sa.select(PanelMember.id).where(PanelMember.is_chair))
    response = browser.submit(f"{url}/members/{chair_id}/remove", {}, form_url=url,
                              follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "The panel has no chair now" in html and "This panel has no chair." in html


def test_panel_pages_for_missing_panels(world, auth, client):
    auth.sign_in(world.admin[1])
    assert client.get("/awards/admin/panels/999").status_code == 404
    assert client.get("/awards/admin/applications/999").status_code == 404
    assert client.get("/awards/panel/applications/99999999999").status_code == 404


# -- the audit log --------------------------------------------------------------------------------


def test_the_audit_log_newest_first_filtered_and_paged(app, world, auth, client):
    ready_panel(app, world)
    other = submitted_application(app, world.setting_id, status="draft")
    with app.app_context():
        db.session.add(AuditEvent(at=utcnow(), action="application.started",
                                  application_id=other))
        db.session.commit()
        total = db.session.scalar(sa.select(sa.func.count(AuditEvent.id)))
    auth.sign_in(world.admin[1])
    html = page(client, "/awards/admin/audit-log")
    assert f"{total} entries" in html
    assert html.index("Application started") < html.index("Assessment submitted") \
        < html.index("Panel created")
    assert "Ada Admin" in html and "The system" in html
    html = page(client, f"/awards/admin/audit-log?application={world.application_id}")
    assert f"for application {world.application_id}" in html
    assert "Application started" not in html and "Assigned to a panel" in html
    html = page(client, "/awards/admin/audit-log?application=abc")
    assert "Enter an application number, like 12" in html
    app.config["PAGE_SIZE"] = 3
    html = page(client, "/awards/admin/audit-log")
    assert "Next" in html and html.count('<tr class="govuk-table__row">') == 4
    html = page(client, "/awards/admin/audit-log?page=2")
    assert "Application started" not in html


def test_only_admins_reach_the_admin_pages(app, world, auth, client, make_user):
    staff = make_staff(make_user, world.setting_id, "another@acorns.example")
    moderator = make_moderator(make_user, "mod2@example.org")
    for email in (staff[1], moderator[1], world.applicant[1]):
        auth.sign_in(email)
        for url in ("/awards/admin", "/awards/admin/panels", "/awards/admin/audit-log",
                    f"/awards/admin/panels/{world.panel_id}"):
            assert client.get(url).status_code == 403, (email, url)
        auth.sign_out()
    with app.app_context():
        assert db.session.get(Application, world.application_id).panel_id is None
