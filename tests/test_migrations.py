"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

import tests.conftest as conftest
from trainer.db import db


def _differences(app):
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "render_as_batch": True}
        )
        return compare_metadata(context, db.metadata)


def test_upgrade_matches_the_models_and_downgrade_undoes_it(app_factory):
    app = app_factory()
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        conftest._postgres_schema_ready = False  # the next test rebuilds its schema
        upgrade()
    assert _differences(app) == []
    with app.app_context():
        downgrade(revision="base")
        tables = set(db.inspect(db.engine).get_table_names()) - {"alembic_version"}
    assert tables == set()


def test_the_upgrade_records_who_attended_and_where_they_came_from(app_factory):
    """Bookings made before the reach columns existed get them from their marks and people."""
    app = app_factory()
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        conftest._postgres_schema_ready = False
        upgrade(revision="8972ef5fce76")
        with db.engine.begin() as connection:
            run = connection.exec_driver_sql
            run("INSERT INTO region (id, code, name) VALUES (1, 'E12000003', 'Yorkshire')")
            run("INSERT INTO local_authority (id, ons_code, name, region_id) "
                "VALUES (1, 'E08000035', 'Leeds', 1), (2, 'E09000007', 'Camden', 1)")
            run("INSERT INTO setting (id, name, setting_type, local_authority_id, postcode, "
                "created_at) VALUES (1, 'Acorns', 'nursery', 1, 'LS1 1AA', '2026-01-01')")
            run("INSERT INTO user_account (id, email, name, password_hash, job_role, setting_id,"
                " local_authority_id, created_at, active) VALUES "
                "(1, 'a@example.org', 'A', 'x', 'senco', 1, 2, '2026-01-01', true), "
                "(2, 'b@example.org', 'B', 'x', 'parent_carer', NULL, 2, '2026-01-01', true)")
            run("INSERT INTO delivery_partner (id, name) VALUES (1, 'P')")
            run("INSERT INTO course (id, title, summary, level, accredited, "
                "delivery_partner_id, created_at) VALUES (1, 'C', '', 'introductory', false, 1, "
                "'2026-01-01')")
            run("INSERT INTO training_session (id, course_id, capacity, mode, status, notes, "
                "twilight, sequence, created_at) VALUES (1, 1, 10, 'online', 'scheduled', '', "
                "false, 0, '2026-01-01')")
            run("INSERT INTO meeting (id, training_session_id, starts_at, ends_at) VALUES "
                "(1, 1, '2026-02-01 10:00', '2026-02-01 11:00')")
            run("INSERT INTO booking (id, training_session_id, user_id, status, access_needs, "
                "share_with_la, created_at, confirmed_at, sequence) VALUES "
                "(1, 1, 1, 'confirmed', '', false, '2026-01-01', '2026-01-01', 0), "
                "(2, 1, 2, 'confirmed', '', false, '2026-01-01', '2026-01-01', 0)")
            run("INSERT INTO attendance (booking_id, meeting_id, attended, recorded_at) VALUES "
                "(1, 1, true, '2026-02-01'), (2, 1, false, '2026-02-01')")
        upgrade()
        with db.engine.connect() as connection:
            rows = connection.exec_driver_sql(
                "SELECT id, attended, setting_id, local_authority_id, audience FROM booking "
                "ORDER BY id").all()
    assert [tuple(row) for row in rows] == [
        (1, True, 1, 1, "practitioners"),  # the setting's LA wins over the profile's
        (2, False, None, 2, "parents_carers"),
    ]
