"""The awards' panel on a local authority's dashboard: settings in the area holding an award
today, with the scheme, the outcome and when it expires. Award holders are public (the
register), so everybody who may see the dashboard sees them."""

from __future__ import annotations

import sqlalchemy as sa
from flask import render_template, url_for
from markupsafe import Markup

from awards import register
from awards.models import Award
from awards.schemes import outcome_label, scheme_name
from trainer.db import db
from trainer.hooks import Panel
from trainer.people import LocalAuthority, Setting

SHOWN = 25


def la_dashboard_panel(authority: LocalAuthority) -> list[Panel]:
    """Current award holders in ``authority``, soonest to expire first (the first
    ``SHOWN``), and how many there are."""
    today = register.london_today()
    current = register.current_awards(today, authority.id)
    total = db.session.scalar(
        sa.select(sa.func.count()).select_from(current.order_by(None).subquery()))
    rows = db.session.execute(
        current.with_only_columns(Setting.name, Award.scheme_key, Award.outcome_key,
                                  Award.expires_on)
        .order_by(None).order_by(Award.expires_on, Setting.name, Award.id).limit(SHOWN)
    ).all()
    holders = [{"setting": name, "scheme": scheme_name(scheme),
                "outcome": outcome_label(scheme, outcome), "expires_on": expires_on}
               for name, scheme, outcome, expires_on in rows]
    html = render_template(
        "awards/_la_panel.html", authority=authority, holders=holders, total=total,
        register_url=url_for("awards.register", local_authority=authority.id))
    return [Panel("Award holders", Markup(html), order=30)]
