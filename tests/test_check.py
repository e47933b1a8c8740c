"""``flask trainer check``: one line per problem, saying how to fix it, before trainer starts;
exit status 0 when all is well."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from flask_migrate import stamp
from werkzeug.middleware.proxy_fix import ProxyFix

import tests.conftest as conftest
from trainer import create_app
from trainer.checks import check_requested
from trainer.db import db
from trainer.hookspecs import hookimpl

PROJECT = Path(__file__).resolve().parent.parent
SENDGRID_KEY = "SG." + "a1B2c3D4e5F6g7H8i9J0kL" + "." + "m" * 43
PRODUCTION = {
    "TESTING": False,
    "EXTERNAL_URL": "https://training.example.gov.uk",
    "MAIL_TRANSPORT": "sendgrid",
    "SENDGRID_API_KEY": SENDGRID_KEY,
    "MAIL_FROM": "training@partnership.org.uk",
    "PROXY_FIX": 1,
}


class UploadsPlugin:
    def __init__(self, folder: Path):
        self.folder = folder

    @hookimpl
    def trainer_file_folders(self):
        return {"uploads": self.folder}


@pytest.fixture
def production_app(app_factory, tmp_path):
    """Build a production-configured app (not testing) whose schema is at the latest
    migration; overrides change one thing."""

    def build(revision: str = "head", **overrides):
        app = app_factory(**{**PRODUCTION, **overrides})
        with app.app_context():
            stamp(revision=revision)
        return app

    yield build
    conftest._postgres_schema_ready = False  # drop the stamped migrations table afterwards


def check(app, *args):
    result = app.test_cli_runner().invoke(args=["trainer", "check", *args])
    problems = [line for line in result.output.splitlines() if line.startswith("PROBLEM")]
    return result, problems


def test_a_good_production_configuration_passes(production_app, tmp_path):
    app = production_app(PLUGINS=[UploadsPlugin(tmp_path / "uploads")])
    result, problems = check(app)
    assert problems == [], result.output
    assert result.exit_code == 0
    assert result.output.rstrip().endswith("All checks passed.")
    for expected in ("Secret key is set", "answers.", "Database schema is up to date",
                     "External address is https://training.example.gov.uk",
                     "Mail goes through SendGrid", "training@partnership.org.uk",
                     f"The uploads folder (uploads) {tmp_path / 'uploads'} can be written",
                     "The evidence folder (uploads)"):
        assert expected in result.output, expected


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"SENDGRID_API_KEY": None}, "MAIL_TRANSPORT is sendgrid but no API key is set: set "
                                     "TRAINER_SENDGRID_API_KEY"),
        ({"SENDGRID_API_KEY": "my-sendgrid-password"},
         "TRAINER_SENDGRID_API_KEY does not look like a SendGrid API key"),
        ({"MAIL_TRANSPORT": "file"}, "MAIL_TRANSPORT is file: emails are only written to "
                                     "instance/mail/, nobody receives them"),
        ({"MAIL_FROM": ""}, "MAIL_FROM '' is not an email address: set TRAINER_MAIL_FROM"),
        ({"MAIL_FROM": "training@example.org"}, "MAIL_FROM is the placeholder"),
        ({"EXTERNAL_URL": ""}, "EXTERNAL_URL is not set: set TRAINER_EXTERNAL_URL"),
        ({"EXTERNAL_URL": "http://training.example.gov.uk"},
         "EXTERNAL_URL http://training.example.gov.uk is not https"),
        ({"EXTERNAL_URL": "https://localhost:8000"}, "points at this machine"),
        ({"PROXY_FIX": -1}, "PROXY_FIX -1 is not a number of proxies"),
    ],
    ids=["no-sendgrid-key", "sendgrid-key-format", "file-transport", "no-from-address",
         "placeholder-from-address", "no-external-url", "http-external-url",
         "local-external-url", "proxy-count"],
)
def test_each_problem_is_one_line_saying_how_to_fix_it(production_app, overrides, expected):
    result, problems = check(production_app(**overrides))
    assert result.exit_code == 1
    assert len(problems) == 1, result.output
    assert expected in problems[0]
    assert result.output.rstrip().endswith("1 problem found: fix it before starting trainer.")


def test_an_upload_folder_that_cannot_be_written_is_reported(production_app, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    app = production_app(AWARDS_EVIDENCE_DIR=str(blocker / "evidence"))
    result, problems = check(app)
    assert result.exit_code == 1
    assert problems == [
        f"PROBLEM The evidence folder (uploads) {blocker / 'evidence'} cannot be made "
        f"({blocker} is not a folder): create it and give the user that runs trainer the "
        "right to write to it (chown/chmod), or point the setting at a folder that can be "
        "written."
    ]


def test_pending_migrations_are_reported(production_app):
    result, problems = check(production_app(revision="8972ef5fce76"))
    assert result.exit_code == 1
    assert problems == [
        "PROBLEM 1 migration not applied to the database (it is at 8972ef5fce76): run "
        "`flask --app wsgi db upgrade` before starting this version."
    ]


def test_a_database_without_migrations_is_reported(app_factory):
    app = app_factory(**PRODUCTION)  # tables made by create_all, no migration recorded
    result, problems = check(app)
    assert problems == ["PROBLEM The database has no schema yet (no migration applied): run "
                        "`flask --app wsgi db upgrade`."]


def test_an_unreachable_database_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAINER_INSTANCE_PATH", str(tmp_path))
    app = create_app({**PRODUCTION, "SECRET_KEY": "a-real-secret-key-for-this-test",
                      "DATABASE_URL": "postgresql+psycopg://trainer:hunter2@127.0.0.1:9/none"})
    try:
        result, problems = check(app)
    finally:
        with app.app_context():
            db.engine.dispose()
    assert result.exit_code == 1
    assert len(problems) == 1
    assert problems[0].startswith(
        "PROBLEM Database postgresql+psycopg://trainer:***@127.0.0.1:9/none cannot be reached")
    assert "check TRAINER_DATABASE_URL and that the database server is running" in problems[0]
    assert "hunter2" not in result.output


def test_several_hosts_need_postgresql_and_shared_sign_in_counting(production_app):
    result, problems = check(production_app(), "--hosts", "3")
    assert result.exit_code == 1
    sign_in = ("PROBLEM Sign-in attempts are counted in each process's memory, so 3 hosts "
               "allow 3 times as many: set TRAINER_RATELIMIT_STORAGE_URI=redis://...")
    if conftest.POSTGRES_URL:
        assert problems == [sign_in]
    else:
        assert problems == [
            "PROBLEM 3 app hosts cannot share a SQLite database: use PostgreSQL "
            "(TRAINER_DATABASE_URL=postgresql+psycopg://...).",
            sign_in,
        ]
    assert "on storage every app host shares" in result.output


def test_debug_mode_allows_a_local_address_and_the_file_transport(app_factory, monkeypatch):
    # As `flask --debug trainer check` does: the command line sets the app's debug flag from
    # FLASK_DEBUG when it loads the app.
    monkeypatch.setenv("FLASK_DEBUG", "1")
    app = app_factory(TESTING=False, DEBUG=True, SECRET_KEY=None, MAIL_TRANSPORT="file",
                      EXTERNAL_URL="http://127.0.0.1:5000")
    with app.app_context():
        stamp()
    try:
        result, problems = check(app)
    finally:
        conftest._postgres_schema_ready = False
    assert problems == [], result.output
    assert "note    Secret key: the development key is used (debug mode)" in result.output


def test_the_command_line_check_reports_what_would_stop_the_app_starting(tmp_path):
    """Without a secret key the app refuses to start; the check still runs and says so."""
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("TRAINER_", "FLASK_"))}
    environment.update(
        TRAINER_INSTANCE_PATH=str(tmp_path / "instance"),
        TRAINER_DATABASE_URL=f"sqlite:///{tmp_path / 'fresh.sqlite'}",
        TRAINER_PAGE_SIZE="lots",
    )
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    result = subprocess.run([*flask, "trainer", "check"], cwd=PROJECT, env=environment,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    problems = [line for line in lines if line.startswith("PROBLEM")]
    assert any(line.startswith("PROBLEM No secret key is set: set TRAINER_SECRET_KEY")
               for line in problems), result.stdout
    assert any("TRAINER_PAGE_SIZE must be a whole number, not 'lots'" in line
               for line in problems)
    assert any("no migration applied" in line for line in problems)
    assert lines[-1] == f"{len(problems)} problems found: fix them before starting trainer."
    assert "Traceback" not in result.stderr

    # Any other command still refuses to start without the key.
    del environment["TRAINER_PAGE_SIZE"]
    result = subprocess.run([*flask, "trainer", "plugins"], cwd=PROJECT, env=environment,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "No secret key is set" in result.stderr


def test_only_the_check_command_collects_problems():
    assert check_requested(["flask", "--app", "wsgi", "trainer", "check"])
    assert check_requested(["flask", "trainer", "check", "--hosts", "2"])
    assert not check_requested(["flask", "--app", "wsgi", "trainer", "tick"])
    assert not check_requested(["gunicorn", "wsgi:app"])
    assert not check_requested(["flask", "check", "trainer"])


def test_proxy_fix_trusts_forwarded_headers_from_the_configured_proxies(app_factory):
    seen = {}

    def probe(environ, start_response):
        seen.update(environ)
        start_response("204 No Content", [])
        return [b""]

    app = app_factory(PROXY_FIX=1)
    assert isinstance(app.wsgi_app, ProxyFix)
    app.wsgi_app.app = probe
    app.test_client().get("/", environ_base={"REMOTE_ADDR": "127.0.0.1"}, headers={
        "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "training.example.gov.uk",
    })
    assert seen["REMOTE_ADDR"] == "203.0.113.9"
    assert seen["wsgi.url_scheme"] == "https"
    assert seen["HTTP_HOST"] == "training.example.gov.uk"

    untrusting = app_factory()
    assert not isinstance(untrusting.wsgi_app, ProxyFix)
