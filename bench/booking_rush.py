"""Booking rush: 500 signed-in people book one 30-place session at the same moment.

gunicorn (4 workers) serves the app over PostgreSQL (``BENCH_DATABASE_URL``) and again over
SQLite. Prints confirmed, refused, HTTP errors, latency percentiles and bookings per second,
and the same for the floor endpoint (one INSERT per request) with the ratio booking/floor.
Required: confirmed == 30 and no 5xx.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import sqlalchemy as sa

from bench.common import on_postgres
from bench.floor_plugin import floor_table

ROOT = Path(__file__).resolve().parent.parent
PEOPLE = int(os.environ.get("BENCH_PEOPLE", "500"))
CAPACITY = 30
PASSWORD = "benchmark-password"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _prepare(environment: dict) -> int:
    """Schema, 500 verified people and one 30-place session; returns the session id."""
    code = f"""
import sys
from datetime import UTC, datetime, timedelta
from trainer import create_app
from trainer.db import db
from trainer.people import User, Role, load_places, DeliveryPartner
from trainer.catalogue import Course, TrainingSession, Meeting
from trainer.booking import twilight_from
from werkzeug.security import generate_password_hash
import sqlalchemy as sa
app = create_app()
with app.app_context():
    db.create_all()
    load_places()
    hashed = generate_password_hash({PASSWORD!r}, method="pbkdf2:sha256:1000")
    now = datetime.now(UTC)
    db.session.execute(sa.insert(User.__table__), [
        dict(email=f"rush{{n}}@example.org", name=f"Person {{n}}", password_hash=hashed,
             email_verified_at=now, created_at=now, active=True) for n in range({PEOPLE})])
    partner = DeliveryPartner(name="Bench partner")
    course = Course(title="Popular twilight session", summary="", delivery_partner=partner)
    session = TrainingSession(course=course, capacity={CAPACITY})
    start = now + timedelta(days=10)
    session.meetings.append(Meeting(starts_at=start, ends_at=start + timedelta(hours=1.5)))
    session.refresh_times(twilight_from())
    db.session.add(session)
    db.session.commit()
    print(session.id)
"""
    output = subprocess.run([sys.executable, "-c", code], env=environment, cwd=ROOT,
                            check=True, capture_output=True, text=True).stdout
    return int(output.strip().splitlines()[-1])


def _sign_in(base: str, number: int) -> requests.Session:
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


def _token(client: requests.Session, url: str) -> str:
    return CSRF.search(client.get(url, timeout=30).text).group(1)


def _fire(clients, url: str, tokens: list[str]) -> list[tuple[int, float, str]]:
    barrier = threading.Barrier(len(clients))

    def one(index: int):
        barrier.wait()
        started = time.perf_counter()
        response = clients[index].post(url, data={"csrf_token": tokens[index]}, timeout=120,
                                       allow_redirects=False)
        return response.status_code, time.perf_counter() - started, response.headers.get(
            "Location", "")

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        return list(pool.map(one, range(len(clients))))


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def _summary(label: str, results, wall: float) -> dict:
    latencies = [seconds * 1000 for _status, seconds, _where in results]
    errors = sum(1 for status, _s, _w in results if status >= 500)
    print(f"  {label}: {len(results)} requests in {wall:.2f}s ({len(results) / wall:.0f}/s); "
          f"5xx {errors}; latency ms p50 {_percentile(latencies, .5):.0f}, "
          f"p95 {_percentile(latencies, .95):.0f}, p99 {_percentile(latencies, .99):.0f}, "
          f"mean {statistics.mean(latencies):.0f}")
    return {"p50": _percentile(latencies, .5), "rate": len(results) / wall, "errors": errors}


def run(database_url: str | None, label: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        environment = dict(
            os.environ, TRAINER_INSTANCE_PATH=folder,
            TRAINER_SECRET_KEY="benchmark-secret-key-0123456789",
            TRAINER_RATELIMIT_ENABLED="0", TRAINER_MAIL_TRANSPORT="file",
            TRAINER_PLUGINS="bench.floor_plugin", TRAINER_DATABASE_LOCK_TIMEOUT_SECONDS="30",
        )
        if database_url:
            environment["TRAINER_DATABASE_URL"] = database_url
        session_id = _prepare(environment)
        port = _free_port()
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
            with ThreadPoolExecutor(max_workers=16) as pool:
                clients = list(pool.map(lambda n: _sign_in(base, n), range(PEOPLE)))
            book_url = f"{base}/my-training/book/{session_id}"
            with ThreadPoolExecutor(max_workers=16) as pool:
                tokens = list(pool.map(lambda c: _token(c, book_url), clients))
            started = time.perf_counter()
            results = _fire(clients, book_url, tokens)
            wall = time.perf_counter() - started
            engine = sa.create_engine(database_url or f"sqlite:///{folder}/trainer.sqlite")
            with engine.connect() as connection:
                confirmed = connection.execute(sa.text(
                    "SELECT count(*) FROM booking WHERE training_session_id = :id "
                    "AND status = 'confirmed'"), {"id": session_id}).scalar()
                doubles = connection.execute(sa.text(
                    "SELECT count(*) FROM (SELECT user_id FROM booking GROUP BY user_id "
                    "HAVING count(*) > 1) AS twice")).scalar()
                floor_table.create(connection, checkfirst=True)
                connection.commit()
            booked = sum(1 for status, _s, where in results
                         if status == 302 and where.endswith("/confirmed"))
            busy = sum(1 for status, _s, _w in results if status == 503)
            print(f"booking rush on {label}: {PEOPLE} people, {CAPACITY} places")
            print(f"  confirmed bookings in the database: {confirmed} (required {CAPACITY}); "
                  f"redirected to a confirmation: {booked}; refused or full: "
                  f"{sum(1 for s, _x, _w in results if s == 200)}; busy (503, try again): "
                  f"{busy}; booked twice: {doubles}")
            booking = _summary("book", results, wall)
            floor_url = f"{base}/bench/floor"
            with ThreadPoolExecutor(max_workers=16) as pool:
                tokens = list(pool.map(lambda c: _token(c, f"{base}/dashboard"), clients))
            started = time.perf_counter()
            floor_results = _fire(clients, floor_url, tokens)
            floor = _summary("floor", floor_results, time.perf_counter() - started)
            print(f"  booking/floor: p50 latency x{booking['p50'] / floor['p50']:.2f}, "
                  f"throughput x{booking['rate'] / floor['rate']:.2f}")
            ok = confirmed == CAPACITY and booking["errors"] == 0 and doubles == 0
            print(f"  {'PASS' if ok else 'FAIL'}: confirmed == {CAPACITY} and zero 5xx")
            engine.dispose()
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)


def main() -> None:
    on_postgres(run, "booking rush")
    run(None, "SQLite")


if __name__ == "__main__":
    main()
