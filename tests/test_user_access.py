"""Who may do what is given by an administrator: roles, a trainer's delivery partner and an LA
officer's local authority. An LA officer cannot change their own local authority, since it
decides which area's figures they see."""

from __future__ import annotations

import re
import threading

import pytest
import sqlalchemy as sa

from tests.conftest import Auth, Browser
from trainer import privacy
from trainer.db import Busy, db
from trainer.people import DeliveryPartner, LocalAuthority, Role, User
from trainer.web.admin import AccessRefused, change_access

ADMIN = "admin@example.org"
OFFICER = "officer@example.org"
PERSON = "person@example.org"


def la_id(app, name: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(LocalAuthority.id).where(LocalAuthority.name == name))


def add_partner(app, name="Early Years Inclusion Partnership") -> int:
    with app.app_context():
        partner = DeliveryPartner(name=name)
        db.session.add(partner)
        db.session.commit()
        return partner.id


def signed_in(app, email: str) -> Browser:
    browser = Browser(app.test_client())
    assert Auth(browser).sign_in(email).status_code == 302
    return browser


def stored(app, user_id: int) -> tuple[set[Role], int | None, int | None]:
    """A person's roles, delivery partner and local authority, as stored."""
    with app.app_context():
        person = db.session.get(User, user_id)
        return person.roles, person.delivery_partner_id, person.local_authority_id


def main_text(response) -> str:
    html = response.get_data(as_text=True)
    main = html[html.index("<main"):html.index("</main>")]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main))


def error_summary(response) -> str:
    html = response.get_data(as_text=True)
    assert "govuk-error-summary" in html
    start = html.index("govuk-error-summary")
    return html[start:html.index("</ul>", start)]


@pytest.fixture
def admin(app, make_user) -> Browser:
    make_user(ADMIN, name="Ada Admin", roles=[Role.ADMIN])
    return signed_in(app, ADMIN)


# -- an LA officer's own local authority ----------------------------------------------------------


def test_an_officer_cannot_change_their_own_local_authority(app, make_user):
    leeds, bradford = la_id(app, "Leeds"), la_id(app, "Bradford")
    officer_id, _ = make_user(OFFICER, name="Olu Officer", roles=[Role.LA_OFFICER],
                              local_authority_id=leeds, job_role="la_staff")
    officer = signed_in(app, OFFICER)
    page = officer.get("/account/details")
    assert page.status_code == 200
    assert 'name="local_authority"' not in page.get_data(as_text=True)
    text = main_text(page)
    assert "Leeds" in text
    assert ("Your local authority is set by an administrator because it decides which "
            "area's figures you see.") in text

    response = officer.submit("/account/details", {
        "name": "Olu Officer", "job_role": "la_staff", "local_authority": str(bradford)})
    assert response.status_code == 302
    assert stored(app, officer_id)[2] == leeds
    assert officer.get(f"/la/{bradford}/").status_code == 403
    assert officer.get(f"/la/{leeds}/").status_code == 200


def test_a_practitioner_can_still_change_their_local_authority(app, make_user):
    bradford = la_id(app, "Bradford")
    person_id, _ = make_user(PERSON, local_authority_id=la_id(app, "Leeds"))
    browser = signed_in(app, PERSON)
    assert 'name="local_authority"' in browser.get("/account/details").get_data(as_text=True)
    response = browser.submit("/account/details", {
        "name": "Sam Example", "job_role": "health_visitor", "local_authority": str(bradford)})
    assert response.status_code == 302
    assert stored(app, person_id)[2] == bradford


# -- the administrator's page ---------------------------------------------------------------------


def test_the_user_page_links_to_changing_access(app, make_user, admin):
    person_id, _ = make_user(PERSON)
    page = admin.get(f"/admin/users/{person_id}").get_data(as_text=True)
    assert f'href="/admin/users/{person_id}/access"' in page
    assert "Change access" in page
    form = admin.get(f"/admin/users/{person_id}/access")
    assert form.status_code == 200
    html = form.get_data(as_text=True)
    for label in ("Practitioner", "Trainer", "Local authority officer",
                  "Moderation panel member", "Administrator"):
        assert label in html
    assert re.search(r'value="practitioner"[^>]*checked', html)
    assert not re.search(r'value="admin"[^>]*checked', html)


def test_an_admin_makes_someone_an_la_officer_who_then_sees_that_area_only(app, make_user, admin):
    leeds, bradford = la_id(app, "Leeds"), la_id(app, "Bradford")
    person_id, _ = make_user(PERSON, name="Priya Person")
    response = admin.submit(f"/admin/users/{person_id}/access", {
        "roles": ["practitioner", "la_officer"], "local_authority": str(leeds),
        "delivery_partner": ""}, follow_redirects=True)
    assert response.request.path == f"/admin/users/{person_id}"
    text = main_text(response)
    assert "Access for Priya Person has been changed" in response.get_data(as_text=True)
    assert "Local authority officer for Leeds" in text
    assert stored(app, person_id) == ({Role.PRACTITIONER, Role.LA_OFFICER}, None, leeds)

    officer = signed_in(app, PERSON)
    assert officer.get(f"/la/{leeds}/").status_code == 200
    assert officer.get(f"/la/{bradford}/").status_code == 403


def test_an_la_officer_needs_a_local_authority(app, make_user, admin):
    person_id, _ = make_user(PERSON)
    response = admin.submit(f"/admin/users/{person_id}/access", {
        "roles": ["practitioner", "la_officer"], "local_authority": "",
        "delivery_partner": ""})
    assert response.status_code == 200
    summary = error_summary(response)
    assert "Select the local authority they are an officer for" in summary
    assert 'href="#local_authority"' in summary
    assert stored(app, person_id) == ({Role.PRACTITIONER}, None, None)


def test_a_trainer_needs_a_delivery_partner_and_loses_it_with_the_role(app, make_user, admin):
    partner = add_partner(app)
    person_id, _ = make_user(PERSON, name="Tam Trainer")
    url = f"/admin/users/{person_id}/access"
    response = admin.submit(url, {"roles": ["trainer"], "delivery_partner": "",
                                  "local_authority": ""})
    assert "Select the trainer&#39;s delivery partner" in error_summary(response)
    assert stored(app, person_id) == ({Role.PRACTITIONER}, None, None)

    response = admin.submit(url, {"roles": ["trainer"], "delivery_partner": str(partner),
                                  "local_authority": ""}, follow_redirects=True)
    assert "Delivery partner Early Years Inclusion Partnership" in main_text(response)
    assert stored(app, person_id) == ({Role.TRAINER}, partner, None)
    assert signed_in(app, PERSON).get("/manage/").status_code == 200

    admin.submit(url, {"roles": ["practitioner"], "delivery_partner": str(partner),
                       "local_authority": ""})
    assert stored(app, person_id) == ({Role.PRACTITIONER}, None, None)


def test_taking_away_la_officer_keeps_the_area_they_gave(app, make_user, admin):
    leeds = la_id(app, "Leeds")
    person_id, _ = make_user(PERSON, roles=[Role.LA_OFFICER], local_authority_id=leeds)
    admin.submit(f"/admin/users/{person_id}/access", {
        "roles": ["practitioner"], "local_authority": str(la_id(app, "York")),
        "delivery_partner": ""})
    assert stored(app, person_id) == ({Role.PRACTITIONER}, None, leeds)


def test_an_unknown_role_or_place_is_refused(app, make_user, admin):
    person_id, _ = make_user(PERSON)
    response = admin.submit(f"/admin/users/{person_id}/access", {
        "roles": ["practitioner", "superuser"], "local_authority": "999999",
        "delivery_partner": ""})
    assert response.status_code == 200
    assert "Select access from the list" in error_summary(response)
    assert stored(app, person_id) == ({Role.PRACTITIONER}, None, None)


def test_an_admin_cannot_remove_their_own_admin_role(app, make_user, admin):
    make_user("other-admin@example.org", roles=[Role.ADMIN])
    with app.app_context():
        admin_id = db.session.scalar(sa.select(User.id).where(User.email == ADMIN))
    response = admin.submit(f"/admin/users/{admin_id}/access", {
        "roles": ["practitioner"], "local_authority": "", "delivery_partner": ""})
    assert response.status_code == 200
    assert "You cannot remove your own Administrator role" in error_summary(response)
    assert stored(app, admin_id)[0] == {Role.ADMIN}
    # Adding a role to themself is fine.
    response = admin.submit(f"/admin/users/{admin_id}/access", {
        "roles": ["admin", "moderator"], "local_authority": "", "delivery_partner": ""})
    assert response.status_code == 302
    assert stored(app, admin_id)[0] == {Role.ADMIN, Role.MODERATOR}


def test_the_last_active_administrator_keeps_the_role(app, make_user):
    # Only reachable when administrators act at once (an administrator signed in is an active
    # one), so the rule is tested where it is kept, then under a race below.
    only_id, _ = make_user("only@example.org", roles=[Role.ADMIN])
    make_user("gone@example.org", roles=[Role.ADMIN], active=False)
    other_id, _ = make_user(PERSON)
    with app.test_request_context(method="POST"):
        by = db.session.get(User, other_id)
        with pytest.raises(AccessRefused, match="only active administrator"):
            change_access(only_id, {Role.PRACTITIONER}, None, None, by=by)
    assert stored(app, only_id)[0] == {Role.ADMIN}


def remove_each_other(app, first: int, second: int) -> list[str]:
    """Two administrators each take the Administrator role from the other at the same moment;
    Busy answers are tried again, as a person would. Returns the two outcomes."""
    outcomes: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def remove(person_id: int, by_id: int):
        try:
            with app.test_request_context(method="POST"):
                by = db.session.get(User, by_id)
                start.wait()
                for _try in range(20):
                    try:
                        change_access(person_id, {Role.PRACTITIONER}, None, None, by=by)
                        outcomes.append("changed")
                    except AccessRefused:
                        outcomes.append("refused")
                    except Busy:
                        continue
                    break
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=remove, args=(first, second)),
               threading.Thread(target=remove, args=(second, first))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return outcomes


def test_two_administrators_removing_each_other_at_once_leave_one(app, make_user):
    first, _ = make_user("first@example.org", roles=[Role.ADMIN])
    second, _ = make_user("second@example.org", roles=[Role.ADMIN])
    for _round in range(3):
        assert sorted(remove_each_other(app, first, second)) == ["changed", "refused"]
        admins = [person for person in (first, second) if Role.ADMIN in stored(app, person)[0]]
        assert len(admins) == 1
        with app.app_context():
            for person in (first, second):
                db.session.get(User, person).grant(Role.ADMIN)
            db.session.commit()


def test_an_erased_account_cannot_be_given_access(app, make_user, admin):
    person_id, _ = make_user(PERSON)
    with app.test_request_context(method="POST"):
        privacy.erase_user(db.session.get(User, person_id))
    assert "Change access" not in admin.get(f"/admin/users/{person_id}").get_data(as_text=True)
    page = admin.get(f"/admin/users/{person_id}/access")
    assert "This account has been erased" in main_text(page)
    assert 'name="roles"' not in page.get_data(as_text=True)
    response = admin.submit(f"/admin/users/{person_id}/access", {
        "roles": ["admin"], "local_authority": "", "delivery_partner": ""},
        form_url="/dashboard")
    assert response.status_code == 400
    assert stored(app, person_id)[0] == set()


@pytest.mark.parametrize("role", [Role.PRACTITIONER, Role.TRAINER, Role.LA_OFFICER,
                                  Role.MODERATOR])
def test_only_administrators_may_change_access(app, make_user, role):
    person_id, _ = make_user(PERSON)
    make_user("someone@example.org", roles=[role])
    browser = signed_in(app, "someone@example.org")
    url = f"/admin/users/{person_id}/access"
    assert browser.get(url).status_code == 403
    response = browser.submit(url, {"roles": ["admin"], "local_authority": "",
                                    "delivery_partner": ""}, form_url="/dashboard")
    assert response.status_code == 403
    assert stored(app, person_id)[0] == {Role.PRACTITIONER}


def test_visitors_are_sent_to_sign_in(app, client, make_user):
    person_id, _ = make_user(PERSON)
    response = client.get(f"/admin/users/{person_id}/access")
    assert response.status_code == 302 and "/auth/sign-in" in response.headers["Location"]


def test_changing_access_needs_the_csrf_token(app, make_user, admin):
    person_id, _ = make_user(PERSON)
    response = admin.client.post(f"/admin/users/{person_id}/access", data={
        "roles": ["admin"], "local_authority": "", "delivery_partner": ""})
    assert response.status_code == 400
    assert stored(app, person_id)[0] == {Role.PRACTITIONER}


def test_an_unknown_person_is_not_found(admin):
    assert admin.get("/admin/users/999999/access").status_code == 404
