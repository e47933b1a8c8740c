"""The waiting list: fair queues for full sessions, time-limited offers, demand signals.

A built-in plugin, registered through the ``trainer.plugins`` entry point as
``waiting_list``, that talks to the core only through hooks and the engine's public functions.
Disable it (``TRAINER_DISABLED_PLUGINS=waiting_list``) and full sessions simply say "fully
booked".

* ``trainer_session_full``: a full session offers "Join the waiting list".
* ``trainer_places_freed``: a freed place is held and offered to the next person at once;
  ``trainer_places_held`` counts those holds against capacity.
* ``trainer_booking_refusal``: while people wait, a free place is theirs first (no queue
  jumping).
* ``trainer_tick``: offers that ran out pass to the next person; reminders before they do.
* ``trainer_waitlist_priority`` (added here): other plugins move people up the list.
* ``trainer_page_panels``: the list on a session's page, My training and the trainers' page;
  on a local authority's dashboard, how many people from the area wait, counts only
  (:mod:`.la_panel`).
* ``trainer_user_data`` / ``trainer_erase_user``: subject access and erasure
  (:mod:`.privacy`).

The rules live in :mod:`.service`, the tables in :mod:`.models`, the pages in :mod:`.views`.
"""

from __future__ import annotations

from flask import g, has_request_context, render_template, request, url_for

from trainer import booking as engine
from trainer.booking import FullAnswer
from trainer.db import in_write_transaction
from trainer.hooks import ReportSection
from trainer.hookspecs import hookimpl
from trainer.plugins.waiting_list import models, service, specs
from trainer.plugins.waiting_list.models import EntryStatus

__all__ = ["models", "service"]


@hookimpl
def trainer_addhooks(plugin_manager):
    plugin_manager.add_hookspecs(specs)


@hookimpl
def trainer_blueprints():
    from trainer.plugins.waiting_list.views import bp

    return [bp]


@hookimpl
def trainer_places_held(training_session):
    # Pages that only read (GET) count every session's holds in one query; anything that
    # may write (a write transaction, or any POST) counts under the session's lock, fresh.
    if (has_request_context() and request.method in ("GET", "HEAD")
            and not in_write_transaction()):
        if "waitlist_held" not in g:
            g.waitlist_held = service.held_places_by_session()
        return g.waitlist_held.get(training_session.id, 0)
    return service.held_places(training_session.id)


@hookimpl
def trainer_booking_refusal(training_session, user):
    if service.is_accepting(user, training_session.id):
        return None
    entry = service.entry_for(user, training_session.id)
    if entry is not None and entry.status == EntryStatus.OFFERED:
        return None  # their held place counts as taken; the "full" answer points to the offer
    if not service.someone_waiting(training_session.id):
        return None
    if engine.free_places(training_session) > 0:
        return ("People on the waiting list are offered free places first. "
                "Join the waiting list and we will email you if a place comes up.")
    return None


@hookimpl
def trainer_session_full(training_session, user):
    waiting = service.waiting_count(training_session.id)
    join_url = url_for("waiting_list.join", session_id=training_session.id)
    people = "1 person is" if waiting == 1 else f"{waiting} people are"
    if user is not None:
        entry = service.entry_for(user, training_session.id)
        if entry is not None:
            offer = service.open_offer(entry)
            if offer is not None:
                return FullAnswer(
                    "A place is being held for you on this session.",
                    url=url_for("waiting_list.answer_offer",
                                token=service.offer_token(offer), answer="accept"),
                    link_text="Accept or decline the place",
                )
            return FullAnswer(
                f"This training session is fully booked. {service.position_text(entry)}",
                url=url_for("bookings.my_training"),
                link_text="See your waiting lists",
            )
    already = f" {people} already waiting." if waiting else ""
    return FullAnswer(
        f"This training session is fully booked.{already} Join the waiting list and we will "
        "email you if a place comes up.",
        url=join_url,
        link_text="Join the waiting list",
    )


@hookimpl
def trainer_booking_confirmed(booking):
    service.booking_confirmed(booking)


@hookimpl
def trainer_places_freed(training_session):
    service.offer_free_places(training_session)


@hookimpl
def trainer_session_ended(training_session):
    service.session_ended(training_session)


@hookimpl
def trainer_session_cancelled(training_session):
    service.session_cancelled(training_session)


@hookimpl
def trainer_tick(now):
    expired = service.expire_offers(now)
    reminded = service.remind_offers(now)
    offered = service.fill_free_places(now)
    return (f"Waiting lists: {expired} offers expired, {reminded} reminders sent, "
            f"{offered} places offered")


@hookimpl
def trainer_page_panels(page, obj, user):
    from trainer.plugins.waiting_list import views

    if user is None or not getattr(user, "is_authenticated", True):
        return None
    if page == "session":
        return views.session_panel(obj, user)
    if page == "my_training":
        return views.my_training_panel(user)
    if page == "manage_session":
        return views.manage_session_panel(obj)
    if page == "la_dashboard" and obj is not None:
        from trainer.plugins.waiting_list import la_panel

        return la_panel.la_dashboard_panel(obj)
    return None


@hookimpl
def trainer_report_sections(user):
    from trainer.plugins.waiting_list import demand

    figures = demand.headline(user)
    html = render_template("waiting_list/_report_section.html", figures=figures)
    return [ReportSection("Waiting lists and demand", html,
                          url=url_for("waiting_list.demand_report"), order=30)]


@hookimpl
def trainer_user_data(user):
    from trainer.plugins.waiting_list import privacy

    return privacy.user_data(user)


@hookimpl
def trainer_erase_user(user):
    from trainer.plugins.waiting_list import privacy

    return privacy.erase_user(user)


@hookimpl
def trainer_demo_data(rng, echo):
    from trainer.plugins.waiting_list import demo

    return demo.create(rng, echo)


@hookimpl
def trainer_people_waiting(training_session_ids):
    from trainer.plugins.waiting_list import demand

    return demand.people_waiting(training_session_ids)
