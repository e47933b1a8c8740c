"""Demo data and the set-up command ``make run`` uses."""

from __future__ import annotations

import sqlalchemy as sa

from trainer import demo
from trainer.db import db
from trainer.hooks import plugin_manager
from trainer.hookspecs import hookimpl
from trainer.people import LocalAuthority, Region, Role, Setting, User
from trainer.plugins.waiting_list.models import WaitlistEntry


def test_init_builds_the_database_loads_demo_data_and_prints_logins(app_factory, tmp_path):
    app = app_factory()
    with app.app_context():
        db.drop_all()  # init must build the schema itself, through the migrations
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    import tests.conftest as conftest

    conftest._postgres_schema_ready = False
    runner = app.test_cli_runner()
    result = runner.invoke(args=["trainer", "init"])
    assert result.exit_code == 0, result.output
    for email in ("practitioner@example.org", "trainer@example.org", "la.officer@example.org",
                  "moderator@example.org", "admin@example.org"):
        assert email in result.output
    assert demo.DEMO_PASSWORD in result.output
    with app.app_context():
        users = db.session.scalar(sa.select(sa.func.count()).select_from(User))
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Region)) == 9
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LocalAuthority)) == 153
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Setting)) == 300
        for role in Role:
            holder = db.session.scalar(
                sa.select(User).join(User.role_rows).where(
                    User.email.like("%@example.org"), sa.text("user_role.role = :r")
                ).params(r=str(role))
            )
            assert holder is not None, role

    # A second run changes nothing and still prints the logins.
    again = runner.invoke(args=["trainer", "init"])
    assert again.exit_code == 0 and "admin@example.org" in again.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == users


def test_demo_logins_work(app, runner, browser):
    with app.app_context():
        demo.create("small", echo=lambda *_: None)
    for _role, email, password in demo.logins():
        response = browser.submit("/auth/sign-in", {"email": email, "password": password})
        assert response.headers.get("Location") == "/dashboard", email
        browser.submit("/auth/sign-out", form_url="/dashboard")
    # Demo data goes only into an empty database.
    result = runner.invoke(args=["trainer", "demo-data"])
    assert result.exit_code != 0 and "already has people" in result.output


def test_places_load_again_without_duplicates(app):
    from trainer.people import load_places

    with app.app_context():
        assert load_places() == (9, 153)
        db.session.commit()
        london = db.session.scalar(sa.select(Region).where(Region.name == "London"))
        assert len(london.local_authorities) == 33


def test_create_admin_command(app, runner, auth):
    result = runner.invoke(
        args=["trainer", "create-admin", "--email", "Boss@Example.org", "--name", "Bo Boss"],
        input="a-strong-admin-password\na-strong-admin-password\n",
    )
    assert result.exit_code == 0, result.output
    assert "Created administrator boss@example.org" in result.output
    auth.sign_in("boss@example.org", "a-strong-admin-password")
    assert auth.browser.get("/admin/").status_code == 200
    weak = runner.invoke(
        args=["trainer", "create-admin", "--email", "b@example.org", "--name", "B"],
        input="short\nshort\n",
    )
    assert weak.exit_code != 0 and "at least 10 characters" in weak.output


class DemoRecorder:
    """A plugin adding its own demo data, as the waiting list does."""

    def __init__(self):
        self.calls = []

    @hookimpl
    def trainer_demo_data(self, rng, echo):
        self.calls.append(rng.random())
        echo("  3 recorded things")
        return {"recorded": 3}


def test_plugins_add_demo_data_after_the_core(app):
    plugin = DemoRecorder()
    plugin_manager(app).register(plugin)
    lines = []
    try:
        with app.app_context():
            made = demo.create("small", echo=lines.append)
            waiting = db.session.scalar(sa.select(sa.func.count()).select_from(WaitlistEntry))
    finally:
        plugin_manager(app).unregister(plugin)
    assert made["recorded"] == 3 and "  3 recorded things" in lines
    assert len(plugin.calls) == 1
    # The waiting list's own demo: people waiting on full upcoming sessions.
    assert waiting > 0 and made["waiting_list_entries"] == waiting
