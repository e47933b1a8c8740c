"""Signed, expiring tokens for links in emails.

A token carries a small payload signed with the app's secret key and a purpose (``salt``), so a
token made for one purpose is useless for another. Single use comes from a ``state`` value:
the payload records some state the link changes (the password hash for a reset link, the
unverified email for a verification link), and :func:`read` refuses the token once that state
has moved on.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer


class TokenError(Exception):
    """The link is not valid. ``expired`` tells an old link from a damaged one."""

    def __init__(self, expired: bool = False):
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


def fingerprint(value: str) -> str:
    """A short digest of ``value`` to embed as single-use state without revealing it."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:16]


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"trainer.{purpose}")


def make(purpose: str, payload: Any) -> str:
    """A URL-safe token for ``purpose`` carrying ``payload`` (JSON-serialisable)."""
    return _serializer(purpose).dumps(payload)


def read(purpose: str, token: str, max_age_seconds: int) -> Any:
    """The payload of ``token``; raises :class:`TokenError` when tampered with or too old."""
    try:
        return _serializer(purpose).loads(token, max_age=max_age_seconds)
    except SignatureExpired as error:
        raise TokenError(expired=True) from error
    except BadSignature as error:
        raise TokenError() from error
