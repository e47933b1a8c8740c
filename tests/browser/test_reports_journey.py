"""In a real browser: an administrator reads the national overview and the reach report,
chooses a range (a wrong date is named in a focused error summary) and downloads a table as
CSV; a trainer reads the oversubscription report on a phone. axe-core on each page."""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.browser.conftest import (
    add_user,
    assert_fits,
    axe_check,
    heading,
    missing_requirements,
    sign_in,
    sign_in_on_phone,
)

if missing_requirements():
    pytest.skip(
        "browser journeys need: " + "; ".join(missing_requirements()), allow_module_level=True
    )

from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.browser


def _history(app) -> int:
    """Two past sessions with registers and one upcoming, full session; the partner's id."""
    from tests import factories
    from trainer import booking as engine
    from trainer.booking import Booking
    from trainer.db import db
    from trainer.people import User

    people = [add_user(app, f"learner{n}@example.org", f"Learner {n}") for n in range(3)]
    with app.test_request_context():
        now = datetime.now(UTC).replace(microsecond=0)
        course = factories.course("Makaton for beginners")
        partner_id = course.delivery_partner_id
        for days in (30, 12):
            session = factories.training_session(starts=now - timedelta(days=days),
                                                 course_=course)
            db.session.flush()
            ids = []
            for user_id in people:
                made = Booking(training_session_id=session.id, user_id=user_id)
                db.session.add(made)
                db.session.flush()
                ids.append(made.id)
            db.session.commit()
            engine.record_attendance(session.meetings[0].id, dict.fromkeys(ids, True), None)
        upcoming = factories.training_session(starts=now + timedelta(days=9), capacity=2,
                                              course_=course)
        db.session.commit()
        for user_id in people[:2]:
            assert engine.book(upcoming.id, db.session.get(User, user_id)).ok
    return partner_id


def test_an_administrator_reads_the_overview_and_downloads_reach(page, live_server):
    from trainer.people import Role

    _history(live_server.app)
    add_user(live_server.app, "ada@example.org", "Ada Admin", roles=[Role.ADMIN])
    sign_in(page, "ada@example.org")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
    page.get_by_role("link", name="National overview").click()
    expect(heading(page, "National overview")).to_be_visible()
    expect(page.get_by_text("People trained")).to_be_visible()
    assert page.locator("svg[role=img]").count() == 3
    axe_check(page)

    page.get_by_role("link", name="See reach by course, region, audience and session").click()
    expect(heading(page, "Reach")).to_be_visible()
    totals = page.locator("#reach-totals")
    expect(totals).to_contain_text("6")  # 3 people at 2 sessions
    axe_check(page)

    page.get_by_label("From").fill("31/2/2026")
    page.get_by_role("button", name="Show figures").click()
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("The from date must be a real date")
    axe_check(page)

    page.get_by_label("From").fill("")
    page.get_by_role("button", name="Show figures").click()
    expect(page.locator(".govuk-error-summary")).to_have_count(0)
    with page.expect_download() as downloaded:
        page.get_by_role(
            "link", name=re.compile(r"^Download this table as CSV\W+By course$")).click()
    with open(downloaded.value.path(), encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    assert rows[1][:4] == ["Makaton for beginners", "2", "6", "3"]


def test_a_trainer_reads_oversubscription_on_a_phone(phone_390, live_server):
    from trainer.people import Role

    partner_id = _history(live_server.app)
    add_user(live_server.app, "tom@example.org", "Tom Trainer", roles=[Role.TRAINER],
             delivery_partner_id=partner_id)
    page = phone_390
    sign_in_on_phone(page, "tom@example.org")
    page.goto(live_server.url + "/reports/")
    page.get_by_role("link", name="Oversubscription").click()
    page.get_by_role("link", name="the next 3 months").click()
    expect(heading(page, "Oversubscription")).to_be_visible()
    expect(page.locator("#fill-totals")).to_contain_text("2 of 2 (100% full)")
    axe_check(page)
    assert_fits(page)
    assert page.get_by_role("link", name="National overview").count() == 0
