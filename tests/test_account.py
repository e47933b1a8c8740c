"""Your account: details, choosing or adding a setting, changing email and password."""

from __future__ import annotations

import sqlalchemy as sa

from tests.conftest import PASSWORD, count, link_in
from trainer.db import db
from trainer.people import LocalAuthority, Setting, User


def add_setting(app, name="Little Acorns Day Nursery", urn="EY100001", postcode="LS6 2AB"):
    with app.app_context():
        leeds = db.session.scalar(sa.select(LocalAuthority).where(LocalAuthority.name == "Leeds"))
        setting = Setting(
            name=name, setting_type="nursery", urn=urn, local_authority=leeds, postcode=postcode
        )
        db.session.add(setting)
        db.session.commit()
        return setting.id


def leeds_id(app) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(LocalAuthority.id).where(LocalAuthority.name == "Leeds")
        )


def user(app, email="person@example.org") -> User:
    with app.app_context():
        found = db.session.scalar(sa.select(User).where(User.email == email))
        db.session.expunge(found)
        return found


def test_account_pages_need_signing_in(client):
    for path in ("/account/", "/account/details", "/account/setting", "/account/email",
                 "/account/password", "/account/setting/new"):
        response = client.get(path)
        assert response.status_code == 302
        assert "/auth/sign-in" in response.headers["Location"]


def test_change_name_and_role_then_choose_setting(app, make_user, auth, browser):
    make_user("person@example.org")
    auth.sign_in("person@example.org")
    setting_id = add_setting(app)
    response = browser.submit(
        "/account/details", {"name": "Sam New-Name", "job_role": "senco", "local_authority": ""}
    )
    # A SENCO without a setting is asked to choose one next.
    assert response.headers["Location"] == "/account/setting"
    page = browser.get("/account/setting?q=acorns").get_data(as_text=True)
    assert "Little Acorns Day Nursery" in page and "Leeds" in page and "LS6 2AB" in page
    response = browser.submit(
        "/account/setting?q=acorns", {"setting": str(setting_id)}, follow_redirects=True
    )
    assert "Your setting is now Little Acorns Day Nursery" in response.get_data(as_text=True)
    saved = user(app)
    assert saved.name == "Sam New-Name" and saved.job_role == "senco"
    assert saved.setting_id == setting_id
    profile = browser.get("/account/").get_data(as_text=True)
    assert "SENCO" in profile and "Little Acorns Day Nursery" in profile


def test_setting_search_by_postcode_and_urn_and_empty_state(app, make_user, auth, browser):
    make_user("person@example.org")
    auth.sign_in("person@example.org")
    add_setting(app)
    add_setting(app, name="Oak Tree Pre-school", urn="EY200002", postcode="M1 1AA")
    assert "Little Acorns" in browser.get("/account/setting?q=ls62ab").get_data(as_text=True)
    assert "Oak Tree" in browser.get("/account/setting?q=ey200002").get_data(as_text=True)
    page = browser.get("/account/setting?q=zebra").get_data(as_text=True)
    assert "No settings match" in page and "Add your setting" in page


def test_choosing_nothing_or_a_missing_setting_is_an_error(app, make_user, auth, browser):
    make_user("person@example.org")
    auth.sign_in("person@example.org")
    add_setting(app)
    for choice in ({}, {"setting": "99999"}, {"setting": "not-a-number"}):
        page = browser.submit(
            "/account/setting?q=acorns", choice, form_url="/account/setting?q=acorns"
        ).get_data(as_text=True)
        assert "There is a problem" in page and "Select your setting" in page
    assert user(app).setting_id is None


def test_add_a_new_setting(app, make_user, auth, browser):
    make_user("person@example.org")
    auth.sign_in("person@example.org")
    data = {
        "name": "Puddle Ducks Pre-school",
        "setting_type": "pre_school",
        "urn": "ey123456",
        "local_authority": str(leeds_id(app)),
        "postcode": "ls61aa",
    }
    response = browser.submit("/account/setting/new", data, follow_redirects=True)
    assert "Puddle Ducks Pre-school has been added" in response.get_data(as_text=True)
    with app.app_context():
        setting = db.session.scalar(sa.select(Setting))
        assert (setting.urn, setting.postcode, setting.local_authority.name) == (
            "EY123456", "LS6 1AA", "Leeds"
        )
    assert user(app).setting_id is not None


def test_new_setting_bad_input_changes_nothing(app, make_user, auth, browser):
    make_user("person@example.org")
    auth.sign_in("person@example.org")
    add_setting(app)
    cases = [
        ({"postcode": "NOT A POSTCODE"}, "Enter a real postcode"),
        ({"name": ""}, "Enter the name of the setting"),
        ({"name": "n" * 201}, "Name must be 200 characters or fewer"),
        ({"local_authority": "999999"}, "Not a valid choice"),
        ({"setting_type": "castle"}, "Not a valid choice"),
        ({"urn": "EY100001"}, "already listed"),
    ]
    for change, message in cases:
        data = {
            "name": "A new place", "setting_type": "nursery", "urn": "",
            "local_authority": str(leeds_id(app)), "postcode": "LS6 1AA",
        }
        data.update(change)
        page = browser.submit("/account/setting/new", data).get_data(as_text=True)
        assert "There is a problem" in page, change
        assert message in page, change
    assert count(app, Setting) == 1


def test_change_email_needs_password_and_the_new_address_confirmed(
    app, make_user, auth, browser, mailbox
):
    make_user("old@example.org")
    auth.sign_in("old@example.org")
    page = browser.submit(
        "/account/email", {"email": "new@example.org", "password": "wrong-password"}
    ).get_data(as_text=True)
    assert "Your current password is not correct" in page
    response = browser.submit(
        "/account/email", {"email": "New@Example.org", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert user(app, "old@example.org").email == "old@example.org"  # not yet
    [message] = mailbox()
    assert message["To"].endswith("<new@example.org>")
    browser.get(link_in(message, "/account/email/confirm/"))
    assert user(app, "new@example.org") is not None
    assert any(m["Subject"] == "Your email address has been changed" and
               "old@example.org" in m["To"] for m in mailbox())
    # Still signed in, and the link does not work twice.
    assert browser.get("/account/").status_code == 200
    [_, _, *rest] = mailbox()
    assert browser.get(link_in(message, "/account/email/confirm/")).status_code == 400


def test_change_email_to_a_taken_address_is_refused_when_confirmed(
    app, make_user, auth, browser, mailbox
):
    make_user("me@example.org")
    auth.sign_in("me@example.org")
    browser.submit("/account/email", {"email": "later@example.org", "password": PASSWORD})
    [message] = mailbox()
    make_user("later@example.org")  # someone else takes it meanwhile
    response = browser.get(link_in(message, "/account/email/confirm/"))
    assert response.status_code == 400
    assert "already in use" in response.get_data(as_text=True)
    assert user(app, "me@example.org") is not None


def test_change_password_signs_out_other_browsers(app, make_user, auth, browser):
    from tests.conftest import Auth, Browser

    make_user("person@example.org")
    auth.sign_in("person@example.org")
    other = Browser(app.test_client())
    Auth(other).sign_in("person@example.org")
    assert other.get("/dashboard").status_code == 200

    page = browser.submit(
        "/account/password", {"current": "wrong", "password": "another-good-password"}
    ).get_data(as_text=True)
    assert "Your current password is not correct" in page
    response = browser.submit(
        "/account/password", {"current": PASSWORD, "password": "another-good-password"}
    )
    assert response.status_code == 302
    assert browser.get("/dashboard").status_code == 200  # still signed in here
    assert other.get("/dashboard").status_code == 302  # signed out there


def test_parent_or_carer_has_no_setting(app, make_user, auth, browser):
    make_user("parent@example.org")
    auth.sign_in("parent@example.org")
    response = browser.submit(
        "/account/details",
        {"name": "Pat Parent", "job_role": "parent_carer", "local_authority": str(leeds_id(app))},
    )
    assert response.headers["Location"] == "/account/"
    page = browser.get("/account/").get_data(as_text=True)
    assert "Not needed for parents and carers" in page and "Leeds" in page


def test_details_posted_with_fields_left_out_are_refused_not_filled_from_the_account(
    app, make_user, auth, client
):
    from tests.conftest import csrf_token

    make_user("kit@example.org", name="Kit Example")
    auth.sign_in("kit@example.org")
    token = csrf_token(client.get("/account/details").get_data(as_text=True))
    response = client.post("/account/details", data={"csrf_token": token})
    assert response.status_code == 200
    assert "govuk-error-summary" in response.get_data(as_text=True)
    with app.app_context():
        from trainer.db import db
        from trainer.people import User

        assert db.session.query(User).filter_by(email="kit@example.org").one().name == "Kit Example"


def test_a_name_with_a_hidden_control_character_is_refused_and_nothing_saved(
    app, make_user, auth, browser
):
    make_user("kit@example.org", name="Kit Example")
    auth.sign_in("kit@example.org")
    response = browser.submit(
        "/account/details",
        {"name": "Kit\x00 Changed", "job_role": "parent_carer",
         "local_authority": str(leeds_id(app))},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "govuk-error-summary" in page
    assert "must not contain hidden control characters" in page
    assert user(app, "kit@example.org").name == "Kit Example"
    # Tabs and line breaks are ordinary; emoji and accents are words.
    response = browser.submit(
        "/account/details",
        {"name": "Zoë 😀 Example", "job_role": "parent_carer",
         "local_authority": str(leeds_id(app))},
    )
    assert response.status_code == 302
    assert user(app, "kit@example.org").name == "Zoë 😀 Example"
