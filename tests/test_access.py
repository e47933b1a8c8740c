"""Deny by default: every route states who may use it, and the rules hold for each role.

A new route must be added to ``EXPECTED`` below, so nobody adds a page without deciding who
may see it.
"""

from __future__ import annotations

import pytest

from tests.conftest import csrf_token
from trainer.access import rule_of
from trainer.people import Role

# endpoint -> the rule its view declares
EXPECTED = {
    "static": "public",
    "pages.home": "public",
    "pages.accessibility": "public",
    "pages.privacy": "public",
    "pages.healthz": "public",
    "pages.govuk_assets": "public",
    "pages.dashboard": "signed_in",
    "auth.register": "public",
    "auth.check_email": "public",
    "auth.verify_email": "public",
    "auth.resend_confirmation": "public",
    "auth.sign_in": "public",
    "auth.sign_out": "public",
    "auth.forgotten_password": "public",
    "auth.reset_password": "public",
    "account.profile": "signed_in",
    "account.details": "signed_in",
    "account.choose_setting": "signed_in",
    "account.new_setting": "signed_in",
    "account.change_email": "signed_in",
    "account.confirm_email": "public",
    "account.change_password": "signed_in",
    "account.your_data": "signed_in",
    "account.download_data": "signed_in",
    "account.download_data_csv": "signed_in",
    "account.erase": "signed_in",
    "account.erased": "public",
    # catalogue (find training)
    "catalogue.find_training": "public",
    "catalogue.course_page": "public",
    "catalogue.session_page": "public",
    "catalogue.session_ics": "public",
    "catalogue.feed": "public",
    # bookings (My training)
    "bookings.my_training": "signed_in",
    "bookings.book": "signed_in",
    "bookings.confirmed": "signed_in",
    "bookings.booking_page": "signed_in",
    "bookings.invite": "signed_in",
    "bookings.cancel": "signed_in",
    "bookings.cancelled": "signed_in",
    "bookings.certificate": "signed_in",
    "bookings.subscribe": "signed_in",
    "bookings.reset_feed": "signed_in",
    "bookings.feed": "public",
    # manage (running training)
    "manage.index": "roles:admin,trainer",
    "reports.index": "roles:admin,trainer",
    "reports.reach": "roles:admin,trainer",
    "reports.reach_csv": "roles:admin,trainer",
    "reports.oversubscription": "roles:admin,trainer",
    "reports.oversubscription_csv": "roles:admin,trainer",
    "reports.overview": "roles:admin",
    "reports.overview_csv": "roles:admin",
    "manage.courses": "roles:admin,trainer",
    "manage.new_course": "roles:admin,trainer",
    "manage.edit_course": "roles:admin,trainer",
    "manage.new_session": "roles:admin,trainer",
    "manage.session": "roles:admin,trainer",
    "manage.edit_session": "roles:admin,trainer",
    "manage.capacity": "roles:admin,trainer",
    "manage.cancel_session": "roles:admin,trainer",
    "manage.register": "roles:admin,trainer",
    "manage.register_csv": "roles:admin,trainer",
    # api
    "api.sessions": "public",
    "api.session": "public",
    "api.openapi": "public",
    "admin.index": "roles:admin",
    "admin.plugins": "roles:admin",
    "admin.mail_list": "roles:admin",
    "admin.mail_retry": "roles:admin",
    "admin.mail_retry_all": "roles:admin",
    "admin.users": "roles:admin",
    "admin.user": "roles:admin",
    "admin.user_data": "roles:admin",
    "admin.erase_user": "roles:admin",
    "admin.user_access": "roles:admin",
    "imports.index": "roles:admin",
    "imports.template": "roles:admin",
    "imports.upload": "roles:admin",
    # waiting list plugin
    "waiting_list.join": "signed_in",
    "waiting_list.leave": "signed_in",
    "waiting_list.answer_offer": "public",
    "waiting_list.manage_list": "roles:admin,trainer",
    "waiting_list.manual_offer": "roles:admin,trainer",
    "waiting_list.remove_entry": "roles:admin,trainer",
    "waiting_list.demand_report": "roles:admin,trainer",
    "waiting_list.demand_invite": "roles:admin,trainer",
    "confidence.answer": "signed_in",
    "confidence.answer_by_link": "public",
    "confidence.my_answers": "signed_in",
    "confidence.manage_session": "roles:admin,trainer",
    "confidence.remind": "roles:admin,trainer",
    "confidence.record": "roles:admin,trainer",
    "confidence.course_statements": "roles:admin,trainer",
    "confidence.evaluation_statements": "roles:admin",
    "confidence.edit_statement": "roles:admin,trainer",
    "confidence.retire_statement": "roles:admin,trainer",
    "confidence.analysis_page": "roles:admin,la_officer,trainer",
    "confidence.analysis_csv": "roles:admin,la_officer,trainer",
    # awards: public pages
    "awards.home": "public",
    "awards.scheme_page": "public",
    "awards.register": "public",
    "awards.verify": "public",
    "awards.badge": "public",
    "awards.certificate": "signed_in",
    # awards: applicants and staff (ownership checked in the view)
    "awards.my_setting": "signed_in",
    "awards.start": "signed_in",
    "awards.application": "signed_in",
    "awards.criterion": "signed_in",
    "awards.add_text_evidence": "signed_in",
    "awards.upload_evidence": "signed_in",
    "awards.remove_evidence": "signed_in",
    "awards.evidence_file": "signed_in",
    "awards.submit": "signed_in",
    "awards.withdraw": "signed_in",
    "awards.renew": "signed_in",
    "awards.staff_audit": "signed_in",
    # awards: moderation panels (membership and declarations checked in the view)
    "awards.panel_home": "roles:admin,moderator",
    "awards.declare": "roles:admin,moderator",
    "awards.assess": "roles:admin,moderator",
    "awards.moderation": "roles:admin,moderator",
    # awards: administrators
    "awards.admin_home": "roles:admin",
    "awards.admin_application": "roles:admin",
    "awards.admin_assign": "roles:admin",
    "awards.admin_extend": "roles:admin",
    "awards.panels": "roles:admin",
    "awards.panel_detail": "roles:admin",
    "awards.panel_member_remove": "roles:admin",
    "awards.panel_chair": "roles:admin",
    "awards.audit_log": "roles:admin",
    "awards.admin_awards": "roles:admin",
    "awards.withdraw_award": "roles:admin",
    "awards.celebration": "roles:admin",
    "awards.celebration_csv": "roles:admin",
    # newsletter plugin: signing up and the links in its emails (the token is the key)
    "newsletter.sign_up": "public",
    "newsletter.check_email": "public",
    "newsletter.confirm": "public",
    "newsletter.preferences": "public",
    "newsletter.unsubscribe": "public",
    "newsletter.resubscribe": "public",
    "newsletter.my_subscription": "signed_in",
    # newsletter: administrators
    "newsletter.admin_index": "roles:admin",
    "newsletter.compose": "roles:admin",
    "newsletter.edit_campaign": "roles:admin",
    "newsletter.campaign": "roles:admin",
    "newsletter.test_send": "roles:admin",
    "newsletter.send_campaign": "roles:admin",
    # local authority dashboards (ownership of the LA checked in the view)
    "la.index": "roles:admin,la_officer",
    "la.dashboard": "roles:admin,la_officer",
    "la.table": "roles:admin,la_officer",
    "la.table_csv": "roles:admin,la_officer",
    # bespoke session requests
    "la.requests": "roles:la_officer",
    "la.new_request": "roles:la_officer",
    "session_requests.index": "roles:admin",
    "session_requests.detail": "roles:admin",
}


def test_every_route_declares_the_expected_rule(app):
    found = {}
    for rule in app.url_map.iter_rules():
        found[rule.endpoint] = rule_of(app.view_functions[rule.endpoint])
    missing = sorted(set(found) - set(EXPECTED))
    assert not missing, f"routes with no expectation in tests/test_access.py: {missing}"
    assert found == {endpoint: EXPECTED[endpoint] for endpoint in found}


def _get_routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.arguments:
            continue
        if "GET" in rule.methods:
            yield rule.endpoint, rule.rule


@pytest.mark.parametrize(
    "role", [None, Role.PRACTITIONER, Role.TRAINER, Role.LA_OFFICER, Role.MODERATOR, Role.ADMIN]
)
def test_each_role_gets_the_expected_answer(app, client, make_user, auth, role):
    if role is not None:
        make_user("someone@example.org", roles=[role])
        auth.sign_in("someone@example.org")
    for endpoint, path in _get_routes(app):
        rule = EXPECTED[endpoint]
        response = client.get(path)
        response.close()
        if rule == "public":
            assert response.status_code in (200, 302), (path, response.status_code)
        elif rule == "signed_in":
            expected = 302 if role is None else 200
            assert response.status_code == expected, (role, path, response.status_code)
        else:
            allowed = rule.removeprefix("roles:").split(",")
            if role is None:
                assert response.status_code == 302
                assert "/auth/sign-in" in response.headers["Location"]
            elif str(role) in allowed:
                assert response.status_code == 200, (role, path)
            else:
                assert response.status_code == 403, (role, path)


@pytest.mark.parametrize("role", [None, Role.PRACTITIONER, Role.TRAINER, Role.LA_OFFICER])
def test_admin_actions_are_refused_to_others(app, browser, make_user, auth, role):
    if role is not None:
        make_user("someone@example.org", roles=[role])
        auth.sign_in("someone@example.org")
    token = csrf_token(
        browser.get("/dashboard" if role else "/auth/sign-in").get_data(as_text=True)
    )
    for path in ("/admin/mail/1/retry", "/admin/mail/retry-all"):
        response = browser.client.post(path, data={"csrf_token": token})
        assert response.status_code in (302, 403), path
        if role is not None:
            assert response.status_code == 403
