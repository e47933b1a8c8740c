"""Faults in the background workers, with real processes (DESIGN guarantee 2, "nothing lost in
the mail", and "nothing sent twice" for reminders).

``flask trainer send-mail`` and ``flask trainer tick`` are started as the deployment starts
them, killed with SIGKILL part-way through a run, started again, and run as two processes at
once. Mail goes to the fake SendGrid server, which records every request it is sent: the one
message being sent at the moment a worker is killed may arrive twice (SendGrid may have
accepted it before the answer was lost); every other message arrives exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests import factories
from tests.fake_sendgrid import FakeSendGrid, Reply
from trainer import booking, mail
from trainer.booking import Reminder
from trainer.db import db, utcnow
from trainer.mail import MailStatus, OutboxMessage
from trainer.people import User

PROJECT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals")


@pytest.fixture
def fake_sendgrid():
    server = FakeSendGrid()
    yield server
    server.close()


@pytest.fixture
def world(app, tmp_path, fake_sendgrid):
    """The test app and the environment for worker processes sharing its database."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TRAINER_", "FLASK_"))
    }
    environment.update(
        TRAINER_SECRET_KEY="a-secret-key-for-the-worker-processes-only",
        TRAINER_DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
        TRAINER_INSTANCE_PATH=str(tmp_path / "worker-instance"),
        TRAINER_EXTERNAL_URL="https://training.example.org",
        TRAINER_MAIL_TRANSPORT="sendgrid",
        TRAINER_SENDGRID_API_KEY="SG.test-key-not-real",
        TRAINER_SENDGRID_HOST=fake_sendgrid.url,
        TRAINER_MAIL_SENDING_TIMEOUT_SECONDS="2",
        TRAINER_MAIL_RETRY_BASE_SECONDS="1",
    )
    return app, environment


def start(environment, *command: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "trainer", *command],
        cwd=PROJECT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill(process: subprocess.Popen) -> None:
    """SIGKILL, as the kernel's out-of-memory killer or a pulled plug would."""
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=10)


def finish(process: subprocess.Popen, timeout: float = 120) -> str:
    stdout, stderr = process.communicate(timeout=timeout)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr, stderr
    return stdout


def wait_for(condition, timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def queue_messages(app, number: int) -> list[int]:
    with app.app_context():
        messages = [
            mail.queue(f"person{n}@example.org", f"Message {n}", "Hello.") for n in range(number)
        ]
        db.session.commit()
        return [message.id for message in messages]


def statuses(app) -> Counter:
    with app.app_context():
        counter = Counter(db.session.scalars(sa.select(OutboxMessage.status)).all())
        db.session.rollback()
        return counter


def accepted(fake: FakeSendGrid) -> Counter:
    return Counter(int(request.json["custom_args"]["outbox_id"]) for request in fake.sends(202))


def test_send_mail_killed_mid_run_loses_nothing_and_repeats_at_most_the_one_in_flight(
    world, fake_sendgrid
):
    app, environment = world
    for _ in range(40):
        fake_sendgrid.script(Reply(202, delay_seconds=0.15))  # a slow provider
    ids = queue_messages(app, 40)

    worker = start(environment, "send-mail", "--limit", "10")
    wait_for(lambda: len(fake_sendgrid.sends()) >= 6, what="the worker to be sending")
    kill(worker)
    in_flight = fake_sendgrid.sends()[-1].json["custom_args"]["outbox_id"]
    sent_before = len(fake_sendgrid.sends())
    left = statuses(app)
    assert left[MailStatus.SENT] < 40 and left[MailStatus.SENDING] >= 1  # killed mid-batch

    # Started again: messages the dead worker had claimed wait out MAIL_SENDING_TIMEOUT_SECONDS
    # (2 s here), then go; the worker is run until the outbox is empty, as cron would.
    deadline = time.monotonic() + 60
    while statuses(app)[MailStatus.SENT] < 40:
        assert time.monotonic() < deadline, statuses(app)
        finish(start(environment, "send-mail", "--limit", "10"))
        time.sleep(0.5)

    counts = accepted(fake_sendgrid)
    assert sorted(counts) == sorted(ids), "a message was lost"
    repeated = {message_id for message_id, times in counts.items() if times > 1}
    assert repeated <= {int(in_flight)}, f"sent twice: {repeated}, in flight: {in_flight}"
    assert len(fake_sendgrid.sends()) - sent_before <= 40 - sent_before + 1
    assert statuses(app) == Counter({MailStatus.SENT: 40})


def test_two_send_mail_processes_at_once_send_each_message_exactly_once(world, fake_sendgrid):
    app, environment = world
    for _ in range(120):
        fake_sendgrid.script(Reply(202, delay_seconds=0.01))
    ids = queue_messages(app, 120)

    workers = [start(environment, "send-mail", "--limit", "10") for _ in range(2)]
    outputs = [finish(worker) for worker in workers]

    assert accepted(fake_sendgrid) == Counter({message_id: 1 for message_id in ids})
    assert len(fake_sendgrid.sends()) == 120
    assert statuses(app) == Counter({MailStatus.SENT: 120})
    sent = [int(output.split("Mail: ")[1].split(" sent")[0]) for output in outputs]
    assert sum(sent) == 120, outputs


@pytest.fixture
def booked_session(app, make_user):
    """A session tomorrow evening with 60 confirmed bookings, none reminded yet."""
    with app.app_context():
        session = factories.training_session(
            starts=utcnow().replace(microsecond=0) + timedelta(hours=26), capacity=100
        )
        db.session.commit()
        session_id = session.id
    people = [
        make_user(f"practitioner{n}@example.org", name=f"Practitioner {n}") for n in range(60)
    ]
    with app.app_context(), mail.link_context():
        for user_id, _email in people:
            person = db.session.get(User, user_id)
            assert booking.book(session_id, person).booking is not None
        db.session.execute(sa.delete(OutboxMessage))  # leave only what tick sends
        db.session.commit()
    return session_id


def reminders(app) -> tuple[int, Counter]:
    """(reminder rows, reminder emails per recipient)."""
    with app.app_context():
        rows = db.session.scalar(sa.select(sa.func.count()).select_from(Reminder))
        emails = Counter(
            db.session.scalars(
                sa.select(OutboxMessage.recipient).where(OutboxMessage.subject.like("Reminder%"))
            ).all()
        )
        db.session.rollback()
        return rows, emails


def test_tick_killed_mid_run_then_started_again_reminds_everyone_exactly_once(
    world, booked_session
):
    app, environment = world
    ticker = start(environment, "tick")
    wait_for(lambda: reminders(app)[0] >= 1, what="the first reminders")
    kill(ticker)
    rows, emails = reminders(app)
    assert rows == sum(emails.values()), "a reminder row without its email, or the reverse"
    assert rows < 60, "the tick finished before it was killed"

    finish(start(environment, "tick"))
    rows, emails = reminders(app)
    assert rows == 60
    assert emails == Counter({f"practitioner{n}@example.org": 1 for n in range(60)})


def test_two_ticks_at_once_remind_everyone_exactly_once(world, booked_session):
    app, environment = world
    outputs = [finish(process) for process in [start(environment, "tick") for _ in range(2)]]
    rows, emails = reminders(app)
    assert rows == 60
    assert emails == Counter({f"practitioner{n}@example.org": 1 for n in range(60)})
    sent = [int(output.split("Reminders sent: ")[1].split()[0]) for output in outputs]
    assert sum(sent) == 60, outputs
