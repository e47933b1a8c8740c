"""The layout, information pages, error pages and the health check."""

from __future__ import annotations

import sqlalchemy as sa


def test_layout_has_service_name_navigation_phase_banner_and_footer_links(client):
    page = client.get("/").get_data(as_text=True)
    assert "Early years SEND training" in page
    assert "govuk-phase-banner" in page and "Beta" in page
    assert 'href="/accessibility"' in page and 'href="/privacy"' in page
    assert "Sign in" in page and "Create an account" in page
    # Not a GOV.UK service: no crown, no crown copyright, no OGL.
    assert "govuk-logo" not in page and "Crown copyright" not in page
    assert "Open Government Licence" not in page
    assert '<html lang="en"' in page and 'id="main-content"' in page


def test_signed_in_navigation(client, make_user, auth):
    make_user("admin@example.org", roles=["admin"])
    auth.sign_in("admin@example.org")
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Your account" in page and "Administration" in page and "Sign out" in page
    assert "Create an account" not in page


def test_practitioner_does_not_see_administration(client, make_user, auth):
    make_user("person@example.org")
    auth.sign_in("person@example.org")
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Administration" not in page
    assert client.get("/admin/").status_code == 403


def test_information_pages(client):
    assert "Accessibility statement" in client.get("/accessibility").get_data(as_text=True)
    assert "Privacy notice" in client.get("/privacy").get_data(as_text=True)


def test_not_found_page_is_styled(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "Page not found" in page
    assert "Early years SEND training" in page


def test_unexpected_errors_show_the_service_error_page(app, client):
    from trainer.access import public

    @public
    def explode():
        raise RuntimeError("boom")

    app.add_url_rule("/explode", "explode", explode)
    response = client.get("/explode")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "Sorry, there is a problem with the service" in page and "boom" not in page


def test_a_view_without_an_access_rule_is_refused(app, client):
    app.add_url_rule("/forgotten-rule", "forgotten_rule", lambda: "secret")
    response = client.get("/forgotten-rule")
    assert response.status_code == 403
    assert "secret" not in response.get_data(as_text=True)


def test_govuk_assets_are_served(client):
    for path in ("/static/govuk/govuk-frontend.min.css", "/assets/fonts/bold-b542beb274-v2.woff2"):
        response = client.get(path)
        assert response.status_code == 200, path
        response.close()


def test_health_check_reports_the_database(app, client, monkeypatch):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}

    from trainer.db import db

    def broken(*args, **kwargs):
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(db.session, "execute", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"


def test_health_check_with_an_unreachable_database():
    from trainer import create_app

    broken = create_app(
        {"TESTING": True, "DATABASE_URL": "sqlite:////nonexistent-folder/nowhere.sqlite"}
    )
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503


def test_dashboard_shows_the_next_training_or_an_empty_state(app, client, make_user, auth):
    from datetime import UTC, datetime, timedelta

    from tests import factories
    from trainer import booking as engine
    from trainer.db import db
    from trainer.people import User

    person, email = make_user("person@example.org")
    auth.sign_in(email)
    page = client.get("/dashboard").get_data(as_text=True)
    assert "You have no training booked" in page
    with app.test_request_context():
        start = datetime(2031, 3, 4, 18, 30, tzinfo=UTC)
        session = factories.training_session(starts=start, course_=factories.course("Makaton"))
        past = factories.training_session(starts=datetime.now(UTC) + timedelta(minutes=1))
        db.session.commit()
        engine.book(session.id, db.session.get(User, person))
        engine.book(past.id, db.session.get(User, person))
        past.meetings[0].starts_at = datetime.now(UTC) - timedelta(days=3)
        past.meetings[0].ends_at = datetime.now(UTC) - timedelta(days=3, hours=-1)
        past.refresh_times(engine.twilight_from())
        db.session.commit()
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Makaton" in page and "Tuesday 4 March 2031, 6:30pm to 8pm" in page
    assert page.count("/my-training/bookings/") == 1  # the finished session is not listed
