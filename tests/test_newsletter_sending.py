"""Sending a newsletter to 20,000 subscribers: pressing send returns at once and writes no
mail; ticks then queue every message exactly once, even with two ticks at once, and a batch
that fails leaves nothing half-done."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from tests.test_newsletter import compose, outbox_count, send, sign_in_admin
from trainer import mail
from trainer.db import db, utcnow
from trainer.mail import OutboxMessage
from trainer.plugins.newsletter import sending, service
from trainer.plugins.newsletter.models import (
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    Subscriber,
    SubscriberStatus,
)

SUBSCRIBERS = 20_000


def bulk_subscribers(app, count: int, start: int = 0) -> None:
    with app.app_context():
        now = utcnow()
        db.session.execute(sa.insert(Subscriber.__table__), [
            {"email": f"reader{number}@example.com", "token": service.new_token(),
             "status": SubscriberStatus.CONFIRMED.value, "created_at": now,
             "confirmed_at": now}
            for number in range(start, start + count)
        ])
        db.session.commit()


def campaign_state(app, campaign_id: int) -> Campaign:
    with app.app_context():
        campaign = db.session.get(Campaign, campaign_id)
        db.session.expunge(campaign)
        return campaign


def run_ticks_at_once(app, workers: int = 2) -> list[BaseException]:
    """``workers`` threads each ticking until nothing is left, started together."""
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def work():
        try:
            with app.app_context(), mail.link_context():
                barrier.wait()
                while True:
                    queued, _finished = sending.send_queued(utcnow())
                    remaining = db.session.scalar(
                        sa.select(sa.func.count()).select_from(Campaign)
                        .where(Campaign.status.in_(sending.ACTIVE)))
                    db.session.rollback()
                    if not remaining:
                        return
                    if not queued:
                        time.sleep(0.05)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    return errors


def assert_each_once(app, campaign_id: int, expected: int) -> None:
    with app.app_context():
        rows = db.session.execute(
            sa.select(OutboxMessage.recipient, CampaignRecipient.subscriber_id)
            .join(CampaignRecipient, CampaignRecipient.message_id == OutboxMessage.id)
            .where(CampaignRecipient.campaign_id == campaign_id)).all()
        assert len(rows) == expected
        assert len({recipient for recipient, _ in rows}) == expected
        assert len({subscriber_id for _, subscriber_id in rows}) == expected
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) \
            == expected


def test_twenty_thousand_without_blocking_and_each_exactly_once(app, client, make_user, auth):
    bulk_subscribers(app, SUBSCRIBERS)
    sign_in_admin(make_user, auth)
    campaign_id = compose(client, subject="The new programme is out")

    started = time.monotonic()
    response = send(client, campaign_id)
    took = time.monotonic() - started
    assert response.status_code == 302
    assert took < 5, f"pressing send took {took:.1f}s"
    assert outbox_count(app) == 0
    campaign = campaign_state(app, campaign_id)
    assert campaign.status == CampaignStatus.QUEUED and campaign.target_count == SUBSCRIBERS

    # Someone subscribing now does not get it half-way through.
    bulk_subscribers(app, 1, start=SUBSCRIBERS)

    assert run_ticks_at_once(app) == []
    campaign = campaign_state(app, campaign_id)
    assert campaign.status == CampaignStatus.SENT
    assert campaign.queued_count == SUBSCRIBERS
    assert_each_once(app, campaign_id, SUBSCRIBERS)
    page = client.get(f"/newsletter/admin/campaigns/{campaign_id}").get_data(as_text=True)
    assert "20,000" in page and "Sending" not in page.split("<h1")[1][:200]


def test_a_crash_mid_batch_sends_nobody_twice_and_skips_nobody(app, client, make_user, auth,
                                                              monkeypatch):
    bulk_subscribers(app, 2_500)
    sign_in_admin(make_user, auth)
    campaign_id = compose(client, subject="Crash test")
    send(client, campaign_id)
    app.config["NEWSLETTER_BATCH_SIZE"] = 1000

    real = mail.queue_many
    calls = {"n": 0}

    def crash_on_second(messages):
        calls["n"] += 1
        ids = real(messages)
        if calls["n"] == 2:
            raise RuntimeError("the worker died")
        return ids

    monkeypatch.setattr(mail, "queue_many", crash_on_second)
    with app.app_context(), mail.link_context(), pytest.raises(RuntimeError):
        sending.send_queued(utcnow())
    # The first batch committed; the second rolled back with its messages.
    assert outbox_count(app) == 1000
    assert campaign_state(app, campaign_id).queued_count == 1000

    monkeypatch.setattr(mail, "queue_many", real)
    with app.app_context(), mail.link_context():
        assert sending.send_queued(utcnow()) == (1500, 1)
        assert sending.send_queued(utcnow()) == (0, 0)
    assert_each_once(app, campaign_id, 2_500)


def test_people_who_unsubscribe_before_their_batch_are_not_sent_it(app, client, make_user,
                                                                   auth):
    bulk_subscribers(app, 30)
    sign_in_admin(make_user, auth)
    campaign_id = compose(client, subject="Leaving early")
    send(client, campaign_id)
    with app.app_context():
        leaver = db.session.scalar(sa.select(Subscriber).where(
            Subscriber.email == "reader29@example.com"))
        service.unsubscribe(leaver)
        db.session.commit()
    app.config["NEWSLETTER_BATCH_SIZE"] = 10
    with app.app_context(), mail.link_context():
        assert sending.send_queued(utcnow()) == (29, 1)
    assert outbox_count(app) == 29
