"""Journeys through the pages in a real Chromium, with axe-core on every page visited.

Someone registers, confirms their email address from the link we send, signs in, gives their
name and role and chooses their setting; the register form's error summary is used from the
keyboard; the register page fits a phone's screen.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from tests.browser.conftest import axe_check, missing_requirements
from tests.conftest import PASSWORD, link_in

if missing_requirements():
    pytest.skip(
        "browser journeys need: " + "; ".join(missing_requirements()), allow_module_level=True
    )

from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.browser

SCREENSHOT = "/tmp/trainer-profile.png"
PHONE_WIDTH = 375


def add_setting(app, name="Little Acorns Day Nursery", authority="Leeds", postcode="LS6 2AB"):
    from trainer.db import db
    from trainer.people import LocalAuthority, Setting

    with app.app_context():
        local_authority = db.session.scalar(
            sa.select(LocalAuthority).where(LocalAuthority.name == authority)
        )
        assert local_authority is not None, f"{authority} is not in local_authorities.csv"
        db.session.add(
            Setting(
                name=name,
                setting_type="nursery",
                urn="EY100001",
                local_authority=local_authority,
                postcode=postcode,
            )
        )
        db.session.commit()


def heading(page, text):
    return page.get_by_role("heading", level=1, name=text)


def expect_banner(page, text):
    """A notification banner says ``text``, and only that: no stray markup shown as text."""
    expect(page.locator(".govuk-notification-banner__heading")).to_have_text(text)
    expect(page.locator(".govuk-notification-banner")).not_to_contain_text("<p")


@pytest.mark.browser
def test_register_confirm_sign_in_and_choose_a_setting(page, live_server):
    add_setting(live_server.app)
    email = "jo.bloggs@example.org"

    page.goto("/")
    expect(heading(page, re.compile("Free training on special educational needs"))).to_be_visible()
    axe_check(page)

    page.get_by_role("button", name="Create an account").click()
    expect(heading(page, "Create an account")).to_be_visible()
    axe_check(page)
    page.get_by_label("Full name").fill("Jo Bloggs")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Create a password", exact=True).fill(PASSWORD)
    page.get_by_label("Confirm password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()

    expect(heading(page, "Check your email")).to_be_visible()
    expect(page.get_by_text(email)).to_be_visible()
    axe_check(page)

    sent = [m for m in live_server.deliver_mail() if m["To"] and email in m["To"]]
    assert len(sent) == 1, f"expected one email to {email}, got {len(sent)}"
    assert sent[0]["Subject"] == "Confirm your email address"
    page.goto(link_in(sent[0], "/auth/verify/"))

    expect(heading(page, "Sign in")).to_be_visible()
    expect_banner(page, "Your email address is confirmed. You can now sign in.")
    axe_check(page)
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(heading(page, "Your home page")).to_be_visible()
    axe_check(page)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Your account").click()
    expect(heading(page, "Your details")).to_be_visible()
    axe_check(page)

    page.get_by_role("link", name="Change name", exact=True).click()
    expect(heading(page, "Your name and role")).to_be_visible()
    axe_check(page)
    page.get_by_label("Full name").fill("Jo Bloggs-Smith")
    page.get_by_label("SENCO", exact=True).check()
    page.get_by_role("button", name="Save").click()

    # A SENCO works at a setting, so choosing one comes next.
    expect(heading(page, "Find your setting")).to_be_visible()
    expect_banner(page, "Your details have been saved.")
    axe_check(page)
    page.get_by_label("Name, postcode or Ofsted URN of the setting").fill("acorns")
    page.get_by_role("button", name="Search").click()

    expect(page).to_have_url(re.compile(r"/account/setting\?q=acorns$"))
    results = page.get_by_role("group", name=re.compile("Settings matching"))
    expect(results).to_be_visible()
    axe_check(page)
    results.get_by_label("Little Acorns Day Nursery").check()
    page.get_by_role("button", name="Choose this setting").click()

    expect(heading(page, "Your details")).to_be_visible()
    expect_banner(page, "Your setting is now Little Acorns Day Nursery.")
    summary = page.locator(".govuk-summary-list")

    def row(key):
        return summary.locator(".govuk-summary-list__row").filter(
            has=page.locator(".govuk-summary-list__key", has_text=re.compile(rf"^\s*{key}\s*$"))
        ).locator(".govuk-summary-list__value")

    expect(row("Name")).to_have_text("Jo Bloggs-Smith")
    expect(row("Role")).to_have_text("SENCO")
    expect(row("Setting")).to_contain_text("Little Acorns Day Nursery")
    expect(row("Setting")).to_contain_text("Nursery, Leeds, LS6 2AB")
    expect(row("Local authority")).to_have_text("Leeds")
    axe_check(page)

    # GOV.UK Frontend's styles and fonts really loaded, and there is no GOV.UK crown.
    page.evaluate("() => document.fonts.ready")
    font_family = page.evaluate(
        "() => getComputedStyle(document.querySelector('h1')).fontFamily"
    )
    assert "GDS Transport" in font_family, font_family
    assert page.evaluate("() => document.fonts.check('bold 19px \"GDS Transport\"')")
    loaded_fonts = page.evaluate(
        "() => performance.getEntriesByType('resource').map(e => e.name)"
        ".filter(n => n.includes('/assets/fonts/'))"
    )
    assert loaded_fonts, "no fonts were fetched from /assets/fonts/"
    crown = page.locator(".govuk-header__logotype, .govuk-logo, svg[class*='crown']")
    expect(crown).to_have_count(0)
    expect(page.get_by_role("banner")).to_contain_text(live_server.app.config["SERVICE_NAME"])
    page.screenshot(path=SCREENSHOT, full_page=True)


@pytest.mark.browser
def test_error_summary_links_move_focus_to_the_field(page):
    page.goto("/auth/register")
    page.get_by_role("button", name="Create account").click()

    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_visible()
    expect(summary.get_by_role("heading", name="There is a problem")).to_be_visible()
    expect(page).to_have_title(re.compile("^Error: Create an account"))
    # GOV.UK Frontend moves focus to the summary when the page loads.
    expect(summary).to_be_focused()
    axe_check(page)

    first_link = summary.get_by_role("link").first
    expect(first_link).to_have_text("Enter your full name")
    page.keyboard.press("Tab")
    expect(first_link).to_be_focused()
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "name"
    expect(page.get_by_label("Full name")).to_be_focused()

    # Every other link also leads to its own field.
    for link_text, field_id in [
        ("Enter your email address", "email"),
        ("Confirm your password", "confirm"),
    ]:
        summary.get_by_role("link", name=link_text).focus()
        page.keyboard.press("Enter")
        assert page.evaluate("() => document.activeElement.id") == field_id


@pytest.mark.browser
def test_register_page_fits_a_phone_screen(phone_page):
    page = phone_page
    page.goto("/auth/register")
    expect(heading(page, "Create an account")).to_be_visible()
    assert page.evaluate("() => window.innerWidth") == PHONE_WIDTH

    def scroll_width():
        return page.evaluate("() => document.documentElement.scrollWidth")

    assert scroll_width() <= PHONE_WIDTH, "the register page scrolls sideways on a phone"
    axe_check(page)

    page.get_by_role("button", name="Create account").click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    assert scroll_width() <= PHONE_WIDTH, "the register page with errors scrolls sideways"
