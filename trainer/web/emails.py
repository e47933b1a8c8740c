"""Emails written from templates: ``templates/emails/<name>.txt`` and optional ``.html``."""

from __future__ import annotations

from flask import current_app, render_template
from jinja2 import TemplateNotFound

from trainer import mail


def send_template(user, subject: str, name: str, attachments=(), **context) -> None:
    """Queue the email ``name`` to ``user`` in the current transaction."""
    context.update(user=user, service_name=current_app.config["SERVICE_NAME"], subject=subject)
    text = render_template(f"emails/{name}.txt", **context)
    try:
        html = render_template(f"emails/{name}.html", **context)
    except TemplateNotFound:
        html = None
    mail.queue(
        recipient=user.email,
        recipient_name=user.name,
        subject=subject,
        text_body=text,
        html_body=html,
        attachments=attachments,
    )
