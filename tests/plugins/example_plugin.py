"""An example plugin, written as a third-party one would be.

It uses only the public interface: ``trainer.hookspecs.hookimpl``, the view decorators of
``trainer.access`` and ``trainer.hooks.NavItem``/``Panel``. It hands in one page, a navigation
item to it, a panel for the dashboard and a summary line for ``flask trainer tick``.

Install it through an entry point::

    [options.entry_points]
    trainer.plugins =
        example = tests.plugins.example_plugin
"""

from __future__ import annotations

from flask import Blueprint, render_template_string, url_for
from markupsafe import escape

from trainer.access import public
from trainer.hooks import NavItem, Panel
from trainer.hookspecs import hookimpl

PAGE_TITLE = "Example plugin page"
PANEL_TITLE = "From the example plugin"
TICK_SUMMARY = "Example plugin: nothing was due"

bp = Blueprint("example", __name__, url_prefix="/example")

PAGE = """{% extends "base.html" %}
{% block title %}{{ title }}{% endblock %}
{% block main_content %}
<h1 class="govuk-heading-l">{{ title }}</h1>
<p class="govuk-body">This page comes from a plugin.</p>
{% endblock %}"""


@bp.route("/")
@public
def index():
    """The plugin's one page."""
    return render_template_string(PAGE, title=PAGE_TITLE)


@hookimpl
def trainer_blueprints():
    return [bp]


@hookimpl
def trainer_nav_items(user):
    return [NavItem("Example", url_for("example.index"), order=60)]


@hookimpl
def trainer_page_panels(page, obj, user):
    if page != "dashboard" or user is None:
        return None
    return [Panel(PANEL_TITLE, f'<p class="govuk-body">Hello, {escape(user.name)}.</p>')]


@hookimpl
def trainer_tick(now):
    return TICK_SUMMARY
