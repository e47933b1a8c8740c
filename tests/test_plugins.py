"""Plugins: registering, entry points, disabling, and the hook contract (documented, tested).

The sample plugin is ``tests/plugins/example_plugin.py``. A test that registers a plugin on a
running app's manager unregisters it in ``finally``.
"""

from __future__ import annotations

import importlib.metadata
import re
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Blueprint

from tests.plugins import example_plugin
from trainer import config, hookspecs
from trainer.hooks import ENTRY_POINT_GROUP, blocked_plugins, plugin_manager, plugin_summaries
from trainer.hookspecs import hookimpl
from trainer.people import Role

EXAMPLE_MODULE = "tests.plugins.example_plugin"
EXAMPLE_HOOKS = ["trainer_blueprints", "trainer_nav_items", "trainer_page_panels", "trainer_tick"]
TESTS = Path(__file__).resolve().parent
DOCS = TESTS.parent / "docs" / "plugin_hooks.md"
NAV_LINK = re.compile(r'<a[^>]*href="/example/"[^>]*>\s*Example\s*</a>')


# The plugins that ship with trainer, loaded through the same entry points.
BUILT_IN = ["awards", "confidence", "newsletter", "waiting_list"]


def loaded(app) -> dict[str, dict]:
    """The app's loaded plugins by name."""
    with app.app_context():
        return {summary["name"]: summary for summary in plugin_summaries(app)}


def disabled(app) -> list[str]:
    with app.app_context():
        return blocked_plugins(app)


def write_example_distribution(site: Path) -> None:
    """An installed distribution, as pip leaves one, declaring the example plugin."""
    info = site / "example_dist-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: example-dist\nVersion: 1.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\nexample = {EXAMPLE_MODULE}\n", encoding="utf-8"
    )


@pytest.fixture
def example_distribution(tmp_path, monkeypatch) -> Path:
    """The example plugin installed through its ``trainer.plugins`` entry point."""
    site = tmp_path / "site-packages"
    write_example_distribution(site)
    monkeypatch.syspath_prepend(str(site))
    return site


# The example plugin, registered through the PLUGINS config key.


class TestExamplePlugin:
    @pytest.fixture
    def app(self, app_factory):
        return app_factory(PLUGINS=[EXAMPLE_MODULE])

    def test_its_page_is_served(self, client):
        response = client.get("/example/")
        assert response.status_code == 200
        assert example_plugin.PAGE_TITLE in response.get_data(as_text=True)

    def test_its_navigation_item_is_on_every_page(self, client, make_user, auth):
        for path in ("/", "/auth/sign-in"):
            assert NAV_LINK.search(client.get(path).get_data(as_text=True)), path
        own_page = client.get("/example/").get_data(as_text=True)
        assert 'href="/example/" aria-current="true"' in own_page, "shown as the current item"
        _, email = make_user()
        auth.sign_in(email)
        for path in ("/dashboard", "/account/"):
            assert NAV_LINK.search(client.get(path).get_data(as_text=True)), path

    def test_its_panel_is_on_the_dashboard_only(self, client, make_user, auth):
        _, email = make_user(name="Priya Shah")
        auth.sign_in(email)
        dashboard = client.get("/dashboard").get_data(as_text=True)
        assert example_plugin.PANEL_TITLE in dashboard
        assert "Hello, Priya Shah." in dashboard
        assert "Nothing needs your attention" not in dashboard
        assert example_plugin.PANEL_TITLE not in client.get("/account/").get_data(as_text=True)

    def test_its_panel_escapes_what_people_typed(self, client, make_user, auth):
        _, email = make_user(name="<b>Bold</b> Name")
        auth.sign_in(email)
        dashboard = client.get("/dashboard").get_data(as_text=True)
        assert "&lt;b&gt;Bold&lt;/b&gt; Name" in dashboard
        assert "<b>Bold</b>" not in dashboard

    def test_tick_prints_its_summary(self, runner):
        result = runner.invoke(args=["trainer", "tick"])
        assert result.exit_code == 0, result.output
        assert example_plugin.TICK_SUMMARY in result.output

    def test_the_plugins_page_lists_it_with_its_hooks(self, client, make_user, auth):
        _, email = make_user(roles=[Role.ADMIN])
        auth.sign_in(email)
        page = client.get("/admin/plugins")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert EXAMPLE_MODULE in html
        for hook in EXAMPLE_HOOKS:
            assert hook in html

    def test_the_plugins_page_is_for_administrators_only(self, client, make_user, auth):
        assert client.get("/admin/plugins").status_code == 302  # to sign in
        _, email = make_user()
        auth.sign_in(email)
        assert client.get("/admin/plugins").status_code == 403

    def test_the_plugins_command_lists_it(self, runner):
        result = runner.invoke(args=["trainer", "plugins"])
        assert result.exit_code == 0, result.output
        assert f"{EXAMPLE_MODULE}: {', '.join(EXAMPLE_HOOKS)}" in result.output


def test_plugins_can_be_given_as_objects(app_factory):
    app = app_factory(PLUGINS=[example_plugin])
    assert loaded(app)[EXAMPLE_MODULE]["hooks"] == EXAMPLE_HOOKS
    assert app.test_client().get("/example/").status_code == 200


def test_plugins_can_be_named_in_the_environment(app_factory, monkeypatch):
    monkeypatch.setenv("TRAINER_PLUGINS", f" {EXAMPLE_MODULE} ,")
    app = app_factory()
    assert EXAMPLE_MODULE in loaded(app)
    assert app.test_client().get("/example/").status_code == 200


def test_a_disabled_plugin_is_not_registered_from_plugins_either(app_factory):
    app = app_factory(PLUGINS=[EXAMPLE_MODULE], DISABLED_PLUGINS=[EXAMPLE_MODULE])
    assert EXAMPLE_MODULE not in loaded(app)
    assert app.test_client().get("/example/").status_code == 404


def test_a_plugin_view_without_an_access_rule_is_refused(app_factory):
    careless = Blueprint("careless", __name__)

    @careless.route("/careless")
    def open_door():
        return "nobody should see this"

    class CarelessPlugin:
        @hookimpl
        def trainer_blueprints(self):
            return careless  # a single blueprint is accepted as well as a list

    client = app_factory(PLUGINS=[CarelessPlugin()]).test_client()
    response = client.get("/careless")
    assert response.status_code == 403
    assert "nobody should see this" not in response.get_data(as_text=True)


def test_a_plugin_registered_on_a_running_app_takes_part_until_unregistered(app, runner):
    seen = []

    class LatePlugin:
        @hookimpl
        def trainer_tick(self, now):
            seen.append(now)
            return "Late plugin ticked"

    manager = plugin_manager(app)
    plugin = LatePlugin()
    manager.register(plugin, name="late")
    try:
        result = runner.invoke(args=["trainer", "tick"])
        assert result.exit_code == 0, result.output
        assert "Late plugin ticked" in result.output
        assert seen[0].utcoffset() == timedelta(0), "tick hands plugins an aware UTC time"
    finally:
        manager.unregister(plugin)
    assert "Late plugin ticked" not in runner.invoke(args=["trainer", "tick"]).output
    assert len(seen) == 1


# Entry points: built-in and third-party plugins alike are found through them.


class TestEntryPoint:
    @pytest.fixture
    def app(self, example_distribution, app_factory):
        return app_factory()

    def test_the_plugin_is_loaded_from_its_entry_point(self, app, client):
        summary = loaded(app)["example"]
        assert summary["module"] == EXAMPLE_MODULE
        assert summary["distribution"] == "example-dist 1.0"
        assert summary["hooks"] == EXAMPLE_HOOKS
        assert client.get("/example/").status_code == 200
        assert NAV_LINK.search(client.get("/").get_data(as_text=True))

    def test_the_plugins_page_shows_where_it_comes_from(self, client, make_user, auth):
        _, email = make_user(roles=[Role.ADMIN])
        auth.sign_in(email)
        html = client.get("/admin/plugins").get_data(as_text=True)
        assert "example-dist 1.0" in html
        assert "Disabled plugins" not in html

    def test_naming_it_in_plugins_as_well_registers_it_once(
        self, example_distribution, app_factory
    ):
        app = app_factory(PLUGINS=[EXAMPLE_MODULE])
        assert sorted(loaded(app)) == sorted(["example", *BUILT_IN])
        assert len(NAV_LINK.findall(app.test_client().get("/").get_data(as_text=True))) == 1


class TestDisabledEntryPoint:
    @pytest.fixture
    def app(self, example_distribution, app_factory):
        return app_factory(DISABLED_PLUGINS=["example"])

    def test_the_plugin_is_not_loaded(self, app, client):
        assert "example" not in loaded(app)
        assert disabled(app) == ["example"]
        assert client.get("/example/").status_code == 404
        assert not NAV_LINK.search(client.get("/").get_data(as_text=True))

    def test_the_plugins_page_lists_it_as_disabled(self, client, make_user, auth):
        _, email = make_user(roles=[Role.ADMIN])
        auth.sign_in(email)
        html = client.get("/admin/plugins").get_data(as_text=True)
        disabled_part = html.split("Disabled plugins", 1)[1]
        assert "<li>example</li>" in disabled_part
        assert "example-dist" not in html

    def test_the_plugins_command_says_it_is_disabled(self, runner):
        output = runner.invoke(args=["trainer", "plugins"]).output
        assert "example: disabled" in output


def test_disabled_plugins_are_read_from_the_environment_comma_separated():
    defaults = {name: value for name, value in vars(config).items() if name.isupper()}
    found = config.from_environment(defaults, {"TRAINER_DISABLED_PLUGINS": "example, other,"})
    assert found == {"DISABLED_PLUGINS": ["example", "other"]}


def test_disabling_through_the_environment_variable(example_distribution, app_factory, monkeypatch):
    monkeypatch.setenv("TRAINER_DISABLED_PLUGINS", "example,other")
    app = app_factory()
    assert "example" not in loaded(app)
    assert disabled(app) == ["example", "other"]
    assert app.test_client().get("/example/").status_code == 404


# The core works on its own.


class TestEveryPluginDisabled:
    @pytest.fixture
    def app(self, example_distribution, app_factory):
        entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        installed = {entry.name for entry in entry_points}
        assert "example" in installed
        return app_factory(DISABLED_PLUGINS=sorted(installed))

    def test_no_plugin_is_loaded(self, app):
        assert loaded(app) == {}

    def test_the_public_pages_work(self, client):
        for path in ("/", "/auth/sign-in", "/auth/register"):
            assert client.get(path).status_code == 200, path

    def test_signed_in_pages_work(self, client, make_user, auth):
        _, email = make_user(roles=[Role.ADMIN])
        assert auth.sign_in(email).status_code == 302
        for path in ("/dashboard", "/account/", "/admin/plugins"):
            assert client.get(path).status_code == 200, path
        assert "No plugins are loaded" in client.get("/admin/plugins").get_data(as_text=True)

    def test_tick_still_runs(self, runner):
        result = runner.invoke(args=["trainer", "tick"])
        assert result.exit_code == 0, result.output
        assert "Tick done" in result.output


# The hook contract: every hook is documented and has a test (as datasette checks).

HOOKIMPL_PATTERN = re.compile(r"@hookimpl(?:\([^)]*\))?\s*\n\s*def\s+(trainer_\w+)\s*\(")
CALL_PATTERNS = (
    re.compile(r"\bcall\(\s*[\"'](trainer_\w+)[\"']"),
    re.compile(r"\.hook\.(trainer_\w+)\s*\("),
)


def hook_names(app) -> set[str]:
    """Every hook with a spec: the core's and any a loaded plugin added."""
    names = {name for name in vars(hookspecs) if name.startswith("trainer_")}
    for name, caller in vars(plugin_manager(app).hook).items():
        if name.startswith("trainer_") and caller.has_spec():
            names.add(name)
    return names


def test_every_hook_has_a_docstring(app):
    for name in hook_names(app):
        spec = plugin_manager(app).hook.__dict__[name].spec
        assert spec.function.__doc__ and spec.function.__doc__.strip(), name


def test_every_hook_is_documented(app):
    documented = set(re.findall(r"^##+ `?(trainer_\w+)\(", DOCS.read_text("utf-8"), re.M))
    missing = sorted(hook_names(app) - documented)
    assert not missing, f"add a section to docs/plugin_hooks.md for: {', '.join(missing)}"


def test_every_hook_has_a_test(app):
    exercised = set()
    for path in TESTS.rglob("*.py"):
        source = path.read_text("utf-8")
        exercised.update(HOOKIMPL_PATTERN.findall(source))
        for pattern in CALL_PATTERNS:
            exercised.update(pattern.findall(source))
    missing = sorted(hook_names(app) - exercised)
    assert not missing, f"no test implements or calls: {', '.join(missing)}"
