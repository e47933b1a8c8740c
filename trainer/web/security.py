"""Security headers on every response, and the one test for redirect targets a request names.

Every response (pages, error pages, CSV, JSON, calendar feeds, files, static assets) carries a
Content Security Policy and the usual companions. Scripts run only from this site, plus GOV.UK
Frontend's one inline snippet (``js-enabled``), which the page template marks with a nonce made
afresh for each request. Styles come only from this site's stylesheets: no template uses a
``style`` attribute or element, and the SVG charts use presentation attributes only.

A response that already has a ``Content-Security-Policy`` (a view with stricter needs) keeps it.
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, current_app, g

NONCE_BYTES = 16

# One directive a line; the script directive gains the request's nonce when a page used one.
POLICY = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"
FIXED_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": PERMISSIONS_POLICY,
}


def init_app(app: Flask) -> None:
    """Add the headers to every response and offer ``cspNonce`` to templates.

    GOV.UK Frontend's page template puts ``cspNonce`` on its inline script.
    """
    app.context_processor(lambda: {"cspNonce": csp_nonce()})
    app.after_request(add_security_headers)


def csp_nonce() -> str:
    """This request's script nonce, made on first use."""
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(NONCE_BYTES)
    return nonce


def content_security_policy(nonce: str | None = None) -> str:
    """The policy, allowing the inline script marked with ``nonce`` when one is given."""
    directives = list(POLICY)
    if nonce:
        directives[directives.index("script-src 'self'")] += f" 'nonce-{nonce}'"
    return "; ".join(directives)


def sends_strict_transport_security(app: Flask) -> bool:
    """Whether browsers are told to use HTTPS only: when the site's address is https and the
    app is not in debug mode (a developer's http://127.0.0.1 must keep working)."""
    external_url = str(app.config.get("EXTERNAL_URL", ""))
    return external_url.lower().startswith("https://") and not app.debug


def add_security_headers(response: Response) -> Response:
    """Set the security headers on ``response`` (an ``after_request`` hook)."""
    headers = response.headers
    if "Content-Security-Policy" not in headers:
        headers["Content-Security-Policy"] = content_security_policy(g.get("csp_nonce"))
    for name, value in FIXED_HEADERS.items():
        headers.setdefault(name, value)
    if sends_strict_transport_security(current_app):
        headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
    return response


def local_url(target: str | None) -> str | None:
    """``target`` when it is a path on this site (``/...``), else ``None``.

    For redirects to an address taken from the request (``next``, ``then``): never another
    site. Refused: anything with a scheme or host (``https://x``, ``https:x``,
    ``javascript:``), a path starting ``//`` or containing a backslash (browsers read both as
    another host), and control characters, which browsers drop from addresses (``/<tab>/x``
    becomes ``//x``) and which cannot go into a header (CR and LF).
    """
    if not isinstance(target, str) or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(character) < 32 or ord(character) == 127
                             for character in target):
        return None
    return target
