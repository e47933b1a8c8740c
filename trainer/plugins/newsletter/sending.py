"""Campaigns: writing, previewing, a test to oneself, and sending without blocking anybody.

Pressing send only records the campaign as queued, with the number it reaches then: the
request does no more than a count. ``tick`` (:func:`send_queued`) then puts the messages into
the outbox a batch at a time (``NEWSLETTER_BATCH_SIZE``, 1,000 by default), each batch one
transaction holding the campaign's row lock: it queues the next subscribers by id after the
campaign's cursor, records a :class:`CampaignRecipient` per subscriber (unique per campaign
and subscriber) and moves the cursor on. A crash loses only an uncommitted batch, done again
next time; two ticks at once take turns (SQLite) or work on different campaigns (PostgreSQL,
``SKIP LOCKED``), so nobody is sent a campaign twice and nobody is skipped. ``send-mail``
delivers the outbox as usual.
"""

from __future__ import annotations

import time
from datetime import datetime

import sqlalchemy as sa
from flask import current_app, render_template, url_for

from trainer import mail
from trainer.db import Busy, db, lock_row, skip_locked, utcnow, write_transaction
from trainer.mail import MailStatus, OutboxMessage
from trainer.plugins.newsletter import service
from trainer.plugins.newsletter.models import (
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    Subscriber,
    SubscriberStatus,
)

TOKEN_MARK = "NlToKeN7q3z9"  # stands for each subscriber's token in a rendered message
ACTIVE = (CampaignStatus.QUEUED, CampaignStatus.SENDING)


def render_text(campaign: Campaign, token: str = TOKEN_MARK) -> str:
    """The email's text, with ``token`` in its preferences and unsubscribe links."""
    return render_template(
        "emails/newsletter/message.txt",
        body=campaign.body.replace("\r\n", "\n").strip(),
        subject=campaign.subject,
        service_name=current_app.config["SERVICE_NAME"],
        preferences_url=url_for("newsletter.preferences", token=token, _external=True),
        unsubscribe_url=service.unsubscribe_url(token),
    )


def send_test(campaign: Campaign, user) -> None:
    """Queue the campaign to ``user`` alone, as their subscription would get it (links to an
    example subscription when they have none). In the caller's transaction."""
    subscriber = service.subscription_for(user)
    token = subscriber.token if subscriber is not None else "example-only"
    mail.queue(
        recipient=user.email,
        recipient_name=user.name,
        subject=f"[Test] {campaign.subject}",
        text_body=render_text(campaign, token),
        headers=service.list_headers(service.unsubscribe_url(token)),
    )


def queue_campaign(campaign_id: int, user, now: datetime | None = None) -> Campaign | None:
    """Record that ``user`` pressed send: the campaign waits for ``tick``. Returns it, or
    ``None`` when it was no longer a draft or reaches nobody. Only a count is done here."""
    now = now or utcnow()
    with write_transaction():
        campaign = lock_row(Campaign, campaign_id)
        if campaign is None or not campaign.is_draft:
            return None
        count = service.count_recipients(campaign.target_map)
        if count == 0:
            return None
        campaign.status = CampaignStatus.QUEUED
        campaign.queued_at = now
        campaign.sent_by_id = user.id
        campaign.target_count = count
        campaign.last_subscriber_id = db.session.scalar(sa.select(sa.func.max(Subscriber.id)))
        campaign.cursor = 0
        campaign.queued_count = 0
    return campaign


def queue_batch(campaign: Campaign, limit: int, now: datetime | None = None) -> int:
    """Put the next ``limit`` recipients of ``campaign`` into the outbox, in the caller's
    transaction (which must hold the campaign's row lock). Returns how many were queued; the
    campaign is marked sent once none are left."""
    now = now or utcnow()
    statement = (
        service.recipients_statement(campaign.target_map)
        .where(
            Subscriber.id > campaign.cursor,
            Subscriber.id <= (campaign.last_subscriber_id or 0),
            Subscriber.confirmed_at <= campaign.queued_at,
            ~sa.exists().where(CampaignRecipient.campaign_id == campaign.id,
                               CampaignRecipient.subscriber_id == Subscriber.id),
        )
        .limit(limit)
    )
    rows = db.session.execute(statement).all()
    if rows:
        text = render_text(campaign)
        unsubscribe = service.unsubscribe_url(TOKEN_MARK)
        message_ids = mail.queue_many([
            {
                "recipient": row.email,
                "recipient_name": row.name,
                "subject": campaign.subject,
                "text_body": text.replace(TOKEN_MARK, row.token),
                "headers": service.list_headers(unsubscribe.replace(TOKEN_MARK, row.token)),
            }
            for row in rows
        ])
        # A plain INSERT: should a row exist already, the whole batch fails and rolls back,
        # its messages with it, rather than anybody getting the campaign twice.
        db.session.execute(sa.insert(CampaignRecipient.__table__), [
            {"campaign_id": campaign.id, "subscriber_id": row.id, "message_id": message_id,
             "queued_at": now}
            for row, message_id in zip(rows, message_ids, strict=True)
        ])
        campaign.cursor = rows[-1].id
        campaign.queued_count += len(rows)
    campaign.status = CampaignStatus.SENDING
    if len(rows) < limit:
        campaign.status = CampaignStatus.SENT
        campaign.finished_at = now
    return len(rows)


def send_queued(now: datetime | None = None, deadline: float | None = None) -> tuple[int, int]:
    """``tick``'s part: queue batches of every campaign waiting to be sent until all are done
    or ``deadline`` (a :func:`time.monotonic` value) passes. Returns (messages, campaigns
    finished)."""
    now = now or utcnow()
    limit = max(service.setting("NEWSLETTER_BATCH_SIZE"), 1)
    queued = finished = 0
    db.session.rollback()
    while deadline is None or time.monotonic() < deadline:
        try:
            with write_transaction():
                campaign = db.session.scalars(
                    skip_locked(sa.select(Campaign).where(Campaign.status.in_(ACTIVE))
                                .order_by(Campaign.id).limit(1))
                    .execution_options(populate_existing=True)).first()
                if campaign is None:
                    break
                queued += queue_batch(campaign, limit, now)
                finished += campaign.status == CampaignStatus.SENT
        except Busy:
            break  # another worker holds the database; it carries on, we try next tick
    return queued, finished


def progress(campaign: Campaign) -> dict[str, int]:
    """Recipients, messages queued into the outbox, and of those sent, failed and waiting."""
    rows = db.session.execute(
        sa.select(OutboxMessage.status, sa.func.count())
        .select_from(CampaignRecipient)
        .join(OutboxMessage, OutboxMessage.id == CampaignRecipient.message_id)
        .where(CampaignRecipient.campaign_id == campaign.id)
        .group_by(OutboxMessage.status)).all()
    by_status = {status: count for status, count in rows}
    queued = db.session.scalar(
        sa.select(sa.func.count()).select_from(CampaignRecipient)
        .where(CampaignRecipient.campaign_id == campaign.id)) or 0
    sent = by_status.get(MailStatus.SENT.value, 0)
    failed = by_status.get(MailStatus.FAILED.value, 0)
    return {
        "recipients": campaign.target_count or 0,
        "queued": queued,
        "sent": sent,
        "failed": failed,
        "waiting": sum(by_status.values()) - sent - failed,
    }


def is_finished(campaign: Campaign, figures: dict[str, int]) -> bool:
    """Every message is in the outbox, and each one sent or failed for good."""
    return campaign.status == CampaignStatus.SENT and figures["waiting"] == 0


def confirmed_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Subscriber).where(
        Subscriber.status == SubscriberStatus.CONFIRMED)) or 0
