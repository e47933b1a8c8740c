"""Administration: loaded plugins and their hooks, and mail that could not be delivered."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from trainer import hooks, mail
from trainer.access import roles_required
from trainer.db import db
from trainer.mail import MailStatus, OutboxMessage
from trainer.people import Role

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
