"""Reports at national scale: p50/p95 of the reach report for a year, the LA dashboard of the
largest local authority and the national overview (issue 7: each under one second at p95).

Loads ``demo-data --scale national`` (60,000 settings, 300,000 people, 20,000 training
sessions, about 590,000 bookings of which a year's worth have registers) into a fresh SQLite
database, and PostgreSQL when ``BENCH_DATABASE_URL`` is set, then times the pages through the
app in process (no network), signed in as the demo administrator.

Reach figures and the overview are kept between views until a change moves them
(:func:`trainer.reports.kept`). So each of those pages is timed twice: **fresh**, with the
report version raised before every request so every request computes everything again (what
the first viewer after a register sees; this is the figure the requirement is checked
against), and **repeat**, viewing again with nothing changed.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

import sqlalchemy as sa

from bench.common import PageTimer, on_postgres, percentile, report
from bench.confidence_analysis import ADMIN, signed_in

REPEATS = int(os.environ.get("BENCH_REPEATS", "15"))
TARGET_MS = 1000


def load(app, label: str) -> dict:
    """National demo data; returns the largest local authority and the figures' scale."""
    from trainer import demo
    from trainer.booking import Booking
    from trainer.db import db
    from trainer.people import LocalAuthority, Setting

    with app.app_context():
        db.create_all()
        started = time.monotonic()
        demo.create("national", echo=lambda *_: None)
        print(f"{label}: national demo data loaded in {time.monotonic() - started:.0f}s")
        la_id, name, settings = db.session.execute(
            sa.select(LocalAuthority.id, LocalAuthority.name, sa.func.count(Setting.id))
            .join(Setting, Setting.local_authority_id == LocalAuthority.id)
            .group_by(LocalAuthority.id, LocalAuthority.name)
            .order_by(sa.func.count(Setting.id).desc()).limit(1)
        ).one()
        attended = db.session.scalar(
            sa.select(sa.func.count()).select_from(Booking).where(Booking.attended.is_(True)))
    print(f"  {attended} bookings attended in all; the largest local authority is {name} "
          f"({settings} settings)")
    return {"la": la_id}


def run(database_url: str | None, label: str) -> None:
    from trainer import create_app, reports
    from trainer.db import db

    with tempfile.TemporaryDirectory() as folder:
        os.environ["TRAINER_INSTANCE_PATH"] = folder
        config = {"SECRET_KEY": "benchmark-secret-key-0123456789", "RATELIMIT_ENABLED": False}
        if database_url:
            config["DATABASE_URL"] = database_url
        app = create_app(config)
        values = load(app, label)
        timer = PageTimer(app)
        client = signed_in(app, ADMIN)
        client.get("/reports/")  # compile the report templates before timing anything

        def changed() -> None:
            with app.app_context():
                reports.data_changed()
                db.session.commit()

        pages = [
            ("reach report for a year, fresh", "/reports/reach", changed, True),
            ("reach report for a year, repeat", "/reports/reach", None, False),
            ("national overview, fresh", "/reports/overview", changed, True),
            ("national overview, repeat", "/reports/overview", None, False),
            ("LA dashboard of the largest LA", f"/la/{values['la']}/", None, True),
            ("oversubscription for a year", "/reports/oversubscription", None, False),
            ("reach CSV of every session in a year, fresh", "/reports/reach/sessions.csv",
             changed, False),
        ]
        for name, url, before, required in pages:
            timings, response, queries = timer.measure(client, url, REPEATS, before=before)
            p95 = percentile(timings, .95)
            status = "" if response.status_code == 200 else f", HTTP {response.status_code}"
            print(f"  {label} {name} ({url}): p50 {percentile(timings, .5):.0f} ms, "
                  f"p95 {p95:.0f} ms, max {max(timings):.0f} ms, mean "
                  f"{statistics.mean(timings):.0f} ms over {len(timings)} requests; "
                  f"{queries} SQL statements, {len(response.data) / 1024:.0f} KiB{status}")
            if required:
                report(response.status_code == 200 and p95 < TARGET_MS,
                       f"{label}: {name} p95 under {TARGET_MS} ms ({p95:.0f} ms)", "reporting")
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def main() -> None:
    run(None, "SQLite")
    on_postgres(run, "reporting")


if __name__ == "__main__":
    main()
