"""Newsletter send at 20,000 subscribers: the send request must not block, ticks fill the
outbox.

In process (no network), on a fresh SQLite database, and on PostgreSQL too when
``BENCH_DATABASE_URL`` is set: 20,000 confirmed subscribers, an administrator writes a message
to all of them and presses send. Prints the time of that request (it only records the campaign
and counts its recipients; required: under a second, with no mail written), the time ``tick``
takes to queue every message into the outbox in batches (two ticks at once, as two hosts
would run them), messages queued per second, and how fast ``send-mail`` then delivers them
through the memory transport (the first ``BENCH_NEWSLETTER_DELIVER``, 2,000 by default).
Checked: every subscriber has exactly one message.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time

import sqlalchemy as sa

from bench.common import CSRF, on_postgres, report

SUBSCRIBERS = int(os.environ.get("BENCH_SUBSCRIBERS", "20000"))
DELIVERED = int(os.environ.get("BENCH_NEWSLETTER_DELIVER", "2000"))  # a sample for send-mail
ADMIN, PASSWORD = "admin@example.org", "benchmark-password"


def prepare(app) -> None:
    from trainer.db import db, utcnow
    from trainer.people import Role, User, load_places
    from trainer.plugins.newsletter import service
    from trainer.plugins.newsletter.models import Subscriber, SubscriberStatus

    with app.app_context():
        db.create_all()
        load_places()
        admin = User(email=ADMIN, name="Ada Admin", email_verified_at=utcnow())
        admin.set_password(PASSWORD)
        admin.grant(Role.ADMIN)
        db.session.add(admin)
        now = utcnow()
        db.session.execute(sa.insert(Subscriber.__table__), [
            {"email": f"reader{number}@example.com", "token": service.new_token(),
             "status": SubscriberStatus.CONFIRMED.value, "created_at": now, "confirmed_at": now}
            for number in range(SUBSCRIBERS)])
        db.session.commit()


def post(client, path: str, data: dict, form_url: str, prefix: str = ""):
    token = CSRF.search(client.get(form_url).get_data(as_text=True)).group(1)
    return client.post(path, data={f"{prefix}csrf_token": token, **data})


def tick_until_sent(app, workers: int = 2) -> None:
    """``workers`` threads calling the newsletter's part of ``tick`` until the campaign is
    fully queued."""
    from trainer import mail
    from trainer.db import db, utcnow
    from trainer.plugins.newsletter import sending
    from trainer.plugins.newsletter.models import Campaign

    def work():
        with app.app_context(), mail.link_context():
            while True:
                queued, _ = sending.send_queued(utcnow(), time.monotonic() + 45)
                left = db.session.scalar(sa.select(sa.func.count()).select_from(Campaign)
                                         .where(Campaign.status.in_(sending.ACTIVE)))
                db.session.rollback()
                if not left:
                    return
                if not queued:
                    time.sleep(0.02)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def run(database_url: str | None, label: str) -> None:
    from trainer import create_app, mail
    from trainer.db import db
    from trainer.mail import OutboxMessage

    with tempfile.TemporaryDirectory() as folder:
        os.environ["TRAINER_INSTANCE_PATH"] = folder
        config = {"SECRET_KEY": "benchmark-secret-key-0123456789", "RATELIMIT_ENABLED": False,
                  "MAIL_TRANSPORT": "memory", "EXTERNAL_URL": "https://training.example.org",
                  "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"}
        if database_url:
            config["DATABASE_URL"] = database_url
        app = create_app(config)
        prepare(app)
        client = app.test_client()
        post(client, "/auth/sign-in", {"email": ADMIN, "password": PASSWORD}, "/auth/sign-in")
        response = post(client, "/newsletter/admin/campaigns/new",
                        {"subject": "New free training", "body": "Hello,\n\nBook now."},
                        "/newsletter/admin/campaigns/new")
        path = response.headers["Location"]
        client.get(path)  # the preview, as the administrator sees it before sending

        started = time.perf_counter()
        response = post(client, f"{path}/send", {}, path, prefix="send-")
        request_seconds = time.perf_counter() - started
        with app.app_context():
            written = db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))
        print(f"  {label}: send request with {SUBSCRIBERS:,} subscribers took "
              f"{request_seconds * 1000:.0f} ms (HTTP {response.status_code}), "
              f"{written} outbox rows written by it")
        report(response.status_code == 302 and request_seconds < 1 and written == 0,
               f"{label}: pressing send answers in under a second and writes no mail",
               "newsletter_send")

        started = time.perf_counter()
        tick_until_sent(app)
        tick_seconds = time.perf_counter() - started
        with app.app_context():
            queued, distinct = db.session.execute(
                sa.select(sa.func.count(), sa.func.count(sa.distinct(OutboxMessage.recipient)))
            ).one()
        print(f"  {label}: two ticks at once queued {queued:,} messages in {tick_seconds:.1f}s "
              f"({queued / tick_seconds:,.0f} messages/s), {distinct:,} distinct recipients")
        report(queued == distinct == SUBSCRIBERS,
               f"{label}: every subscriber queued exactly once", "newsletter_send")

        started = time.perf_counter()
        delivered = 0
        with app.app_context():
            while delivered < DELIVERED:
                counts = mail.deliver_due(limit=min(500, DELIVERED - delivered))
                delivered += counts["sent"]
                if not sum(counts.values()):
                    break
        send_seconds = time.perf_counter() - started
        print(f"  {label}: send-mail delivered the first {delivered:,} through the memory "
              f"transport in {send_seconds:.1f}s ({delivered / send_seconds:,.0f} messages/s, "
              "one worker)")
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def main() -> None:
    run(None, "SQLite")
    on_postgres(run, "newsletter send")


if __name__ == "__main__":
    main()
