"""Confidence questionnaires: before, after and follow-up ratings, evaluations and analysis.

A built-in plugin, registered through the ``trainer.plugins`` entry point as ``confidence``,
that talks to the core only through hooks and public functions. Disable it
(``TRAINER_DISABLED_PLUGINS=confidence``) and booking works exactly as before.

* ``trainer_booking_email``: the link to the questionnaire before the training, in the
  booking confirmation and the reminder two days before.
* ``trainer_session_ended`` / ``trainer_attendance_recorded``: the questionnaire after the
  training goes to those marked attended, once the session has ended.
* ``trainer_tick``: follow-up questionnaires weeks later; answers detached from people after
  the retention period.
* ``trainer_page_panels``: links on the booking page, My training and the trainers' session page;
  confidence change for people from the area on a local authority's dashboard
  (:mod:`.la_panel`).
* ``trainer_user_data`` / ``trainer_erase_user``: subject access and erasure.
* ``trainer_importers``: questionnaire answers from a CSV file (:mod:`.importer`).

The rules live in :mod:`.service`, the statistics in :mod:`.analysis`, the figures for a scope in
:mod:`.report`, the pages in :mod:`.views` and the panels on core pages in :mod:`.panels`.
"""

from __future__ import annotations

from flask import render_template, url_for

from trainer.db import utcnow
from trainer.hooks import NavItem, ReportSection
from trainer.hookspecs import hookimpl
from trainer.plugins.confidence import models, privacy, service

__all__ = ["models", "service"]


@hookimpl
def trainer_blueprints():
    from trainer.plugins.confidence.views import bp

    return [bp]


@hookimpl
def trainer_nav_items(user):
    from trainer.plugins.confidence import report

    if user is None or not getattr(user, "is_authenticated", False):
        return None
    if report.may_see_analysis(user) and report.suppresses(user):
        return [NavItem("Training impact", url_for("confidence.analysis_page"), order=60)]
    return None


@hookimpl
def trainer_booking_email(booking, template):
    return service.booking_email_paragraphs(booking, template)


@hookimpl
def trainer_session_ended(training_session):
    service.invite_after(training_session)


@hookimpl
def trainer_attendance_recorded(booking, meeting):
    training_session = booking.training_session
    now = utcnow()
    if training_session.ends_at is not None and training_session.ends_at <= now:
        service.invite(booking, models.Stage.POST, now)


@hookimpl
def trainer_booking_cancelled(booking):
    service.forget_unattended(booking.training_session_id, booking.user_id)


@hookimpl
def trainer_session_cancelled(training_session):
    service.forget_unattended(training_session.id)


@hookimpl
def trainer_tick(now):
    followed_up = service.send_follow_ups(now)
    detached = service.detach_expired(now)
    return (f"Questionnaires: {followed_up} follow-ups sent, "
            f"{detached} people's answers detached after the retention period")


@hookimpl
def trainer_page_panels(page, obj, user):
    from trainer.plugins.confidence import panels

    if user is None or not getattr(user, "is_authenticated", True):
        return None
    if page == "booking":
        return panels.booking_panel(obj, user)
    if page == "my_training":
        return panels.my_training_panel(user)
    if page == "manage_session":
        return panels.manage_session_panel(obj)
    if page == "la_dashboard":
        from trainer.plugins.confidence import la_panel

        return la_panel.la_dashboard_panel(obj, user)
    return None


@hookimpl
def trainer_report_sections(user):
    from trainer.plugins.confidence import report

    html = render_template("confidence/_report_section.html", counts=report.headline(user))
    return [ReportSection("Confidence and evaluations", html,
                          url=url_for("confidence.analysis_page"), order=40)]


@hookimpl
def trainer_user_data(user):
    return privacy.user_data(user)


@hookimpl
def trainer_erase_user(user):
    return privacy.erase_user(user)


@hookimpl
def trainer_importers():
    from trainer.plugins.confidence.importer import QuestionnaireAnswersImporter

    return [QuestionnaireAnswersImporter()]


@hookimpl
def trainer_demo_data(rng, echo):
    from trainer.plugins.confidence import demo

    return demo.create(rng, echo)
