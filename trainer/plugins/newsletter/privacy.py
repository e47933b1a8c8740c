"""Subject access and erasure for the newsletter.

What it holds about a person: the subscription linked to their account or made with their
address (status, preferences, dates), and which campaigns and monthly digests were sent to it.

Erasure anonymises the subscription: the address becomes one nobody can receive mail at, the
link to the account, the preferences, local authority and job role go, it is marked
unsubscribed and its link token is replaced (old links stop working). The rows saying a
campaign or digest went to it stay, so campaign figures do not change; the core deletes the
outbox's mail to the person's address.
"""

from __future__ import annotations

import sqlalchemy as sa

from trainer.db import db, utcnow
from trainer.mail import OutboxMessage
from trainer.people import User, normalise_email
from trainer.plugins.newsletter import service
from trainer.plugins.newsletter.models import (
    Campaign,
    CampaignRecipient,
    Digest,
    Subscriber,
    SubscriberStatus,
)


def _iso(moment) -> str | None:
    return moment.isoformat() if moment is not None else None


def subscriptions_of(user: User) -> list[Subscriber]:
    return list(db.session.scalars(
        sa.select(Subscriber)
        .where(sa.or_(Subscriber.user_id == user.id,
                      Subscriber.email == normalise_email(user.email)))
        .order_by(Subscriber.id)))


def erased_address(subscriber_id: int) -> str:
    return f"erased-subscriber-{subscriber_id}@invalid.example"


def user_data(user: User) -> dict[str, list[dict]] | None:
    subscriptions = subscriptions_of(user)
    if not subscriptions:
        return None
    ids = [subscriber.id for subscriber in subscriptions]
    records = []
    for subscriber in subscriptions:
        words = service.describe(subscriber)
        records.append({
            "email": subscriber.email,
            "linked_to_account": subscriber.user_id == user.id,
            "status": subscriber.status,
            "regions": words["regions"],
            "topics": words["topics"],
            "local_authority": words["local_authority"],
            "job_role": words["job_role"],
            "signed_up_at": _iso(subscriber.created_at),
            "confirmed_at": _iso(subscriber.confirmed_at),
            "unsubscribed_at": _iso(subscriber.unsubscribed_at),
        })
    sent = [
        {"email": "newsletter", "subject": subject, "queued_at": _iso(queued_at),
         "status": status}
        for subject, queued_at, status in db.session.execute(
            sa.select(Campaign.subject, CampaignRecipient.queued_at, OutboxMessage.status)
            .join(Campaign, Campaign.id == CampaignRecipient.campaign_id)
            .outerjoin(OutboxMessage, OutboxMessage.id == CampaignRecipient.message_id)
            .where(CampaignRecipient.subscriber_id.in_(ids))
            .order_by(CampaignRecipient.queued_at, CampaignRecipient.id))
    ]
    sent += [
        {"email": "monthly digest", "subject": f"Digest for {month} ({sessions} sessions)",
         "queued_at": _iso(queued_at), "status": status}
        for month, sessions, queued_at, status in db.session.execute(
            sa.select(Digest.month, Digest.sessions, Digest.queued_at, OutboxMessage.status)
            .outerjoin(OutboxMessage, OutboxMessage.id == Digest.message_id)
            .where(Digest.subscriber_id.in_(ids))
            .order_by(Digest.queued_at, Digest.id))
    ]
    sections = {"Newsletter subscription": records, "Newsletter emails": sent}
    return {title: rows for title, rows in sections.items() if rows}


def erase_user(user: User) -> str | None:
    """Anonymise ``user``'s subscriptions. Safe to call twice (the second finds none)."""
    subscriptions = [subscriber for subscriber in subscriptions_of(user)
                     if subscriber.email != erased_address(subscriber.id)]
    if not subscriptions:
        return None
    now = utcnow()
    for subscriber in subscriptions:
        if subscriber.email != normalise_email(user.email):
            # Mail to the person's own address is the core's to delete; this one is ours.
            db.session.execute(sa.delete(OutboxMessage)
                               .where(OutboxMessage.recipient == subscriber.email))
        subscriber.email = erased_address(subscriber.id)
        subscriber.user_id = None
        if subscriber.status != SubscriberStatus.UNSUBSCRIBED:
            subscriber.status = SubscriberStatus.UNSUBSCRIBED
            subscriber.unsubscribed_at = now
        subscriber.requested_at = None
        subscriber.token = service.new_token()
        subscriber.local_authority_id = None
        subscriber.job_role = None
        subscriber.region_ids = []
        subscriber.topics = []
    db.session.flush()
    return (f"Newsletter: {len(subscriptions)} "
            f"{'subscription' if len(subscriptions) == 1 else 'subscriptions'} anonymised; "
            "the record of what was sent kept for the counts")
