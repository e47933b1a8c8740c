"""Running training: the trainers' pages for courses, training sessions, their meetings,
capacity, cancelling, and registers.

Trainers and administrators only. A trainer manages the courses of their own delivery partner
and the training sessions they run or that belong to those courses; an administrator manages
everything (DESIGN guarantee 5, checked in every view). Times are typed in London time and
stored in UTC. Every form is validated in full before anything is written, and each change is
written in one transaction, so bad input never half-saves.

This module holds the ``manage`` blueprint; the pages are in :mod:`.courses`,
:mod:`.sessions` and :mod:`.registers`, their forms in :mod:`.forms` and
:mod:`.session_form`, and who may manage what in :mod:`trainer.access`.
"""

from __future__ import annotations

from flask import Blueprint, abort, request

bp = Blueprint("manage", __name__, url_prefix="/manage")


def page_number() -> int:
    """The ``page`` asked for in a paged list; 404 for one before the first."""
    page = request.args.get("page", 1, type=int)
    if page < 1:
        abort(404)
    return page


# The page modules add their routes to ``bp`` as they are imported, so they come after it.
from trainer.web.manage import courses, registers, sessions  # noqa: E402, F401
