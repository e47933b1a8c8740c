"""The newsletter: sign-up with double opt-in, preferences by region and topic, one-click
unsubscribe, messages from administrators sent through the outbox without blocking anybody,
and a monthly digest of upcoming training.

A built-in plugin, registered through the ``trainer.plugins`` entry point as ``newsletter``;
it uses the core's public functions and hooks only. Disable it
(``TRAINER_DISABLED_PLUGINS=newsletter``) and its pages and panels are gone; nothing else
changes.

* ``trainer_blueprints``: the pages under ``/newsletter/`` (:mod:`.views`).
* ``trainer_page_panels``: a sign-up invitation on the home page, the person's subscription
  on their account page, and the newsletter on the administration page.
* ``trainer_tick``: campaigns waiting to go are put into the outbox in batches
  (:mod:`.sending`); the monthly digest is built from ``NEWSLETTER_DIGEST_DAY``
  (:mod:`.digest`).
* ``trainer_user_data`` / ``trainer_erase_user``: subject access and erasure
  (:mod:`.privacy`).
* ``trainer_demo_data``: a few hundred subscribers and one campaign sent (:mod:`.demo`).
"""

from __future__ import annotations

import time

from flask import render_template

from trainer.hooks import Panel
from trainer.hookspecs import hookimpl
from trainer.plugins.newsletter import models, service

__all__ = ["models", "service"]


@hookimpl
def trainer_blueprints():
    from trainer.plugins.newsletter.views import bp

    return [bp]


@hookimpl
def trainer_page_panels(page, obj, user):
    signed_in = user is not None and getattr(user, "is_authenticated", True)
    if page == "home" and not signed_in:
        return [Panel("Hear about new training",
                      render_template("newsletter/_home_panel.html"), order=50)]
    if page == "profile" and signed_in:
        subscriber = service.subscription_for(user)
        return [Panel("Newsletter", render_template(
            "newsletter/_profile_panel.html", subscriber=subscriber,
            words=service.describe(subscriber) if subscriber is not None else None),
            order=60)]
    if page == "admin" and signed_in and user.has_role("admin"):
        return [Panel("Newsletter", render_template(
            "newsletter/_admin_panel.html", counts=service.counts_by_status()), order=50)]
    return None


@hookimpl
def trainer_tick(now):
    from trainer.plugins.newsletter import digest, sending

    deadline = time.monotonic() + max(service.setting("NEWSLETTER_TICK_SECONDS"), 1)
    queued, finished = sending.send_queued(now, deadline)
    digests = digest.send_due(now, deadline)
    if not (queued or finished or digests):
        return None
    return (f"Newsletter: {queued} messages queued, {finished} campaigns fully queued, "
            f"{digests} digests queued")


@hookimpl
def trainer_user_data(user):
    from trainer.plugins.newsletter import privacy

    return privacy.user_data(user)


@hookimpl
def trainer_erase_user(user):
    from trainer.plugins.newsletter import privacy

    return privacy.erase_user(user)


@hookimpl
def trainer_demo_data(rng, echo):
    from trainer.plugins.newsletter import demo

    return demo.create(rng, echo)
