"""Demo newsletter: a few hundred subscribers (demo practitioners signed in, and readers who
signed up by email) with varied preferences, and one campaign already sent to them."""

from __future__ import annotations

import random
from datetime import timedelta

import sqlalchemy as sa

from trainer import mail
from trainer.catalogue import Topic
from trainer.db import db, utcnow
from trainer.mail import MailStatus, OutboxMessage
from trainer.people import Region, User
from trainer.plugins.newsletter import sending, service
from trainer.plugins.newsletter.models import (
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    Subscriber,
    SubscriberStatus,
)

LINKED = 150
READERS = 250
BODY = """Our new programme of free training is now open for booking.

This term there are more twilight sessions than ever, online and in children's centres, on
speech and language, autism, and working with parents.

Places go quickly, so book early. If a session is full, join its waiting list: we offer
places that come free to the people waiting, in turn."""


def create(rng: random.Random, echo) -> dict[str, int]:
    now = utcnow()
    region_ids = list(db.session.scalars(sa.select(Region.id).order_by(Region.id)))
    topics = [str(topic) for topic in Topic]
    people = db.session.execute(
        sa.select(User.id, User.email).where(User.email.like("%@example.net"))
        .order_by(User.id).limit(LINKED)).all()
    statuses = [SubscriberStatus.CONFIRMED] * 17 + [SubscriberStatus.PENDING,
                                                   SubscriberStatus.UNSUBSCRIBED]
    subscribers = []
    for number in range(len(people) + READERS):
        linked = number < len(people)
        joined = now - timedelta(days=rng.randint(30, 400), minutes=rng.randint(0, 1440))
        status = rng.choice(statuses)
        subscriber = Subscriber(
            email=people[number].email if linked else f"reader{number}@example.com",
            token=service.new_token(), user_id=people[number].id if linked else None,
            status=status, created_at=joined,
            confirmed_at=joined + timedelta(minutes=rng.randint(2, 600))
            if status != SubscriberStatus.PENDING else None,
            requested_at=joined if status == SubscriberStatus.PENDING else None,
            unsubscribed_at=now - timedelta(days=rng.randint(1, 20))
            if status == SubscriberStatus.UNSUBSCRIBED else None,
        )
        subscriber.region_ids = rng.sample(region_ids, rng.choice([0, 1, 1, 1, 2]))
        subscriber.topics = rng.sample(topics, rng.choice([0, 1, 2, 3]))
        subscribers.append(subscriber)
    db.session.add_all(subscribers)
    db.session.flush()

    admin = db.session.scalar(sa.select(User).where(User.email == "admin@example.org"))
    sent_at = now - timedelta(days=12)
    campaign = Campaign(subject="New free training is open for booking", body=BODY,
                        created_by_id=admin.id if admin else None, created_at=sent_at,
                        updated_at=sent_at)
    campaign.target_map = {}
    db.session.add(campaign)
    db.session.flush()
    campaign.status = CampaignStatus.QUEUED
    campaign.queued_at = now
    campaign.sent_by_id = campaign.created_by_id
    campaign.target_count = service.count_recipients({})
    campaign.last_subscriber_id = subscribers[-1].id
    with mail.link_context():
        while campaign.status != CampaignStatus.SENT:
            sending.queue_batch(campaign, 1000, now)
    message_ids = sa.select(CampaignRecipient.message_id).where(
        CampaignRecipient.campaign_id == campaign.id)
    db.session.execute(
        sa.update(OutboxMessage).where(OutboxMessage.id.in_(message_ids))
        .values(status=MailStatus.SENT, attempts=1, sent_at=sent_at, created_at=sent_at,
                next_attempt_at=sent_at)
        .execution_options(synchronize_session=False))
    for column in ("queued_at", "finished_at"):
        setattr(campaign, column, sent_at)
    db.session.execute(
        sa.update(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign.id)
        .values(queued_at=sent_at).execution_options(synchronize_session=False))
    echo(f"  {len(subscribers)} newsletter subscribers, 1 campaign sent to "
         f"{campaign.queued_count}")
    return {"newsletter_subscribers": len(subscribers), "newsletter_campaigns": 1}
