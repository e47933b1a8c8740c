"""Security headers on every response, the cookies' flags, and no open redirect through
``next``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from tests import factories
from tests.conftest import CSRF_PATTERN, PASSWORD
from trainer.db import Busy, db, utcnow
from trainer.people import Role, User
from trainer.web.security import local_url

FIXED = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
# A Content Security Policy GOV.UK Frontend works with, and nothing looser.
DIRECTIVES = {
    "default-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
HTTPS = "https://training.example.org"


def policy_of(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, "no Content-Security-Policy"
    directives = {}
    for directive in header.split(";"):
        name, *sources = directive.split()
        directives[name] = sources
    return directives


def assert_secured(response, where: str, https: bool = False) -> dict[str, list[str]]:
    """The headers every response carries; returns the policy's directives."""
    for name, value in FIXED.items():
        assert response.headers.get(name) == value, f"{where}: {name}"
    permissions = response.headers.get("Permissions-Policy", "")
    for feature in ("camera", "microphone", "geolocation", "payment"):
        assert f"{feature}=()" in permissions, f"{where}: Permissions-Policy lets {feature} in"
    policy = policy_of(response)
    script = policy.pop("script-src")
    assert script[0] == "'self'" and all(source.startswith("'nonce-") for source in script[1:]), (
        f"{where}: script-src {script}"
    )
    assert policy == DIRECTIVES, where
    if https:
        assert response.headers.get("Strict-Transport-Security") == (
            "max-age=31536000; includeSubDomains"
        ), where
    else:
        assert "Strict-Transport-Security" not in response.headers, where
    return policy


def plain_get_routes(app) -> list[str]:
    """Every GET route that takes no URL arguments (static files apart)."""
    return sorted(
        rule.rule for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and not rule.arguments and rule.endpoint != "static"
    )


def walk(client, paths, https: bool = False) -> dict[str, int]:
    statuses = {}
    for path in paths:
        response = client.get(path)
        assert_secured(response, path, https)
        if response.mimetype == "text/html":
            html = response.get_data(as_text=True)
            # The policy refuses inline styles and unmarked inline scripts: none may be sent.
            assert not re.search(r"<style|\sstyle=", html), f"{path} has an inline style"
            nonces = re.findall(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"])
            for tag in re.findall(r"<script\b[^>]*>", html):
                assert "src=" in tag or any(f'nonce="{nonce}"' in tag for nonce in nonces), (
                    f"{path}: {tag} would be refused"
                )
        statuses[path] = response.status_code
        response.close()
    return statuses


@pytest.fixture
def world(app, make_user):
    """An admin, a practitioner and a published session with a booking."""
    admin_id, admin_email = make_user("admin@example.org", roles=[Role.ADMIN])
    person_id, person_email = make_user("person@example.org")
    with app.app_context():
        training_session = factories.training_session(
            starts=datetime.now(UTC).replace(microsecond=0) + timedelta(days=10)
        )
        course_id, session_id = training_session.course_id, training_session.id
        db.session.commit()
    return {"admin": admin_email, "person": person_email, "course_id": course_id,
            "session_id": session_id}


def test_every_plain_page_has_the_headers_signed_out(app, client):
    statuses = walk(client, plain_get_routes(app))
    assert statuses["/"] == 200
    assert len(statuses) > 20
    assert 500 not in statuses.values()


def test_every_plain_page_has_the_headers_for_an_admin(app, client, auth, world):
    auth.sign_in(world["admin"])
    statuses = walk(client, plain_get_routes(app))
    assert statuses["/dashboard"] == 200
    assert statuses["/admin/"] == 200
    assert 500 not in statuses.values()


def test_pages_with_arguments_files_feeds_and_the_api_have_the_headers(
    app, client, auth, world
):
    auth.sign_in(world["person"])
    course_id, session_id = world["course_id"], world["session_id"]
    responses = {
        path: client.get(path)
        for path in (
            f"/training/courses/{course_id}",
            f"/training/sessions/{session_id}",
            f"/training/sessions/{session_id}.ics",
            "/training/feed.ics",
            "/api/v1/sessions",
            f"/api/v1/sessions/{session_id}",
            "/api/v1/openapi.json",
            "/account/data.json",
            "/account/data.csv",
            "/static/trainer.js",
            "/static/govuk/govuk-frontend.min.css",
            "/assets/fonts/bold-b542beb274-v2.woff2",
            "/healthz",
        )
    }
    for path, response in responses.items():
        assert response.status_code == 200, path
        assert_secured(response, path)
        response.close()
    assert responses[f"/training/sessions/{session_id}.ics"].mimetype == "text/calendar"
    assert responses["/account/data.csv"].mimetype == "text/csv"
    assert responses["/api/v1/sessions"].mimetype == "application/json"

    auth.sign_out()
    auth.sign_in(world["admin"])
    response = client.get("/reports/reach/courses.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert_secured(response, "reach CSV")


def test_error_pages_have_the_headers(app, client, auth, world):
    from trainer.access import public

    @public
    def explode():
        raise RuntimeError("boom")

    @public
    def busy():
        raise Busy()

    app.add_url_rule("/explode", "explode", explode)
    app.add_url_rule("/busy", "busy", busy)

    assert_secured(client.get("/no-such-page"), "404")
    assert_secured(client.get("/explode"), "500")
    assert_secured(client.get("/busy"), "503")
    refused = client.post("/auth/sign-in", data={"email": "x@example.org"})
    assert refused.status_code == 400
    assert_secured(refused, "400 without a CSRF token")
    not_allowed = client.post("/healthz")
    assert not_allowed.status_code == 405
    assert_secured(not_allowed, "405")
    assert_secured(client.get("/dashboard"), "302 to sign in")
    auth.sign_in(world["person"])
    forbidden = client.get("/admin/")
    assert forbidden.status_code == 403
    assert_secured(forbidden, "403")
    for path, code in (("/no-such-page", 404), ("/explode", 500), ("/busy", 503)):
        response = client.get(path)
        assert response.status_code == code
        assert "Sorry" in response.get_data(as_text=True) or code == 404


def test_each_page_gets_a_fresh_nonce_on_the_govuk_script(client):
    nonces = []
    for _ in range(2):
        response = client.get("/")
        script = policy_of(response)["script-src"]
        assert len(script) == 2
        nonce = script[1].removeprefix("'nonce-").removesuffix("'")
        assert len(nonce) >= 22  # 16 random bytes
        assert f'<script nonce="{nonce}">document.body.className' in response.get_data(
            as_text=True)
        nonces.append(nonce)
    assert nonces[0] != nonces[1]
    # Nothing rendered, nothing to allow.
    response = client.get("/static/trainer.js")
    assert policy_of(response)["script-src"] == ["'self'"]
    response.close()


def test_https_sites_tell_browsers_to_stay_on_https(app_factory):
    client = app_factory(EXTERNAL_URL=HTTPS).test_client()
    for path in ("/", "/no-such-page", "/static/trainer.css", "/api/v1/sessions"):
        response = client.get(path)
        assert_secured(response, path, https=True)
        response.close()


def test_no_https_only_header_in_debug_or_over_http(app_factory):
    for config in ({"EXTERNAL_URL": HTTPS, "DEBUG": True}, {"EXTERNAL_URL": "http://localhost"}):
        response = app_factory(**config).test_client().get("/")
        assert "Strict-Transport-Security" not in response.headers, config


def test_a_view_may_set_a_stricter_policy_of_its_own(app, client):
    from flask import Response

    from trainer.access import public

    @public
    def sandboxed():
        return Response("x", headers={"Content-Security-Policy": "sandbox; default-src 'none'"})

    app.add_url_rule("/sandboxed", "sandboxed", sandboxed)
    response = client.get("/sandboxed")
    assert response.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_no_template_uses_inline_styles_or_scripts():
    from pathlib import Path

    templates = Path(__file__).resolve().parent.parent / "templates"
    offenders = []
    for path in templates.rglob("*.html"):
        if "emails" in path.parts:
            continue  # email bodies are not served under the policy
        text = path.read_text(encoding="utf-8")
        if re.search(r"<style|\sstyle=|\son[a-z]+=|javascript:", text):
            offenders.append(str(path.relative_to(templates)))
        offenders.extend(f"{path.relative_to(templates)}: {tag}"
                         for tag in re.findall(r"<script\b[^>]*>", text) if "src=" not in tag)
    assert not offenders


# -- cookies -----------------------------------------------------------------------------------


def sign_in_remembered(client, email, base_url="http://localhost"):
    page = client.get("/auth/sign-in", base_url=base_url).get_data(as_text=True)
    token = CSRF_PATTERN.search(page).group(1)
    # Over HTTPS the CSRF check also wants the form to come from this site, as a browser says.
    return client.post("/auth/sign-in", base_url=base_url, data={
        "csrf_token": token, "email": email, "password": PASSWORD, "remember": "y"},
        headers={"Referer": f"{base_url}/auth/sign-in"})


def cookie_flags(response) -> dict[str, set[str]]:
    flags = {}
    for header in response.headers.getlist("Set-Cookie"):
        name = header.split("=", 1)[0]
        flags[name] = {part.strip().lower() for part in header.split(";")[1:]}
    return flags


def test_cookies_are_http_only_and_same_site_lax(app, client, world):
    response = sign_in_remembered(client, world["person"])
    assert response.status_code == 302
    flags = cookie_flags(response)
    for name in ("session", "remember_token"):
        assert {"httponly", "samesite=lax"} <= flags[name], name
        assert "secure" not in flags[name], f"{name} over plain http while testing"


def test_cookies_are_secure_on_an_https_site_in_production(app_factory):
    app = app_factory(TESTING=False, EXTERNAL_URL=HTTPS)
    email = "production@example.org"
    with app.app_context():
        user = User(email=email, name="Pat Production", email_verified_at=utcnow())
        user.set_password(PASSWORD)
        user.grant(Role.PRACTITIONER)
        db.session.add(user)
        db.session.commit()
    for name in ("SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE"):
        assert app.config[name] is True, name
    response = sign_in_remembered(app.test_client(), email, base_url=HTTPS)
    assert response.status_code == 302
    flags = cookie_flags(response)
    for name in ("session", "remember_token"):
        assert {"secure", "httponly", "samesite=lax"} <= flags[name], name


@pytest.mark.parametrize("config", [
    {"TESTING": False, "EXTERNAL_URL": "http://127.0.0.1:5000"},
    {"TESTING": False, "DEBUG": True, "EXTERNAL_URL": HTTPS},
])
def test_cookies_are_not_secure_only_where_there_is_no_https(app_factory, config):
    app = app_factory(**config)
    assert app.config["SESSION_COOKIE_SECURE"] is False
    assert app.config.get("REMEMBER_COOKIE_SECURE", False) is False
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_a_stricter_same_site_choice_is_kept(app_factory):
    app = app_factory(SESSION_COOKIE_SAMESITE="Strict")
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Strict"
    assert app.config["REMEMBER_COOKIE_SAMESITE"] == "Lax"


# -- no open redirect --------------------------------------------------------------------------

HOSTILE = [
    "https://evil.example/",
    "http://evil.example",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "https:evil.example",
    "https:/evil.example",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\nSet-Cookie: stolen=1",
    "\x00//evil.example",
    " //evil.example",
    "evil.example",
    "",
]
SAFE = ["/training/sessions/1", "/training/?topic=send#results", "/%2F%2Fevil.example",
        "/caf%C3%A9"]


@pytest.mark.parametrize("target", HOSTILE)
def test_local_url_refuses_other_sites(target):
    assert local_url(target) is None


@pytest.mark.parametrize("target", SAFE)
def test_local_url_keeps_paths_on_this_site(target):
    assert local_url(target) == target


def test_local_url_refuses_what_is_not_text():
    assert local_url(None) is None


@pytest.mark.parametrize("target", HOSTILE + [quote(t, safe="") for t in HOSTILE[:6]])
def test_signing_in_never_redirects_to_another_site(client, world, target):
    page = client.get("/auth/sign-in").get_data(as_text=True)
    token = CSRF_PATTERN.search(page).group(1)
    # Sent encoded once, as a link would carry it; the last few arrive encoded twice.
    url = "/auth/sign-in?next=" + quote(target, safe="")
    response = client.post(url, data={
        "csrf_token": token, "email": world["person"], "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard", target
    # Signed in already, the sign-in page sends people on at once: the same rule holds.
    again = client.get(url)
    assert again.status_code == 302
    assert again.headers["Location"] == response.headers["Location"]


def test_signing_in_goes_on_to_the_page_asked_for(client, world):
    page = client.get("/auth/sign-in").get_data(as_text=True)
    token = CSRF_PATTERN.search(page).group(1)
    target = f"/training/sessions/{world['session_id']}?from=email#book"
    response = client.post("/auth/sign-in?next=" + quote(target, safe=""), data={
        "csrf_token": token, "email": world["person"], "password": PASSWORD})
    assert response.headers["Location"] == target
