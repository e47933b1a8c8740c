"""The local authority officer's journey in a real Chromium, with axe-core on every page.

An LA officer in Leeds signs in and opens their area's dashboard from the main navigation: the
settings whose staff attended, attendance by topic over time, the settings with no attendance
and the attendance people agreed to share by name. They download the named attendance as CSV
(only the people who agreed are in it). They ask for a bespoke session, first with the number
of people left out (the error summary takes the focus and names the field; nothing is sent),
then in full, and see it listed as waiting for an answer. An administrator finds the request
under Administration, accepts it with a message, and the officer is emailed the answer.
"""

from __future__ import annotations

import csv
import re
from datetime import timedelta

import pytest

from tests.browser.conftest import (
    add_user,
    axe_check,
    heading,
    missing_requirements,
    nav,
    sign_in,
)
from tests.test_la_dashboard import NOT_CONSENTING, build_area

if missing_requirements():
    pytest.skip(
        "browser journeys need: " + "; ".join(missing_requirements()), allow_module_level=True
    )

from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.browser

OFFICER = ("lena.officer@example.org", "Lena Officer")
ADMIN = ("ada.admin@example.org", "Ada Admin")
ANSWER = "Yes: our trainer can come to the central library on that Tuesday at 6pm."


def typed_date(days_ahead: int) -> str:
    from trainer import reports

    day = reports.london_today() + timedelta(days=days_ahead)
    return f"{day.day}/{day.month}/{day.year}"


def test_an_la_officer_sees_their_area_exports_it_and_asks_for_a_session(page, live_server):
    from trainer.people import Role

    app = live_server.app
    area = build_area(app, lambda email, name="Someone", **fields: (
        add_user(app, email, name, **fields), email))
    add_user(app, *OFFICER, roles=[Role.LA_OFFICER], local_authority_id=area.leeds,
             job_role="la_staff")
    add_user(app, *ADMIN, roles=[Role.ADMIN])

    # The officer's dashboard, from the main navigation.
    sign_in(page, OFFICER[0])
    nav(page, "Your area").click()
    expect(heading(page, "Leeds: take-up of training")).to_be_visible()
    settings = page.locator("#settings-table tbody tr")
    expect(settings).to_have_count(2)
    expect(settings.first).to_contain_text("Acorn Day Nursery")
    expect(page.locator("#no-training-table")).to_contain_text("Cedar Childminding")
    expect(page.locator("#named-table tbody tr")).to_have_count(3)
    expect(page.get_by_text("4 attendances are not shown by name")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("Attendances each month"))).to_be_visible()
    for name in NOT_CONSENTING:
        expect(page.locator("main")).not_to_contain_text(name)
    axe_check(page)

    # The named attendance as CSV: only the people who agreed.
    with page.expect_download() as downloaded:
        page.get_by_role("link", name="Download attendance shown by name (CSV)").click()
    assert downloaded.value.suggested_filename.startswith("leeds-named-")
    with open(downloaded.value.path(), encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:3] == ["Person", "Setting", "Course"]
    assert sorted(row[0] for row in rows[1:]) == ["Alice Named", "Cara Consents",
                                                  "Hugo Shares"]
    assert not any(name in cell for row in rows for cell in row for name in NOT_CONSENTING)

    # A bespoke session: the number of people left out first.
    page.get_by_role("link", name="Request a bespoke session for your area").click()
    expect(heading(page, "Request a bespoke session")).to_be_visible()
    axe_check(page)
    page.get_by_label("Course").select_option(label="Supporting speech")
    page.get_by_label("Preferred date").fill(typed_date(40))
    page.get_by_label("Second choice of date (optional)").fill(typed_date(47))
    page.get_by_label("Anything else we should know (optional)").fill(
        "Twilight suits our childminders best.")
    page.get_by_role("button", name="Send the request").click()
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Enter how many people you expect")
    expect(page).to_have_title(re.compile(r"^Error: "))
    axe_check(page)
    summary.get_by_role("link", name="Enter how many people you expect").click()
    expect(page.get_by_label("How many people do you expect?")).to_be_focused()
    page.get_by_label("How many people do you expect?").fill("24")
    page.get_by_role("button", name="Send the request").click()

    expect(heading(page, "Your requests for bespoke sessions")).to_be_visible()
    expect(page.get_by_text("Your request has been sent")).to_be_visible()
    request_row = page.locator("#requests-table tbody tr")
    expect(request_row).to_have_count(1)
    expect(request_row).to_contain_text("Supporting speech")
    expect(request_row).to_contain_text("Waiting for an answer")
    axe_check(page)
    page.get_by_role("navigation", name="Main").get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have signed out.")).to_be_visible()
    page.wait_for_load_state("load")

    # An administrator answers it.
    sign_in(page, ADMIN[0])
    nav(page, "Administration").click()
    page.get_by_role("link", name="Requests for bespoke sessions").first.click()
    expect(heading(page, "Requests for bespoke sessions")).to_be_visible()
    axe_check(page)
    page.get_by_role("link", name=re.compile("^Leeds")).click()
    expect(heading(page, "Supporting speech for Leeds")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Twilight suits our childminders best.")
    axe_check(page)
    page.get_by_role("button", name="Send the answer").click()
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    axe_check(page)
    page.get_by_label("Accept: we will arrange the session").check()
    page.get_by_label("Message to the person who asked").fill(ANSWER)
    page.get_by_role("button", name="Send the answer").click()
    expect(page.get_by_text("Request accepted. Lena Officer has been emailed your answer.")) \
        .to_be_visible()
    axe_check(page)

    # The admin also sees Leeds's dashboard.
    page.get_by_role("link", name="Leeds", exact=True).click()
    expect(heading(page, "Leeds: take-up of training")).to_be_visible()
    expect(page.locator("#named-table")).to_contain_text("Alice Named")

    sent = [message for message in live_server.deliver_mail()
            if message["To"].addresses[0].addr_spec == OFFICER[0]]
    assert len(sent) == 1 and "accepted" in sent[0]["Subject"]
    assert ANSWER in sent[0].get_body(preferencelist=("plain",)).get_content()
