"""The Content Security Policy in a real browser: GOV.UK Frontend's scripts still run under it,
and the journeys' own check notices anything it refuses."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import PageProblems, _open_page, heading


def test_govuk_frontend_runs_under_the_policy(page, live_server):
    response = page.goto("/auth/sign-in")
    policy = response.headers["content-security-policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    assert "'unsafe-inline'" not in policy
    # The inline snippet carries this response's nonce and ran: the body says scripts work.
    assert page.locator("body > script").first.evaluate("(el) => el.nonce") == nonce
    expect(page.locator("body")).to_have_class(re.compile(r"\bjs-enabled\b"))
    expect(page.locator("body")).to_have_class(re.compile(r"\bgovuk-frontend-supported\b"))

    # GOV.UK Frontend's module (initAll) works: the error summary takes the focus.
    page.get_by_role("button", name="Sign in").click()
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Enter your email address")


def test_header_menu_opens_on_a_phone(phone_page):
    phone_page.goto("/")
    menu = phone_page.get_by_role("button", name="Menu")
    expect(menu).to_have_attribute("aria-expanded", "false")
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    phone_page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Sign in").click()
    expect(heading(phone_page, "Sign in")).to_be_visible()


def test_the_journeys_check_notices_what_the_policy_refuses(chromium_browser, live_server):
    problems = PageProblems()
    context, page = _open_page(chromium_browser, live_server, problems)
    try:
        page.goto("/")
        page.evaluate("""() => {
            const script = document.createElement("script");
            script.textContent = "document.body.dataset.injected = 'yes'";
            document.body.append(script);
            const box = document.createElement("div");
            box.innerHTML = '<p style="color: red">styled</p>';
            document.body.append(box);
        }""")
        expect(page.locator("body")).not_to_have_attribute("data-injected", "yes")
        for _attempt in range(40):  # the reports arrive in tasks of their own
            if len(problems.policy) >= 2:
                break
            page.wait_for_timeout(50)
    finally:
        context.close()
    refused = "\n".join(problems.policy)
    assert "script-src-elem refused inline" in refused
    assert "style-src-attr refused inline" in refused
