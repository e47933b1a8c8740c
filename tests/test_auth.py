"""Registering, confirming the email address, signing in and out, forgotten passwords."""

from __future__ import annotations

import sqlalchemy as sa

from tests.conftest import PASSWORD, count, link_in
from trainer.db import db
from trainer.people import User

GOOD = {
    "name": "Jo Bloggs",
    "email": "Jo.Bloggs@Example.org ",
    "password": "a-long-enough-password",
    "confirm": "a-long-enough-password",
}


def register(browser, **changes):
    data = dict(GOOD, **changes)
    return browser.submit("/auth/register", data)


def test_register_confirm_and_sign_in(app, browser, mailbox, auth):
    response = register(browser)
    assert response.status_code == 302
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "Check your email" in page and "jo.bloggs@example.org" in page

    # Cannot sign in before confirming.
    page = auth.sign_in("jo.bloggs@example.org", GOOD["password"]).get_data(as_text=True)
    assert "Confirm your email address first" in page

    [message] = mailbox()
    assert message["To"] == "Jo Bloggs <jo.bloggs@example.org>"
    assert message["Subject"] == "Confirm your email address"
    page = browser.get(link_in(message, "/auth/verify/"), follow_redirects=True)
    assert "Your email address is confirmed" in page.get_data(as_text=True)

    response = auth.sign_in("JO.BLOGGS@example.org", GOOD["password"])
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard"
    assert "Jo Bloggs" in browser.get("/dashboard").get_data(as_text=True)
    with app.app_context():
        user = db.session.scalar(sa.select(User))
        assert user.last_login_at is not None
        assert GOOD["password"] not in user.password_hash


def test_duplicate_email_changes_nothing_and_tells_the_owner(app, browser, mailbox, make_user):
    make_user("jo.bloggs@example.org", name="Original Jo")
    response = register(browser, name="Impostor")
    # The same page as a new registration: no way to learn that the address has an account.
    assert response.headers["Location"].endswith("/auth/check-your-email")
    assert count(app, User) == 1
    [message] = mailbox()
    assert message["Subject"] == "You already have an account"
    assert "Original Jo" in message.get_body(preferencelist=("plain",)).get_content()


def test_weak_password_and_mismatch_are_refused(app, browser):
    page = register(browser, password="short", confirm="short").get_data(as_text=True)
    assert "There is a problem" in page
    assert "Password must be 10 characters or more" in page
    assert 'href="#password"' in page
    page = register(browser, password="password123", confirm="password123").get_data(as_text=True)
    assert "Choose a password that is harder to guess" in page
    page = register(browser, confirm="something-else-entirely").get_data(as_text=True)
    assert "Passwords do not match" in page
    assert count(app, User) == 0


def test_oversized_and_malformed_fields_are_refused(app, browser):
    page = register(browser, name="x" * 121).get_data(as_text=True)
    assert "Full name must be 120 characters or fewer" in page
    page = register(browser, email="not-an-email").get_data(as_text=True)
    assert "Enter an email address in the correct format" in page
    page = register(browser, email=("a" * 250) + "@example.org").get_data(as_text=True)
    assert "254 characters or fewer" in page
    page = register(browser, password="p" * 129 + "abc", confirm="p" * 129 + "abc")
    assert "128 characters or fewer" in page.get_data(as_text=True)
    assert count(app, User) == 0


def test_missing_csrf_token_is_refused(app, client):
    response = client.post("/auth/register", data={k: v.strip() for k, v in GOOD.items()})
    assert response.status_code == 400
    assert "nothing was saved" in response.get_data(as_text=True)
    assert count(app, User) == 0


def test_tampered_and_expired_verification_links(app, browser, mailbox, auth):
    register(browser)
    [message] = mailbox()
    link = link_in(message, "/auth/verify/")
    response = browser.get(link[:-3] + "abc")
    assert response.status_code == 400
    assert "This link does not work" in response.get_data(as_text=True)

    app.config["EMAIL_TOKEN_MAX_AGE_SECONDS"] = -1
    response = browser.get(link)
    assert response.status_code == 400
    assert "This link has expired" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(User)).email_verified_at is None


def test_wrong_password_does_not_say_which_part_was_wrong(app, make_user, auth):
    make_user("known@example.org")
    wrong_password = auth.sign_in("known@example.org", "not-the-password").get_data(as_text=True)
    unknown_email = auth.sign_in("unknown@example.org", "not-the-password").get_data(as_text=True)
    for page in (wrong_password, unknown_email):
        assert "Enter a correct email address and password" in page
    assert auth.sign_in("known@example.org").status_code == 302


def test_sign_in_is_rate_limited_with_a_clear_message(app_factory, make_user):
    app = app_factory(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
    from tests.conftest import Auth, Browser

    auth = Auth(Browser(app.test_client()))
    for _ in range(3):
        assert auth.sign_in("someone@example.org", "wrong-password-here").status_code == 200
    response = auth.sign_in("someone@example.org", "wrong-password-here")
    assert response.status_code == 429
    assert "Too many attempts" in response.get_data(as_text=True)


def test_sign_out_needs_a_post_with_token(app, make_user, auth, client):
    make_user("person@example.org")
    auth.sign_in("person@example.org")
    assert client.get("/auth/sign-out").status_code == 405
    assert client.post("/auth/sign-out").status_code == 400
    assert client.get("/dashboard").status_code == 200
    auth.sign_out()
    assert client.get("/dashboard").status_code == 302


def test_next_parameter_cannot_redirect_off_site(app, make_user, browser):
    make_user("person@example.org")
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = browser.submit(
            f"/auth/sign-in?next={target}",
            {"email": "person@example.org", "password": PASSWORD},
        )
        assert response.headers["Location"] == "/dashboard"
        browser.submit("/auth/sign-out", form_url="/dashboard")
    response = browser.submit(
        "/auth/sign-in?next=/account/", {"email": "person@example.org", "password": PASSWORD}
    )
    assert response.headers["Location"] == "/account/"


def test_forgotten_password_link_works_once(app, make_user, browser, mailbox, auth):
    make_user("person@example.org")
    response = browser.submit("/auth/forgotten-password", {"email": "Person@example.org"})
    assert "check-your-email" in response.headers["Location"]
    [message] = mailbox()
    link = link_in(message, "/auth/reset-password/")
    response = browser.submit(
        link, {"password": "a-brand-new-password", "confirm": "a-brand-new-password"}
    )
    assert response.headers["Location"] == "/auth/sign-in"
    assert auth.sign_in("person@example.org").status_code == 200  # old password refused
    assert auth.sign_in("person@example.org", "a-brand-new-password").status_code == 302
    # The link was used: it no longer works.
    again = browser.get(link)
    assert again.status_code == 400
    assert "This link does not work" in again.get_data(as_text=True)
    subjects = [m["Subject"] for m in mailbox()]
    assert "Your password has been changed" in subjects


def test_forgotten_password_for_unknown_address_looks_the_same(app, browser, mailbox):
    response = browser.submit("/auth/forgotten-password", {"email": "nobody@example.org"})
    assert "check-your-email" in response.headers["Location"]
    assert mailbox() == []


def test_expired_reset_link(app, make_user, browser, mailbox):
    make_user("person@example.org")
    browser.submit("/auth/forgotten-password", {"email": "person@example.org"})
    [message] = mailbox()
    app.config["PASSWORD_RESET_MAX_AGE_SECONDS"] = -1
    response = browser.get(link_in(message, "/auth/reset-password/"))
    assert response.status_code == 400
    assert "This link has expired" in response.get_data(as_text=True)
