"""The awards package's configuration keys and their defaults. Each can be set like any other
key (``instance/config.py`` or a ``TRAINER_`` environment variable)."""

from __future__ import annotations

from pathlib import Path

from flask import current_app

DEFAULTS = {
    # Extra directories of scheme files, read after the shipped awards/schemes/.
    "AWARDS_SCHEME_DIRS": [],
    # Read the shipped schemes (turn off to offer only your own).
    "AWARDS_SHIPPED_SCHEMES": True,
    # Where evidence files are kept (never under static/): default instance/evidence.
    "AWARDS_EVIDENCE_DIR": "",
    # Limits for schemes that set none of their own.
    "AWARDS_MAX_FILES": 30,
    "AWARDS_MAX_FILE_MEGABYTES": 10,
    # Days before expiry that award holders are reminded to renew.
    "AWARDS_REMINDER_DAYS": [90, 30],
}


def get(name: str):
    """The configured value of ``name``, or its default. Values from environment variables
    arrive as text and are read as the default's type."""
    from trainer.config import convert

    default = DEFAULTS[name]
    value = current_app.config.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, str) and not isinstance(default, str):
        return convert(name, value, default)
    return value


def evidence_path() -> Path:
    """Where evidence files are kept, whether or not the folder exists yet."""
    configured = current_app.config.get("AWARDS_EVIDENCE_DIR") or ""
    return Path(configured) if configured else Path(current_app.instance_path) / "evidence"


def evidence_directory() -> Path:
    """The evidence folder, created when missing."""
    path = evidence_path()
    path.mkdir(parents=True, exist_ok=True)
    return path
