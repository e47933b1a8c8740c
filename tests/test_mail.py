"""Mail: the outbox, the transports and the worker (DESIGN guarantee 2, "nothing lost in the mail").

The SendGrid transport is tested against a fake SendGrid HTTP server on 127.0.0.1
(:mod:`tests.fake_sendgrid`), so the real ``sendgrid`` client builds and sends real requests.
"""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.fake_sendgrid import FakeSendGrid, Reply
from trainer import create_app, mail
from trainer.db import db, utcnow, write_transaction
from trainer.mail import MailStatus, OutboxMessage
from trainer.people import Role

API_KEY = "SG.test-key-not-real"
REFUSAL = "The from address does not match a verified Sender Identity"
NOTHING = {"sent": 0, "retrying": 0, "failed": 0}
INVITE = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//trainer//test//EN\r\nMETHOD:REQUEST\r\n"
    b"BEGIN:VEVENT\r\nUID:session-12@example.org\r\nDTSTAMP:20250101T090000Z\r\n"
    b"DTSTART:20250114T160000Z\r\nDTEND:20250114T173000Z\r\n"
    b"SUMMARY:Makaton taster (twilight)\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


@pytest.fixture
def fake_sendgrid():
    server = FakeSendGrid()
    yield server
    server.close()


@pytest.fixture
def sendgrid_app(app, app_factory, fake_sendgrid):
    """An app sending through the fake SendGrid; it shares the database with ``app``."""
    return app_factory(
        MAIL_TRANSPORT="sendgrid",
        SENDGRID_API_KEY=API_KEY,
        SENDGRID_HOST=fake_sendgrid.url,
        MAIL_FROM="training@send-partnership.example.org",
        MAIL_FROM_NAME="Early Years SEND Partnership",
        MAIL_RETRY_BASE_SECONDS=60,
        MAIL_MAX_ATTEMPTS=8,
    )


def queue_one(app, subject="Your place: Makaton taster", recipient="priya@example.org", **fields):
    with app.app_context():
        text_body = fields.pop("text_body", "See you there.")
        message = mail.queue(recipient, subject, text_body, **fields)
        db.session.commit()
        return message.id


def outbox_row(app, message_id) -> OutboxMessage:
    with app.app_context():
        message = db.session.get(OutboxMessage, message_id)
        db.session.expunge(message)
        return message


def deliver(app, **kwargs) -> dict[str, int]:
    with app.app_context():
        return mail.deliver_due(**kwargs)


# --- SendGrid -------------------------------------------------------------------------------


def test_sendgrid_request_is_the_exact_v3_mail_send_payload(sendgrid_app, fake_sendgrid):
    message_id = queue_one(
        sendgrid_app,
        subject="Booking confirmed: Makaton taster, 14 January",
        recipient="priya.shah@example.org",
        recipient_name="Priya Shah",
        text_body="Your place is booked.",
        html_body="<p>Your place is booked.</p>",
        attachments=[mail.Attachment("invite.ics", "text/calendar; method=REQUEST", INVITE)],
    )

    assert deliver(sendgrid_app) == {"sent": 1, "retrying": 0, "failed": 0}

    [request] = fake_sendgrid.requests
    assert request.method == "POST"
    assert request.path == "/v3/mail/send"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["content-type"] == "application/json"
    message = outbox_row(sendgrid_app, message_id)
    assert request.json == {
        "personalizations": [{"to": [{"email": "priya.shah@example.org", "name": "Priya Shah"}]}],
        "from": {
            "email": "training@send-partnership.example.org",
            "name": "Early Years SEND Partnership",
        },
        "subject": "Booking confirmed: Makaton taster, 14 January",
        "content": [
            {"type": "text/plain", "value": "Your place is booked."},
            {"type": "text/html", "value": "<p>Your place is booked.</p>"},
        ],
        "headers": {"Message-ID": message.message_id},
        "custom_args": {"outbox_id": str(message_id)},
        "attachments": [
            {
                "content": base64.b64encode(INVITE).decode("ascii"),
                "filename": "invite.ics",
                "type": "text/calendar; method=REQUEST",
                "disposition": "attachment",
            }
        ],
    }
    assert base64.b64decode(request.json["attachments"][0]["content"]) == INVITE
    assert message.status == MailStatus.SENT
    assert message.sent_at is not None and message.last_error is None


def test_plain_message_without_name_html_or_attachments(sendgrid_app, fake_sendgrid):
    queue_one(sendgrid_app, recipient="sam@example.org", text_body="Plain words.")
    deliver(sendgrid_app)
    [request] = fake_sendgrid.sends()
    assert request.json["personalizations"] == [{"to": [{"email": "sam@example.org"}]}]
    assert request.json["content"] == [{"type": "text/plain", "value": "Plain words."}]
    assert "attachments" not in request.json


@pytest.mark.parametrize(
    "outage",
    [
        Reply(500, {"errors": [{"message": "Internal error", "field": None, "help": None}]}),
        Reply(503),
        Reply(429, {"errors": [{"message": "too many requests", "field": None, "help": None}]}),
    ],
    ids=["500", "503", "429"],
)
def test_outage_delays_mail_with_back_off_then_sends_it_once(sendgrid_app, fake_sendgrid, outage):
    fake_sendgrid.script(outage, Reply(502))
    message_id = queue_one(sendgrid_app)
    start = utcnow()

    assert deliver(sendgrid_app, now=start) == {"sent": 0, "retrying": 1, "failed": 0}
    message = outbox_row(sendgrid_app, message_id)
    assert message.status == MailStatus.RETRYING
    assert message.attempts == 1
    assert message.next_attempt_at == start + timedelta(seconds=60)
    assert message.last_error.startswith(f"SendGrid answered {outage.status}")
    if outage.body:
        assert outage.body["errors"][0]["message"] in message.last_error

    # Not due yet: SendGrid is left alone.
    assert deliver(sendgrid_app, now=start + timedelta(seconds=59)) == NOTHING
    assert len(fake_sendgrid.sends()) == 1

    # Second attempt fails too (502): the wait doubles.
    second = start + timedelta(seconds=60)
    assert deliver(sendgrid_app, now=second) == {"sent": 0, "retrying": 1, "failed": 0}
    message = outbox_row(sendgrid_app, message_id)
    assert message.attempts == 2
    assert message.next_attempt_at == second + timedelta(seconds=120)
    assert message.last_error.startswith("SendGrid answered 502")
    assert deliver(sendgrid_app, now=second + timedelta(seconds=119)) == NOTHING

    # The outage is over.
    third = second + timedelta(seconds=120)
    assert deliver(sendgrid_app, now=third) == {"sent": 1, "retrying": 0, "failed": 0}
    message = outbox_row(sendgrid_app, message_id)
    assert message.status == MailStatus.SENT
    assert message.attempts == 3
    assert message.last_error is None

    # Later runs send nothing again: one accepted POST, every attempt for the same message.
    assert deliver(sendgrid_app, now=third + timedelta(days=7)) == NOTHING
    assert [request.status for request in fake_sendgrid.sends()] == [outage.status, 502, 202]
    assert len(fake_sendgrid.sends(202)) == 1
    assert {request.json["headers"]["Message-ID"] for request in fake_sendgrid.sends()} == {
        message.message_id
    }


def test_refused_message_fails_at_once_and_an_admin_can_retry_it(
    sendgrid_app, fake_sendgrid, make_user, auth, browser
):
    fake_sendgrid.script(FakeSendGrid.error(400, REFUSAL, "from"))
    message_id = queue_one(sendgrid_app, subject="Your place: Makaton taster")

    assert deliver(sendgrid_app) == {"sent": 0, "retrying": 0, "failed": 1}
    message = outbox_row(sendgrid_app, message_id)
    assert message.status == MailStatus.FAILED
    assert message.attempts == 1
    assert message.last_error == f"SendGrid answered 400: {REFUSAL}"
    # Failed mail is not retried by the worker.
    assert deliver(sendgrid_app, now=utcnow() + timedelta(days=30)) == NOTHING

    _, email = make_user("admin@example.org", roles=[Role.ADMIN])
    auth.sign_in(email)
    page = browser.get("/admin/mail?status=failed")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert REFUSAL in html
    assert "Your place: Makaton taster" in html
    assert "priya@example.org" in html

    response = browser.submit(
        f"/admin/mail/{message_id}/retry", form_url="/admin/mail?status=failed"
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/mail?status=failed")
    html = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "will be sent again shortly" in html
    assert "No failed mail." in html
    message = outbox_row(sendgrid_app, message_id)
    assert message.status == MailStatus.QUEUED
    assert message.attempts == 0

    # The sender identity has been fixed: the next run sends it.
    assert deliver(sendgrid_app) == {"sent": 1, "retrying": 0, "failed": 0}
    assert [request.status for request in fake_sendgrid.sends()] == [400, 202]
    assert outbox_row(sendgrid_app, message_id).status == MailStatus.SENT


def test_unreachable_sendgrid_means_retry_not_loss(app_factory):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    unreachable = app_factory(
        MAIL_TRANSPORT="sendgrid",
        SENDGRID_API_KEY=API_KEY,
        SENDGRID_HOST=f"http://127.0.0.1:{closed_port}",
    )
    message_id = queue_one(unreachable)

    assert deliver(unreachable) == {"sent": 0, "retrying": 1, "failed": 0}
    message = outbox_row(unreachable, message_id)
    assert message.status == MailStatus.RETRYING
    assert message.last_error.startswith("Could not reach SendGrid")
    assert message.next_attempt_at > utcnow()


def test_sendgrid_that_never_answers_times_out_and_is_retried(app_factory, fake_sendgrid):
    fake_sendgrid.script(Reply(202, delay_seconds=30))
    slow = app_factory(
        MAIL_TRANSPORT="sendgrid",
        SENDGRID_API_KEY=API_KEY,
        SENDGRID_HOST=fake_sendgrid.url,
        SENDGRID_TIMEOUT_SECONDS=0.5,
    )
    message_id = queue_one(slow)
    started = time.monotonic()
    assert deliver(slow) == {"sent": 0, "retrying": 1, "failed": 0}
    assert time.monotonic() - started < 10
    message = outbox_row(slow, message_id)
    assert message.status == MailStatus.RETRYING
    assert "timed out" in message.last_error


def test_gives_up_after_max_attempts(app_factory, fake_sendgrid):
    fake_sendgrid.script(500, 503, 500)
    flaky = app_factory(
        MAIL_TRANSPORT="sendgrid",
        SENDGRID_API_KEY=API_KEY,
        SENDGRID_HOST=fake_sendgrid.url,
        MAIL_MAX_ATTEMPTS=3,
    )
    message_id = queue_one(flaky)
    later = utcnow()
    outcomes = []
    for _ in range(3):
        later += timedelta(days=1)
        outcomes.append(deliver(flaky, now=later))
    assert outcomes == [
        {"sent": 0, "retrying": 1, "failed": 0},
        {"sent": 0, "retrying": 1, "failed": 0},
        {"sent": 0, "retrying": 0, "failed": 1},
    ]
    message = outbox_row(flaky, message_id)
    assert message.status == MailStatus.FAILED
    assert message.attempts == 3
    assert message.last_error.startswith("SendGrid answered 500")
    assert deliver(flaky, now=later + timedelta(days=30)) == NOTHING
    assert len(fake_sendgrid.sends()) == 3


def test_send_mail_command_prints_counts(sendgrid_app, fake_sendgrid):
    fake_sendgrid.script(202, 500, FakeSendGrid.error(400, REFUSAL, "from"))
    for number in range(3):
        queue_one(sendgrid_app, subject=f"Message {number}")
    runner = sendgrid_app.test_cli_runner()

    result = runner.invoke(args=["trainer", "send-mail"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Mail: 1 sent, 1 to retry, 1 failed"

    result = runner.invoke(args=["trainer", "send-mail"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Mail: 0 sent, 0 to retry, 0 failed"
    assert len(fake_sendgrid.sends()) == 3


# --- The outbox -----------------------------------------------------------------------------


def test_mail_for_a_change_that_rolled_back_is_never_sent(app, mailbox):
    with app.app_context():
        with pytest.raises(RuntimeError), write_transaction():
            mail.queue("priya@example.org", "Booking confirmed", "You have a place.")
            raise RuntimeError("the booking failed after the email was queued")
        mail.queue("sam@example.org", "Not committed either", "Never sent.")
        db.session.rollback()
        mail.queue("jo@example.org", "Booking confirmed", "You have a place.")
        db.session.commit()

    first = list(mailbox())
    second = list(mailbox())  # the worker runs again: nothing new
    assert [message["To"] for message in first] == ["jo@example.org"]
    assert len(second) == 1
    with app.app_context():
        rows = db.session.scalars(sa.select(OutboxMessage)).all()
        assert [(row.recipient, row.status, row.attempts) for row in rows] == [
            ("jo@example.org", MailStatus.SENT, 1)
        ]


def test_committed_message_is_sent_exactly_once(app):
    message_id = queue_one(app)
    assert deliver(app) == {"sent": 1, "retrying": 0, "failed": 0}
    assert deliver(app) == NOTHING
    assert deliver(app, now=utcnow() + timedelta(days=1)) == NOTHING
    sent = app.extensions["trainer.mail.memory"]
    assert len(sent) == 1
    assert sent[0]["Message-ID"] == outbox_row(app, message_id).message_id


def test_message_stuck_in_sending_is_picked_up_again(app_factory):
    app = app_factory(MAIL_SENDING_TIMEOUT_SECONDS=300)
    message_id = queue_one(app)
    claimed_at = utcnow()
    with app.app_context():
        assert mail.claim_due(now=claimed_at) == [message_id]  # then the worker died
    assert outbox_row(app, message_id).status == MailStatus.SENDING

    # Another worker leaves it alone while the first might still be sending it.
    assert deliver(app, now=claimed_at + timedelta(seconds=299)) == NOTHING
    assert app.extensions.get("trainer.mail.memory", []) == []

    assert deliver(app, now=claimed_at + timedelta(seconds=301)) == {
        "sent": 1,
        "retrying": 0,
        "failed": 0,
    }
    message = outbox_row(app, message_id)
    assert message.status == MailStatus.SENT
    assert message.attempts == 2
    assert len(app.extensions["trainer.mail.memory"]) == 1


def test_admin_can_retry_all_failed_mail(app, make_user, auth, browser):
    ids = [queue_one(app, subject=f"Message {number}") for number in range(3)]
    with app.app_context():
        for message_id, status in zip(ids, ["failed", "failed", "sent"], strict=True):
            message = db.session.get(OutboxMessage, message_id)
            message.status, message.attempts, message.last_error = status, 8, "boom"
        db.session.commit()
    _, email = make_user(roles=[Role.ADMIN])
    auth.sign_in(email)

    response = browser.submit("/admin/mail/retry-all", form_url="/admin/mail?status=failed")
    assert response.status_code == 302
    html = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "2 failed messages will be sent again shortly" in html
    assert [outbox_row(app, i).status for i in ids] == ["queued", "queued", "sent"]
    assert deliver(app) == {"sent": 2, "retrying": 0, "failed": 0}


def test_mail_admin_pages_are_for_admins_only(app, make_user, auth, browser):
    message_id = queue_one(app)
    with app.app_context():
        message = db.session.get(OutboxMessage, message_id)
        message.status, message.last_error = MailStatus.FAILED, f"SendGrid answered 400: {REFUSAL}"
        db.session.commit()
    posts = [f"/admin/mail/{message_id}/retry", "/admin/mail/retry-all"]

    # Anonymous: sent to sign in.
    for path in ("/admin/mail?status=failed", "/admin/mail"):
        response = browser.get(path)
        assert response.status_code == 302
        assert "/auth/sign-in" in response.headers["Location"]
    for path in posts:
        response = browser.submit(path, form_url="/auth/sign-in")
        assert response.status_code == 302
        assert "/auth/sign-in" in response.headers["Location"]

    # Signed in without the admin role: refused.
    for role in (Role.PRACTITIONER, Role.TRAINER):
        _, email = make_user(roles=[role])
        auth.sign_in(email)
        page = browser.get("/admin/mail?status=failed")
        assert page.status_code == 403
        assert REFUSAL not in page.get_data(as_text=True)
        for path in posts:
            assert browser.submit(path, form_url="/dashboard").status_code == 403
        auth.sign_out()

    assert outbox_row(app, message_id).status == MailStatus.FAILED


# --- The file transport ---------------------------------------------------------------------


def test_file_transport_writes_one_eml_per_message(app_factory):
    app = app_factory(MAIL_TRANSPORT="file", MAIL_FROM_NAME="Early Years SEND Partnership")
    queue_one(
        app,
        subject="Booking confirmed: Makaton taster",
        recipient_name="Priya Shah",
        text_body="Your place is booked.",
        html_body="<p>Your place is booked.</p>",
        attachments=[mail.Attachment("invite.ics", "text/calendar", INVITE)],
    )
    queue_one(app, subject="Second message", recipient="sam@example.org")
    assert deliver(app) == {"sent": 2, "retrying": 0, "failed": 0}

    files = sorted((Path(app.instance_path) / "mail").glob("*.eml"))
    assert len(files) == 2
    parsed = [BytesParser(policy=policy.default).parsebytes(path.read_bytes()) for path in files]
    by_subject = {message["Subject"]: message for message in parsed}
    assert set(by_subject) == {"Booking confirmed: Makaton taster", "Second message"}

    invite = by_subject["Booking confirmed: Makaton taster"]
    assert invite["To"] == "Priya Shah <priya@example.org>"
    assert invite["From"] == f"Early Years SEND Partnership <{app.config['MAIL_FROM']}>"
    assert invite.get_body(preferencelist=("plain",)).get_content().strip() == (
        "Your place is booked."
    )
    assert "<p>Your place is booked.</p>" in invite.get_body(preferencelist=("html",)).get_content()
    [attachment] = list(invite.iter_attachments())
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_payload(decode=True) == INVITE
    assert list(by_subject["Second message"].iter_attachments()) == []


# --- Several workers at once ----------------------------------------------------------------


class CountingTransport:
    """Counts each message it is handed, per outbox id; a little slow, like a real provider."""

    def __init__(self, app):
        self.sent: Counter = app.extensions.setdefault("test.counting", Counter())
        self.lock = app.extensions.setdefault("test.counting.lock", threading.Lock())

    def send(self, message: OutboxMessage) -> None:
        time.sleep(0.002)
        with self.lock:
            self.sent[message.id] += 1


def run_workers_at_once(app, workers: int, messages: int) -> None:
    with app.app_context():
        ids = [
            mail.queue(f"person{number}@example.org", f"Message {number}", "Hello.")
            for number in range(messages)
        ]
        db.session.commit()
        ids = [message.id for message in ids]
    start = threading.Barrier(workers)

    def worker() -> Counter:
        done: Counter = Counter()
        with app.app_context():
            start.wait()
            while True:
                counts = mail.deliver_due(limit=10)
                done.update(counts)
                if not sum(counts.values()):
                    return done

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = [future.result() for future in [pool.submit(worker) for _ in range(workers)]]

    sent = app.extensions["test.counting"]
    assert sorted(sent) == sorted(ids)
    assert set(sent.values()) == {1}, "a message was sent more than once"
    assert sum(result["sent"] for result in results) == messages
    assert all(result["retrying"] == result["failed"] == 0 for result in results)
    with app.app_context():
        statuses = Counter(
            db.session.execute(sa.select(OutboxMessage.status, OutboxMessage.attempts)).all()
        )
    assert statuses == {(MailStatus.SENT, 1): messages}


@pytest.mark.postgres
def test_workers_at_once_on_postgresql_send_each_message_once(app_factory, monkeypatch):
    monkeypatch.setitem(mail.TRANSPORTS, "counting", CountingTransport)
    app = app_factory(MAIL_TRANSPORT="counting")
    with app.app_context():
        assert db.engine.dialect.name == "postgresql"
    run_workers_at_once(app, workers=4, messages=200)


@pytest.fixture
def sqlite_app(tmp_path, monkeypatch):
    """An app on SQLite whatever TEST_DATABASE_URL says, for SQLite's own locking."""
    monkeypatch.setitem(mail.TRANSPORTS, "counting", CountingTransport)
    monkeypatch.setenv("TRAINER_INSTANCE_PATH", str(tmp_path / "sqlite-instance"))
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key-that-is-long-enough",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'workers.sqlite'}",
            "MAIL_TRANSPORT": "counting",
        }
    )
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_workers_at_once_on_sqlite_send_each_message_once(sqlite_app):
    run_workers_at_once(sqlite_app, workers=4, messages=200)


# --- Retry-After and a long, mixed outage ---------------------------------------------------


def test_retry_after_holds_the_whole_queue_back_until_sendgrid_is_ready(
    sendgrid_app, fake_sendgrid
):
    fake_sendgrid.script(Reply(429, headers={"Retry-After": "300"}))
    ids = [queue_one(sendgrid_app, subject=f"Message {number}") for number in range(5)]
    start = utcnow()

    # One request meets "wait 300 seconds"; the other four are not sent to SendGrid at all.
    assert deliver(sendgrid_app, now=start) == {"sent": 0, "retrying": 5, "failed": 0}
    assert len(fake_sendgrid.sends()) == 1
    first, *rest = [outbox_row(sendgrid_app, message_id) for message_id in ids]
    assert first.attempts == 1
    assert first.next_attempt_at == start + timedelta(seconds=300)  # not the 60 s back-off
    assert first.last_error.startswith("SendGrid answered 429")
    for message in rest:
        assert message.status == MailStatus.QUEUED
        assert message.attempts == 0, "a message that was never tried used up an attempt"
        assert message.next_attempt_at == start + timedelta(seconds=300)

    assert deliver(sendgrid_app, now=start + timedelta(seconds=299)) == NOTHING
    assert len(fake_sendgrid.sends()) == 1

    assert deliver(sendgrid_app, now=start + timedelta(seconds=300)) == {
        "sent": 5,
        "retrying": 0,
        "failed": 0,
    }
    accepted = Counter(
        request.json["custom_args"]["outbox_id"] for request in fake_sendgrid.sends(202)
    )
    assert accepted == {str(message_id): 1 for message_id in ids}


def test_retry_after_as_an_http_date_and_unreadable_or_absurd_values():
    now = utcnow().replace(microsecond=0)
    in_ten_minutes = (now + timedelta(minutes=10)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert mail.retry_after_seconds(in_ten_minutes, now=now) == 600
    assert mail.retry_after_seconds("120") == 120
    assert mail.retry_after_seconds(" 7 ") == 7
    assert mail.retry_after_seconds(None) is None
    assert mail.retry_after_seconds("soon") is None
    assert mail.retry_after_seconds("-5") is None
    long_ago = (now - timedelta(days=3)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert mail.retry_after_seconds(long_ago, now=now) == 0
    assert mail.retry_after_seconds("999999999") == mail.MAX_RETRY_AFTER_SECONDS


def test_a_refusal_with_retry_after_still_fails_at_once(sendgrid_app, fake_sendgrid):
    fake_sendgrid.script(
        Reply(400, FakeSendGrid.error(400, REFUSAL).body, headers={"Retry-After": "60"})
    )
    queue_one(sendgrid_app, subject="First")
    second = queue_one(sendgrid_app, subject="Second")
    assert deliver(sendgrid_app) == {"sent": 1, "retrying": 0, "failed": 1}
    assert outbox_row(sendgrid_app, second).status == MailStatus.SENT


def test_a_long_mixed_outage_loses_nothing_and_sends_nothing_twice(app_factory, fake_sendgrid):
    """SendGrid is down, slow, refuses connections' answers in time and rate-limits for a
    while; a worker runs every minute throughout. When it recovers, every message has gone
    exactly once and none has failed."""
    fake_sendgrid.script(
        202,
        202,
        Reply(500),
        Reply(503),
        Reply(202, delay_seconds=0.3),  # slow but within the timeout
        Reply(429, headers={"Retry-After": "600"}),
        Reply(502),
        Reply(503, delay_seconds=2),  # never answers in time
        Reply(429),  # no Retry-After: ordinary back-off
        Reply(500),
        Reply(429, headers={"Retry-After": "120"}),
        202,
        Reply(503),
    )
    app = app_factory(
        MAIL_TRANSPORT="sendgrid",
        SENDGRID_API_KEY=API_KEY,
        SENDGRID_HOST=fake_sendgrid.url,
        SENDGRID_TIMEOUT_SECONDS=1,
        MAIL_RETRY_BASE_SECONDS=60,
        MAIL_MAX_ATTEMPTS=8,
    )
    ids = [queue_one(app, subject=f"Reminder {number}") for number in range(30)]
    clock = utcnow()
    totals: Counter = Counter()
    for _minute in range(24 * 60):
        totals.update(deliver(app, now=clock, limit=10))
        with app.app_context():
            waiting = db.session.scalar(
                sa.select(sa.func.count()).where(OutboxMessage.status != MailStatus.SENT)
            )
        if not waiting:
            break
        clock += timedelta(minutes=1)
    assert not waiting, "mail was still waiting a day after the outage"
    assert totals["failed"] == 0
    accepted = Counter(
        request.json["custom_args"]["outbox_id"] for request in fake_sendgrid.sends(202)
    )
    assert accepted == {str(message_id): 1 for message_id in ids}
    assert totals["sent"] == 30
    # Every refused answer cost its message one attempt, nothing more.
    with app.app_context():
        attempts = db.session.scalar(sa.select(sa.func.sum(OutboxMessage.attempts)))
    assert attempts == len(fake_sendgrid.sends())


def test_a_worker_with_a_long_batch_keeps_its_claim(app_factory, fake_sendgrid, monkeypatch):
    """A slow provider makes one batch outlast MAIL_SENDING_TIMEOUT_SECONDS: the worker renews
    its claim, so a second worker starting meanwhile does not take the batch for a dead
    worker's and send it again."""
    for _ in range(4):
        fake_sendgrid.script(Reply(202, delay_seconds=0.6))
    app = app_factory(
        MAIL_TRANSPORT="sendgrid",
        SENDGRID_API_KEY=API_KEY,
        SENDGRID_HOST=fake_sendgrid.url,
        MAIL_SENDING_TIMEOUT_SECONDS=1,
    )
    ids = [queue_one(app, subject=f"Slow {number}") for number in range(4)]
    first = threading.Thread(target=deliver, args=(app,), kwargs={"limit": 10})
    first.start()
    time.sleep(1.6)  # the first claim is now older than the timeout, but was renewed
    second = deliver(app, limit=10)
    first.join(timeout=30)
    assert second["sent"] == 0
    accepted = Counter(
        request.json["custom_args"]["outbox_id"] for request in fake_sendgrid.sends(202)
    )
    assert accepted == {str(message_id): 1 for message_id in ids}
