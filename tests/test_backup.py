"""Backups: one archive holds the database and every uploaded file; back up, wipe, restore,
and every table's rows and every file's bytes come back the same."""

from __future__ import annotations

import shutil
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import stamp

import tests.conftest as conftest
from trainer import backup, demo
from trainer.db import db
from trainer.hookspecs import hookimpl
from trainer.people import User

NEEDS_PG_DUMP = pytest.mark.skipif(
    bool(conftest.POSTGRES_URL) and not (shutil.which("pg_dump") and shutil.which("pg_restore")),
    reason="pg_dump and pg_restore are not installed (PostgreSQL client programs)",
)


class ExtraFolderPlugin:
    """A plugin that keeps files of its own, in a folder it names for backups."""

    def __init__(self, folder: Path):
        self.folder = folder

    @hookimpl
    def trainer_file_folders(self):
        return {"extra-files": self.folder}


@pytest.fixture
def world(app_factory, tmp_path):
    """Demo data (people, sessions, bookings, attendance, award applications with evidence
    files), a binary file in a nested evidence folder and a plugin's own files, with the
    schema stamped at the latest migration."""
    extra = tmp_path / "extra-files"
    app = app_factory(PLUGINS=[ExtraFolderPlugin(extra)])
    with app.app_context():
        demo.create("small", echo=lambda _line: None)
        db.session.commit()
        stamp()
    folders = backup.file_folders(app)
    nested = folders["evidence"] / "nested"
    nested.mkdir(parents=True)
    (nested / "every-byte.bin").write_bytes(bytes(range(256)) * 64)
    extra.mkdir()
    (extra / "notes.txt").write_text("Kept by a plugin, backed up with the rest.\n")
    return app


@pytest.fixture
def small_world(app_factory, tmp_path):
    """Two people and one evidence file, the schema stamped at the latest migration."""
    app = app_factory(PLUGINS=[ExtraFolderPlugin(tmp_path / "extra-files")])
    add_person(app, "first@example.org")
    add_person(app, "second@example.org")
    with app.app_context():
        stamp()
    evidence = backup.file_folders(app)["evidence"]
    evidence.mkdir(parents=True)
    (evidence / "0123abcd").write_bytes(b"%PDF-1.4 evidence")
    return app


def database_rows(app) -> dict[str, list[tuple]]:
    """Every table's rows as (column, value) pairs, in a stable order. Columns are named, not
    placed: a schema built by the migrations orders a table's later columns last."""
    with app.app_context(), db.engine.connect() as connection:
        preparer = connection.dialect.identifier_preparer
        return {
            name: sorted(
                (tuple(sorted(row.items())) for row in connection.exec_driver_sql(
                    f"SELECT * FROM {preparer.quote(name)}").mappings()),
                key=repr,
            )
            for name in backup.table_names(connection)
        }


def folder_bytes(app) -> dict[str, dict[str, bytes]]:
    return {
        name: {str(item): (folder / item).read_bytes() for item in backup.files_in(folder)}
        for name, folder in backup.file_folders(app).items()
    }


def wipe(app) -> None:
    """Lose everything: drop every table, delete every file folder."""
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as connection:
            metadata = sa.MetaData()
            metadata.reflect(connection)
            metadata.drop_all(connection)
        db.engine.dispose()
        conftest._postgres_schema_ready = False  # an app built next makes its tables again
        for folder in backup.file_folders(app).values():
            shutil.rmtree(folder, ignore_errors=True)


def add_person(app, email: str) -> None:
    with app.app_context():
        person = User(email=email, name="Later Person")
        person.set_password(conftest.PASSWORD)
        db.session.add(person)
        db.session.commit()


def invoke(app, *args):
    return app.test_cli_runner().invoke(args=["trainer", *args])


def expected_method(portable: bool) -> str:
    if portable:
        return "portable"
    return "pg_dump" if conftest.POSTGRES_URL else "sqlite"


@NEEDS_PG_DUMP
@pytest.mark.parametrize("portable", [False, True], ids=["native", "portable"])
def test_back_up_wipe_restore_gives_every_row_and_file_back(world, tmp_path, portable):
    rows_before, files_before = database_rows(world), folder_bytes(world)
    assert len(rows_before["user_account"]) > 5 and rows_before["booking"]
    assert len(files_before["evidence"]) >= 2 and files_before["extra-files"]
    archive = tmp_path / "backup.tar.gz"

    result = invoke(world, "backup", str(archive), *(["--portable"] if portable else []))
    assert result.exit_code == 0, result.output
    method = expected_method(portable)
    assert f"({method})" in result.output and str(archive) in result.output
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600  # it holds personal data
    manifest = backup.read_manifest(archive)
    assert manifest["database"]["rows"] == {name: len(found)
                                            for name, found in rows_before.items()}
    with tarfile.open(archive) as opened:
        names = set(opened.getnames())
    assert {f"files/{name}/{item}" for name, folder in manifest["folders"].items()
            for item in folder["files"]} == {name for name in names if name.startswith("files/")}
    assert "files/evidence/nested/every-byte.bin" in names

    wipe(world)
    assert folder_bytes(world) == {"evidence": {}, "extra-files": {}}
    result = invoke(world, "restore", str(archive))
    assert result.exit_code == 0, result.output
    assert "Restored" in result.output

    assert database_rows(world) == rows_before
    assert folder_bytes(world) == files_before
    # New rows carry on after the restored ones (sequences came back too).
    with world.app_context():
        assert demo.has_data()
    add_person(world, "after-the-restore@example.org")


def test_restore_refuses_a_database_with_data_unless_forced(small_world, tmp_path):
    world = small_world
    rows_before, files_before = database_rows(world), folder_bytes(world)
    archive = tmp_path / "backup.tar.gz"
    assert invoke(world, "backup", str(archive), "--portable").exit_code == 0
    add_person(world, "came-later@example.org")
    changed = database_rows(world)

    result = invoke(world, "restore", str(archive))
    assert result.exit_code == 1
    assert "Not restored: the database has rows in" in result.output
    assert "Use --force" in result.output
    assert database_rows(world) == changed  # nothing was touched

    evidence = backup.file_folders(world)["evidence"]
    (evidence / "uploaded-later").write_bytes(b"new")
    result = invoke(world, "restore", "--force", str(archive))
    conftest._postgres_schema_ready = False  # the migrations built the schema again
    assert result.exit_code == 0, result.output
    assert database_rows(world) == rows_before
    assert folder_bytes(world) == files_before  # the later upload is gone as well


def test_backup_never_overwrites_an_archive(app, tmp_path):
    world = app
    archive = tmp_path / "backup.tar.gz"
    archive.write_bytes(b"yesterday's backup")
    result = invoke(world, "backup", str(archive))
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert archive.read_bytes() == b"yesterday's backup"
    result = invoke(world, "backup", str(tmp_path / "missing" / "backup.tar.gz"))
    assert result.exit_code == 1 and "does not exist: create it first" in result.output


def test_restore_says_when_a_file_is_not_a_backup(app, tmp_path):
    not_a_backup = tmp_path / "photo.tar.gz"
    not_a_backup.write_bytes(b"\x89PNG not an archive")
    result = invoke(app, "restore", str(not_a_backup))
    assert result.exit_code == 1 and "is not a trainer backup" in result.output
    result = invoke(app, "restore", str(tmp_path / "nowhere.tar.gz"))
    assert result.exit_code == 1 and "There is no backup at" in result.output


def test_restore_needs_the_plugin_whose_files_are_in_the_archive(small_world, app_factory,
                                                                  tmp_path):
    world = small_world
    archive = tmp_path / "backup.tar.gz"
    assert invoke(world, "backup", str(archive)).exit_code == 0
    wipe(world)
    without_awards = app_factory(DISABLED_PLUGINS=["awards"],
                                 PLUGINS=[ExtraFolderPlugin(tmp_path / "extra-files")])
    result = invoke(without_awards, "restore", "--force", str(archive))
    assert result.exit_code == 1
    assert "files for evidence, which no loaded plugin keeps" in result.output


@pytest.mark.postgres
@pytest.mark.skipif(not shutil.which("pg_restore"), reason="pg_restore is not installed")
@NEEDS_PG_DUMP
def test_pg_dump_holds_only_this_schema(small_world, tmp_path):
    world = small_world
    archive = tmp_path / "backup.tar.gz"
    assert invoke(world, "backup", str(archive)).exit_code == 0
    manifest = backup.read_manifest(archive)
    assert manifest["database"]["method"] == "pg_dump"
    assert manifest["database"]["schema"] == conftest.POSTGRES_SCHEMA
    with tarfile.open(archive) as opened:
        opened.extract("database.pgdump", tmp_path, filter="data")
    listing = subprocess.run(["pg_restore", "--list", str(tmp_path / "database.pgdump")],
                             capture_output=True, text=True, check=True).stdout
    entries = [line for line in listing.splitlines() if line and not line.startswith(";")]
    assert any(" TABLE DATA " in line and " user_account " in line for line in entries)
    assert all(conftest.POSTGRES_SCHEMA in line for line in entries)
