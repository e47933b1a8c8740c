"""Every form, posted with bad values by every kind of user: a clear answer, never a 500.

For each role the test signs in to the world of :mod:`tests.authorisation_world`, opens every
page the authorisation matrix says the role may see, finds each ``<form method="post">`` on
it and posts it again and again: with every field left out, empty, huge, of the wrong type,
carrying markup and script, Unicode edge cases (a NUL, right-to-left override, emoji,
combining marks) and SQL-like text. Each answer must be a page or a redirect, not a server
error; no marker of the hostile markup may come back unescaped, on the answer or on the page
it leads to; and a form shown again with an error summary must have changed nothing.

Forms change the world as they succeed (a booking cancelled, an application withdrawn), so
the page is fetched again before each post and a form that has gone is left.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest

from tests.authorisation_world import build_world
from tests.conftest import Auth, Browser
from tests.test_authorisation_matrix import OK, READ_ONLY, _changes, _method_of, _snapshot, _urls

ROLES = ("anonymous", "owner", "trainer_a", "la_officer_a", "moderator_assigned", "admin")

MARKUP = "\"'><img src=x onerror=alert(1)><script>alert('fuzz')</script>"
UNESCAPED = (b"<script>alert('fuzz')", b"<img src=x onerror")
KINDS = {
    "missing": None,
    "empty": "",
    "huge": "\u00e9" * 20_000,
    "wrong type": "-1e309",
    "markup": MARKUP,
    "unicode": "Zo\u00eb \u0000 \u202eevil\u202c \U0001F600 e\u0301 \ufeff\u200b",
    "sql-like": "' OR 1=1; DROP TABLE users; --",
}
SKIPPED_ACTIONS = ("/auth/sign-out",)


@dataclass
class Form:
    action: str
    fields: dict[str, list[str]] = field(default_factory=dict)  # name -> values offered
    files: bool = False


class FormFinder(HTMLParser):
    """The post forms of a page, each with its fields and the values it offers."""

    def __init__(self, url: str):
        super().__init__()
        self.url = url
        self.forms: list[Form] = []
        self.current: Form | None = None
        self.select: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form":
            if (attributes.get("method") or "get").lower() == "post":
                action = attributes.get("action") or self.url
                self.current = Form(urljoin(self.url, action))
            return
        if self.current is None:
            return
        name = attributes.get("name")
        if tag in ("input", "textarea", "select", "button") and name:
            if tag == "input" and attributes.get("type") == "file":
                self.current.files = True
            values = self.current.fields.setdefault(name, [])
            if tag in ("input", "button") and attributes.get("value") is not None:
                values.append(attributes["value"])
            if tag == "select":
                self.select = name
        elif tag == "option" and self.select and attributes.get("value") is not None:
            self.current.fields[self.select].append(attributes["value"])

    def handle_endtag(self, tag):
        if tag == "form" and self.current is not None:
            self.forms.append(self.current)
            self.current = None
        elif tag == "select":
            self.select = None


def forms_on(url: str, body: str) -> list[Form]:
    finder = FormFinder(url)
    finder.feed(body)
    return finder.forms


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _payload(form: Form, token: str, value: str | None) -> dict:
    data = {"csrf_token": token}
    if value is None:
        return data
    for name in form.fields:
        if name != "csrf_token":
            data[name] = value
    return data


def _fetch(client, method: str, url: str, **kwargs):
    """The response, read and closed (a download holds its file open until then)."""
    response = client.open(url, method=method, **kwargs)
    response.get_data()
    response.close()
    return response


def _still_there(client, page: str, action: str, names: set[str]) -> str | None:
    """A fresh CSRF token if ``page`` still shows the form posting to ``action``."""
    response = _fetch(client, "GET", page)
    body = response.get_data(as_text=True)
    if response.status_code != 200 or "html" not in response.content_type:
        return None
    for form in forms_on(page, body):
        if _path(form.action) == action and set(form.fields) == names:
            return (form.fields.get("csrf_token") or [None])[0]
    return None


def _pages(app, world, role: str) -> list[str]:
    pages = []
    for probe, url in _urls(app, world):
        if (probe.get or {}).get(role) in (OK, READ_ONLY) and "GET" in _method_of(app, probe, url):
            if probe.endpoint not in ("static", "pages.govuk_assets") and url not in pages:
                pages.append(url)
    return pages


@pytest.mark.parametrize("role", ROLES)
def test_every_form_refuses_bad_values_clearly_and_saves_nothing(app, role):
    world = build_world(app)
    client = app.test_client()
    if role != "anonymous":
        assert Auth(Browser(client)).sign_in(world.emails[role]).status_code == 302
    failures: list[str] = []
    seen: set[tuple[str, frozenset]] = set()
    posted = 0
    for page in _pages(app, world, role):
        response = _fetch(client, "GET", page)
        if response.status_code != 200 or "html" not in response.content_type:
            continue
        for form in forms_on(page, response.get_data(as_text=True)):
            action = _path(form.action)
            key = (action.split("?")[0], frozenset(form.fields))
            if form.files or action.startswith(SKIPPED_ACTIONS) or key in seen:
                continue
            seen.add(key)
            for kind, value in KINDS.items():
                token = _still_there(client, page, action, set(form.fields))
                if token is None:
                    break
                before = _snapshot(app)
                answer = _fetch(client, "POST", action, data=_payload(form, token, value))
                posted += 1
                body = answer.get_data()
                where = f"{kind} values to {action} (from {page})"
                if answer.status_code >= 500:
                    failures.append(f"{where}: {answer.status_code}")
                    continue
                shown = [marker for marker in UNESCAPED if marker in body]
                if answer.status_code in (302, 303):
                    following = _fetch(client, "GET", answer.headers["Location"])
                    if following.status_code >= 500:
                        failures.append(f"{where}: the page after is a {following.status_code}")
                    shown += [marker for marker in UNESCAPED if marker in following.get_data()]
                if shown:
                    failures.append(f"{where}: shown unescaped {shown}")
                if answer.status_code in (200, 400, 422) and b"govuk-error-summary" in body:
                    changed = _changes(before, _snapshot(app))
                    if changed:
                        failures.append(f"{where}: shown an error but saved " + "; ".join(changed))
    print(f"{role}: {posted} posts to {len(seen)} forms")
    assert posted >= 7, f"{role}: only {posted} posts; the forms were not found"
    assert not failures, f"{role} ({posted} posts):\n" + "\n".join(failures)
