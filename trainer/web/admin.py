"""Administration: loaded plugins and their hooks, mail that could not be delivered, and
people's accounts (answering a request for their data, or erasing them)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import StringField

from trainer import hooks, mail, privacy
from trainer.access import roles_required
from trainer.db import db
from trainer.forms import BaseForm, strip
from trainer.mail import MailStatus, OutboxMessage
from trainer.people import Role, User, normalise_email
from trainer.web.account import data_download

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
    return render_template("admin/index.html", mail_counts=counts)


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
