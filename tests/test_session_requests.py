"""Bespoke session requests: an LA officer asks for a session for their area, administrators
are told, one of them accepts or declines it with a message, and the officer is told; bad input
saves nothing; subject access and erasure."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests import factories
from tests.conftest import PASSWORD, Auth, Browser, body_of, count
from tests.test_la_dashboard import main_text, table_rows, text
from trainer import privacy, reports
from trainer.bespoke import RequestStatus, SessionRequest
from trainer.db import db
from trainer.mail import OutboxMessage
from trainer.people import LocalAuthority, Role, User

OFFICER = "lena@example.org"
OFFICER_NAME = "Lena Officer"
ADMIN = "admin@example.org"
SECOND_ADMIN = "ade@example.org"


def day_text(days_ahead: int) -> str:
    day = reports.london_today() + timedelta(days=days_ahead)
    return f"{day.day}/{day.month}/{day.year}"


def sign_in(app, email: str) -> Browser:
    browser = Browser(app.test_client())
    assert Auth(browser).sign_in(email).status_code == 302
    return browser


@pytest.fixture
def leeds(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(LocalAuthority.id).where(LocalAuthority.name == "Leeds"))


@pytest.fixture
def course_id(app) -> int:
    with app.app_context():
        course = factories.course("Understanding autism", topics=["autism"])
        factories.course("Makaton taster", topics=["makaton"])
        db.session.commit()
        return course.id


@pytest.fixture
def people(app, make_user, leeds):
    """The Leeds officer, two administrators and one inactive administrator."""
    officer = make_user(OFFICER, name=OFFICER_NAME, roles=[Role.LA_OFFICER],
                        local_authority_id=leeds, job_role="la_staff")[0]
    admin = make_user(ADMIN, name="Ada Admin", roles=[Role.ADMIN])[0]
    make_user(SECOND_ADMIN, name="Ade Admin", roles=[Role.ADMIN])
    make_user("gone@example.org", name="Gone Admin", roles=[Role.ADMIN], active=False)
    return {"officer": officer, "admin": admin}


def valid_form(course_id: int, **changes) -> dict:
    data = {"course": str(course_id), "first_choice": day_text(30),
            "second_choice": day_text(37), "third_choice": "", "expected_numbers": "24",
            "notes": "Twilight please; we can host at Leeds Central Library."}
    data.update(changes)
    return data


def make_request(app, course_id: int, **changes) -> int:
    browser = sign_in(app, OFFICER)
    response = browser.submit("/la/requests/new", valid_form(course_id, **changes))
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.max(SessionRequest.id)))


# -- asking ---------------------------------------------------------------------------------------


def test_an_officer_asks_and_the_administrators_are_told(app, people, course_id, leeds,
                                                         mailbox):
    browser = sign_in(app, OFFICER)
    form = main_text(text(browser.get("/la/requests/new")))
    assert "Request a bespoke session" in form and "people in Leeds" in form
    response = browser.submit("/la/requests/new", valid_form(course_id))
    assert response.status_code == 302 and response.headers["Location"].endswith("/la/requests")

    with app.app_context():
        made = db.session.scalars(sa.select(SessionRequest)).one()
        assert made.local_authority_id == leeds and made.course_id == course_id
        assert made.requested_by_id == people["officer"] and made.status == RequestStatus.OPEN
        assert made.expected_numbers == 24 and len(made.preferred_dates) == 2
        request_id = made.id
    sent = mailbox()
    assert sorted(message["To"].addresses[0].addr_spec for message in sent) == [
        SECOND_ADMIN, ADMIN]
    body = body_of(sent[0])
    assert "Lena Officer" in body and "Understanding autism" in body and "Leeds" in body
    assert f"/admin/session-requests/{request_id}" in body
    assert "Leeds Central Library" in body

    listing = text(browser.get("/la/requests"))
    [row] = table_rows(listing, "requests-table")
    assert row[0].startswith("Understanding autism") and row[2] == "24"
    assert row[4] == "Waiting for an answer" and row[5] == "Not answered yet"
    assert "Your request has been sent" in listing


@pytest.mark.parametrize("changes, field, message", [
    ({"course": ""}, "course", "Select a course"),
    ({"course": "99999"}, "course", "Select a course from the list"),
    ({"first_choice": ""}, "first_choice", "Enter the date you would like the session"),
    ({"first_choice": "31/2/2030"}, "first_choice", "The preferred date must be a real date"),
    ({"first_choice": day_text(0)}, "first_choice", "The preferred date must be a date in the "
                                                    "future"),
    ({"first_choice": day_text(3 * 365)}, "first_choice", "must be within 2 years"),
    ({"second_choice": day_text(30)}, "second_choice",
     "The second choice must be a different date from the preferred date"),
    ({"third_choice": "next week"}, "third_choice", "The third choice of date must be a real"),
    ({"expected_numbers": ""}, "expected_numbers", "Enter how many people you expect"),
    ({"expected_numbers": "0"}, "expected_numbers", "Expected numbers must be between 1 and 500"),
    ({"expected_numbers": "501"}, "expected_numbers",
     "Expected numbers must be between 1 and 500"),
    ({"expected_numbers": "twenty"}, "expected_numbers",
     "Expected numbers must be a whole number"),
    ({"expected_numbers": "-3"}, "expected_numbers", "Expected numbers must be a whole number"),
    ({"notes": "x" * 2001}, "notes", "Notes must be 2000 characters or fewer"),
])
def test_bad_input_is_explained_and_nothing_saved(app, people, course_id, mailbox, changes,
                                                  field, message):
    browser = sign_in(app, OFFICER)
    response = browser.submit("/la/requests/new", valid_form(course_id, **changes))
    html = text(response)
    assert "There is a problem" in html and message in html
    assert f'href="#{field}"' in html
    assert html.count('data-module="govuk-error-summary"') == 1
    assert "<title>Error:" in html
    assert count(app, SessionRequest) == 0
    assert count(app, OutboxMessage) == 0
    assert mailbox() == []


def test_an_officer_without_an_area_is_told_to_add_it(app, make_user, course_id):
    make_user("new@example.org", roles=[Role.LA_OFFICER])
    browser = sign_in(app, "new@example.org")
    assert "Add your local authority" in text(browser.get("/la/requests/new"))
    response = browser.submit("/la/requests/new", valid_form(course_id),
                              form_url="/la/requests")
    assert "Add your local authority" in text(response)
    assert count(app, SessionRequest) == 0


def test_officers_see_only_their_own_requests(app, people, make_user, course_id, leeds):
    make_request(app, course_id)
    make_user("kim@example.org", name="Kim Colleague", roles=[Role.LA_OFFICER],
              local_authority_id=leeds)
    colleague = sign_in(app, "kim@example.org")
    page = main_text(text(colleague.get("/la/requests")))
    assert "You have not asked for a bespoke session yet." in page


# -- answering ------------------------------------------------------------------------------------


def test_admins_list_requests_open_first(app_factory, make_user):
    app = app_factory(PAGE_SIZE=2)
    with app.app_context():
        leeds = db.session.scalar(
            sa.select(LocalAuthority.id).where(LocalAuthority.name == "Leeds"))
        course = factories.course("Understanding autism")
        db.session.commit()
        course_id = course.id
    officer = make_user(OFFICER, roles=[Role.LA_OFFICER], local_authority_id=leeds)[0]
    admin = make_user(ADMIN, roles=[Role.ADMIN])[0]
    with app.app_context():
        from trainer.db import utcnow

        now = utcnow()
        for number, status in enumerate(["accepted", "open", "declined"]):
            db.session.add(SessionRequest(
                local_authority_id=leeds, course_id=course_id, requested_by_id=officer,
                first_choice=reports.london_today() + timedelta(days=10 + number),
                expected_numbers=10 + number, status=status,
                answered_by_id=admin if status != "open" else None,
                created_at=now - timedelta(days=3 - number)))
        db.session.commit()
    browser = sign_in(app, ADMIN)
    first = text(browser.get("/admin/session-requests"))
    rows = table_rows(first, "requests-table")
    assert [row[5] for row in rows] == ["Waiting for an answer", "Declined"]
    assert "page=2" in first
    second = text(browser.get("/admin/session-requests?page=2"))
    assert [row[5] for row in table_rows(second, "requests-table")] == ["Accepted"]
    accepted = text(browser.get("/admin/session-requests?status=accepted"))
    assert [row[5] for row in table_rows(accepted, "requests-table")] == ["Accepted"]
    assert "There are no requests" not in accepted
    assert browser.get("/admin/session-requests?status=lost").status_code == 404


def test_an_admin_accepts_and_the_officer_is_told(app, people, course_id, mailbox):
    request_id = make_request(app, course_id)
    mailbox()
    sent_before = len(mailbox())
    admin = sign_in(app, ADMIN)
    detail = main_text(text(admin.get(f"/admin/session-requests/{request_id}")))
    assert "Understanding autism for Leeds" in detail and OFFICER in detail
    assert "Leeds Central Library" in detail
    response = admin.submit(f"/admin/session-requests/{request_id}", {
        "decision": "accept", "message": "Yes: Tuesday 6pm at the library suits our trainer."})
    assert response.status_code == 302
    page = main_text(text(admin.get(f"/admin/session-requests/{request_id}")))
    assert "Request accepted. Lena Officer has been emailed your answer." in page
    assert "Answered by Ada Admin" in page
    with app.app_context():
        made = db.session.get(SessionRequest, request_id)
        assert made.status == RequestStatus.ACCEPTED and made.answered_by_id == people["admin"]
        assert made.answer.startswith("Yes: Tuesday") and made.answered_at is not None
    sent = mailbox()[sent_before:]
    assert [message["To"].addresses[0].addr_spec for message in sent] == [OFFICER]
    assert "accepted" in sent[0]["Subject"]
    body = body_of(sent[0])
    assert "Yes: Tuesday 6pm at the library suits our trainer." in body
    assert "/la/requests" in body

    officer = sign_in(app, OFFICER)
    [row] = table_rows(text(officer.get("/la/requests")), "requests-table")
    assert row[4] == "Accepted" and row[5].startswith("Yes: Tuesday 6pm")

    # Answering again (a second admin, or a double click) changes nothing.
    again = sign_in(app, SECOND_ADMIN).submit(
        f"/admin/session-requests/{request_id}", {"decision": "decline", "message": "No."},
        form_url="/admin/session-requests")
    assert again.status_code == 302
    with app.app_context():
        made = db.session.get(SessionRequest, request_id)
        assert made.status == RequestStatus.ACCEPTED and made.answer.startswith("Yes")
    assert len(mailbox()) == sent_before + 1


def test_answering_twice_in_the_service_is_refused(app, people, course_id):
    from trainer import bespoke

    request_id = make_request(app, course_id)
    with app.test_request_context(method="POST"):
        admin = db.session.get(User, people["admin"])
        bespoke.answer(request_id, admin, accept=False, message="Not this term.")
        with pytest.raises(bespoke.AlreadyAnswered):
            bespoke.answer(request_id, admin, accept=True, message="Changed my mind.")
        assert db.session.get(SessionRequest, request_id).answer == "Not this term."


@pytest.mark.parametrize("data, message", [
    ({"message": "Fine"}, "Select accept or decline"),
    ({"decision": "decline"}, "Enter a message to the person who asked"),
    ({"decision": "maybe", "message": "Hmm"}, "Not a valid choice"),
    ({"decision": "accept", "message": "x" * 2001}, "2000 characters or fewer"),
])
def test_a_bad_answer_changes_nothing(app, people, course_id, mailbox, data, message):
    request_id = make_request(app, course_id)
    before = len(mailbox())
    html = text(sign_in(app, ADMIN).submit(f"/admin/session-requests/{request_id}", data))
    assert "There is a problem" in html and message in html
    with app.app_context():
        assert db.session.get(SessionRequest, request_id).status == RequestStatus.OPEN
    assert len(mailbox()) == before


def test_who_may_do_what(app, people, make_user, course_id):
    request_id = make_request(app, course_id)
    officer = sign_in(app, OFFICER)
    for path in ("/admin/session-requests", f"/admin/session-requests/{request_id}"):
        assert officer.get(path).status_code == 403
    response = officer.submit(f"/admin/session-requests/{request_id}",
                              {"decision": "accept", "message": "Me!"}, form_url="/la/requests")
    assert response.status_code == 403
    make_user("prac@example.org", roles=[Role.PRACTITIONER])
    practitioner = sign_in(app, "prac@example.org")
    for path in ("/la/requests", "/la/requests/new", "/admin/session-requests"):
        assert practitioner.get(path).status_code == 403
    admin = sign_in(app, ADMIN)
    assert admin.get("/la/requests/new").status_code == 403
    assert admin.get("/admin/session-requests/999999").status_code == 404
    assert "Requests for bespoke sessions" in text(admin.get("/admin/"))
    with app.app_context():
        assert db.session.get(SessionRequest, request_id).status == RequestStatus.OPEN


# -- personal data --------------------------------------------------------------------------------


def test_subject_access_lists_the_requests_made(app, people, course_id):
    make_request(app, course_id)
    browser = sign_in(app, OFFICER)
    data = json.loads(browser.get("/account/data.json").get_data(as_text=True))
    [record] = data[privacy.REQUESTS_SECTION]
    assert record["course"] == "Understanding autism" and record["local_authority"] == "Leeds"
    assert record["notes"].startswith("Twilight please") and record["status"] == "open"
    assert record["expected_numbers"] == 24


def test_erasure_keeps_the_request_without_the_person(app, people, course_id, mailbox):
    request_id = make_request(app, course_id)
    browser = sign_in(app, OFFICER)
    response = browser.submit("/account/delete", {"password": PASSWORD})
    assert response.status_code == 302
    with app.app_context():
        made = db.session.get(SessionRequest, request_id)
        assert made.requested_by_id is None and made.notes == ""
        assert made.local_authority.name == "Leeds" and made.expected_numbers == 24
    admin = sign_in(app, ADMIN)
    page = main_text(text(admin.get(f"/admin/session-requests/{request_id}")))
    assert "Erased account" in page and OFFICER_NAME not in page
    before = len(mailbox())
    admin.submit(f"/admin/session-requests/{request_id}",
                 {"decision": "decline", "message": "Sorry."})
    assert len(mailbox()) == before  # nobody left to tell
    with app.app_context():
        assert db.session.get(SessionRequest, request_id).status == RequestStatus.DECLINED
        assert count(app, SessionRequest) == 1


def test_erasing_the_admin_who_answered_keeps_the_answer(app, people, course_id):
    request_id = make_request(app, course_id)
    sign_in(app, ADMIN).submit(f"/admin/session-requests/{request_id}",
                               {"decision": "accept", "message": "Booked in."})
    with app.app_context():
        privacy.erase_user(db.session.get(User, people["admin"]))
    with app.app_context():
        made = db.session.get(SessionRequest, request_id)
        assert made.answered_by_id is None and made.answer == "Booked in."
        assert made.status == RequestStatus.ACCEPTED
