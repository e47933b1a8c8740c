"""Booking rush: 500 signed-in people book one 30-place session at the same moment.

gunicorn (4 workers) serves the app over PostgreSQL (``BENCH_DATABASE_URL``) and again over
SQLite. Prints confirmed, refused, HTTP errors, latency percentiles and bookings per second,
and the same for the floor endpoint (one INSERT per request) with the ratio booking/floor.
Required: confirmed == 30 and no 5xx.
"""

from __future__ import annotations

import os
import tempfile

import sqlalchemy as sa

from bench.common import (
    app_environment,
    database_engine,
    failures,
    gunicorn,
    on_postgres,
    prepare_rush,
    report,
    sign_in_all,
    summary,
    timed_fire,
    tokens,
)
from bench.floor_plugin import floor_table

PEOPLE = int(os.environ.get("BENCH_PEOPLE", "500"))
CAPACITY = 30


def run(database_url: str | None, label: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        environment = app_environment(folder, database_url, plugins="bench.floor_plugin")
        session_id = prepare_rush(environment, PEOPLE, CAPACITY)
        with gunicorn(environment) as base:
            clients = sign_in_all(base, PEOPLE)
            book_url = f"{base}/my-training/book/{session_id}"
            forms = [{"csrf_token": token} for token in tokens(clients, book_url)]
            results, wall = timed_fire(clients, book_url, forms)
            engine = database_engine(database_url, folder)
            with engine.connect() as connection:
                confirmed = connection.execute(sa.text(
                    "SELECT count(*) FROM booking WHERE training_session_id = :id "
                    "AND status = 'confirmed'"), {"id": session_id}).scalar()
                doubles = connection.execute(sa.text(
                    "SELECT count(*) FROM (SELECT user_id FROM booking GROUP BY user_id "
                    "HAVING count(*) > 1) AS twice")).scalar()
                floor_table.create(connection, checkfirst=True)
                connection.commit()
            booked = sum(1 for hit in results
                         if hit.status == 302 and hit.location.endswith("/confirmed"))
            busy = sum(1 for hit in results if hit.status == 503)
            print(f"booking rush on {label}: {PEOPLE} people, {CAPACITY} places")
            print(f"  confirmed bookings in the database: {confirmed} (required {CAPACITY}); "
                  f"redirected to a confirmation: {booked}; refused or full: "
                  f"{sum(1 for hit in results if hit.status == 200)}; busy (503, try again): "
                  f"{busy}; booked twice: {doubles}")
            booking = summary("book", results, wall)
            floor_url = f"{base}/bench/floor"
            forms = [{"csrf_token": token} for token in tokens(clients, f"{base}/dashboard")]
            floor_results, floor_wall = timed_fire(clients, floor_url, forms)
            floor = summary("floor", floor_results, floor_wall)
            print(f"  booking/floor: p50 latency x{booking['p50'] / floor['p50']:.2f}, "
                  f"throughput x{booking['rate'] / floor['rate']:.2f}")
            ok = confirmed == CAPACITY and booking["errors"] == 0 and doubles == 0
            report(ok, f"confirmed == {CAPACITY} and zero 5xx", f"booking rush on {label}")
            engine.dispose()


def main() -> None:
    on_postgres(run, "booking rush")
    run(None, "SQLite")


if __name__ == "__main__":
    main()
    raise SystemExit(1 if failures() else 0)
