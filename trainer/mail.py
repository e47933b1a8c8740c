"""Mail: the outbox table, message building and transports.

Nothing is ever sent inside a request. :func:`queue` adds an :class:`OutboxMessage` to the
caller's transaction, so an email exists exactly when the change that caused it was committed
(DESIGN guarantee 2). ``flask trainer send-mail`` (:func:`deliver_due`) claims due messages,
hands them to the configured transport and records the outcome; failures are retried with
exponential back-off until ``MAIL_MAX_ATTEMPTS``, then marked failed for an administrator to
retry. When the provider asks us to wait (``Retry-After``), nothing is sent to it before then.
Several workers may run at once: a message is claimed by one of them only, and a worker that
holds a batch for long keeps its claim fresh, so nobody mistakes it for a dead one.
"""

from __future__ import annotations

import base64
import enum
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, make_msgid, parsedate_to_datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.orm import Mapped, mapped_column

from trainer.db import Busy, UTCDateTime, db, skip_locked, utcnow, write_transaction

log = logging.getLogger(__name__)


class MailStatus(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    RETRYING = "retrying"
    FAILED = "failed"


class OutboxMessage(db.Model):
    """One email waiting to be sent, being sent, sent or given up on.

    ``attachments`` is a JSON list of ``{"filename", "content_type", "content"}`` with the
    content base64-encoded; ``headers`` a JSON object of extra header names and values (say
    ``List-Unsubscribe``) that every transport sends.
    """

    __tablename__ = "outbox_message"
    __table_args__ = (sa.Index("ix_outbox_message_due", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(sa.String(254))
    recipient_name: Mapped[str | None] = mapped_column(sa.String(120))
    subject: Mapped[str] = mapped_column(sa.String(300))
    text_body: Mapped[str] = mapped_column(sa.Text)
    html_body: Mapped[str | None] = mapped_column(sa.Text)
    attachments: Mapped[str] = mapped_column(sa.Text, default="[]")
    headers: Mapped[str] = mapped_column(sa.Text, default="{}", server_default="{}")
    message_id: Mapped[str] = mapped_column(sa.String(200), unique=True)
    status: Mapped[str] = mapped_column(sa.String(20), default=MailStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def attachment_list(self) -> list[dict[str, str]]:
        return json.loads(self.attachments or "[]")

    def header_map(self) -> dict[str, str]:
        return json.loads(self.headers or "{}")


@dataclass(frozen=True)
class Attachment:
    """A file attached to an email (an iCalendar invite, a certificate)."""

    filename: str
    content_type: str
    content: bytes


# Headers the transports set themselves; extra headers may not replace them.
RESERVED_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "subject",
        "message-id",
        "date",
        "reply-to",
        "sender",
        "content-type",
        "content-transfer-encoding",
        "mime-version",
    }
)
HEADER_NAME = re.compile(r"^[!-9;-~]+$")  # printable ASCII without a colon (RFC 5322)


def check_headers(headers: dict[str, str] | None) -> dict[str, str]:
    """``headers`` as a plain dict, refusing names the transports set themselves, names that
    are not RFC 5322 field names and values with line breaks (header injection)."""
    checked: dict[str, str] = {}
    for name, value in (headers or {}).items():
        if not HEADER_NAME.match(name) or name.lower() in RESERVED_HEADERS:
            raise ValueError(f"{name!r} cannot be given as an extra email header")
        value = str(value)
        if "\r" in value or "\n" in value:
            raise ValueError(f"the {name} header must be on one line")
        checked[name] = value
    return checked


def _message_id() -> str:
    domain = current_app.config["MAIL_FROM"].rpartition("@")[2] or "localhost"
    return make_msgid(idstring=uuid.uuid4().hex[:12], domain=domain)


def queue(
    recipient: str,
    subject: str,
    text_body: str,
    html_body: str | None = None,
    attachments: list[Attachment] | tuple[Attachment, ...] = (),
    recipient_name: str | None = None,
    headers: dict[str, str] | None = None,
) -> OutboxMessage:
    """Add an email to the outbox in the caller's transaction and return it.

    The email is sent only if that transaction commits; it is never sent twice. ``headers``
    are extra header fields (``{"List-Unsubscribe": "<https://...>"}``) every transport sends.
    """
    message = OutboxMessage(
        recipient=recipient,
        recipient_name=recipient_name,
        subject=subject,
        text_body=text_body,
        html_body=html_body,
        attachments=json.dumps(
            [
                {
                    "filename": item.filename,
                    "content_type": item.content_type,
                    "content": base64.b64encode(item.content).decode("ascii"),
                }
                for item in attachments
            ]
        ),
        headers=json.dumps(check_headers(headers)),
        message_id=_message_id(),
        status=MailStatus.QUEUED,
        next_attempt_at=utcnow(),
    )
    db.session.add(message)
    return message


def queue_many(messages: list[dict[str, Any]]) -> list[int]:
    """Add many text emails to the outbox at once, in the caller's transaction, and return
    their ids in the order given: one multi-row ``INSERT`` instead of one per message, for
    mail sent in bulk (a newsletter).

    Each item has ``recipient``, ``subject`` and ``text_body``, and optionally
    ``recipient_name`` and ``headers``; as with :func:`queue`, nothing is sent unless the
    transaction commits.
    """
    if not messages:
        return []
    now = utcnow()
    rows = [
        {
            "recipient": item["recipient"],
            "recipient_name": item.get("recipient_name"),
            "subject": item["subject"],
            "text_body": item["text_body"],
            "html_body": None,
            "attachments": "[]",
            "headers": json.dumps(check_headers(item.get("headers"))),
            "message_id": _message_id(),
            "status": MailStatus.QUEUED.value,
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": now,
        }
        for item in messages
    ]
    inserted = db.session.execute(
        sa.insert(OutboxMessage).returning(OutboxMessage.id, sort_by_parameter_order=True),
        rows,
    )
    return list(inserted.scalars())


def build_email(message: OutboxMessage, config: dict[str, Any]) -> EmailMessage:
    """The RFC 5322 message for ``message``: text, optional HTML alternative, attachments."""
    email = EmailMessage()
    email["From"] = formataddr((config["MAIL_FROM_NAME"], config["MAIL_FROM"]))
    email["To"] = formataddr((message.recipient_name or "", message.recipient))
    email["Subject"] = message.subject
    email["Message-ID"] = message.message_id
    for name, value in message.header_map().items():
        email[name] = value
    email.set_content(message.text_body)
    if message.html_body:
        email.add_alternative(message.html_body, subtype="html")
    for item in message.attachment_list():
        # Keep parameters such as "method=REQUEST": mail programs use them to show a
        # calendar attachment as an invitation.
        maintype, _, rest = item["content_type"].partition("/")
        subtype, *extra = [part.strip() for part in rest.split(";")]
        params = dict(part.split("=", 1) for part in extra if "=" in part)
        email.add_attachment(
            base64.b64decode(item["content"]),
            maintype=maintype,
            subtype=subtype,
            params=params,
            filename=item["filename"],
        )
    return email


class DeliveryError(Exception):
    """A transport could not deliver a message.

    ``permanent`` errors (the provider refused the message itself) are not retried.
    ``retry_after`` is how many seconds the provider asked us to wait before sending anything
    again (its ``Retry-After`` header), or ``None``.
    """

    def __init__(self, message: str, permanent: bool = False, retry_after: float | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


# The longest wait a provider's Retry-After is taken at its word for: a wrong header must not
# hold the mail back for days.
MAX_RETRY_AFTER_SECONDS = 24 * 3600


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """The wait a ``Retry-After`` header asks for, in seconds (RFC 9110: a number of seconds
    or an HTTP date), at most :data:`MAX_RETRY_AFTER_SECONDS`; ``None`` when there is none or
    it cannot be read."""
    if value is None:
        return None
    value = str(value).strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or utcnow())).total_seconds()
    return min(max(seconds, 0.0), float(MAX_RETRY_AFTER_SECONDS))


class FileTransport:
    """Writes each message as an ``.eml`` file under ``instance/mail/`` (the default)."""

    def __init__(self, app: Flask):
        self.folder = Path(app.instance_path) / "mail"
        self.config = app.config

    def send(self, message: OutboxMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = utcnow().strftime("%Y%m%dT%H%M%S")
        path = self.folder / f"{stamp}-{message.id:06d}.eml"
        path.write_bytes(bytes(build_email(message, self.config)))


class MemoryTransport:
    """Keeps sent messages in a list (``app.extensions["trainer.mail.memory"]``) for tests."""

    def __init__(self, app: Flask):
        self.outbox: list[EmailMessage] = app.extensions.setdefault("trainer.mail.memory", [])
        self.config = app.config

    def send(self, message: OutboxMessage) -> None:
        self.outbox.append(build_email(message, self.config))


class SendGridTransport:
    """Sends through SendGrid's v3 ``mail/send`` API with the ``sendgrid`` package.

    ``SENDGRID_HOST`` may point at another server (tests use a fake one on 127.0.0.1).
    Responses: 2xx delivered; 429, 5xx, 401 and 403 retried later (not before the
    ``Retry-After`` they carry, if any); any other 4xx is permanent. A request gets
    ``SENDGRID_TIMEOUT_SECONDS`` (default 30) to be answered, then is retried later.
    """

    def __init__(self, app: Flask):
        from sendgrid import SendGridAPIClient

        key = app.config.get("SENDGRID_API_KEY")
        if not key:
            raise RuntimeError(
                "MAIL_TRANSPORT is sendgrid but no API key is set: set TRAINER_SENDGRID_API_KEY"
            )
        self.client = SendGridAPIClient(api_key=key, host=app.config["SENDGRID_HOST"])
        self.timeout = float(app.config.get("SENDGRID_TIMEOUT_SECONDS") or 30)
        self.config = app.config

    def payload(self, message: OutboxMessage) -> dict[str, Any]:
        """The exact v3 ``mail/send`` request body for ``message``."""
        to = {"email": message.recipient}
        if message.recipient_name:
            to["name"] = message.recipient_name
        content = [{"type": "text/plain", "value": message.text_body}]
        if message.html_body:
            content.append({"type": "text/html", "value": message.html_body})
        body: dict[str, Any] = {
            "personalizations": [{"to": [to]}],
            "from": {"email": self.config["MAIL_FROM"], "name": self.config["MAIL_FROM_NAME"]},
            "subject": message.subject,
            "content": content,
            "headers": {"Message-ID": message.message_id, **message.header_map()},
            "custom_args": {"outbox_id": str(message.id)},
        }
        attachments = [
            {
                "content": item["content"],
                "filename": item["filename"],
                "type": item["content_type"],
                "disposition": "attachment",
            }
            for item in message.attachment_list()
        ]
        if attachments:
            body["attachments"] = attachments
        return body

    def send(self, message: OutboxMessage) -> None:
        from python_http_client import exceptions as http_errors

        try:
            response = self.client.client.mail.send.post(
                request_body=self.payload(message), timeout=self.timeout
            )
        except http_errors.HTTPError as error:
            status = getattr(error, "status_code", 0) or 0
            detail = _provider_message(getattr(error, "body", b""))
            # 401/403 mean our key or account is wrong, not the message: retry, so mail
            # waits while an administrator fixes the key instead of failing for good.
            permanent = 400 <= status < 500 and status not in (401, 403, 429)
            headers = getattr(error, "headers", None)
            wait = None
            if not permanent and headers is not None:
                wait = retry_after_seconds(headers.get("Retry-After"))
            raise DeliveryError(
                f"SendGrid answered {status}: {detail}", permanent, retry_after=wait
            ) from error
        except OSError as error:  # connection refused, timeouts, DNS
            raise DeliveryError(f"Could not reach SendGrid: {error}") from error
        if not 200 <= response.status_code < 300:
            raise DeliveryError(f"SendGrid answered {response.status_code}")


def _provider_message(body: bytes | str) -> str:
    """The provider's own words from an error body (SendGrid: ``errors[].message``)."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        errors = json.loads(body).get("errors", [])
        words = "; ".join(str(item.get("message", "")) for item in errors if item)
        return words or body[:500]
    except (ValueError, AttributeError):
        return body[:500]


TRANSPORTS = {"file": FileTransport, "memory": MemoryTransport, "sendgrid": SendGridTransport}


def transport_for(app: Flask):
    """The transport named by ``MAIL_TRANSPORT``."""
    name = app.config["MAIL_TRANSPORT"]
    if name not in TRANSPORTS:
        raise RuntimeError(
            f"Unknown MAIL_TRANSPORT {name!r}: choose one of {', '.join(sorted(TRANSPORTS))}"
        )
    return TRANSPORTS[name](app)


def retry_delay(attempts: int, base_seconds: int) -> timedelta:
    """Exponential back-off: base, 2×base, 4×base ... capped at six hours."""
    return timedelta(seconds=min(base_seconds * 2 ** max(attempts - 1, 0), 6 * 3600))


def claim_due(limit: int = 50, now: datetime | None = None) -> list[int]:
    """Mark up to ``limit`` due messages as sending and return their ids.

    Due: queued or retrying with ``next_attempt_at`` passed, or stuck in ``sending`` for longer
    than ``MAIL_SENDING_TIMEOUT_SECONDS`` (a worker died mid-send). On PostgreSQL rows another
    worker has locked are skipped; on SQLite the write transaction serialises workers.
    """
    return [message_id for message_id, _attempt in _claim(limit, now)]


def _claim(limit: int, now: datetime | None) -> list[tuple[int, int]]:
    """:func:`claim_due`, returning ``(id, attempts)`` pairs: the attempt number is the claim's
    token; a message whose attempts have moved on was claimed again by another worker."""
    now = now or utcnow()
    stale = now - timedelta(seconds=current_app.config["MAIL_SENDING_TIMEOUT_SECONDS"])
    with write_transaction():
        statement = (
            sa.select(OutboxMessage)
            .where(
                sa.or_(
                    sa.and_(
                        OutboxMessage.status.in_([MailStatus.QUEUED, MailStatus.RETRYING]),
                        OutboxMessage.next_attempt_at <= now,
                    ),
                    sa.and_(
                        OutboxMessage.status == MailStatus.SENDING,
                        OutboxMessage.claimed_at <= stale,
                    ),
                )
            )
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
        )
        messages = list(db.session.scalars(skip_locked(statement)))
        for message in messages:
            message.status = MailStatus.SENDING
            message.claimed_at = now
            message.attempts += 1
        claimed = [(message.id, message.attempts) for message in messages]
    return claimed


def _ours(message_id: int, attempt: int):
    """``(id == message_id, still claimed by us)`` as a SQL condition."""
    return sa.and_(
        OutboxMessage.id == message_id,
        OutboxMessage.status == MailStatus.SENDING,
        OutboxMessage.attempts == attempt,
    )


def _renew_claims(claimed: list[tuple[int, int]], now: datetime | None) -> set[int]:
    """Refresh the claim on each of ``claimed`` that is still ours; return their ids.

    A worker going through a long batch (a slow provider) calls this so that another worker
    does not take its messages for stuck ones and send them a second time."""
    renewed = set()
    with write_transaction():
        for message_id, attempt in claimed:
            done = db.session.execute(
                sa.update(OutboxMessage)
                .where(_ours(message_id, attempt))
                .values(claimed_at=now or utcnow())
                .execution_options(synchronize_session=False)
            ).rowcount
            if done:
                renewed.add(message_id)
    return renewed


def _hold(claimed: list[tuple[int, int]], until: datetime) -> int:
    """Put messages claimed but not tried back in the queue, due no sooner than ``until``
    (the provider asked us to wait), their attempt not counted; then keep every other
    waiting message back until then too. Returns how many of ``claimed`` were put back."""
    held = 0
    with write_transaction():
        for message_id, attempt in claimed:
            message = db.session.get(OutboxMessage, message_id)
            if message is None or message.status != MailStatus.SENDING:
                continue
            if message.attempts != attempt:
                continue  # another worker has it now
            message.attempts -= 1
            message.status = MailStatus.RETRYING if message.attempts else MailStatus.QUEUED
            message.claimed_at = None
            message.next_attempt_at = max(message.next_attempt_at, until)
            held += 1
    try:
        with write_transaction():
            db.session.execute(
                sa.update(OutboxMessage)
                .where(
                    OutboxMessage.status.in_([MailStatus.QUEUED, MailStatus.RETRYING]),
                    OutboxMessage.next_attempt_at < until,
                )
                .values(next_attempt_at=until)
                .execution_options(synchronize_session=False)
            )
    except Busy:
        # Only a courtesy to the provider; a worker that claims one of them meets the
        # same answer and waits in turn.
        log.info("mail: could not hold the rest of the queue back until %s", until)
    return held


def deliver_due(limit: int = 50, now: datetime | None = None) -> dict[str, int]:
    """Send what is due once and return counts of sent, retrying and failed messages.

    ``now`` (default: the real time) decides what is due and when failures are retried.
    When the provider answers with ``Retry-After``, the rest of the batch is put back
    (counted as retrying) and nothing more is sent to it before that time.
    """
    app = current_app._get_current_object()
    transport = transport_for(app)
    counts = {"sent": 0, "retrying": 0, "failed": 0}
    claimed = _claim(limit, now)
    # Renew the claim on what is left of the batch well before another worker would think
    # this one had died; between renewals nobody else can claim these messages.
    renew_every = float(app.config["MAIL_SENDING_TIMEOUT_SECONDS"]) / 2
    held_since = time.monotonic()
    mine = {message_id for message_id, _attempt in claimed}
    for position, (message_id, attempt) in enumerate(claimed):
        if time.monotonic() - held_since > renew_every:
            mine = _renew_claims(claimed[position:], now)
            held_since = time.monotonic()
        if message_id not in mine:
            log.warning("mail %s: claimed again by another worker; left to it", message_id)
            continue
        message = db.session.get(OutboxMessage, message_id)
        failure: tuple[str, bool] | None = None
        wait: float | None = None
        try:
            transport.send(message)
        except DeliveryError as error:
            failure = (str(error), error.permanent)
            wait = None if error.permanent else error.retry_after
        except Exception as error:  # a bug in a transport must not stop the other messages
            log.exception("mail %s: transport error", message_id)
            failure = (f"{type(error).__name__}: {error}", False)
        resume_at = None if wait is None else (now or utcnow()) + timedelta(seconds=wait)
        # Record the outcome in a write transaction: on SQLite a plain (deferred) transaction
        # that has already read cannot take the write lock once another worker has written,
        # and would fail with "database is locked" after the message was sent.
        outcome: str | None
        with write_transaction():
            message = db.session.get(OutboxMessage, message_id)
            ours = message.status == MailStatus.SENDING and message.attempts == attempt
            if failure is None:
                if not ours:
                    log.warning("mail %s: sent while another worker had claimed it", message_id)
                message.status = MailStatus.SENT
                message.sent_at = utcnow()
                message.last_error = None
                outcome = "sent"
            elif ours:
                outcome = _record_failure(message, *failure, now=now, not_before=resume_at)
            else:
                outcome = None  # the worker that claimed it again records its own outcome
        if outcome:
            counts[outcome] += 1
        if resume_at is not None:
            counts["retrying"] += _hold(claimed[position + 1 :], resume_at)
            break
    return counts


def _record_failure(
    message: OutboxMessage,
    error: str,
    permanent: bool,
    now: datetime | None = None,
    not_before: datetime | None = None,
) -> str:
    config = current_app.config
    message.last_error = error[:2000]
    if permanent or message.attempts >= config["MAIL_MAX_ATTEMPTS"]:
        message.status = MailStatus.FAILED
        log.warning("mail %s failed for good: %s", message.id, error)
        return "failed"
    message.status = MailStatus.RETRYING
    message.next_attempt_at = (now or utcnow()) + retry_delay(
        message.attempts, config["MAIL_RETRY_BASE_SECONDS"]
    )
    if not_before is not None and message.next_attempt_at < not_before:
        message.next_attempt_at = not_before
    log.info("mail %s will be retried: %s", message.id, error)
    return "retrying"


def retry(message: OutboxMessage) -> None:
    """Put a failed message back in the queue to be sent on the next run."""
    message.status = MailStatus.QUEUED
    message.attempts = 0
    message.next_attempt_at = utcnow()


def link_context():
    """The current request, or, outside one (a command such as ``tick``, or work started from
    a script), a request on ``EXTERNAL_URL``: inside it ``url_for(..., _external=True)`` and
    email templates work, and links point at the public address. Its method is POST: the
    work done inside may write, so nothing may come from a per-request read cache."""
    from contextlib import nullcontext

    from flask import has_request_context

    if has_request_context():
        return nullcontext()
    return current_app.test_request_context(
        base_url=current_app.config["EXTERNAL_URL"], method="POST"
    )


def send_template(
    recipient, subject: str, name: str, attachments=(), headers=None, **context
) -> OutboxMessage:
    """Queue the email ``name`` to ``recipient`` (anything with ``email`` and ``name``) in the
    current transaction.

    The text body comes from ``templates/emails/<name>.txt`` and, when it exists, the HTML body
    from ``templates/emails/<name>.html``; both see ``user`` (the recipient), ``subject``,
    ``service_name`` and ``context``. ``headers`` are extra header fields (see :func:`queue`).
    """
    from flask import render_template
    from jinja2 import TemplateNotFound

    context.update(user=recipient, service_name=current_app.config["SERVICE_NAME"], subject=subject)
    text = render_template(f"emails/{name}.txt", **context)
    try:
        html = render_template(f"emails/{name}.html", **context)
    except TemplateNotFound:
        html = None
    return queue(
        recipient=recipient.email,
        recipient_name=recipient.name,
        subject=subject,
        text_body=text,
        html_body=html,
        attachments=attachments,
        headers=headers,
    )
