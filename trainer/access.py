"""Who may do what. Deny by default.

Every view states who may see it with exactly one of these decorators: :func:`public`,
:func:`signed_in`, :func:`roles_required`. A view without one is refused to everybody
(403), checked by ``before_request`` in :func:`init_app`; a test walks ``app.url_map`` so a new
route without a rule fails the suite.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from flask import Flask, abort, current_app, request
from flask_login import current_user

from trainer.people import Role

View = TypeVar("View", bound=Callable)
RULE_ATTRIBUTE = "_trainer_access"


def public(view: View) -> View:
    """Anybody, signed in or not, may see this view."""
    setattr(view, RULE_ATTRIBUTE, "public")
    return view


def signed_in(view: View) -> View:
    """Any signed-in user may see this view; visitors are sent to sign in."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()
        return view(*args, **kwargs)

    setattr(wrapped, RULE_ATTRIBUTE, "signed_in")
    return wrapped  # type: ignore[return-value]


def roles_required(*roles: Role) -> Callable[[View], View]:
    """Only users holding one of ``roles`` may see this view (403 for others)."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        setattr(wrapped, RULE_ATTRIBUTE, "roles:" + ",".join(sorted(map(str, roles))))
        return wrapped  # type: ignore[return-value]

    return decorate


def rule_of(view: Callable) -> str | None:
    """The access rule a view declared, or ``None``."""
    return getattr(view, RULE_ATTRIBUTE, None)


def init_app(app: Flask) -> None:
    """Refuse any request whose view declared no access rule."""

    @app.before_request
    def _deny_undeclared():
        if request.endpoint is None:
            return None  # 404 and 405 are answered by Flask itself
        view = app.view_functions.get(request.endpoint)
        if view is not None and rule_of(view) is None:
            abort(403)
        return None
