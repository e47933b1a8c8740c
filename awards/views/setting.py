"""Placeholder."""

from awards.views import bp  # noqa: F401
