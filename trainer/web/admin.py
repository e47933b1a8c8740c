"""Administration: loaded plugins and their hooks, mail that could not be delivered, and
people's accounts (their access, answering a request for their data, or erasing them)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import SelectField, StringField

from trainer import hooks, mail, privacy
from trainer.access import roles_required
from trainer.db import db, is_sqlite, lock_row, write_transaction
from trainer.forms import BaseForm, choices, strip
from trainer.mail import MailStatus, OutboxMessage
from trainer.people import ROLE_LABELS, DeliveryPartner, Role, User, UserRole, normalise_email
from trainer.web import page_panels
from trainer.web.account import data_download, local_authority_choices
from trainer.web.manage.forms import MultiCheckboxField

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/")
@roles_required(Role.ADMIN)
def index():
    """The administration home page."""
    counts = dict(
        db.session.execute(
            sa.select(OutboxMessage.status, sa.func.count()).group_by(OutboxMessage.status)
        ).all()
    )
    return render_template("admin/index.html", mail_counts=counts,
                           panels=page_panels("admin", None, current_user))


@bp.route("/plugins")
@roles_required(Role.ADMIN)
def plugins():
    """Loaded plugins, the hooks each implements, and disabled plugins."""
    return render_template(
        "admin/plugins.html",
        plugins=hooks.plugin_summaries(),
        blocked=hooks.blocked_plugins(),
    )


@bp.route("/mail")
@roles_required(Role.ADMIN)
def mail_list():
    """Mail by status, newest first; failed mail can be retried."""
    status = request.args.get("status", MailStatus.FAILED)
    if status not in set(MailStatus):
        abort(404)
    page = request.args.get("page", 1, type=int)
    if page < 1:
        abort(404)
    pagination = db.paginate(
        sa.select(OutboxMessage)
        .where(OutboxMessage.status == status)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()),
        page=page,
        per_page=current_app.config["PAGE_SIZE"],
        error_out=False,
    )
    return render_template(
        "admin/mail.html", pagination=pagination, status=status, statuses=list(MailStatus)
    )


@bp.route("/mail/<int:message_id>/retry", methods=["POST"])
@roles_required(Role.ADMIN)
def mail_retry(message_id: int):
    """Put one failed message back in the queue."""
    message = db.get_or_404(OutboxMessage, message_id)
    if message.status != MailStatus.FAILED:
        flash("That message has not failed, so it was left as it was.", "info")
    else:
        mail.retry(message)
        db.session.commit()
        flash(f"The message to {message.recipient} will be sent again shortly.", "success")
    return redirect(url_for("admin.mail_list", status=MailStatus.FAILED))


@bp.route("/mail/retry-all", methods=["POST"])
@roles_required(Role.ADMIN)
def mail_retry_all():
    """Put every failed message back in the queue."""
    failed = db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.status == MailStatus.FAILED)
    ).all()
    for message in failed:
        mail.retry(message)
    db.session.commit()
    flash(f"{len(failed)} failed messages will be sent again shortly.", "success")
    return redirect(url_for("admin.mail_list", status=MailStatus.FAILED))


# -- people ---------------------------------------------------------------------------------------

SEARCH_MAX = 100


@bp.route("/users")
@roles_required(Role.ADMIN)
def users():
    """Accounts, found by email address or name, a page at a time."""
    query = request.args.get("q", "").strip()[:SEARCH_MAX]
    page = request.args.get("page", 1, type=int)
    if page < 1:
        abort(404)
    statement = sa.select(User).order_by(User.name, User.id)
    if query:
        like = f"%{query.lower()}%"
        statement = statement.where(sa.or_(sa.func.lower(User.email).like(like),
                                           sa.func.lower(User.name).like(like)))
    pagination = db.paginate(statement, page=page, per_page=current_app.config["PAGE_SIZE"],
                             error_out=False)
    return render_template("admin/users.html", pagination=pagination, query=query)


@bp.route("/users/<int:user_id>")
@roles_required(Role.ADMIN)
def user(user_id: int):
    """One person's account, with their data to download and the way to erase them."""
    person = db.get_or_404(User, user_id)
    return render_template("admin/user.html", person=person,
                           erased=privacy.is_erased(person))


@bp.route("/users/<int:user_id>/data.json")
@roles_required(Role.ADMIN)
def user_data(user_id: int):
    """Everything held about one person, as JSON (to answer their subject access request)."""
    person = db.get_or_404(User, user_id)
    return data_download(privacy.user_data(person), "json", person.id)


# -- access ---------------------------------------------------------------------------------------


class AccessForm(BaseForm):
    roles = MultiCheckboxField(
        "Access",
        description="Select all that apply.",
        choices=choices(ROLE_LABELS.items()),
        invalid_choice_message="Select access from the list",
    )
    delivery_partner = SelectField(
        "Delivery partner",
        description="Needed for trainers: they manage their delivery partner's courses.",
    )
    local_authority = SelectField(
        "Local authority they are an officer for",
        description="Needed for local authority officers: it decides which area's figures "
                    "they see.",
    )

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        roles = set(self.roles.data or ())
        if str(Role.TRAINER) in roles and not self.delivery_partner.data:
            self.delivery_partner.errors.append("Select the trainer's delivery partner")
            ok = False
        if str(Role.LA_OFFICER) in roles and not self.local_authority.data:
            self.local_authority.errors.append(
                "Select the local authority they are an officer for")
            ok = False
        return ok


def delivery_partner_choices(blank: str) -> list:
    partners = db.session.execute(
        sa.select(DeliveryPartner.id, DeliveryPartner.name).order_by(DeliveryPartner.name)
    ).all()
    return choices([("", blank)] + [(row.id, row.name) for row in partners])


class AccessRefused(ValueError):
    """The access was not changed; the message says why."""


def change_access(person_id: int, roles: set[Role], delivery_partner_id: int | None,
                  local_authority_id: int | None, by: User) -> User:
    """Give one person exactly ``roles``, in one transaction, as the administrator ``by``.

    A trainer gets ``delivery_partner_id``, and loses their delivery partner when they are no
    longer a trainer. An LA officer gets ``local_authority_id``; anybody else keeps the local
    authority they have, which is also the area they gave for themself. Refused
    (:class:`AccessRefused`, nothing changed) for an erased account, for taking away your own
    Administrator role, and for taking it from the last active administrator: the rows of the
    active administrators are locked first, so two administrators cannot take the role from
    each other at the same moment.
    """
    with write_transaction():
        _lock_active_admins()
        person = lock_row(User, person_id)
        if privacy.is_erased(person):
            raise AccessRefused("This account has been erased, so it cannot be given access")
        if person.has_role(Role.ADMIN) and Role.ADMIN not in roles:
            if person.id == by.id:
                raise AccessRefused("You cannot remove your own Administrator role. Ask "
                                    "another administrator to do it")
            if not _other_active_admin(person.id):
                raise AccessRefused(f"{person.name} is the only active administrator. Make "
                                    "someone else an administrator first")
        for role in Role:
            if role in roles:
                person.grant(role)
            else:
                person.revoke(role)
        person.delivery_partner_id = delivery_partner_id if Role.TRAINER in roles else None
        if Role.LA_OFFICER in roles:
            person.local_authority_id = local_authority_id
    return person


def _lock_active_admins() -> None:
    """Lock the accounts of the active administrators (PostgreSQL; on SQLite the transaction
    already holds the write lock)."""
    if is_sqlite():
        return
    admins = sa.select(UserRole.user_id).where(UserRole.role == str(Role.ADMIN))
    db.session.execute(
        sa.select(User.id).where(User.id.in_(admins), User.active.is_(True))
        .order_by(User.id).with_for_update())


def _other_active_admin(user_id: int) -> bool:
    """Whether an active administrator other than ``user_id`` exists."""
    return bool(db.session.scalar(sa.select(sa.exists().where(
        UserRole.role == str(Role.ADMIN), UserRole.user_id != user_id,
        UserRole.user_id == User.id, User.active.is_(True)))))


@bp.route("/users/<int:user_id>/access", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def user_access(user_id: int):
    """Change what one person may do: their roles, a trainer's delivery partner and an LA
    officer's local authority. Never for an erased account."""
    person = db.get_or_404(User, user_id)
    erased = privacy.is_erased(person)
    form = AccessForm(data={
        "roles": sorted(str(role) for role in person.roles),
        "delivery_partner": str(person.delivery_partner_id or ""),
        "local_authority": str(person.local_authority_id or ""),
    } if request.method == "GET" else None)
    form.delivery_partner.choices = delivery_partner_choices("Select a delivery partner")
    form.local_authority.choices = local_authority_choices("Select a local authority")
    if not erased and form.validate_on_submit():
        roles = {Role(value) for value in form.roles.data}
        try:
            change_access(
                person.id, roles,
                delivery_partner_id=int(form.delivery_partner.data or 0) or None,
                local_authority_id=int(form.local_authority.data or 0) or None,
                by=current_user._get_current_object(),
            )
        except AccessRefused as refusal:
            form.roles.errors.append(str(refusal))
        else:
            flash(f"Access for {person.name} has been changed.", "success")
            return redirect(url_for("admin.user", user_id=user_id))
    refused = request.method == "POST" and erased
    return render_template("admin/user_access.html", person=person, form=form,
                           erased=erased), 400 if refused else 200


class EraseUserForm(BaseForm):
    email = StringField(
        "Type their email address to confirm",
        filters=[strip],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )


@bp.route("/users/<int:user_id>/erase", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def erase_user(user_id: int):
    """Erase one person, after typing their email address; never your own account."""
    person = db.get_or_404(User, user_id)
    form = EraseUserForm()
    yourself = person.id == current_user.id
    if not yourself and not privacy.is_erased(person) and form.validate_on_submit():
        if normalise_email(form.email.data or "") != person.email:
            form.email.errors.append("Type their email address exactly as it is shown")
        else:
            summaries = privacy.erase_user(person, by=current_user._get_current_object())
            flash("The account has been erased. " + " ".join(
                summary.rstrip(".") + "." for summary in summaries), "success")
            return redirect(url_for("admin.user", user_id=user_id))
    refused = request.method == "POST" and (yourself or privacy.is_erased(person))
    return render_template("admin/erase_user.html", person=person, form=form,
                           yourself=yourself, erased=privacy.is_erased(person)), (
        400 if refused else 200)
