"""Reports: one page gathering the sections plugins add (``trainer_report_sections``).

Trainers and administrators only. Each plugin decides what a given user may see in its
section (a trainer sees their own partner's courses and sessions); the core only lays the
sections out, in order.
"""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from trainer import hooks
from trainer.access import MANAGERS, roles_required

bp = Blueprint("reports", __name__, url_prefix="/reports")


def report_sections(user) -> list[hooks.ReportSection]:
    """Every plugin's sections for ``user``, in order."""
    sections = []
    for result in hooks.call("trainer_report_sections", user=user):
        sections.extend(result if isinstance(result, list | tuple) else [result])
    return sorted(sections)


@bp.route("/")
@roles_required(*MANAGERS)
def index():
    """The reports page: every section plugins add, or a note when there is none."""
    return render_template(
        "reports/index.html", sections=report_sections(current_user._get_current_object())
    )
