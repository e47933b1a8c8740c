"""Configuration defaults.

Order of precedence, lowest first: the defaults below, ``instance/config.py``, ``TRAINER_*``
environment variables, then the ``config`` mapping given to :func:`trainer.create_app`.
"""

from __future__ import annotations

import os
from typing import Any

# Defaults. Every key can be overridden by an environment variable of the same name prefixed
# with ``TRAINER_`` (``TRAINER_DATABASE_URL`` sets ``DATABASE_URL``).
SERVICE_NAME = "Early years SEND training"
SECRET_KEY: str | None = None
DATABASE_URL: str | None = None  # None: instance/trainer.sqlite
DATABASE_LOCK_TIMEOUT_SECONDS = 5
MAIL_TRANSPORT = "file"  # file | memory | sendgrid
MAIL_FROM = "training@example.org"
MAIL_FROM_NAME = "Early years SEND training"
MAIL_MAX_ATTEMPTS = 8
MAIL_RETRY_BASE_SECONDS = 60
MAIL_SENDING_TIMEOUT_SECONDS = 600
SENDGRID_API_KEY: str | None = None
SENDGRID_HOST = "https://api.sendgrid.com"
SENDGRID_TIMEOUT_SECONDS = 30
DISABLED_PLUGINS: list[str] = []  # plugin names (entry-point names) to leave out
# Extra plugins to register besides the ``trainer.plugins`` entry points: plugin objects or
# dotted module names ("mypackage.myplugin"). Named by their module name for DISABLED_PLUGINS.
PLUGINS: list = []
EMAIL_TOKEN_MAX_AGE_SECONDS = 3 * 24 * 3600
PASSWORD_RESET_MAX_AGE_SECONDS = 3600
PASSWORD_MIN_LENGTH = 10
PASSWORD_HASH_METHOD = "scrypt"  # werkzeug method string; scrypt is salted and memory-hard
LOGIN_RATE_LIMIT = "10 per 5 minutes"
RATELIMIT_STORAGE_URI = "memory://"
RATELIMIT_ENABLED = True
EXTERNAL_URL = "http://127.0.0.1:5000"
# Reverse proxies in front of the app (nginx, a load balancer) whose X-Forwarded-For, -Proto,
# -Host, -Port and -Prefix headers are trusted; 0 trusts none. Never more than really add them:
# a client can send these headers too.
PROXY_FIX = 0
TIMEZONE = "Europe/London"
PAGE_SIZE = 25

# Types used to turn environment strings into values.
_BOOLEAN_TRUE = {"1", "true", "yes", "on"}


def convert(name: str, raw: str, default: Any) -> Any:
    """Turn the environment string ``raw`` into the type of ``default``.

    Lists are comma separated; booleans accept 1/true/yes/on. Raises ``ValueError`` with the
    variable's name when the value cannot be read.
    """
    if isinstance(default, bool):
        return raw.strip().lower() in _BOOLEAN_TRUE
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError as error:
            raise ValueError(f"TRAINER_{name} must be a whole number, not {raw!r}") from error
    if isinstance(default, list):
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


def number_setting(name: str, default: int) -> int:
    """The current app's config value ``name`` as a whole number (``default`` when unset), for
    plugins whose defaults live with them; a value that is not a number raises
    :class:`ValueError` naming it."""
    from flask import current_app

    value = current_app.config.get(name, default)
    try:
        return int(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be a whole number, not {value!r}") from error


def from_environment(
    defaults: dict[str, Any],
    environ: dict[str, str] | None = None,
    problems: list[str] | None = None,
) -> dict:
    """Return the ``TRAINER_*`` variables found in ``environ`` as config values.

    A value that cannot be read raises :class:`ValueError`, or with a ``problems`` list is
    left out and its message added to the list.
    """
    environ = os.environ if environ is None else environ
    found = {}
    for key, raw in environ.items():
        if not key.startswith("TRAINER_"):
            continue
        name = key[len("TRAINER_"):]
        try:
            found[name] = convert(name, raw, defaults.get(name, ""))
        except ValueError as error:
            if problems is None:
                raise
            problems.append(f"{error}; the default is used until it is fixed.")
    return found

# Booking engine and catalogue.
TWILIGHT_FROM = "17:00"  # London time; weekday sessions starting then or later are "twilight"
REMINDER_HOURS_BEFORE = 48
ONLINE_REMINDER_HOURS_BEFORE = 1

# CSV imports (Administration → Imports): the largest file accepted, in bytes, and the most
# rows of data in one file.
IMPORT_MAX_BYTES = 5 * 1024 * 1024
IMPORT_MAX_ROWS = 10_000

# Reports: keep reach figures and the national overview in each process until a change moves
# them (see trainer/reports.py). Switch off only to measure the work behind them.
REPORT_CACHE = True
