"""In a real browser, on a phone: a practitioner downloads everything held about them, then
deletes their account; the pages pass axe-core, and afterwards they cannot sign in."""

from __future__ import annotations

import json

import pytest

from tests.browser.conftest import (
    add_user,
    assert_fits,
    axe_check,
    heading,
    missing_requirements,
    sign_in_on_phone,
)

if missing_requirements():
    pytest.skip(
        "browser journeys need: " + "; ".join(missing_requirements()), allow_module_level=True
    )

from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.browser

EMAIL, NAME = "jo.bloggs@example.org", "Jo Bloggs"


def test_a_practitioner_downloads_their_data_and_deletes_their_account(phone_390,
                                                                      live_server):
    from tests.conftest import PASSWORD

    page = phone_390
    add_user(live_server.app, EMAIL, NAME, job_role="early_years_practitioner")
    sign_in_on_phone(page, EMAIL)

    page.goto(live_server.url + "/account/")
    page.get_by_role("link", name="Your data").click()
    expect(heading(page, "Your data")).to_be_visible()
    axe_check(page)
    assert_fits(page)

    with page.expect_download() as downloaded:
        page.get_by_role("link", name="Download your data as JSON").click()
    with open(downloaded.value.path(), encoding="utf-8") as handle:
        data = json.load(handle)
    assert data["Your account"][0]["email"] == EMAIL
    assert data["Your account"][0]["name"] == NAME
    with page.expect_download() as downloaded:
        page.get_by_role("link", name="Download your data as CSV").click()
    assert downloaded.value.suggested_filename.endswith(".csv")

    page.get_by_role("link", name="Delete your account").click()
    expect(heading(page, "Delete your account")).to_be_visible()
    axe_check(page)
    assert_fits(page)
    page.get_by_role("textbox", name="Your current password").fill("not my password")
    page.get_by_role("button", name="Delete your account").click()
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Your current password is not correct")
    axe_check(page)

    page.get_by_role("textbox", name="Your current password").fill(PASSWORD)
    page.get_by_role("button", name="Delete your account").click()
    expect(heading(page, "Your account has been deleted")).to_be_visible()
    axe_check(page)
    assert_fits(page)

    page.goto(live_server.url + "/auth/sign-in")
    page.get_by_role("textbox", name="Email address").fill(EMAIL)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()
