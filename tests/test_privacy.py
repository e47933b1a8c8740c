"""Subject access and erasure across the core and every plugin: a person downloads all their
data (JSON and CSV), and erasing them (by themself or an administrator) removes their name and
email address from the whole database while every report's totals stay the same."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
import sqlalchemy as sa

from awards.models import Application, StaffAuditAnswer
from tests.awards_support import TEST_SCHEME, make_setting
from tests.conftest import PASSWORD, Auth, Browser
from tests.test_awards_register import award_for
from tests.test_confidence_concurrency import admin_figures, book_people, make_session
from tests.test_confidence_privacy import held_session
from tests.test_waiting_list_concurrency import request
from trainer import booking as engine
from trainer import privacy
from trainer.booking import Booking
from trainer.catalogue import TrainingSession
from trainer.db import db, utcnow
from trainer.people import Role, User
from trainer.plugins.waiting_list import service as waitlist
from trainer.plugins.waiting_list.models import EntryStatus, Hold, HoldStatus, WaitlistEntry

ADMIN = "admin@example.org"
ALICE = "alice@example.org"
ALICE_NAME = "Alice Answerer"
CORE_SECTIONS = {"Your account", "Your bookings", "Your attendance"}


@dataclass
class World:
    """Alice came to a held session and answered its questionnaires (with Bob, Cara and Dan
    booked too), booked a future session and cancelled it giving a reason, waits for a full
    one, filled in a staff audit and started the application that won her setting an award."""

    held_session_id: int
    future_session_id: int
    full_session_id: int
    alice: int
    bob: int
    admin: int
    setting_id: int


def build_world(app, make_user) -> World:
    held = held_session(app, make_user)
    admin_id, _ = make_user(ADMIN, name="Ada Admin", roles=[Role.ADMIN])
    setting_id = make_setting(app)
    award_id = award_for(app, setting_id)
    start = utcnow().replace(microsecond=0) + timedelta(days=10)
    future = make_session(app, start, title="Autism in the early years")
    full = make_session(app, start + timedelta(days=1), title="Sensory play")
    with app.app_context():
        db.session.get(TrainingSession, full).capacity = 1
        alice = db.session.get(User, held.alice)
        alice.setting_id = setting_id
        alice.job_role = "senco"
        alice.calendar_token = "alice-private-feed-token"
        application_id = db.session.scalar(sa.text(
            "SELECT application_id FROM award_award WHERE id = :id"), {"id": award_id})
        db.session.get(Application, application_id).started_by_id = held.alice
        for criterion, need in (("c1", 2), ("c2", 3)):
            db.session.add(StaffAuditAnswer(user_id=held.alice, scheme_key=TEST_SCHEME,
                                            criterion_key=criterion, need=need))
        db.session.commit()
    booked = book_people(app, future, [held.alice])[held.alice]
    with request(app):
        booking = db.session.get(Booking, booked)
        booking.access_needs = f"{ALICE_NAME} needs a hearing loop"
        db.session.commit()
        assert engine.cancel(booked, f"{ALICE_NAME} is moving away").ok
    book_people(app, full, [held.bob])
    with request(app):
        assert waitlist.join(full, db.session.get(User, held.alice)).ok
    return World(held.session_id, future, full, held.alice, held.bob, admin_id, setting_id)


def browser_for(app, email: str) -> Browser:
    browser = Browser(app.test_client())
    assert Auth(browser).sign_in(email).status_code == 302
    return browser


def download(browser: Browser, path: str):
    response = browser.get(path)
    assert response.status_code == 200, path
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "no-store"
    return response


def texts_in_database(app) -> list[str]:
    """Every text value in every table (the whole database, as a dump would show it)."""
    found = []
    with app.app_context():
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(sa.select(table)):
                found.extend(value for value in row if isinstance(value, str))
    return found


def mentions(app, *needles: str) -> list[str]:
    return [text for text in texts_in_database(app)
            if any(needle.lower() in text.lower() for needle in needles)]


# -- subject access -------------------------------------------------------------------------------


def test_the_download_holds_the_core_and_every_plugin(app, make_user):
    world = build_world(app, make_user)
    browser = browser_for(app, ALICE)
    page = browser.get("/account/data").get_data(as_text=True)
    assert "Download your data as JSON" in page and "/account/delete" in page
    assert "Waiting lists" in page and "Questionnaire answers" in page

    data = json.loads(download(browser, "/account/data.json").get_data(as_text=True))
    assert CORE_SECTIONS <= set(data)
    assert {"Waiting lists", "Questionnaire answers", "Award staff audit",
            "Award applications started"} <= set(data)
    account = data["Your account"][0]
    assert account["name"] == ALICE_NAME and account["email"] == ALICE
    assert account["setting"] == "Little Acorns Nursery"
    assert account["local_authority"] == "Leeds"
    assert account["created_at"].endswith("+00:00")
    bookings = {row["training_session_id"]: row for row in data["Your bookings"]}
    assert bookings[world.held_session_id]["status"] == "confirmed"
    cancelled = bookings[world.future_session_id]
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancellation_reason"] == f"{ALICE_NAME} is moving away"
    assert cancelled["access_needs"] == f"{ALICE_NAME} needs a hearing loop"
    assert cancelled["course"] == "Autism in the early years"
    assert [row["attended"] for row in data["Your attendance"]] == [True]
    assert data["Waiting lists"][0]["training_session_id"] == world.full_session_id
    assert data["Waiting lists"][0]["status"] == "Waiting"
    assert len(data["Award staff audit"]) == 2

    rows = list(csv.reader(io.StringIO(
        download(browser, "/account/data.csv").get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["section", "record", "field", "value"]
    assert {row[0] for row in rows[1:]} == {title for title, rows in data.items() if rows}
    assert ["Your account", "1", "email", ALICE] in rows


def test_the_csv_has_no_formula_cells(app, make_user):
    make_user("formula@example.org", name="=HYPERLINK(\"http://evil.example\")")
    browser = browser_for(app, "formula@example.org")
    text = download(browser, "/account/data.csv").get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))
    assert ["Your account", "1", "name", "'=HYPERLINK(\"http://evil.example\")"] in rows
    assert not [cell for row in rows for cell in row if cell[:1] in ("=", "+", "-", "@")]


def test_nobody_downloads_anyone_elses_data(app, make_user):
    make_user(ALICE, name=ALICE_NAME)
    make_user("mallory@example.org", name="Mallory Nosy")
    browser = browser_for(app, "mallory@example.org")
    for path in ("/account/data.json", "/account/data.csv"):
        text = browser.get(path).get_data(as_text=True)
        assert ALICE not in text and "Mallory Nosy" in text
    # The only routes that take a person's id are the administrators' own.
    for rule in app.url_map.iter_rules():
        if "user_id" in rule.arguments:
            assert rule.endpoint.startswith("admin."), rule
    assert browser.get("/account/data.json?user_id=1").get_data(as_text=True).count(ALICE) == 0
    for path in ("/admin/users", "/admin/users/1", "/admin/users/1/data.json",
                 "/admin/users/1/erase"):
        assert browser.get(path).status_code == 403, path


# -- erasure by the person ------------------------------------------------------------------------


def main_text(html: str) -> str:
    """The words and figures of a page's main content, without its markup."""
    main = re.search(r"<main.*?</main>", html, re.S).group(0)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main))


def report_figures(app, world: World) -> dict:
    """Every figure the reports show, as an administrator sees them."""
    browser = browser_for(app, ADMIN)
    with app.app_context():
        counts = {session_id: (engine.confirmed_count(session_id),
                               db.session.scalar(sa.select(sa.func.count()).select_from(Booking)
                                                 .where(Booking.training_session_id
                                                        == session_id)))
                  for session_id in (world.held_session_id, world.future_session_id,
                                     world.full_session_id)}
    year = utcnow().year
    return {
        "reports": main_text(browser.get("/reports/").get_data(as_text=True)),
        "analysis": browser.get("/confidence/analysis.csv").get_data(as_text=True),
        "celebration": browser.get(f"/awards/admin/celebration.csv?year={year}")
        .get_data(as_text=True),
        "demand": main_text(browser.get("/waiting-list/demand").get_data(as_text=True)),
        "booked": counts,
    }


def erase_as(browser: Browser, password: str):
    return browser.submit("/account/delete", {"password": password})


def test_a_wrong_or_missing_password_changes_nothing(app, make_user):
    build_world(app, make_user)
    browser = browser_for(app, ALICE)
    before = texts_in_database(app)
    for password in ("not-my-password", ""):
        response = erase_as(browser, password)
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert "There is a problem" in page
        assert ("Your current password is not correct" if password
                else "Enter your current password") in page
    assert texts_in_database(app) == before
    assert browser.get("/account/").status_code == 200


def test_erasing_yourself_removes_you_everywhere_and_keeps_every_total(app, make_user):
    world = build_world(app, make_user)
    # Take Alice off the waiting list first: people waiting now is a live figure that erasure
    # rightly changes (see the next test); everything counted so far must stay.
    with request(app):
        entry = waitlist.entry_for(db.session.get(User, world.alice), world.full_session_id)
        assert waitlist.leave(entry.id, db.session.get(User, world.alice)).ok
    before = report_figures(app, world)
    figures_before = admin_figures(app, make_user, world.held_session_id)
    assert mentions(app, ALICE, ALICE_NAME)

    browser = browser_for(app, ALICE)
    response = erase_as(browser, PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/account/deleted")
    confirmation = browser.get("/account/deleted").get_data(as_text=True)
    assert "Your account has been deleted" in confirmation
    assert browser.get("/account/").status_code == 302  # signed out

    assert mentions(app, ALICE, ALICE_NAME) == []
    with app.app_context():
        alice = db.session.get(User, world.alice)
        assert not alice.active and alice.roles == set()
        assert alice.name == "Erased account"
        assert alice.email == f"erased-{world.alice}@invalid.example"
        assert alice.setting_id is None and alice.job_role is None
        assert alice.calendar_token is None and alice.email_verified_at is None
        assert not alice.check_password(PASSWORD)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(StaffAuditAnswer)) == 0
    assert Auth(Browser(app.test_client())).sign_in(ALICE).status_code == 200

    assert report_figures(app, world) == before
    assert admin_figures(app, make_user, world.held_session_id) == figures_before


def test_erasure_takes_you_off_waiting_lists_and_passes_on_your_offer(app, make_user):
    world = build_world(app, make_user)
    cara, _ = make_user("cara.next@example.org", name="Cara Next")
    with request(app):
        assert waitlist.join(world.full_session_id, db.session.get(User, cara)).ok
        booking = db.session.scalar(sa.select(Booking).where(
            Booking.user_id == world.bob, Booking.training_session_id == world.full_session_id))
        assert engine.cancel(booking.id, "Cannot come").ok
    with app.app_context():
        assert db.session.scalar(sa.select(WaitlistEntry.status).where(
            WaitlistEntry.user_id == world.alice)) == EntryStatus.OFFERED
    with request(app):
        summaries = privacy.erase_user(db.session.get(User, world.alice))
    assert any(summary.startswith("Waiting lists: left 1 lists") for summary in summaries)
    with app.app_context():
        statuses = dict(db.session.execute(sa.select(WaitlistEntry.user_id,
                                                     WaitlistEntry.status)).all())
        assert statuses == {world.alice: EntryStatus.LEFT, cara: EntryStatus.OFFERED}
        open_holds = db.session.scalar(sa.select(sa.func.count()).select_from(Hold)
                                       .where(Hold.status == HoldStatus.OPEN))
        assert open_holds == 1  # the freed place, now held for Cara: never two
        assert engine.free_places(db.session.get(TrainingSession, world.full_session_id)) == 0


def test_erasing_twice_is_safe(app, make_user):
    world = build_world(app, make_user)
    with request(app):
        first = privacy.erase_user(db.session.get(User, world.alice))
    after_first = texts_in_database(app)
    with request(app):
        second = privacy.erase_user(db.session.get(User, world.alice))
    assert len(first) == len(second) >= 4
    assert texts_in_database(app) == after_first
    with app.app_context():
        assert db.session.get(User, world.alice).email == f"erased-{world.alice}@invalid.example"


def test_erased_accounts_keep_unique_addresses(app, make_user):
    ids = [make_user(f"p{n}@example.org")[0] for n in range(2)]
    with request(app):
        for user_id in ids:
            privacy.erase_user(db.session.get(User, user_id))
        emails = set(db.session.scalars(sa.select(User.email).where(User.id.in_(ids))))
    assert emails == {f"erased-{user_id}@invalid.example" for user_id in ids}


# -- administrators -------------------------------------------------------------------------------


def test_admins_find_people_and_download_their_data(app, make_user):
    world = build_world(app, make_user)
    browser = browser_for(app, ADMIN)
    assert "/admin/users" in browser.get("/admin/").get_data(as_text=True)
    found = browser.get("/admin/users?q=ALICE").get_data(as_text=True)
    assert ALICE_NAME in found and "Bob Bystander" not in found
    assert ALICE_NAME in browser.get("/admin/users?q=answerer").get_data(as_text=True)
    assert "No accounts match" in browser.get("/admin/users?q=nobody-here").get_data(
        as_text=True)
    page = browser.get(f"/admin/users/{world.alice}").get_data(as_text=True)
    assert f"/admin/users/{world.alice}/data.json" in page
    assert f"/admin/users/{world.alice}/erase" in page
    data = json.loads(download(browser, f"/admin/users/{world.alice}/data.json").get_data(
        as_text=True))
    assert data["Your account"][0]["email"] == ALICE
    assert browser.get("/admin/users/999999").status_code == 404


def test_the_user_list_pages(app_factory, make_user):
    app = app_factory(PAGE_SIZE=2)
    make_user(ADMIN, name="Ada Admin", roles=[Role.ADMIN])
    for n in range(3):
        make_user(f"listed{n}@example.org", name=f"Listed {n}")
    browser = browser_for(app, ADMIN)
    first = browser.get("/admin/users").get_data(as_text=True)
    assert "4 accounts" in first and "page=2" in first
    assert "Listed 2" in browser.get("/admin/users?page=2").get_data(as_text=True)


def test_admin_erasure_needs_the_typed_address(app, make_user):
    world = build_world(app, make_user)
    browser = browser_for(app, ADMIN)
    path = f"/admin/users/{world.alice}/erase"
    for typed in ("", "someone@example.org"):
        response = browser.submit(path, {"email": typed})
        assert response.status_code == 200
        assert "Type their email address exactly as it is shown" in response.get_data(
            as_text=True)
    with app.app_context():
        assert db.session.get(User, world.alice).email == ALICE
    response = browser.submit(path, {"email": "  Alice@Example.org "})
    assert response.status_code == 302
    assert "The account has been erased" in browser.get(
        response.headers["Location"]).get_data(as_text=True)
    assert mentions(app, ALICE, ALICE_NAME) == []
    assert browser.get(path).status_code == 200  # "already erased", nothing to do
    again = browser.submit(path, {"email": f"erased-{world.alice}@invalid.example"},
                           form_url="/admin/")
    assert again.status_code == 400


def test_an_admin_cannot_erase_themself(app, make_user):
    admin_id, _ = make_user(ADMIN, name="Ada Admin", roles=[Role.ADMIN])
    browser = browser_for(app, ADMIN)
    page = browser.get(f"/admin/users/{admin_id}/erase").get_data(as_text=True)
    assert "You cannot erase your own account here" in page
    response = browser.submit(f"/admin/users/{admin_id}/erase", {"email": ADMIN})
    assert response.status_code == 400
    with app.app_context():
        admin = db.session.get(User, admin_id)
        assert admin.active and admin.email == ADMIN
        with pytest.raises(privacy.ErasureRefused):
            privacy.erase_user(admin, by=admin)


@pytest.mark.parametrize("role", [Role.PRACTITIONER, Role.TRAINER, Role.LA_OFFICER,
                                  Role.MODERATOR])
def test_only_admins_see_people(app, make_user, role):
    target, _ = make_user(ALICE, name=ALICE_NAME)
    make_user("other@example.org", roles=[role])
    browser = browser_for(app, "other@example.org")
    for path in ("/admin/users", f"/admin/users/{target}", f"/admin/users/{target}/data.json",
                 f"/admin/users/{target}/erase"):
        assert browser.get(path).status_code == 403, path
    response = browser.submit(f"/admin/users/{target}/erase", {"email": ALICE},
                              form_url="/account/")
    assert response.status_code == 403
    with app.app_context():
        assert db.session.get(User, target).active


def test_the_only_administrator_cannot_delete_their_account(app, make_user):
    admin_id, _ = make_user(ADMIN, name="Ada Admin", roles=[Role.ADMIN])
    browser = browser_for(app, ADMIN)
    response = erase_as(browser, PASSWORD)
    assert response.status_code == 200
    assert "You are the only administrator" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, admin_id).active
    make_user("second.admin@example.org", name="Second Admin", roles=[Role.ADMIN])
    assert erase_as(browser, PASSWORD).status_code == 302
    with app.app_context():
        assert not db.session.get(User, admin_id).active
