"""The awards pages, one module per audience: :mod:`.public` (about the schemes, the register
of award holders, verification), :mod:`.setting` (applicants and staff), :mod:`.panel`
(moderation panel members), :mod:`.admin` (administrators: applications, panels, the audit
log) and :mod:`.admin_awards` (administrators: awards, withdrawal, the celebration report)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("awards", __name__, url_prefix="/awards")


def page_number() -> int:
    """The ``?page=`` asked for (1 when absent); 404 for anything that is not a page."""
    from flask import abort, request

    page = request.args.get("page", "1")
    if not page.isascii() or not page.isdigit() or int(page) < 1:
        abort(404)
    return int(page)


from awards.views import admin, admin_awards, panel, public, setting  # noqa: E402,F401
