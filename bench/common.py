"""Helpers shared by the benchmarks."""

from __future__ import annotations

import os
from collections.abc import Callable

import sqlalchemy as sa


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
