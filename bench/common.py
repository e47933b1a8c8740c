"""Helpers shared by the benchmarks.

* :func:`on_postgres`: run a benchmark in a scratch PostgreSQL schema.
* :func:`report`: print a requirement's PASS or FAIL; ``python -m bench`` exits non-zero when
  any failed (:func:`failures`).
* The rest serve the HTTP rushes (``booking_rush``, ``waiting_list_rush``): an app environment
  in a temporary instance folder, code run inside the app, the rush's people and session,
  gunicorn, signed-in clients, requests fired at once behind a barrier, and latency figures.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "benchmark-password"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')

_failures: list[str] = []


def on_postgres(run: Callable[[str | None, str], None], name: str) -> None:
    """Call ``run(url, "PostgreSQL")`` in a scratch schema of ``BENCH_DATABASE_URL``, dropped
    afterwards; say so when the variable is not set."""
    url = os.environ.get("BENCH_DATABASE_URL")
    if not url:
        print(f"{name} on PostgreSQL: skipped (set BENCH_DATABASE_URL)")
        return
    schema = f"bench_{os.getpid()}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        separator = "&" if "?" in url else "?"
        run(f"{url}{separator}options=-csearch_path%3D{schema}", "PostgreSQL")
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        engine.dispose()


# -- requirements ---------------------------------------------------------------------------------


def report(ok: bool, requirement: str, where: str = "") -> bool:
    """Print ``PASS: requirement`` or ``FAIL: requirement``, remembering failures."""
    print(f"  {'PASS' if ok else 'FAIL'}: {requirement}")
    if not ok:
        _failures.append(f"{where}: {requirement}" if where else requirement)
    return ok


def failures() -> list[str]:
    """The requirements that failed so far, in this process."""
    return list(_failures)


# -- the app, its database and gunicorn -----------------------------------------------------------


def app_environment(folder: str, database_url: str | None, plugins: str = "") -> dict:
    """Environment for the app in the instance folder ``folder``: fixed secret key, no rate
    limits, mail to files, a 30-second lock timeout; SQLite in the folder unless a URL is
    given."""
    environment = dict(
        os.environ, TRAINER_INSTANCE_PATH=folder,
        TRAINER_SECRET_KEY="benchmark-secret-key-0123456789",
        TRAINER_RATELIMIT_ENABLED="0", TRAINER_MAIL_TRANSPORT="file",
        TRAINER_PLUGINS=plugins, TRAINER_DATABASE_LOCK_TIMEOUT_SECONDS="30",
    )
    if database_url:
        environment["TRAINER_DATABASE_URL"] = database_url
    return environment


def database_engine(database_url: str | None, folder: str) -> sa.Engine:
    """An engine on the app's database, for the benchmark's own checks."""
    return sa.create_engine(database_url or f"sqlite:///{folder}/trainer.sqlite")


def in_app(environment: dict, code: str) -> str:
    """Run ``code`` in a fresh Python process inside an app context (``app`` and ``db`` are
    defined); returns what it printed."""
    prelude = "from trainer import create_app\nfrom trainer.db import db\napp = create_app()\n"
    body = "\n".join("    " + line for line in code.strip().splitlines())
    return subprocess.run([sys.executable, "-c", f"{prelude}with app.app_context():\n{body}\n"],
                          env=environment, cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout


def prepare_rush(environment: dict, people: int, capacity: int) -> int:
    """Schema, ``people`` verified people (``rush0@example.org`` ...) and one session of
    ``capacity`` places ten days ahead; returns the session's id."""
    code = f"""
from datetime import UTC, datetime, timedelta
from trainer.people import User, load_places, DeliveryPartner
from trainer.catalogue import Course, TrainingSession, Meeting
from trainer.booking import twilight_from
from werkzeug.security import generate_password_hash
import sqlalchemy as sa
db.create_all()
load_places()
hashed = generate_password_hash({PASSWORD!r}, method="pbkdf2:sha256:1000")
now = datetime.now(UTC)
db.session.execute(sa.insert(User.__table__), [
    dict(email=f"rush{{n}}@example.org", name=f"Person {{n}}", password_hash=hashed,
         email_verified_at=now, created_at=now, active=True) for n in range({people})])
partner = DeliveryPartner(name="Bench partner")
course = Course(title="Popular twilight session", summary="", delivery_partner=partner)
session = TrainingSession(course=course, capacity={capacity})
start = now + timedelta(days=10)
session.meetings.append(Meeting(starts_at=start, ends_at=start + timedelta(hours=1.5)))
session.refresh_times(twilight_from())
db.session.add(session)
db.session.commit()
print(session.id)
"""
    return int(in_app(environment, code).strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def gunicorn(environment: dict) -> Iterator[str]:
    """gunicorn, 4 workers x 8 threads, on a free port of 127.0.0.1; yields its base URL."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "4", "--threads", "8",
         "--bind", f"127.0.0.1:{port}", "--timeout", "120", "--log-level", "warning",
         "wsgi:app"], env=environment, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(f"{base}/healthz", timeout=5)
                break
            except requests.RequestException:
                time.sleep(0.2)
        yield base
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


# -- clients --------------------------------------------------------------------------------------


def sign_in(base: str, number: int) -> requests.Session:
    """A client signed in as ``rush<number>@example.org``."""
    client = requests.Session()
    # A fresh connection per request: an idle kept-alive one may be closed by the server
    # just as the rush starts, which would count as an error of ours, not the server's.
    client.headers["Connection"] = "close"
    page = client.get(f"{base}/auth/sign-in", timeout=30).text
    token = CSRF.search(page).group(1)
    response = client.post(f"{base}/auth/sign-in", timeout=30, allow_redirects=False, data={
        "csrf_token": token, "email": f"rush{number}@example.org", "password": PASSWORD})
    if response.status_code != 302:
        raise RuntimeError(f"sign-in failed for rush{number}: {response.status_code}")
    return client


def sign_in_all(base: str, people: int) -> list[requests.Session]:
    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(lambda number: sign_in(base, number), range(people)))


def token(client: requests.Session, url: str) -> str:
    """The CSRF token of the form on the page at ``url``."""
    return CSRF.search(client.get(url, timeout=30).text).group(1)


def tokens(clients: Sequence[requests.Session], urls: Sequence[str] | str) -> list[str]:
    """Each client's token from its page (one URL for all, or one each), 16 at a time."""
    urls = [urls] * len(clients) if isinstance(urls, str) else urls
    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(token, clients, urls))


@dataclass
class Hit:
    """One request's answer: status, seconds taken, ``Location`` and body."""

    status: int
    seconds: float
    location: str
    text: str


def fire(clients: Sequence[requests.Session], urls: Sequence[str] | str,
         forms: Sequence[dict]) -> list[Hit]:
    """POST ``forms[i]`` to ``urls[i]`` (or one URL for all) as ``clients[i]``, every request
    released at the same moment by a barrier; redirects are not followed."""
    urls = [urls] * len(clients) if isinstance(urls, str) else urls
    barrier = threading.Barrier(len(clients))

    def one(index: int) -> Hit:
        barrier.wait()
        started = time.perf_counter()
        response = clients[index].post(urls[index], data=forms[index], timeout=120,
                                       allow_redirects=False)
        return Hit(response.status_code, time.perf_counter() - started,
                   response.headers.get("Location", ""), response.text)

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        return list(pool.map(one, range(len(clients))))


def timed_fire(clients, urls, forms) -> tuple[list[Hit], float]:
    """:func:`fire`, and the wall-clock seconds it took."""
    started = time.perf_counter()
    hits = fire(clients, urls, forms)
    return hits, time.perf_counter() - started


# -- figures --------------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def summary(label: str, hits: list[Hit], wall: float) -> dict:
    """Print requests, rate, 5xx (503 busy among them) and latency percentiles."""
    latencies = [hit.seconds * 1000 for hit in hits]
    errors = sum(1 for hit in hits if hit.status >= 500)
    busy = sum(1 for hit in hits if hit.status == 503)
    print(f"  {label}: {len(hits)} requests in {wall:.2f}s ({len(hits) / wall:.0f}/s); "
          f"5xx {errors} (503 busy {busy}); latency ms p50 {percentile(latencies, .5):.0f}, "
          f"p95 {percentile(latencies, .95):.0f}, p99 {percentile(latencies, .99):.0f}, "
          f"max {max(latencies):.0f}, mean {statistics.mean(latencies):.0f}")
    return {"p50": percentile(latencies, .5), "rate": len(hits) / wall, "errors": errors}


class PageTimer:
    """Times GET requests through a Flask test client and counts the SQL statements one
    request runs, for the benchmarks of report and search pages."""

    def __init__(self, app):
        from trainer.db import db

        self.statements = 0
        with app.app_context():
            sa.event.listen(db.engine, "before_cursor_execute", self._count)

    def _count(self, *_args, **_kwargs) -> None:
        self.statements += 1

    def measure(self, client, url: str, repeats: int, before: Callable[[], None] | None = None):
        """Warm the page, count one request's statements, then time ``repeats`` requests,
        calling ``before()`` (untimed) ahead of each request when given.
        Returns ``(timings in ms, the last response, statements per request)``."""
        client.get(url)
        if before:
            before()
        self.statements = 0
        response = client.get(url)
        queries = self.statements
        timings = []
        for _ in range(repeats):
            if before:
                before()
            begun = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - begun) * 1000)
        return timings, response, queries
