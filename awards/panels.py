"""Moderation panels: admins form them of professionals and parents or carers, one member
the chair. Membership changes are written to the audit log; the log names people by their
account number, so erasing an account leaves no name behind in it."""

from __future__ import annotations

import sqlalchemy as sa

from awards import audit
from awards.errors import Refused
from awards.models import Application, Assessment, MemberType, Panel, PanelMember
from awards.moderation import flush_or_refuse
from trainer.db import db, lock_row, utcnow, write_transaction
from trainer.people import Role, User, find_user_by_email

NAME_MAX = 120



def create_panel(name: str, admin: User) -> Panel:
    """A new panel with no members. Names are unique (whatever their case)."""
    name = " ".join((name or "").split())
    if not name:
        raise Refused("Enter a name for the panel", field="name")
    if len(name) > NAME_MAX:
        raise Refused(f"The panel's name must be {NAME_MAX} characters or fewer", field="name")
    with write_transaction():
        taken = db.session.scalar(sa.select(Panel.id).where(sa.func.lower(Panel.name)
                                                            == name.lower()))
        if taken is not None:
            raise Refused(f"There is already a panel called “{name}”: choose another name",
                          field="name")
        panel = Panel(name=name, created_at=utcnow())
        db.session.add(panel)
        flush_or_refuse(f"There is already a panel called “{name}”: choose another name",
                         "name")
        audit.record("panel.created", actor=admin, detail=name)
    return panel


def add_member(panel_id: int, email: str, member_type: str, admin: User) -> PanelMember:
    """Add the account with ``email`` to the panel as a professional or a parent or carer,
    granting them the moderator role if they lack it. Nobody is added twice."""
    if member_type not in {t.value for t in MemberType}:
        raise Refused("Choose whether they are a professional or a parent or carer",
                      field="member_type")
    if not (email or "").strip():
        raise Refused("Enter the email address of the person to add", field="email")
    with write_transaction():
        panel = _panel_or_refuse(panel_id)
        user = find_user_by_email(email)
        if user is None or not user.active:
            raise Refused(f"There is no account with the email address {email.strip()}: ask "
                          "them to create an account first", field="email")
        if panel.member_for(user.id) is not None:
            raise Refused(f"{user.name} is already on {panel.name}", field="email")
        user.grant(Role.MODERATOR)
        member = PanelMember(panel=panel, user=user, member_type=member_type, is_chair=False)
        db.session.add(member)
        flush_or_refuse(f"{user.name} is already on {panel.name}", "email")
        audit.record("panel.member_added", actor=admin, detail=(
            f"Account {user.id} added to {panel.name} as "
            f"{MemberType(member_type).label.lower()}"))
    return member


def remove_member(panel_id: int, member_id: int, admin: User) -> str:
    """Take a member off the panel. Assessments they have submitted stay with their
    applications for the record (and still count in moderation). Returns what happened, in
    words for the admin."""
    with write_transaction():
        panel = _panel_or_refuse(panel_id)
        member = _member_or_refuse(panel, member_id)
        user = member.user
        submitted = db.session.scalar(
            sa.select(sa.func.count(Assessment.id)).join(Application)
            .where(Assessment.assessor_id == user.id, Assessment.submitted_at.is_not(None),
                   Application.panel_id == panel.id))
        was_chair = member.is_chair
        panel.members.remove(member)
        db.session.delete(member)
        audit.record("panel.member_removed", actor=admin,
                     detail=f"Account {user.id} removed from {panel.name}")
    message = f"{user.name} has been removed from {panel.name}."
    if submitted:
        message += (" The assessments they submitted stay with the applications for the "
                    "record.")
    if was_chair:
        message += " The panel has no chair now: make another member the chair."
    return message


def make_chair(panel_id: int, member_id: int, admin: User) -> PanelMember:
    """Make the member the panel's chair (returned); the previous chair, if any, stops
    being it."""
    with write_transaction():
        panel = _panel_or_refuse(panel_id)
        member = _member_or_refuse(panel, member_id)
        for other in panel.members:
            other.is_chair = other.id == member.id
        audit.record("panel.chair_changed", actor=admin,
                     detail=f"Account {member.user_id} is now the chair of {panel.name}")
    return member


def _panel_or_refuse(panel_id: int) -> Panel:
    panel = lock_row(Panel, panel_id)
    if panel is None:
        raise Refused("There is no such panel")
    return panel


def _member_or_refuse(panel: Panel, member_id: int) -> PanelMember:
    member = next((m for m in panel.members if m.id == member_id), None)
    if member is None:
        raise Refused("That person is not on this panel")
    return member


