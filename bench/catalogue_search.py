"""Find training at national scale: p50/p95 of the search page and the API.

Loads ``demo-data --scale national`` (about 20,000 training sessions and 600,000 bookings)
into a fresh SQLite database, and PostgreSQL when ``BENCH_DATABASE_URL`` is set, then times
ten typical filter combinations through the app (in process, no network), printing the
number of SQL statements each page ran as well.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

import sqlalchemy as sa

from bench.common import PageTimer, on_postgres, percentile

REPEATS = int(os.environ.get("BENCH_REPEATS", "15"))
FILTERS = [
    "",
    "time_of_day=twilight",
    "topic=autism",
    "topic=speech_language_communication&mode=online",
    "region={region}",
    "local_authority={authority}",
    "audience=childminders&time_of_day=twilight&places_left=1",
    "mode=in_person&region={region}&places_left=1",
    "from={soon}&to={later}",
    "text=makaton&page=2",
]


def run(database_url: str | None, label: str) -> None:
    from datetime import date, timedelta

    from trainer import create_app, demo
    from trainer.db import db
    from trainer.people import LocalAuthority, Region

    with tempfile.TemporaryDirectory() as folder:
        os.environ["TRAINER_INSTANCE_PATH"] = folder
        config = {"SECRET_KEY": "benchmark-secret-key-0123456789", "RATELIMIT_ENABLED": False}
        if database_url:
            config["DATABASE_URL"] = database_url
        app = create_app(config)
        with app.app_context():
            db.create_all()
            started = time.monotonic()
            demo.create("national", echo=lambda *_: None)
            print(f"{label}: national demo data loaded in {time.monotonic() - started:.0f}s")
            region = db.session.scalar(sa.select(Region.id).where(Region.name == "North West"))
            authority = db.session.scalar(
                sa.select(LocalAuthority.id).where(LocalAuthority.name == "Leeds")
            )
        soon = date.today() + timedelta(days=7)
        values = {"region": region, "authority": authority, "soon": soon.isoformat(),
                  "later": (soon + timedelta(days=28)).isoformat()}
        timer = PageTimer(app)
        client = app.test_client()
        for base in ("/training/", "/api/v1/sessions"):
            timings = []
            for query in FILTERS:
                url = f"{base}?{query.format(**values)}"
                measured, response, queries = timer.measure(client, url, REPEATS)
                timings.extend(measured)
                if response.status_code != 200:
                    print(f"  {url}: HTTP {response.status_code}")
                print(f"  {url:<80} {queries:>3} SQL statements")
            print(f"  {label} {base}: p50 {percentile(timings, .5):.0f} ms, "
                  f"p95 {percentile(timings, .95):.0f} ms, mean {statistics.mean(timings):.0f}"
                  f" ms over {len(timings)} requests")
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def main() -> None:
    run(None, "SQLite")
    on_postgres(run, "catalogue search")


if __name__ == "__main__":
    main()
