"""Award schemes: kite-marking with evidence, moderation panels, decisions, awards and renewals.

A plugin package of its own, registered through the ``trainer.plugins`` entry point as
``awards``. It depends on the core and never the other way round: it talks to it only through
hooks and public functions. Disable it (``TRAINER_DISABLED_PLUGINS=awards``) and nothing else
changes.

* Schemes are data: one TOML file per scheme under ``awards/schemes/`` (:mod:`awards.schemes`),
  read at start-up; an invalid file stops the application with the file, line and reason.
* The setting's journey (applications, self-assessment, evidence, staff audit, renewals) is in
  :mod:`awards.applications`; panels, declarations, assessments and decisions in
  :mod:`awards.moderation`; awards, the public register, verification, reminders and the
  celebration report in :mod:`awards.register`.
* Who may see what: :mod:`awards.permissions`. Every change is written to the append-only
  log in :mod:`awards.audit`.
"""

from __future__ import annotations

from flask import current_app, url_for

from awards import audit, models, schemes  # noqa: F401  (tables and triggers)
from trainer.hooks import NavItem
from trainer.hookspecs import hookimpl


@hookimpl
def trainer_blueprints():
    from awards.views import bp

    schemes.install(current_app)
    return [bp]


@hookimpl
def trainer_nav_items(user):
    return [NavItem("Awards", url_for("awards.home"), order=70)]


@hookimpl
def trainer_tick(now):
    from awards import register

    sent = register.send_expiry_reminders(now)
    return f"Awards: {sent} expiry reminders sent"


# Optional: the waiting list plugin adds this hook; with it disabled there is nothing to do.
@hookimpl(optionalhook=True)
def trainer_waitlist_priority(entry):
    from awards import register
    from trainer.db import utcnow
    from trainer.times import to_london

    return register.waitlist_priority(entry.user, to_london(entry.joined_at or utcnow()).date())


@hookimpl
def trainer_user_data(user):
    from awards import privacy

    return privacy.user_data(user)


@hookimpl
def trainer_erase_user(user):
    from awards import privacy

    return privacy.erase_user(user)


@hookimpl
def trainer_demo_data(rng, echo):
    from awards import demo

    return demo.create(rng, echo)


@hookimpl
def trainer_page_panels(page, obj, user):
    if page == "la_dashboard" and obj is not None:
        from awards import la_panel

        return la_panel.la_dashboard_panel(obj)
    if page != "dashboard" or user is None or not getattr(user, "is_authenticated", False):
        return None
    from awards import dashboard

    return dashboard.dashboard_panels(user)


@hookimpl
def trainer_report_sections(user):
    from awards import dashboard

    return dashboard.report_sections(user)


@hookimpl
def trainer_file_folders():
    from awards import config

    return {"evidence": config.evidence_path()}
