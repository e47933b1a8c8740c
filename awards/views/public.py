"""Placeholder."""

from awards.views import bp  # noqa: F401
from flask import render_template

from trainer.access import public


@bp.route("/")
@public
def home():
    """About the award schemes."""
    return render_template("awards/home.html")
