"""How long ``flask trainer demo-data --scale national`` takes, and how big the result is.

Runs in a fresh instance folder on SQLite, and on PostgreSQL when ``BENCH_DATABASE_URL`` is
set (in a schema of its own, dropped afterwards).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from bench.common import on_postgres

ROOT = Path(__file__).resolve().parent.parent


def run(database_url: str | None, label: str) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        environment = dict(
            os.environ,
            FLASK_APP="wsgi",
            TRAINER_INSTANCE_PATH=folder,
            TRAINER_SECRET_KEY="benchmark-secret-key-0123456789",
        )
        if database_url:
            environment["TRAINER_DATABASE_URL"] = database_url
        flask = [sys.executable, "-m", "flask"]
        subprocess.run(flask + ["db", "upgrade"], env=environment, cwd=ROOT, check=True,
                       capture_output=True)
        started = time.monotonic()
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        subprocess.run(flask + ["trainer", "demo-data", "--scale", "national"],
                       env=environment, cwd=ROOT, check=True, capture_output=True)
        seconds = time.monotonic() - started
        peak = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before)
        engine = sa.create_engine(database_url or f"sqlite:///{folder}/trainer.sqlite")
        with engine.connect() as connection:
            counts = {
                table: connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()
                for table in ("setting", "user_account", "training_session", "meeting", "booking")
            }
        engine.dispose()
        size = ""
        if not database_url:
            megabytes = Path(folder, "trainer.sqlite").stat().st_size / 2**20
            size = f", database file {megabytes:.0f} MiB"
        print(f"demo-data --scale national on {label}: {seconds:.1f}s, peak memory "
              f"{peak / 1024:.0f} MiB, {counts}{size}")
        return {"seconds": seconds, **counts}


def main() -> None:
    run(None, "SQLite")
    on_postgres(run, "demo-data")


if __name__ == "__main__":
    main()
