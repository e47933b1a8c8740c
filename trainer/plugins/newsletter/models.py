"""Newsletter tables: subscribers and their preferences, campaigns and who they went to, and
the monthly digests.

A :class:`Subscriber` is one email address. Signed-in people's subscriptions are linked to
their account (``user_id``): mail then goes to the account's current address, and the local
authority and job role come from their profile. ``token`` is a random secret in every email's
links (preferences and unsubscribe); it does not expire, so links in old emails keep working.

Sending fans a :class:`Campaign` out into the outbox in batches; each recipient is a
:class:`CampaignRecipient` row, unique per (campaign, subscriber), so no batch can send to
anybody twice. Each month's digest run (:class:`DigestRun`) works the same way, with a
:class:`Digest` row unique per (subscriber, month).
"""

from __future__ import annotations

import enum
import json
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from trainer.db import UTCDateTime, db, utcnow
from trainer.people import LocalAuthority, User


class SubscriberStatus(enum.StrEnum):
    PENDING = "pending"  # signed up by email, confirmation link not followed yet
    CONFIRMED = "confirmed"  # receives the newsletter
    UNSUBSCRIBED = "unsubscribed"


class Subscriber(db.Model):
    __tablename__ = "newsletter_subscriber"
    __table_args__ = (sa.Index("ix_newsletter_subscriber_status_id", "status", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL"), unique=True
    )
    status: Mapped[str] = mapped_column(sa.String(20), default=SubscriberStatus.PENDING)
    token: Mapped[str] = mapped_column(sa.String(64), unique=True)
    local_authority_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("local_authority.id", ondelete="SET NULL")
    )
    job_role: Mapped[str | None] = mapped_column(sa.String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the latest sign-up asked for confirmation; the confirmation link carries it, so only
    # the latest link works, and none once the person has unsubscribed.
    requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the sign-up page last emailed this address: someone typing another person's address
    # again and again sends them one email per NEWSLETTER_SIGN_UP_EMAIL_GAP_SECONDS at most.
    sign_up_emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User | None] = relationship()
    local_authority: Mapped[LocalAuthority | None] = relationship()
    region_rows: Mapped[list[SubscriberRegion]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )
    topic_rows: Mapped[list[SubscriberTopic]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def is_confirmed(self) -> bool:
        return self.status == SubscriberStatus.CONFIRMED

    @property
    def region_ids(self) -> list[int]:
        return sorted(row.region_id for row in self.region_rows)

    @region_ids.setter
    def region_ids(self, values) -> None:
        self.region_rows = [SubscriberRegion(region_id=int(value))
                            for value in dict.fromkeys(values)]

    @property
    def topics(self) -> list[str]:
        return sorted(row.topic for row in self.topic_rows)

    @topics.setter
    def topics(self, values) -> None:
        self.topic_rows = [SubscriberTopic(topic=str(value)) for value in dict.fromkeys(values)]


class SubscriberRegion(db.Model):
    """A region a subscriber wants to hear about. None at all means every region."""

    __tablename__ = "newsletter_subscriber_region"
    subscriber_id: Mapped[int] = mapped_column(
        sa.ForeignKey("newsletter_subscriber.id", ondelete="CASCADE"), primary_key=True
    )
    region_id: Mapped[int] = mapped_column(
        sa.ForeignKey("region.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class SubscriberTopic(db.Model):
    """A topic a subscriber wants to hear about. None at all means every topic."""

    __tablename__ = "newsletter_subscriber_topic"
    subscriber_id: Mapped[int] = mapped_column(
        sa.ForeignKey("newsletter_subscriber.id", ondelete="CASCADE"), primary_key=True
    )
    topic: Mapped[str] = mapped_column(sa.String(40), primary_key=True, index=True)


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"  # being written; nothing sent
    QUEUED = "queued"  # an administrator pressed send; tick has not started on it
    SENDING = "sending"  # tick is putting it into the outbox, a batch at a time
    SENT = "sent"  # every recipient's message is in the outbox


CAMPAIGN_STATUS_LABELS = {
    CampaignStatus.DRAFT: "Draft",
    CampaignStatus.QUEUED: "Waiting to send",
    CampaignStatus.SENDING: "Sending",
    CampaignStatus.SENT: "Sent",
}

TARGET_KEYS = ("regions", "local_authorities", "job_roles", "topics")


class Campaign(db.Model):
    """A message an administrator writes to subscribers.

    ``targets`` is a JSON object with any of ``regions`` (ids), ``local_authorities`` (ids),
    ``job_roles`` and ``topics``: a subscriber must match every one given (and any value
    within it); none given means every confirmed subscriber.
    """

    __tablename__ = "newsletter_campaign"
    __table_args__ = (sa.Index("ix_newsletter_campaign_status", "status", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    targets: Mapped[str] = mapped_column(sa.Text, default="{}")
    status: Mapped[str] = mapped_column(sa.String(20), default=CampaignStatus.DRAFT)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL")
    )
    # Set when sent: how many matched then, and the last subscriber id that may receive it
    # (people who subscribe later do not get it half-way through).
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    target_count: Mapped[int | None] = mapped_column()
    last_subscriber_id: Mapped[int | None] = mapped_column()
    # Progress of the fan-out: the highest subscriber id handled, and messages queued.
    cursor: Mapped[int] = mapped_column(default=0)
    queued_count: Mapped[int] = mapped_column(default=0)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    sent_by: Mapped[User | None] = relationship(foreign_keys=[sent_by_id])

    @property
    def target_map(self) -> dict[str, list]:
        data = json.loads(self.targets or "{}")
        return {key: list(data.get(key) or []) for key in TARGET_KEYS}

    @target_map.setter
    def target_map(self, value: dict) -> None:
        self.targets = json.dumps(
            {key: list(value.get(key) or []) for key in TARGET_KEYS if value.get(key)}
        )

    @property
    def status_label(self) -> str:
        return CAMPAIGN_STATUS_LABELS.get(CampaignStatus(self.status), self.status)

    @property
    def is_draft(self) -> bool:
        return self.status == CampaignStatus.DRAFT


class CampaignRecipient(db.Model):
    """One subscriber a campaign was queued for, and their message in the outbox."""

    __tablename__ = "newsletter_campaign_recipient"
    __table_args__ = (sa.UniqueConstraint("campaign_id", "subscriber_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        sa.ForeignKey("newsletter_campaign.id", ondelete="CASCADE")
    )
    subscriber_id: Mapped[int] = mapped_column(
        sa.ForeignKey("newsletter_subscriber.id", ondelete="CASCADE"), index=True
    )
    # Erasure deletes the outbox's mail to the person; the row stays for the counts.
    message_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("outbox_message.id", ondelete="SET NULL"), index=True
    )
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DigestRun(db.Model):
    """One month's digest: made by ``tick`` from the configured day, a batch at a time."""

    __tablename__ = "newsletter_digest_run"
    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(sa.String(7), unique=True)  # "2026-03"
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The sessions a digest lists start in [window_start, window_end).
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    cursor: Mapped[int] = mapped_column(default=0)
    queued_count: Mapped[int] = mapped_column(default=0)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Digest(db.Model):
    """The digest one subscriber was sent for one month (people with nothing to hear about
    get none)."""

    __tablename__ = "newsletter_digest"
    __table_args__ = (sa.UniqueConstraint("subscriber_id", "month"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        sa.ForeignKey("newsletter_subscriber.id", ondelete="CASCADE")
    )
    month: Mapped[str] = mapped_column(sa.String(7), index=True)
    sessions: Mapped[int] = mapped_column(default=0)
    message_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("outbox_message.id", ondelete="SET NULL"), index=True
    )
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
