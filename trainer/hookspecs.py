"""Every hook of trainer, each with its contract.

Plugins implement hooks with ``@hookimpl``::

    from trainer.hookspecs import hookimpl

    @hookimpl
    def trainer_nav_items(user):
        return [NavItem("Waiting lists", "/waiting-lists")]

The core calls hooks only through :func:`trainer.hooks.call`, with keyword arguments. A hook
returns a list of the non-``None`` results of every plugin, unless it is marked ``firstresult``,
when the first non-``None`` result wins. ``docs/plugin_hooks.md`` documents each one with an
example.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("trainer")
hookimpl = pluggy.HookimplMarker("trainer")


@hookspec
def trainer_blueprints():
    """Hand in Flask blueprints to register, at app start.

    Called once in :func:`trainer.create_app` after the core's blueprints are registered.

    :return: a list of :class:`flask.Blueprint` (or a single blueprint). Every view of a
        blueprint must state who may see it with the decorators in :mod:`trainer.access`.
    """


@hookspec
def trainer_nav_items(user):
    """Add items to the main navigation, for every page.

    :param user: the signed-in :class:`trainer.people.User`, or ``None`` for a visitor.
    :return: a list of :class:`trainer.hooks.NavItem` (``text``, ``href``, optional
        ``order``, lower first; the core's items use 10 to 90). Return only items the user
        may follow.
    """


@hookspec
def trainer_page_panels(page, obj, user):
    """Add panels to a core page.

    :param page: the page's name: ``"dashboard"`` (the signed-in home page; ``obj`` is
        ``None``), ``"profile"`` (``obj`` is the user), and later ``"session"`` and
        ``"booking"``.
    :param obj: the object the page shows, or ``None``.
    :param user: the signed-in user, or ``None``.
    :return: a list of :class:`trainer.hooks.Panel` (``title``, ``html`` — already-escaped
        markup, use :func:`flask.render_template` — and optional ``order``).
    """


@hookspec
def trainer_tick(now):
    """Do time-based work. Called by ``flask trainer tick`` after the core's own work.

    ``tick`` may run every minute, twice at once on two hosts, or after a week's gap, so an
    implementation must be idempotent: decide from the database what is due (not from how
    long ago the last tick was), claim it in a transaction, and record that it was done.

    :param now: the current time as an aware UTC :class:`datetime.datetime`.
    :return: optionally a short summary string for the command's output.
    """
