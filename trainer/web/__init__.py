"""The web face: blueprints, the page context every template sees, and error pages."""

from __future__ import annotations

import logging

from flask import Flask, g, make_response, render_template, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from trainer import hooks, times
from trainer.db import Busy, db, is_lock_error, is_unreachable, prefer_write_lock
from trainer.hooks import NavItem

log = logging.getLogger(__name__)

limiter = Limiter(key_func=get_remote_address)


def register_blueprints(app: Flask) -> None:
    """Register the core's blueprints, then every plugin's (``trainer_blueprints``)."""
    from trainer.web import (
        account,
        admin,
        api,
        auth,
        bookings,
        catalogue,
        imports,
        la,
        manage,
        pages,
        reports,
        security,
        session_requests,
    )

    limiter.init_app(app)
    security.init_app(app)
    for module in (pages, auth, account, catalogue, bookings, manage, reports, api, admin,
                   imports):
        app.register_blueprint(module.bp)
    for module in (la, session_requests):
        app.register_blueprint(module.bp)
    with app.app_context():
        for result in hooks.call("trainer_blueprints"):
            for blueprint in result if isinstance(result, list | tuple) else [result]:
                app.register_blueprint(blueprint)

    _make_static_public(app)

    @app.before_request
    def _lock_for_writes():
        prefer_write_lock(request.method not in ("GET", "HEAD", "OPTIONS"))

    @app.teardown_request
    def _forget_lock_preference(_error):
        # The preference lives in a context variable; a thread that serves (or tests) one
        # request and then reads outside any request must not inherit it.
        prefer_write_lock(False)

    app.context_processor(_page_context)
    app.add_template_filter(times.moment, "london_moment")
    app.add_template_filter(times.span, "london_span")
    app.add_template_filter(times.day, "london_day")
    _register_error_pages(app)


def _make_static_public(app: Flask) -> None:
    """Flask's own static view (stylesheets, scripts, icons) declares no access rule, so
    deny-by-default refused it; everybody may fetch those files."""
    from trainer.access import public

    static = app.view_functions.get("static")
    if static is None:
        return

    @public
    def serve_static(filename: str):
        return static(filename=filename)

    app.view_functions["static"] = serve_static


def nav_items(user) -> list[NavItem]:
    """The main navigation for ``user``: the core's items and every plugin's, in order."""
    from flask import url_for

    items: list[NavItem] = [NavItem("Find training", url_for("catalogue.find_training"), 20)]
    if user is not None:
        items.append(NavItem("Home", url_for("pages.dashboard"), 10))
        items.append(NavItem("My training", url_for("bookings.my_training"), 25))
        if user.has_role("trainer", "admin"):
            items.append(NavItem("Manage training", url_for("manage.index"), 30))
            items.append(NavItem("Reports", url_for("reports.index"), 70))
        if user.has_role("la_officer"):
            items.append(NavItem("Your area", url_for("la.index"), 55))
        items.append(NavItem("Your account", url_for("account.profile"), 80))
        if user.has_role("admin"):
            items.append(NavItem("Administration", url_for("admin.index"), 90))
    for result in hooks.call("trainer_nav_items", user=user):
        items.extend(result if isinstance(result, list | tuple) else [result])
    return sorted(items)


def page_panels(page: str, obj, user) -> list:
    """Panels plugins add to ``page`` (``trainer_page_panels``), in order."""
    panels = []
    for result in hooks.call("trainer_page_panels", page=page, obj=obj, user=user):
        panels.extend(result if isinstance(result, list | tuple) else [result])
    return sorted(panels)


def _page_context():
    from flask import current_app

    user = current_user if current_user.is_authenticated else None
    path = request.path
    items = []
    for item in nav_items(user):
        active = item.href == path or (
            item.href != "/" and path.startswith(item.href.rstrip("/") + "/")
        )
        items.append({"text": item.text, "href": item.href, "active": active})
    return {
        "service_name": current_app.config["SERVICE_NAME"],
        "navigation_items": items,
        "Markup": Markup,
    }


def _register_error_pages(app: Flask) -> None:
    titles = {
        400: ("Sorry, there is a problem with your request", "Go back and try again."),
        403: (
            "You do not have permission to see this page",
            "If you think you should, contact your administrator.",
        ),
        404: (
            "Page not found",
            "If you typed the web address, check it is correct. If you pasted it, check you "
            "copied the entire address.",
        ),
        405: ("Sorry, there is a problem with your request", "Go back and try again."),
        413: ("The file or form is too large", "Go back and send something smaller."),
        429: (
            "Too many attempts",
            "You have tried too many times. Wait a few minutes, then try again.",
        ),
        500: (
            "Sorry, there is a problem with the service",
            "Try again later. Nothing you sent was saved.",
        ),
        503: (
            "Sorry, the service is busy",
            "Nothing was saved. Wait a moment and try again.",
        ),
    }

    def _database_unreachable(error):
        """The database has gone away: say so without touching it again (the page is drawn
        for a signed-out visitor, so nobody's account is looked up). The pool drops the dead
        connections, and the next request connects afresh."""
        log.error("database unreachable on %s: %s", request.path, error)
        try:
            db.session.rollback()
        except Exception:  # the connection is gone; the session is reset all the same
            db.session.close()
        g._login_user = app.login_manager.anonymous_user()
        response = make_response(
            render_template(
                "errors/error.html",
                title="Sorry, the service is unavailable",
                body="We cannot reach the database just now. Nothing you sent was saved. "
                "Try again in a minute.",
            ),
            503,
        )
        response.headers["Retry-After"] = "30"
        return response

    def render(code: int, detail: str | None = None):
        title, body = titles.get(code, titles[500])
        try:
            return render_template("errors/error.html", title=title, body=detail or body), code
        except Exception as error:  # drawing the page needed the database (who is signed in)
            if is_unreachable(error):
                return _database_unreachable(error)
            raise

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        response = make_response(render(error.code if error.code in titles else 400))
        # The error's own headers say what to do next: ``Allow`` on a 405 (RFC 9110 requires
        # it), ``Retry-After`` and the like; the page brings its own content type.
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(CSRFError)
    def _csrf_error(error):
        return render(
            400,
            "The form had expired or was sent from another site, so nothing was saved. "
            "Go back, reload the page and try again.",
        )

    @app.errorhandler(Busy)
    def _busy(error):
        db.session.rollback()
        return render(503)

    @app.errorhandler(Exception)
    def _unexpected(error):
        if is_unreachable(error):
            return _database_unreachable(error)
        if is_lock_error(error):
            db.session.rollback()
            log.warning("database busy on %s: %s", request.path, error)
            return render(503)
        log.exception("unhandled error on %s", request.path)
        db.session.rollback()
        return render(500)
