"""The database going away (PostgreSQL restarted, the network to it failing), before and in
the middle of a request: a clear error page, nothing half-saved, and the app carries on by
itself once the database is back.

The app reaches PostgreSQL through a TCP proxy (:mod:`tests.tcp_proxy`) that can drop every
connection and refuse new ones, which is what a restart looks like from the app's side, and
the cut can fall at an exact moment of a request. Where the tests may (PostgreSQL on this
machine and ``pg_ctlcluster`` to hand, as root), one test stops the server itself and starts
it again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests import conftest
from tests.conftest import Auth, Browser, csrf_token
from tests.tcp_proxy import TcpProxy
from tests.test_bookings import make_session
from trainer.booking import Booking
from trainer.db import db
from trainer.mail import OutboxMessage

pytestmark = pytest.mark.postgres

UNREACHABLE = "We cannot reach the database just now"


@pytest.fixture
def proxy():
    url = make_url(conftest.POSTGRES_URL)
    server = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    yield server
    server.close()


@pytest.fixture
def outage_app(app_factory, proxy):
    url = make_url(conftest.POSTGRES_URL).set(host="127.0.0.1", port=proxy.port)
    return app_factory(DATABASE_URL=url.render_as_string(hide_password=False))


@pytest.fixture
def person(outage_app, make_user):
    """Sam, signed in, with the booking form for a session open in front of them."""
    session_id = make_session(outage_app)
    make_user("sam@example.org", name="Sam Example")
    browser = Browser(outage_app.test_client())
    assert Auth(browser).sign_in("sam@example.org").status_code == 302
    return browser, session_id


def saved(app) -> tuple[int, int]:
    """(bookings, emails) in the database."""
    with app.app_context():
        counts = (
            db.session.scalar(sa.select(sa.func.count()).select_from(Booking)),
            db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)),
        )
        db.session.rollback()
        return counts


def book(browser, session_id, token):
    return browser.client.post(
        f"/my-training/book/{session_id}", data={"csrf_token": token, "access_needs": ""}
    )


def assert_unreachable_page(response) -> None:
    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert UNREACHABLE in page and "Nothing you sent was saved" in page
    assert "Traceback" not in page and "psycopg" not in page and "OperationalError" not in page
    assert "govuk-service-navigation" in page  # the site's own page, not a bare error


def test_while_the_database_is_away_pages_say_so_and_nothing_is_saved(outage_app, person, proxy):
    browser, session_id = person
    token = csrf_token(browser.get(f"/my-training/book/{session_id}").get_data(as_text=True))

    proxy.cut()
    assert_unreachable_page(browser.get("/my-training/"))
    assert_unreachable_page(browser.get("/training/"))
    assert_unreachable_page(book(browser, session_id, token))
    assert_unreachable_page(browser.get("/no-such-page"))  # even a 404 page needs the database
    health = browser.get("/healthz")
    assert health.status_code == 503 and health.get_json()["database"] == "unreachable"

    proxy.restore()
    assert saved(outage_app) == (0, 0)
    assert browser.get("/healthz").status_code == 200
    # Still signed in, and the same form sends now: the app reconnected by itself.
    response = book(browser, session_id, token)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert saved(outage_app) == (1, 1)


@pytest.mark.parametrize("moment", ["after the booking is written", "at commit"])
def test_the_database_going_away_in_the_middle_of_a_booking_leaves_no_half(
    outage_app, person, proxy, moment
):
    browser, session_id = person
    token = csrf_token(browser.get(f"/my-training/book/{session_id}").get_data(as_text=True))
    with outage_app.app_context():
        engine = db.engine
    fired = []

    def before_execute(connection, cursor, statement, parameters, context, executemany):
        if not fired and statement.lstrip().upper().startswith("INSERT INTO OUTBOX_MESSAGE"):
            fired.append(statement)
            proxy.cut()

    def before_commit(connection):
        if not fired and connection.in_transaction():
            inserted = connection.info.get("wrote_booking")
            if inserted:
                fired.append("COMMIT")
                proxy.cut()

    def note_booking(connection, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO BOOKING "):
            connection.info["wrote_booking"] = True

    listeners = [("after_cursor_execute", note_booking)]
    listeners.append(
        ("before_cursor_execute", before_execute)
        if moment == "after the booking is written"
        else ("commit", before_commit)
    )
    for name, listener in listeners:
        sa.event.listen(engine, name, listener)
    try:
        response = book(browser, session_id, token)
    finally:
        for name, listener in listeners:
            sa.event.remove(engine, name, listener)
        proxy.restore()
    assert fired, "the database was never taken away"
    assert_unreachable_page(response)
    assert saved(outage_app) == (0, 0), "half a booking was saved"

    response = book(browser, session_id, token)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert saved(outage_app) == (1, 1)


def _cluster() -> tuple[str, str] | None:
    """(version, name) of the PostgreSQL cluster the tests use, if this process may restart it."""
    url = make_url(conftest.POSTGRES_URL)
    clusters = sorted(Path("/etc/postgresql").glob("*/main"))
    if (url.host not in ("127.0.0.1", "localhost") or not shutil.which("pg_ctlcluster")
            or os.geteuid() != 0 or len(clusters) != 1):
        return None
    return clusters[0].parent.name, clusters[0].name


def _pg_ctl(action: str, version: str, name: str) -> None:
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, name, action]
    if action == "stop":
        command += ["--", "-m", "fast"]
    subprocess.run(command, check=True, capture_output=True, timeout=60)


def _wait_until_up(deadline: float = 60) -> None:
    engine = sa.create_engine(conftest.POSTGRES_URL, poolclass=sa.pool.NullPool)
    started = time.monotonic()
    try:
        while True:
            try:
                with engine.connect() as connection:
                    connection.execute(sa.text("SELECT 1"))
                return
            except sa.exc.OperationalError:
                if time.monotonic() - started > deadline:
                    raise
                time.sleep(0.2)
    finally:
        engine.dispose()


def test_postgresql_stopped_and_started_again_the_app_says_so_then_carries_on(
    app, make_user
):
    cluster = _cluster()
    if cluster is None:
        pytest.skip("restarting PostgreSQL needs the server on this machine, pg_ctlcluster "
                    "and root; the proxy tests above stand in for it")
    session_id = make_session(app)
    make_user("sam@example.org", name="Sam Example")
    browser = Browser(app.test_client())
    assert Auth(browser).sign_in("sam@example.org").status_code == 302
    token = csrf_token(browser.get(f"/my-training/book/{session_id}").get_data(as_text=True))

    _pg_ctl("stop", *cluster)
    try:
        assert_unreachable_page(browser.get("/my-training/"))
        assert_unreachable_page(book(browser, session_id, token))
        assert browser.get("/healthz").status_code == 503
    finally:
        _pg_ctl("start", *cluster)
        _wait_until_up()
    assert saved(app) == (0, 0)
    # The pool's connections died with the server; the app makes new ones by itself.
    assert browser.get("/healthz").status_code == 200
    response = book(browser, session_id, token)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert saved(app) == (1, 1)
