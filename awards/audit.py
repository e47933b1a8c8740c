"""The append-only audit log: every state change, declaration, assessment and decision, with
who did it and when. :func:`record` is the only way in; nothing changes or deletes an entry
(the ORM refuses at flush, and the database itself refuses through triggers)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from awards.models import AuditEvent
from trainer.db import db, utcnow

# Readable names for the log's actions, as admins see them.
ACTION_LABELS = {
    "application.started": "Application started",
    "application.renewal_started": "Renewal started from an earlier application",
    "application.self_assessment_saved": "Self-assessment saved",
    "application.evidence_added": "Evidence added",
    "application.evidence_removed": "Evidence removed",
    "application.submitted": "Application submitted",
    "application.withdrawn": "Application withdrawn",
    "application.deadline_extended": "Deadline extended",
    "application.assigned": "Assigned to a panel",
    "declaration.no_conflict": "Declared no conflict of interest",
    "declaration.conflict": "Declared a conflict of interest",
    "staff_audit.saved": "Staff training needs audit saved",
    "assessment.saved": "Assessment saved as a draft",
    "assessment.submitted": "Assessment submitted",
    "decision.released": "Decision recorded and released",
    "award.made": "Award made",
    "award.withdrawn": "Award withdrawn",
    "award.reminder_sent": "Expiry reminder sent",
    "panel.created": "Panel created",
    "panel.member_added": "Panel member added",
    "panel.member_removed": "Panel member removed",
    "panel.chair_changed": "Panel chair changed",
}

APPEND_ONLY_MESSAGE = "the awards audit log is append-only"


def record(action: str, actor=None, application=None, award=None, detail: str = "") -> None:
    """Add an entry to the log in the current transaction: it commits, or rolls back, with
    the change it describes. ``actor`` is the user who acted (``None`` for the system)."""
    db.session.add(AuditEvent(
        at=utcnow(), action=action, detail=detail,
        actor_id=getattr(actor, "id", None),
        application_id=getattr(application, "id", None),
        award_id=getattr(award, "id", None),
    ))


def label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


def events(application_id: int | None = None) -> sa.Select:
    """The log, newest first; for one application when ``application_id`` is given."""
    statement = sa.select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if application_id is not None:
        statement = statement.where(AuditEvent.application_id == application_id)
    return statement


class AppendOnlyError(Exception):
    pass


@event.listens_for(Session, "before_flush")
def _refuse_changes(session, _context, _instances) -> None:
    for instance in list(session.dirty) + list(session.deleted):
        if isinstance(instance, AuditEvent) and (
            instance in session.deleted or session.is_modified(instance)
        ):
            raise AppendOnlyError(APPEND_ONLY_MESSAGE)


# The database refuses too, so no code path (or hand-written SQL) rewrites history. These run
# wherever the table is created: by ``create_all`` here and by the migration.
SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER IF NOT EXISTS award_audit_event_no_update BEFORE UPDATE ON
    award_audit_event BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS award_audit_event_no_delete BEFORE DELETE ON
    award_audit_event BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END""",
]
POSTGRESQL_TRIGGERS = [
    f"""CREATE OR REPLACE FUNCTION award_audit_event_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}'; END $$""",
    """CREATE TRIGGER award_audit_event_append_only BEFORE UPDATE OR DELETE ON
    award_audit_event FOR EACH ROW EXECUTE FUNCTION award_audit_event_append_only()""",
]


def create_triggers(connection) -> None:
    """Create the append-only triggers on ``connection``'s database."""
    statements = SQLITE_TRIGGERS if connection.dialect.name == "sqlite" else POSTGRESQL_TRIGGERS
    for statement in statements:
        connection.exec_driver_sql(statement)


@event.listens_for(AuditEvent.__table__, "after_create")
def _after_create(_table, connection, **_kwargs) -> None:
    create_triggers(connection)
