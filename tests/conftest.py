"""Fixtures in the flaskr style: ``app``, ``client``, ``runner``, ``auth``, plus people and mail.

Every test runs on SQLite by default, and on PostgreSQL when ``TEST_DATABASE_URL`` is set
(``.ci/run`` does both). Tests marked ``postgres`` need PostgreSQL and are skipped, with the
reason shown, without it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from trainer import create_app
from trainer.db import db
from trainer.people import Role, User, load_places, normalise_email

POSTGRES_BASE_URL = os.environ.get("TEST_DATABASE_URL", "")
# Each test run works in a schema of its own, so runs at the same time never meet.
POSTGRES_SCHEMA = f"test_run_{os.getpid()}"
POSTGRES_URL = (
    f"{POSTGRES_BASE_URL}{'&' if '?' in POSTGRES_BASE_URL else '?'}"
    f"options=-csearch_path%3D{POSTGRES_SCHEMA}"
    if POSTGRES_BASE_URL
    else ""
)
PASSWORD = "correct-horse-battery"
CSRF_PATTERN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def pytest_report_header(config):
    if POSTGRES_URL:
        return f"database: PostgreSQL {POSTGRES_BASE_URL}, schema {POSTGRES_SCHEMA}"
    return "database: SQLite (set TEST_DATABASE_URL to run on PostgreSQL too)"


def pytest_collection_modifyitems(config, items):
    if POSTGRES_URL:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set TEST_DATABASE_URL to run it")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


_postgres_schema_ready = False


@pytest.fixture(scope="session", autouse=True)
def postgres_schema():
    """Create this run's PostgreSQL schema, and drop it at the end."""
    if not POSTGRES_BASE_URL:
        yield
        return
    # No pool: a test may restart the server, and the schema must still go at the end.
    engine = sa.create_engine(POSTGRES_BASE_URL, poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {POSTGRES_SCHEMA} CASCADE")
        connection.exec_driver_sql(f"CREATE SCHEMA {POSTGRES_SCHEMA}")
    try:
        yield
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {POSTGRES_SCHEMA} CASCADE")
        engine.dispose()


def _reset_postgres(app) -> None:
    global _postgres_schema_ready
    with app.app_context():
        if not _postgres_schema_ready:
            db.drop_all()
            with db.engine.begin() as connection:
                connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
            db.create_all()
            _postgres_schema_ready = True
        else:
            tables = ", ".join(f'"{table.name}"' for table in db.metadata.sorted_tables)
            with db.engine.begin() as connection:
                connection.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


def make_test_app(tmp_path: Path, **overrides):
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-that-is-long-enough",
        "DATABASE_URL": POSTGRES_URL or f"sqlite:///{tmp_path / 'test.sqlite'}",
        "MAIL_TRANSPORT": "memory",
        "RATELIMIT_ENABLED": False,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "EXTERNAL_URL": "http://localhost",
        "SERVER_NAME": None,
        # The awards tests' own scheme, open all year (tests/awards_schemes/test_award.toml).
        "AWARDS_SCHEME_DIRS": [str(Path(__file__).parent / "awards_schemes")],
    }
    config.update(overrides)
    os.environ["TRAINER_INSTANCE_PATH"] = str(tmp_path / "instance")
    try:
        app = create_app(config)
    finally:
        del os.environ["TRAINER_INSTANCE_PATH"]
    if POSTGRES_URL:
        _reset_postgres(app)
    with app.app_context():
        db.create_all()
        load_places()
        db.session.commit()
    return app


@pytest.fixture
def app_factory(tmp_path) -> Iterator:
    """Build an app with extra config; each is disposed of after the test."""
    made = []

    def build(**overrides):
        app = make_test_app(tmp_path, **overrides)
        made.append(app)
        return app

    yield build
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(app_factory):
    return app_factory()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def csrf_token(html: str) -> str:
    match = CSRF_PATTERN.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


class Browser:
    """A test client that fills in forms as a browser would, CSRF token included."""

    def __init__(self, client):
        self.client = client

    def get(self, url, **kwargs):
        return self.client.get(url, **kwargs)

    def submit(self, url, data=None, follow_redirects=False, form_url=None):
        """GET the form at ``form_url`` (default ``url``) and POST ``data`` with its token."""
        page = self.client.get(form_url or url)
        payload = {"csrf_token": csrf_token(page.get_data(as_text=True))}
        payload.update(data or {})
        return self.client.post(url, data=payload, follow_redirects=follow_redirects)


@pytest.fixture
def browser(client) -> Browser:
    return Browser(client)


@pytest.fixture
def make_user(app):
    """Create a verified user: ``make_user("a@example.org", roles=[Role.ADMIN])``."""
    counter = {"n": 0}

    def make(email=None, name="Sam Example", roles=(Role.PRACTITIONER,), verified=True, **fields):
        counter["n"] += 1
        with app.app_context():
            user = User(
                email=normalise_email(email or f"person{counter['n']}@example.org"),
                name=name,
                **fields,
            )
            user.set_password(PASSWORD)
            if verified:
                from trainer.db import utcnow

                user.email_verified_at = utcnow()
            for role in roles:
                user.grant(role)
            db.session.add(user)
            db.session.commit()
            return user.id, user.email

    return make


class Auth:
    def __init__(self, browser: Browser):
        self.browser = browser

    def sign_in(self, email, password=PASSWORD):
        return self.browser.submit(
            "/auth/sign-in", {"email": email, "password": password}
        )

    def sign_out(self):
        return self.browser.submit("/auth/sign-out", form_url="/dashboard")


@pytest.fixture
def auth(browser) -> Auth:
    return Auth(browser)


@pytest.fixture
def mailbox(app):
    """Deliver queued mail through the memory transport and return what was sent."""
    from trainer import mail

    def deliver():
        with app.app_context():
            mail.deliver_due()
        return app.extensions.setdefault("trainer.mail.memory", [])

    return deliver


def body_of(message) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content()


def link_in(message, pattern: str) -> str:
    """The first URL in ``message`` whose path contains ``pattern``, as a path."""
    for url in re.findall(r"https?://\S+", body_of(message)):
        if pattern in url:
            return re.sub(r"^https?://[^/]+", "", url)
    raise AssertionError(f"no link containing {pattern!r} in: {body_of(message)}")


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))
