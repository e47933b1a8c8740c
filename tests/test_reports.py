"""The reports page: it lays out the sections plugins add, for trainers and admins only."""

from __future__ import annotations

from flask import url_for

from tests.conftest import Auth, Browser
from trainer.hooks import ReportSection, plugin_manager
from trainer.hookspecs import hookimpl
from trainer.people import Role


class Sections:
    """Adds two sections, one only for administrators, with markup and a link."""

    @hookimpl
    def trainer_report_sections(self, user):
        sections = [ReportSection("Second for everyone", "<p>Figures &lt;b&gt;</p>", order=60)]
        if user.has_role(Role.ADMIN):
            sections.append(ReportSection("First for admins", "<p>Secret figures</p>",
                                          url=url_for("admin.index"), order=5))
        return sections


def test_sections_are_shown_in_order_to_those_they_are_for(app, client, make_user, auth):
    plugin = Sections()
    plugin_manager(app).register(plugin)
    try:
        make_user("admin@example.org", roles=[Role.ADMIN])
        auth.sign_in("admin@example.org")
        page = client.get("/reports/").get_data(as_text=True)
        assert page.index("First for admins") < page.index("Second for everyone")
        assert "Figures &lt;b&gt;" in page and 'href="/admin/"' in page
        auth.sign_out()
        make_user("trainer@example.org", roles=[Role.TRAINER])
        auth.sign_in("trainer@example.org")
        page = client.get("/reports/").get_data(as_text=True)
        assert "Second for everyone" in page and "Secret figures" not in page
    finally:
        plugin_manager(app).unregister(plugin)


def test_the_core_reports_work_with_every_plugin_disabled(app_factory, make_user):
    app = app_factory(DISABLED_PLUGINS=["waiting_list", "confidence", "awards", "newsletter"])
    client = app.test_client()
    make_user("admin@example.org", roles=[Role.ADMIN])
    Auth(Browser(client)).sign_in("admin@example.org")
    page = client.get("/reports/").get_data(as_text=True)
    assert "Reach" in page and "Oversubscription" in page and "National overview" in page
    assert "Waiting lists and demand" not in page
    for url in ("/reports/reach", "/reports/oversubscription", "/reports/overview"):
        assert client.get(url).status_code == 200, url


def test_practitioners_and_visitors_cannot_see_reports(client, make_user, auth):
    assert client.get("/reports/").status_code == 302
    make_user("me@example.org")
    auth.sign_in("me@example.org")
    assert client.get("/reports/").status_code == 403


def test_the_navigation_links_to_reports_for_trainers(client, make_user, auth):
    make_user("trainer@example.org", roles=[Role.TRAINER])
    auth.sign_in("trainer@example.org")
    assert 'href="/reports/"' in client.get("/dashboard").get_data(as_text=True)
