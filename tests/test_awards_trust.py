"""Trust: the audit log is append-only, the package can be switched off, and people's data can
be downloaded and erased."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DatabaseError

from awards import audit, privacy
from awards.audit import AppendOnlyError
from awards.models import AuditEvent, MemberType, Panel, PanelMember, StaffAuditAnswer
from tests.awards_support import TEST_SCHEME, make_setting, make_staff
from trainer.db import db
from trainer.people import User


def _one_event(app) -> int:
    with app.app_context():
        audit.record("panel.created", detail="Test panel")
        db.session.commit()
        return db.session.scalar(sa.select(AuditEvent.id))


def test_the_orm_refuses_to_change_or_delete_an_entry(app):
    event_id = _one_event(app)
    with app.app_context():
        event = db.session.get(AuditEvent, event_id)
        event.detail = "rewritten"
        with pytest.raises(AppendOnlyError):
            db.session.flush()
        db.session.rollback()
        db.session.delete(db.session.get(AuditEvent, event_id))
        with pytest.raises(AppendOnlyError):
            db.session.flush()
        db.session.rollback()
        assert db.session.get(AuditEvent, event_id).detail == "Test panel"


@pytest.mark.parametrize("statement", [
    "UPDATE award_audit_event SET detail = 'rewritten'",
    "DELETE FROM award_audit_event",
])
def test_the_database_itself_refuses_to_rewrite_history(app, statement):
    event_id = _one_event(app)
    with app.app_context():
        with pytest.raises(DatabaseError) as caught:
            with db.engine.begin() as connection:
                connection.exec_driver_sql(statement)
        assert "append-only" in str(caught.value)
        assert db.session.get(AuditEvent, event_id).detail == "Test panel"


def test_with_the_package_disabled_awards_pages_are_not_found(app_factory):
    app = app_factory(DISABLED_PLUGINS=["awards"])
    client = app.test_client()
    assert client.get("/awards/").status_code == 404
    assert client.get("/awards/register").status_code == 404
    home = client.get("/").get_data(as_text=True)
    assert 'href="/awards/"' not in home


def test_the_navigation_offers_awards_to_everyone(client):
    assert 'href="/awards/"' in client.get("/").get_data(as_text=True)


def _staff_member_on_a_panel(app, make_user, need: int, member_type: MemberType) -> int:
    """A member of a setting's staff who answered the staff audit and sits on a panel."""
    user_id, _email = make_staff(make_user, make_setting(app))
    with app.app_context():
        db.session.add(StaffAuditAnswer(user_id=user_id, scheme_key=TEST_SCHEME,
                                        criterion_key="families", need=need))
        panel = Panel(name="North panel")
        panel.members.append(PanelMember(user_id=user_id, member_type=member_type.value))
        db.session.add(panel)
        db.session.commit()
    return user_id


def test_subject_access_lists_staff_audit_answers_and_panel_places(app, make_user):
    user_id = _staff_member_on_a_panel(app, make_user, 3, MemberType.PARENT_CARER)
    with app.app_context():
        data = privacy.user_data(db.session.get(User, user_id))
    assert data["Award staff audit"] == [
        {"scheme": TEST_SCHEME, "criterion": "families", "need": 3,
         "updated_at": data["Award staff audit"][0]["updated_at"]}]
    assert data["Award panels"] == [
        {"panel": "North panel", "member_type": "parent_carer", "chair": False}]


def test_nothing_held_means_no_section(app, make_user):
    user_id, _email = make_user()
    with app.app_context():
        assert privacy.user_data(db.session.get(User, user_id)) is None


def test_erasure_removes_audit_answers_and_panel_places_and_is_safe_twice(app, make_user):
    user_id = _staff_member_on_a_panel(app, make_user, 2, MemberType.PROFESSIONAL)
    with app.app_context():
        user = db.session.get(User, user_id)
        assert privacy.erase_user(user) == ("Awards: 1 staff audit answers and 1 panel places "
                                            "removed")
        assert privacy.erase_user(user) == ("Awards: 0 staff audit answers and 0 panel places "
                                            "removed")
        db.session.commit()
        assert privacy.user_data(user) is None
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Panel)) == 1


def test_without_the_waiting_list_the_priority_hook_waits_quietly(app_factory):
    app = app_factory(DISABLED_PLUGINS=["waiting_list"])
    manager = app.extensions["trainer.plugins"]
    # The awards' answer is registered, but no specification: nothing ever calls it.
    assert manager.hook.trainer_waitlist_priority.spec is None
    assert app.test_client().get("/awards/register").status_code == 200
