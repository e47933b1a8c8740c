"""Extra email headers in the outbox (``List-Unsubscribe`` and the like): every transport
sends them, and ``queue_many`` queues in bulk."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.fake_sendgrid import FakeSendGrid
from trainer import mail
from trainer.db import db
from trainer.mail import OutboxMessage

UNSUBSCRIBE = {
    "List-Unsubscribe": "<https://training.example.org/newsletter/unsubscribe/abc123>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}


def queue_with_headers(app, headers=UNSUBSCRIBE, **fields) -> int:
    with app.app_context():
        message = mail.queue(fields.pop("recipient", "priya@example.org"),
                             fields.pop("subject", "New training near you"),
                             "Sessions are open for booking.", headers=headers, **fields)
        db.session.commit()
        return message.id


def deliver(app) -> dict[str, int]:
    with app.app_context():
        return mail.deliver_due()


def test_the_memory_transport_keeps_the_headers(app, mailbox):
    queue_with_headers(app)
    [sent] = mailbox()
    assert sent["List-Unsubscribe"] == UNSUBSCRIBE["List-Unsubscribe"]
    assert sent["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert sent["Subject"] == "New training near you"


def test_the_file_transport_writes_the_headers(app_factory):
    app = app_factory(MAIL_TRANSPORT="file")
    queue_with_headers(app)
    assert deliver(app)["sent"] == 1
    [path] = sorted((Path(app.instance_path) / "mail").glob("*.eml"))
    parsed = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert parsed["List-Unsubscribe"] == UNSUBSCRIBE["List-Unsubscribe"]
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_sendgrid_gets_the_headers_in_its_payload(app, app_factory):
    server = FakeSendGrid()
    try:
        sendgrid_app = app_factory(MAIL_TRANSPORT="sendgrid", SENDGRID_API_KEY="SG.test",
                                   SENDGRID_HOST=server.url)
        message_id = queue_with_headers(sendgrid_app)
        assert deliver(sendgrid_app)["sent"] == 1
        [request] = server.sends()
        with sendgrid_app.app_context():
            stored = db.session.get(OutboxMessage, message_id)
            assert request.json["headers"] == {"Message-ID": stored.message_id, **UNSUBSCRIBE}
    finally:
        server.close()


def test_a_message_without_extra_headers_is_as_before(app, mailbox):
    with app.app_context():
        mail.queue("sam@example.org", "Booking confirmed", "See you there.")
        db.session.commit()
        assert db.session.scalar(sa.select(OutboxMessage.headers)) == "{}"
    [sent] = mailbox()
    assert sent["List-Unsubscribe"] is None


@pytest.mark.parametrize("headers", [
    {"Subject": "Something else"},
    {"To": "someone@example.org"},
    {"Bad Name": "x"},
    {"X-Trainer": "one\r\nBcc: someone@example.org"},
])
def test_headers_that_would_replace_or_inject_are_refused(app, headers):
    with app.app_context(), pytest.raises(ValueError):
        mail.queue("sam@example.org", "Hello", "Text", headers=headers)


def test_send_template_passes_headers_on(app, mailbox):
    class Person:
        email, name = "lee@example.org", "Lee Example"

    with app.app_context(), mail.link_context():
        mail.send_template(Person(), "Confirm your email address", "verify_email",
                           link="https://example.org/x", hours=72, headers=UNSUBSCRIBE)
        db.session.commit()
    [sent] = mailbox()
    assert sent["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_queue_many_returns_ids_in_order_and_each_message_is_sent_once(app, mailbox):
    with app.app_context():
        ids = mail.queue_many([
            {"recipient": f"reader{n}@example.org", "subject": f"Number {n}",
             "text_body": f"Body {n}", "headers": {"X-Number": str(n)}}
            for n in range(250)
        ])
        db.session.commit()
        rows = {row.id: row for row in db.session.scalars(sa.select(OutboxMessage))}
    assert len(ids) == len(set(ids)) == 250
    assert [rows[message_id].subject for message_id in ids] == [f"Number {n}" for n in range(250)]
    assert len({row.message_id for row in rows.values()}) == 250
    sent = []
    while len(sent) < 250:
        batch = mailbox()
        sent = list(batch)
    assert sorted(int(message["X-Number"]) for message in sent) == list(range(250))
    assert mail.queue_many([]) == []
