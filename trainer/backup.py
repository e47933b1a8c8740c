"""``flask trainer backup`` and ``flask trainer restore``: the database and uploaded files in
one archive.

An archive is a gzipped tar file holding ``manifest.json`` (what is in it: the database's kind,
how it was dumped, its migration revision, every table's row count and every folder's file
count), the database and ``files/<name>/`` for each folder that plugins name through
``trainer_file_folders`` (award evidence, for one). The database is dumped as

* ``database.sqlite`` for SQLite: a consistent copy made with SQLite's online backup API;
* ``database.pgdump`` for PostgreSQL: ``pg_dump --format=custom`` of the app's schema only;
* ``database.jsonl`` (``--portable``, or on PostgreSQL when ``pg_dump`` is not installed):
  every table's rows as JSON lines; restoring builds the schema with the migrations first.

Restoring refuses to overwrite a database or folder that holds anything, unless forced, and
checks afterwards that every table has the rows and every folder the files the manifest says.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from trainer import hooks
from trainer.db import db, utcnow

FORMAT = 1
MANIFEST = "manifest.json"
FILES = "files"
DUMP_FILES = {"sqlite": "database.sqlite", "pg_dump": "database.pgdump",
              "portable": "database.jsonl"}
ALEMBIC_TABLE = "alembic_version"
# Rows the migrations write themselves: a database holding only these holds no data.
BOOKKEEPING_TABLES = {ALEMBIC_TABLE, "report_version"}
BATCH_ROWS = 1000
PG_LOCK_TIMEOUT = "-c lock_timeout=60000"  # a restore never waits forever on a running app


class BackupError(Exception):
    """A backup or restore cannot go ahead; the message says why and what to do."""


@dataclass
class Summary:
    """What an archive holds (or a restore brought back)."""

    method: str
    tables: int
    rows: int
    files: int

    def describe(self) -> str:
        return (f"{self.rows} rows in {self.tables} tables ({self.method}), "
                f"{self.files} file{'' if self.files == 1 else 's'}")


# -- what is there -----------------------------------------------------------------------------


def file_folders(app: Flask) -> dict[str, Path]:
    """Plugins' file folders by name, from ``trainer_file_folders``."""
    folders: dict[str, Path] = {}
    with app.app_context():
        for answer in hooks.call("trainer_file_folders"):
            for name, path in (answer or {}).items():
                if not name or not all(char.isalnum() or char in "-_" for char in name):
                    raise BackupError(f"A plugin names a file folder {name!r}; names may use "
                                      "only letters, digits, - and _.")
                folders[name] = Path(path)
    return folders


def table_names(connection: sa.Connection) -> list[str]:
    """Every table of the app's schema, the migrations' own table included."""
    return sorted(sa.inspect(connection).get_table_names())


def row_counts(connection: sa.Connection) -> dict[str, int]:
    preparer = connection.dialect.identifier_preparer
    return {
        name: connection.exec_driver_sql(
            f"SELECT count(*) FROM {preparer.quote(name)}"
        ).scalar_one()
        for name in table_names(connection)
    }


def files_in(folder: Path) -> list[Path]:
    """The files under ``folder`` (relative paths), sorted; none when it does not exist."""
    if not folder.is_dir():
        return []
    return sorted(path.relative_to(folder) for path in folder.rglob("*") if path.is_file())


def _revisions(connection: sa.Connection) -> list[str]:
    from alembic.migration import MigrationContext

    return sorted(MigrationContext.configure(connection).get_current_heads())


def _schema(connection: sa.Connection) -> str | None:
    if connection.dialect.name != "postgresql":
        return None
    return connection.exec_driver_sql("SELECT current_schema()").scalar_one()


# -- PostgreSQL client programs ----------------------------------------------------------------


def postgres_program(name: str) -> str | None:
    """The path of ``pg_dump`` or ``pg_restore``, or ``None`` when not installed."""
    return shutil.which(name)


def _libpq_target(url: sa.URL) -> tuple[str, dict[str, str]]:
    """A libpq connection URI for ``url`` and the environment carrying its password (kept off
    the command line, where other users of the machine could see it)."""
    environment = dict(os.environ)
    if url.password:
        environment["PGPASSWORD"] = str(url.password)
    environment["PGOPTIONS"] = PG_LOCK_TIMEOUT
    target = url.set(drivername="postgresql", password=None)
    return target.render_as_string(hide_password=False), environment


def _run(command: list[str], environment: dict[str, str], what: str) -> None:
    result = subprocess.run(command, env=environment, capture_output=True, text=True)
    if result.returncode != 0:
        message = (result.stderr or result.stdout).strip().splitlines()
        raise BackupError(f"{what} failed: {message[-1] if message else result.returncode}")


# -- backing up --------------------------------------------------------------------------------


def create_backup(app: Flask, path: Path, portable: bool = False,
                  echo: Callable[[str], None] = lambda _line: None) -> Summary:
    """Write the database and every file folder to a new archive at ``path``.

    The archive is written beside ``path`` and moved into place when complete, readable only
    by its owner (it holds personal data). An existing ``path`` is never overwritten.
    """
    path = Path(path)
    if path.exists():
        raise BackupError(f"{path} already exists: choose a new name (a date in it helps).")
    if not path.parent.is_dir():
        raise BackupError(f"The folder {path.parent} does not exist: create it first.")
    folders = file_folders(app)
    with app.app_context(), tempfile.TemporaryDirectory(prefix="trainer-backup-") as work:
        work_path = Path(work)
        engine = db.engine
        dialect = engine.dialect.name
        if dialect not in {"sqlite", "postgresql"}:
            raise BackupError(f"Backups of {dialect} databases are not supported.")
        if portable:
            method = "portable"
        elif dialect == "sqlite":
            method = "sqlite"
        else:
            method = "pg_dump" if postgres_program("pg_dump") else "portable"
            if method == "portable":
                echo("pg_dump is not installed: writing a portable dump instead.")
        dump = work_path / DUMP_FILES[method]
        if method == "sqlite":
            _dump_sqlite(engine, dump)
            schema, counts, revisions = None, *_counts_of_copy(dump)
        else:
            # The dump and the counts in the manifest come from one snapshot, so they agree
            # even while the app keeps writing.
            with engine.connect() as connection, _snapshot(connection):
                schema = _schema(connection)
                if method == "pg_dump":
                    snapshot = connection.exec_driver_sql(
                        "SELECT pg_export_snapshot()"
                    ).scalar_one()
                    _dump_postgres(engine.url, schema, dump, snapshot)
                else:
                    _dump_portable(connection, dump)
                counts = row_counts(connection)
                revisions = _revisions(connection)
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "created_at": utcnow().isoformat(timespec="seconds"),
            "database": {"dialect": dialect, "method": method, "file": dump.name,
                         "schema": schema, "revisions": revisions, "rows": counts},
            "folders": {name: {"files": [str(item) for item in files_in(folder)]}
                        for name, folder in folders.items()},
        }
        (work_path / MANIFEST).write_text(json.dumps(manifest, indent=1), "utf-8")
        partial = path.with_name(f".{path.name}.partial")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as handle, tarfile.open(
                fileobj=handle, mode="w:gz"
            ) as archive:
                archive.add(work_path / MANIFEST, arcname=MANIFEST)
                archive.add(dump, arcname=dump.name)
                for name, folder in folders.items():
                    for item in manifest["folders"][name]["files"]:
                        archive.add(folder / item, arcname=f"{FILES}/{name}/{item}")
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
    return _summary(manifest)


@contextmanager
def _snapshot(connection: sa.Connection) -> Iterator[None]:
    """One consistent view of the database for the reads in the block."""
    if connection.dialect.name == "postgresql":
        with connection.begin():
            connection.exec_driver_sql(
                "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
            )
            yield
    else:
        with connection.begin():
            yield


def _dump_sqlite(engine: sa.Engine, target: Path) -> None:
    source_path = engine.url.database
    if source_path in (None, "", ":memory:"):
        raise BackupError("An in-memory SQLite database cannot be backed up.")
    source = sqlite3.connect(source_path)
    destination = sqlite3.connect(target)
    try:
        source.backup(destination)
    finally:
        destination.close()
        source.close()


def _dump_postgres(url: sa.URL, schema: str | None, target: Path, snapshot: str) -> None:
    uri, environment = _libpq_target(url)
    program = postgres_program("pg_dump")
    assert program is not None
    _run([program, "--format=custom", "--no-owner", "--no-privileges",
          f"--schema={_quoted(schema)}", f"--snapshot={snapshot}", f"--file={target}",
          f"--dbname={uri}"], environment, "pg_dump")


def _quoted(schema: str | None) -> str:
    # pg_dump reads -n as a pattern; double quotes make it match this one name exactly.
    return '"' + str(schema).replace('"', '""') + '"'


def _counts_of_copy(dump: Path) -> tuple[dict[str, int], list[str]]:
    """Row counts and revision of the SQLite copy itself, which is its own snapshot."""
    engine = sa.create_engine(f"sqlite:///{dump}")
    try:
        with engine.connect() as connection:
            return row_counts(connection), _revisions(connection)
    finally:
        engine.dispose()


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, timedelta):
        return value.total_seconds()
    raise TypeError(f"cannot write {type(value).__name__} to a portable dump")


def _dump_portable(connection: sa.Connection, target: Path) -> None:
    metadata = sa.MetaData()
    metadata.reflect(connection)
    with target.open("w", encoding="utf-8") as out:
        for table in metadata.sorted_tables:
            if table.name == ALEMBIC_TABLE:
                continue
            columns = [column.name for column in table.columns]
            out.write(json.dumps({"table": table.name, "columns": columns}) + "\n")
            order = list(table.primary_key.columns) or list(table.columns)
            for row in connection.execute(sa.select(table).order_by(*order)):
                out.write(json.dumps(list(row), default=_encode) + "\n")


# -- restoring ---------------------------------------------------------------------------------


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of the archive at ``path``; :class:`BackupError` when it is not one."""
    try:
        with tarfile.open(path, "r:gz") as archive:
            member = archive.extractfile(MANIFEST)
            manifest = json.loads(member.read().decode("utf-8")) if member else None
    except (OSError, tarfile.TarError, KeyError, ValueError) as error:
        raise BackupError(f"{path} is not a trainer backup ({error}).") from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a trainer backup of format {FORMAT}.")
    return manifest


def restore_backup(app: Flask, path: Path, force: bool = False,
                   echo: Callable[[str], None] = lambda _line: None) -> Summary:
    """Put the database and file folders back as the archive at ``path`` has them.

    Refuses (changing nothing) when the database has rows or a folder has files, unless
    ``force``; then what is there is replaced. Stop the app, ``tick`` and ``send-mail`` first.
    """
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"There is no backup at {path}.")
    manifest = read_manifest(path)
    database = manifest["database"]
    method = database["method"]
    folders = file_folders(app)
    unknown = sorted(set(manifest["folders"]) - set(folders))
    if unknown:
        raise BackupError(f"The backup has files for {', '.join(unknown)}, which no loaded "
                          "plugin keeps: enable the plugin (TRAINER_DISABLED_PLUGINS) first.")
    with app.app_context():
        engine = db.engine
        dialect = engine.dialect.name
        if method != "portable" and dialect != database["dialect"]:
            raise BackupError(f"The backup is of a {database['dialect']} database and this "
                              f"one is {dialect}.")
        with engine.connect() as connection:
            schema = _schema(connection)
            occupied = {name: rows for name, rows in row_counts(connection).items()
                        if rows and name not in BOOKKEEPING_TABLES}
        if method == "pg_dump" and schema != database["schema"]:
            raise BackupError(f"The backup is of schema {database['schema']}; this database "
                              f"uses {schema}. Restore into a database whose search_path "
                              f"starts with {database['schema']}.")
        if method == "pg_dump" and not postgres_program("pg_restore"):
            raise BackupError("pg_restore is not installed: install the PostgreSQL client "
                              "programs (the server's version or newer).")
        full_folders = [str(folders[name]) for name in manifest["folders"]
                        if files_in(folders[name])]
        if (occupied or full_folders) and not force:
            what = []
            if occupied:
                what.append(f"the database has rows in {len(occupied)} tables")
            if full_folders:
                what.append(f"{', '.join(full_folders)} has files")
            raise BackupError(f"Not restored: {' and '.join(what)}. Use --force to replace "
                              "them with the backup.")
        with tempfile.TemporaryDirectory(prefix="trainer-restore-") as work:
            work_path = Path(work)
            with tarfile.open(path, "r:gz") as archive:
                archive.extractall(work_path, filter="data")
            dump = work_path / database["file"]
            db.session.remove()
            engine.dispose()
            if method == "sqlite":
                _restore_sqlite(engine, dump)
            elif method == "pg_dump":
                _restore_postgres(engine.url, schema, dump)
            else:
                _restore_portable(app, dump, database["revisions"])
            engine.dispose()
            for name in manifest["folders"]:
                _replace_folder(work_path / FILES / name, folders[name])
            echo("Checking what was restored ...")
            _verify(manifest, folders)
    return _summary(manifest)


def _restore_sqlite(engine: sa.Engine, dump: Path) -> None:
    target_path = engine.url.database
    if target_path in (None, "", ":memory:"):
        raise BackupError("Cannot restore into an in-memory SQLite database.")
    source = sqlite3.connect(dump)
    destination = sqlite3.connect(target_path)
    try:
        source.backup(destination)
    finally:
        destination.close()
        source.close()


def _restore_postgres(url: sa.URL, schema: str | None, dump: Path) -> None:
    uri, environment = _libpq_target(url)
    program = postgres_program("pg_restore")
    assert program is not None
    # --clean drops what the dump holds before making it again; one transaction, so a
    # failure leaves the database as it was.
    _run([program, "--clean", "--if-exists", "--no-owner", "--no-privileges",
          "--single-transaction", "--exit-on-error", f"--schema={schema}",
          f"--dbname={uri}", str(dump)], environment, "pg_restore")


def _decoder(column_type: sa.types.TypeEngine) -> Callable[[Any], Any] | None:
    if isinstance(column_type, sa.DateTime):
        return datetime.fromisoformat
    if isinstance(column_type, sa.Date):
        return date.fromisoformat
    if isinstance(column_type, sa.Time):
        return time.fromisoformat
    if isinstance(column_type, sa.LargeBinary):
        return base64.b64decode
    if isinstance(column_type, sa.Interval):
        return lambda seconds: timedelta(seconds=seconds)
    if isinstance(column_type, sa.Numeric) and not isinstance(column_type, sa.Float):
        return Decimal
    return None


def _restore_portable(app: Flask, dump: Path, revisions: list[str]) -> None:
    from flask_migrate import upgrade

    if len(revisions) != 1:
        raise BackupError("The portable dump has no single migration revision to build the "
                          "schema from.")
    engine = db.engine
    with engine.begin() as connection:
        existing = sa.MetaData()
        existing.reflect(connection)
        existing.drop_all(connection)
    upgrade(revision=revisions[0])
    engine.dispose()
    with engine.begin() as connection:
        metadata = sa.MetaData()
        metadata.reflect(connection)
        rows_by_table = _read_portable(dump)
        # The migrations write a few rows of their own; the backup's take their place.
        for table in reversed(metadata.sorted_tables):
            if table.name in rows_by_table:
                connection.execute(table.delete())
        for table in metadata.sorted_tables:
            if table.name not in rows_by_table:
                continue
            columns, rows = rows_by_table[table.name]
            decoders = [_decoder(table.columns[name].type) for name in columns]
            batch = []
            for row in rows:
                batch.append({
                    name: (decode(value) if decode and value is not None else value)
                    for name, decode, value in zip(columns, decoders, row, strict=True)
                })
                if len(batch) == BATCH_ROWS:
                    connection.execute(table.insert(), batch)
                    batch = []
            if batch:
                connection.execute(table.insert(), batch)
        if connection.dialect.name == "postgresql":
            _reset_sequences(connection, metadata)


def _read_portable(dump: Path) -> dict[str, tuple[list[str], list[list[Any]]]]:
    tables: dict[str, tuple[list[str], list[list[Any]]]] = {}
    current: list[list[Any]] = []
    with dump.open(encoding="utf-8") as lines:
        for line in lines:
            item = json.loads(line)
            if isinstance(item, dict):
                current = []
                tables[item["table"]] = (item["columns"], current)
            else:
                current.append(item)
    return tables


def _reset_sequences(connection: sa.Connection, metadata: sa.MetaData) -> None:
    """Let new rows continue after the restored ids."""
    preparer = connection.dialect.identifier_preparer
    for table in metadata.sorted_tables:
        for column in table.primary_key.columns:
            sequence = connection.execute(
                sa.text("SELECT pg_get_serial_sequence(:table, :column)"),
                {"table": preparer.quote(table.name), "column": column.name},
            ).scalar_one()
            if sequence:
                connection.execute(
                    sa.text(
                        f"SELECT setval(:sequence, coalesce(max({preparer.quote(column.name)}),"
                        f" 1), max({preparer.quote(column.name)}) IS NOT NULL) FROM "
                        f"{preparer.quote(table.name)}"
                    ),
                    {"sequence": sequence},
                )


def _replace_folder(source: Path, target: Path) -> None:
    """Make ``target`` hold exactly what ``source`` holds (the folder itself is kept: it may
    be a mount point)."""
    target.mkdir(parents=True, exist_ok=True)
    for item in target.iterdir():
        if item.is_dir() and not item.is_symlink():
            shutil.rmtree(item)
        else:
            item.unlink()
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)


def _verify(manifest: dict[str, Any], folders: dict[str, Path]) -> None:
    with db.engine.connect() as connection:
        counts = row_counts(connection)
    expected = manifest["database"]["rows"]
    wrong = sorted(name for name, rows in expected.items() if counts.get(name) != rows)
    if wrong:
        raise BackupError(f"The restored database differs from the backup in {', '.join(wrong)}"
                          ": restore again with --force, and report it if it happens twice.")
    for name, folder in manifest["folders"].items():
        restored = [str(item) for item in files_in(folders[name])]
        if sorted(restored) != sorted(folder["files"]):
            raise BackupError(f"The restored {name} folder {folders[name]} does not hold the "
                              "backup's files: check the disk has room and restore again.")


def _summary(manifest: dict[str, Any]) -> Summary:
    database = manifest["database"]
    rows = database["rows"]
    return Summary(
        method=database["method"],
        tables=sum(1 for name in rows if name != ALEMBIC_TABLE),
        rows=sum(count for name, count in rows.items() if name != ALEMBIC_TABLE),
        files=sum(len(folder["files"]) for folder in manifest["folders"].values()),
    )
