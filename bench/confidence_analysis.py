"""Questionnaire analysis at national scale: p50/p95 of the confidence plugin's report pages.

Loads ``demo-data --scale national`` (about 20,000 training sessions and 600,000 bookings; the
confidence plugin's demo adds answers before and after for up to 2,000 sessions) into a fresh
SQLite database, and PostgreSQL when ``BENCH_DATABASE_URL`` is set, then times the analysis
page (as the admin, the trainer and the LA officer), the analysis of one course, a session's
questionnaire page, the CSV export and the reports page through the app (in process, no
network, signed in as the demo logins), printing the number of SQL statements each page ran as
well. There is no target yet: a ``note:`` line says when a page's p95 is over one second.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

import sqlalchemy as sa

from bench.common import CSRF, PageTimer, on_postgres, percentile

REPEATS = int(os.environ.get("BENCH_REPEATS", "15"))
NOTE_ABOVE_MS = 1000
ADMIN, TRAINER, LA_OFFICER = "admin@example.org", "trainer@example.org", "la.officer@example.org"
PAGES = [
    ("analysis, admin (everything)", ADMIN, "/confidence/analysis"),
    ("analysis, trainer", TRAINER, "/confidence/analysis"),
    ("analysis, LA officer (own LA, suppressed)", LA_OFFICER, "/confidence/analysis"),
    ("analysis of one course, admin", ADMIN, "/confidence/analysis?course={course}"),
    ("session's questionnaires, admin", ADMIN, "/confidence/manage/sessions/{session}"),
    ("analysis CSV, admin", ADMIN, "/confidence/analysis.csv"),
    ("reports page, admin", ADMIN, "/reports/"),
]


def load(app, label: str) -> dict:
    """National demo data; returns what the pages need and what the questionnaires made."""
    from trainer import demo
    from trainer.catalogue import TrainingSession
    from trainer.db import db, utcnow
    from trainer.plugins.confidence.models import Rating, Respondent, Response

    with app.app_context():
        db.create_all()
        started = time.monotonic()
        demo.create("national", echo=lambda *_: None)
        print(f"{label}: national demo data loaded in {time.monotonic() - started:.0f}s")
        made = {model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
                for model in (Respondent, Response, Rating)}
        answers = sa.func.count(Response.id)

        def most_answered(column, *where):
            return db.session.execute(
                sa.select(column, answers)
                .join(Respondent, Respondent.training_session_id == TrainingSession.id)
                .join(Response, Response.respondent_id == Respondent.id)
                .where(*where).group_by(column).order_by(answers.desc()).limit(1)).one()

        course, course_answers = most_answered(TrainingSession.course_id)
        session, session_answers = most_answered(TrainingSession.id,
                                                 TrainingSession.ends_at < utcnow())
    print(f"  questionnaires: {made['Respondent']} respondents, {made['Response']} answers, "
          f"{made['Rating']} ratings; course {course} has {course_answers} answers, past "
          f"session {session} has {session_answers}")
    return {"course": course, "session": session}


def signed_in(app, email: str):
    """A test client signed in as the demo login ``email``."""
    from trainer.demo import DEMO_PASSWORD

    client = app.test_client()
    token = CSRF.search(client.get("/auth/sign-in").get_data(as_text=True)).group(1)
    response = client.post("/auth/sign-in", data={
        "csrf_token": token, "email": email, "password": DEMO_PASSWORD})
    if response.status_code != 302:
        raise RuntimeError(f"sign-in failed for {email}: {response.status_code}")
    return client


def run(database_url: str | None, label: str) -> None:
    from trainer import create_app
    from trainer.db import db

    with tempfile.TemporaryDirectory() as folder:
        os.environ["TRAINER_INSTANCE_PATH"] = folder
        config = {"SECRET_KEY": "benchmark-secret-key-0123456789", "RATELIMIT_ENABLED": False}
        if database_url:
            config["DATABASE_URL"] = database_url
        app = create_app(config)
        values = load(app, label)
        timer = PageTimer(app)
        clients = {email: signed_in(app, email) for email in (ADMIN, TRAINER, LA_OFFICER)}
        for name, email, path in PAGES:
            url = path.format(**values)
            timings, response, queries = timer.measure(clients[email], url, REPEATS)
            p95 = percentile(timings, .95)
            status = "" if response.status_code == 200 else f", HTTP {response.status_code}"
            print(f"  {label} {name} ({url}): p50 {percentile(timings, .5):.0f} ms, "
                  f"p95 {p95:.0f} ms, mean {statistics.mean(timings):.0f} ms over "
                  f"{len(timings)} requests; {queries} SQL statements, "
                  f"{len(response.data) / 1024:.0f} KiB{status}")
            if p95 > NOTE_ABOVE_MS:
                print(f"  note: {label} {name}: p95 {p95 / 1000:.1f} s is over the 1-second "
                      f"p95 that issue 7 will set for report pages")
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def main() -> None:
    run(None, "SQLite")
    on_postgres(run, "confidence analysis")


if __name__ == "__main__":
    main()
