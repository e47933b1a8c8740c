"""Subscriptions: signing up (double opt-in by email, at once for signed-in people),
preferences, unsubscribing; which subscribers a campaign reaches; the links in every email.

Signing up by email never says whether the address is subscribed already: the page is the
same either way, and the address gets an email (a confirmation link, or a note that it is
subscribed with a link to its preferences). An address that has not followed its confirmation
link gets nothing else.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import url_for
from sqlalchemy.orm import aliased

from trainer import mail, tokens
from trainer.catalogue import TOPIC_LABELS
from trainer.config import number_setting
from trainer.db import db, utcnow
from trainer.people import JOB_ROLE_LABELS, LocalAuthority, Region, Setting, User, normalise_email
from trainer.plugins.newsletter.models import (
    Subscriber,
    SubscriberRegion,
    SubscriberStatus,
    SubscriberTopic,
)

DEFAULTS = {
    "NEWSLETTER_DIGEST_DAY": 1,  # day of the month the digest is built (from then, once)
    "NEWSLETTER_BATCH_SIZE": 1000,  # recipients put into the outbox per transaction
    "NEWSLETTER_TICK_SECONDS": 45,  # how long one tick may spend on newsletter work
    "NEWSLETTER_CONFIRM_MAX_AGE_SECONDS": 7 * 24 * 3600,  # life of a confirmation link
    "NEWSLETTER_DIGEST_MAX_SESSIONS": 20,  # sessions listed in one digest; the rest linked
    "NEWSLETTER_SIGN_UP_EMAIL_GAP_SECONDS": 600,  # at most one sign-up email per address
}
CONFIRM_PURPOSE = "newsletter-confirm"


def setting(name: str) -> int:
    """A newsletter config value (``TRAINER_NEWSLETTER_*`` in the environment), as a number."""
    return number_setting(name, DEFAULTS[name])


def new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass
class Preferences:
    """What a subscriber wants to hear about. Empty lists mean everything."""

    region_ids: list[int]
    topics: list[str]
    local_authority_id: int | None = None
    job_role: str | None = None


# -- finding subscribers --------------------------------------------------------------------------


def by_email(email: str) -> Subscriber | None:
    return db.session.scalar(
        sa.select(Subscriber).where(Subscriber.email == normalise_email(email))
    )


def by_token(token: str) -> Subscriber | None:
    if not token or len(token) > 64:
        return None
    return db.session.scalar(sa.select(Subscriber).where(Subscriber.token == token))


def subscription_for(user) -> Subscriber | None:
    """The subscription linked to ``user``'s account, else one made with their address."""
    found = db.session.scalar(sa.select(Subscriber).where(Subscriber.user_id == user.id))
    return found or by_email(user.email)


def address_of(subscriber: Subscriber) -> tuple[str, str | None]:
    """Where mail to ``subscriber`` goes: their account's address and name when linked."""
    if subscriber.user is not None:
        return subscriber.user.email, subscriber.user.name
    return subscriber.email, None


def effective_area(subscriber: Subscriber) -> tuple[int | None, str | None]:
    """(local authority id, job role): from the linked account's profile, else as given."""
    user = subscriber.user
    if user is not None:
        area = user.area
        la_id = area.id if area is not None else subscriber.local_authority_id
        return la_id, user.job_role or subscriber.job_role
    return subscriber.local_authority_id, subscriber.job_role


# -- links and headers ----------------------------------------------------------------------------


def preferences_url(subscriber: Subscriber) -> str:
    return url_for("newsletter.preferences", token=subscriber.token, _external=True)


def unsubscribe_url(subscriber_or_token) -> str:
    token = getattr(subscriber_or_token, "token", subscriber_or_token)
    return url_for("newsletter.unsubscribe", token=token, _external=True)


def list_headers(unsubscribe: str) -> dict[str, str]:
    """RFC 2369 and RFC 8058 headers: mail programs show an "Unsubscribe" button that POSTs to
    the link, which unsubscribes at once."""
    return {
        "List-Unsubscribe": f"<{unsubscribe}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


# -- signing up -----------------------------------------------------------------------------------


def _apply(subscriber: Subscriber, preferences: Preferences, with_area: bool = True) -> None:
    subscriber.region_ids = preferences.region_ids
    subscriber.topics = preferences.topics
    if with_area:
        subscriber.local_authority_id = preferences.local_authority_id
        subscriber.job_role = preferences.job_role or None


def _confirmation_token(subscriber: Subscriber) -> str:
    return tokens.make(CONFIRM_PURPOSE, {
        "subscriber": subscriber.id,
        "email": subscriber.email,
        "state": tokens.fingerprint(subscriber.requested_at.isoformat()),
    })


def sign_up_by_email(email: str, preferences: Preferences, now: datetime | None = None) -> None:
    """Someone gave ``email`` on the sign-up page. In the caller's transaction.

    New, pending or unsubscribed addresses get a confirmation link (the preferences given
    wait for it); a subscribed address keeps its preferences and is told it is subscribed,
    with a link to change them. The caller answers the same either way. An address emailed
    from here less than ``NEWSLETTER_SIGN_UP_EMAIL_GAP_SECONDS`` ago gets nothing and nothing
    changes, so the page cannot be used to flood someone's inbox.
    """
    now = now or utcnow()
    email = normalise_email(email)
    subscriber = by_email(email)
    gap = timedelta(seconds=setting("NEWSLETTER_SIGN_UP_EMAIL_GAP_SECONDS"))
    if subscriber is not None and subscriber.sign_up_emailed_at is not None and (
        now - subscriber.sign_up_emailed_at < gap
    ):
        return  # emailed a moment ago: the earlier email stands, nothing changes
    if subscriber is not None:
        subscriber.sign_up_emailed_at = now
    if subscriber is not None and subscriber.is_confirmed:
        _send(subscriber, "already_subscribed", "You are already subscribed to our newsletter",
              preferences_url=preferences_url(subscriber))
        return
    if subscriber is None:
        subscriber = Subscriber(email=email, token=new_token(), created_at=now,
                                sign_up_emailed_at=now)
        db.session.add(subscriber)
    subscriber.status = SubscriberStatus.PENDING
    subscriber.requested_at = now
    _apply(subscriber, preferences, with_area=subscriber.user_id is None)
    db.session.flush()
    _send(subscriber, "confirm", "Confirm your newsletter subscription",
          link=url_for("newsletter.confirm", token=_confirmation_token(subscriber),
                       _external=True),
          days=max(setting("NEWSLETTER_CONFIRM_MAX_AGE_SECONDS") // 86400, 1))


class LinkProblem(Exception):
    def __init__(self, expired: bool = False):
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


def confirm(token: str, now: datetime | None = None) -> Subscriber:
    """Follow a confirmation link: the subscriber is confirmed (again following it changes
    nothing). Raises :class:`LinkProblem` for a damaged, old or superseded link."""
    try:
        payload = tokens.read(CONFIRM_PURPOSE, token, setting("NEWSLETTER_CONFIRM_MAX_AGE_SECONDS"))
    except tokens.TokenError as error:
        raise LinkProblem(expired=error.expired) from error
    if not isinstance(payload, dict) or not isinstance(payload.get("subscriber"), int):
        raise LinkProblem()
    subscriber = db.session.get(Subscriber, payload["subscriber"], populate_existing=True)
    if subscriber is None or subscriber.email != payload.get("email"):
        raise LinkProblem()
    if subscriber.is_confirmed:
        return subscriber
    if (subscriber.status != SubscriberStatus.PENDING or subscriber.requested_at is None
            or tokens.fingerprint(subscriber.requested_at.isoformat()) != payload.get("state")):
        raise LinkProblem()
    subscriber.status = SubscriberStatus.CONFIRMED
    subscriber.confirmed_at = now or utcnow()
    subscriber.requested_at = None
    subscriber.unsubscribed_at = None
    return subscriber


def subscribe_user(user, preferences: Preferences, now: datetime | None = None) -> Subscriber:
    """A signed-in person subscribes with their account's address, confirmed at once (their
    address is verified). In the caller's transaction."""
    now = now or utcnow()
    subscriber = subscription_for(user)
    if subscriber is None:
        subscriber = Subscriber(email=normalise_email(user.email), token=new_token(),
                                created_at=now)
        db.session.add(subscriber)
    subscriber.user_id = user.id
    _apply(subscriber, preferences, with_area=False)
    if not user.is_verified:
        # Not known to be theirs yet: confirm by email like anyone else.
        sign_up_by_email(user.email, preferences, now)
        return subscriber
    if not subscriber.is_confirmed:
        subscriber.status = SubscriberStatus.CONFIRMED
        subscriber.confirmed_at = now
        subscriber.requested_at = None
        subscriber.unsubscribed_at = None
    return subscriber


def save_preferences(subscriber: Subscriber, preferences: Preferences) -> None:
    _apply(subscriber, preferences, with_area=subscriber.user_id is None)


def unsubscribe(subscriber: Subscriber, now: datetime | None = None) -> bool:
    """Stop all newsletter mail to ``subscriber``; ``False`` if they had already stopped it."""
    if subscriber.status == SubscriberStatus.UNSUBSCRIBED:
        return False
    subscriber.status = SubscriberStatus.UNSUBSCRIBED
    subscriber.unsubscribed_at = now or utcnow()
    subscriber.requested_at = None
    return True


def resubscribe(subscriber: Subscriber, now: datetime | None = None) -> bool:
    """Undo unsubscribing, from the link in an email the person was sent (so the address was
    confirmed before). ``False`` when that cannot be done this way."""
    if subscriber.is_confirmed:
        return True
    if subscriber.confirmed_at is None:
        return False
    subscriber.status = SubscriberStatus.CONFIRMED
    subscriber.confirmed_at = now or utcnow()
    subscriber.unsubscribed_at = None
    return True


def _send(subscriber: Subscriber, template: str, subject: str, **context) -> None:
    recipient, name = address_of(subscriber)
    mail.send_template(_Recipient(recipient, name), subject, f"newsletter/{template}",
                       subscriber=subscriber, **context)


@dataclass
class _Recipient:
    email: str
    name: str | None


# -- describing preferences -----------------------------------------------------------------------


def region_choices() -> list[tuple[int, str]]:
    return [(row.id, row.name) for row in db.session.execute(
        sa.select(Region.id, Region.name).order_by(Region.name))]


def local_authority_choices() -> list[tuple[int, str]]:
    return [(row.id, row.name) for row in db.session.execute(
        sa.select(LocalAuthority.id, LocalAuthority.name).order_by(LocalAuthority.name))]


def describe(subscriber: Subscriber) -> dict[str, str]:
    """Plain words for a subscriber's preferences."""
    names = dict(region_choices())
    la_id, job_role = effective_area(subscriber)
    la = db.session.get(LocalAuthority, la_id) if la_id else None
    return {
        "regions": ", ".join(names[i] for i in subscriber.region_ids if i in names)
        or "Every region",
        "topics": ", ".join(TOPIC_LABELS.get(topic, topic) for topic in subscriber.topics)
        or "Every topic",
        "local_authority": la.name if la is not None else "Not given",
        "job_role": JOB_ROLE_LABELS.get(job_role or "", "Not given"),
    }


# -- who a campaign reaches -----------------------------------------------------------------------


def recipients_statement(targets: dict) -> sa.Select:
    """Confirmed subscribers matching ``targets`` (see :class:`Campaign`): rows of subscriber
    id, token, address and name, by id. People who chose no region (or topic) hear about
    every region (topic), so a message for a region reaches them too."""
    account = aliased(User)
    workplace = aliased(Setting)
    la_id = sa.func.coalesce(workplace.local_authority_id, account.local_authority_id,
                             Subscriber.local_authority_id)
    job_role = sa.func.coalesce(account.job_role, Subscriber.job_role)
    statement = (
        sa.select(
            Subscriber.id.label("id"),
            Subscriber.token.label("token"),
            sa.func.coalesce(account.email, Subscriber.email).label("email"),
            account.name.label("name"),
        )
        .select_from(Subscriber)
        .outerjoin(account, account.id == Subscriber.user_id)
        .outerjoin(workplace, workplace.id == account.setting_id)
        .where(Subscriber.status == SubscriberStatus.CONFIRMED)
        .order_by(Subscriber.id)
    )
    regions = [int(value) for value in targets.get("regions") or []]
    if regions:
        chose = sa.exists().where(SubscriberRegion.subscriber_id == Subscriber.id)
        chose_one = sa.exists().where(SubscriberRegion.subscriber_id == Subscriber.id,
                                      SubscriberRegion.region_id.in_(regions))
        statement = statement.where(sa.or_(chose_one, ~chose))
    topics = [str(value) for value in targets.get("topics") or []]
    if topics:
        chose = sa.exists().where(SubscriberTopic.subscriber_id == Subscriber.id)
        chose_one = sa.exists().where(SubscriberTopic.subscriber_id == Subscriber.id,
                                      SubscriberTopic.topic.in_(topics))
        statement = statement.where(sa.or_(chose_one, ~chose))
    authorities = [int(value) for value in targets.get("local_authorities") or []]
    if authorities:
        statement = statement.where(la_id.in_(authorities))
    roles = [str(value) for value in targets.get("job_roles") or []]
    if roles:
        statement = statement.where(job_role.in_(roles))
    return statement


def count_recipients(targets: dict) -> int:
    inner = recipients_statement(targets).order_by(None).subquery()
    return db.session.scalar(sa.select(sa.func.count()).select_from(inner)) or 0


def counts_by_status() -> dict[str, int]:
    rows = db.session.execute(
        sa.select(Subscriber.status, sa.func.count()).group_by(Subscriber.status)).all()
    found = {status: count for status, count in rows}
    return {status.value: found.get(status.value, 0) for status in SubscriberStatus}
