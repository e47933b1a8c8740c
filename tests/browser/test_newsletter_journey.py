"""The newsletter in a real Chromium, with axe-core on every page visited.

A visitor signs up from the home page on a phone, follows the confirmation link from the
email, changes their preferences from the link in it, and unsubscribes with the button. An
administrator writes a message, previews it, sends a test, sends it, and watches its progress.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import (
    add_user,
    assert_fits,
    axe_check,
    heading,
    missing_requirements,
    panel,
    sign_in,
)

if missing_requirements():
    pytest.skip(
        "browser journeys need: " + "; ".join(missing_requirements()), allow_module_level=True
    )

from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.browser

READER = "nadia.reader@example.com"


def last_link(live_server, address: str, path: str) -> str:
    from tests.conftest import body_of

    for message in reversed(live_server.deliver_mail()):
        if message["To"].endswith(address) or address in message["To"]:
            found = re.search(rf"https?://\S+({re.escape(path)}\S+)", body_of(message))
            if found:
                return found.group(1)
    raise AssertionError(f"no {path} link emailed to {address}")


def test_a_visitor_signs_up_confirms_changes_preferences_and_unsubscribes(phone_page,
                                                                          live_server):
    page = phone_page
    page.goto("/")
    panel(page, "Hear about new training").get_by_role(
        "link", name="Sign up to our newsletter").click()
    expect(heading(page, "Sign up to our newsletter")).to_be_visible()
    axe_check(page)
    assert_fits(page)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("alert")).to_contain_text("Enter your email address")
    page.get_by_label("Email address").fill(READER)
    page.get_by_label("London").check()
    page.get_by_label("Autism").check()
    page.get_by_role("button", name="Sign up").click()
    expect(heading(page, "Check your email")).to_be_visible()
    axe_check(page)

    page.goto(last_link(live_server, READER, "/newsletter/confirm/"))
    expect(heading(page, "You are subscribed")).to_be_visible()
    axe_check(page)
    page.get_by_role("link", name="Change what you hear about").click()
    expect(heading(page, "Your newsletter preferences")).to_be_visible()
    axe_check(page)
    assert_fits(page)
    page.get_by_label("Makaton").check()
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_text("Your preferences have been saved.")).to_be_visible()

    page.get_by_role("link", name="Unsubscribe from the newsletter").click()
    expect(heading(page, "Unsubscribe from the newsletter")).to_be_visible()
    axe_check(page)
    page.get_by_role("button", name="Unsubscribe").click()
    expect(heading(page, "You have unsubscribed")).to_be_visible()
    axe_check(page)


def test_an_administrator_writes_previews_tests_and_sends_a_message(page, live_server):
    from trainer.people import Role

    add_user(live_server.app, "ada.admin@example.org", "Ada Admin", roles=[Role.ADMIN])
    sign_in(page, "ada.admin@example.org")
    page.goto("/admin/")
    panel(page, "Newsletter").get_by_role("link", name="Write a message").click()
    expect(heading(page, "Write a message")).to_be_visible()
    axe_check(page)
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("alert")).to_contain_text("Enter a subject")
    axe_check(page)
    page.get_by_label("Subject").fill("Autumn programme")
    page.get_by_label("Message").fill("New twilight sessions are open.\n\nBook soon.")
    page.get_by_role("button", name="Preview").click()
    expect(heading(page, "Autumn programme")).to_be_visible()
    axe_check(page)
    page.get_by_role("button", name="Send a test to ada.admin@example.org").click()
    expect(page.get_by_text("A test email is on its way")).to_be_visible()
    # The only subscriber is the administrator, once subscribed from their account.
    page.goto("/newsletter/subscription")
    expect(heading(page, "Newsletter")).to_be_visible()
    axe_check(page)
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_text("You are subscribed to the newsletter.")).to_be_visible()
    page.goto("/newsletter/admin/")
    axe_check(page)
    page.get_by_role("link", name="Autumn programme").click()
    page.get_by_role("button", name="Send to 1 subscriber").click()
    expect(page.get_by_text("Sending to 1 subscriber")).to_be_visible()
    expect(page.get_by_text("Waiting to start")).to_be_visible()
    axe_check(page)
    page.get_by_role("button", name="Refresh").click()
    expect(page.get_by_role("heading", name="Progress")).to_be_visible()
