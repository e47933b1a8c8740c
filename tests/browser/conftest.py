"""Browser journeys: the app served on 127.0.0.1 and driven by a real Chromium (Playwright).

Needs Debian's Chromium (``make browser``), axe-core and GOV.UK Frontend's assets (``make
assets``). Without them the journeys are skipped, with the reason shown (``-ra``).

Playwright's own browser download is not used: the browser is launched from
``/usr/bin/chromium`` (or whatever ``chromium`` is on ``PATH``).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.conftest import make_test_app

PROJECT_ROOT = Path(__file__).resolve().parents[2]
AXE_JS = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
GOVUK_CSS = PROJECT_ROOT / "trainer" / "static" / "govuk" / "govuk-frontend.min.css"
CHROMIUM = "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else shutil.which("chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING_IMPACTS = {"serious", "critical"}
TIMEOUT_MS = 10_000


def missing_requirements() -> list[str]:
    """What the browser journeys need and this machine lacks, as sentences."""
    missing = []
    if not CHROMIUM:
        missing.append("Chromium is not installed (/usr/bin/chromium; `make browser` installs it)")
    if not AXE_JS.exists():
        missing.append(f"axe-core is missing ({AXE_JS.relative_to(PROJECT_ROOT)}; run `npm ci`)")
    if not GOVUK_CSS.exists():
        missing.append(
            f"GOV.UK Frontend assets are missing ({GOVUK_CSS.relative_to(PROJECT_ROOT)}; "
            "run `make assets`)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("Playwright for Python is not installed (pip install playwright)")
    return missing


# -- the live server ---------------------------------------------------------------------------


@dataclass
class LiveServer:
    """The app served over HTTP in a background thread."""

    app: object
    url: str
    _thread: threading.Thread = field(repr=False)

    def deliver_mail(self) -> list:
        """Send queued mail through the memory transport; every message sent so far."""
        from trainer import mail

        with self.app.app_context():
            mail.deliver_due()
        return self.app.extensions.setdefault("trainer.mail.memory", [])


@pytest.fixture
def live_server(tmp_path) -> Iterator[LiveServer]:
    """A fresh app (its own SQLite database) on 127.0.0.1 and a free port, one per test."""
    from trainer.db import db

    app = make_test_app(tmp_path)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(app=app, url=f"http://127.0.0.1:{server.server_port}", _thread=thread)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


# -- the browser -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium_browser():
    """One headless Chromium for the whole run."""
    missing = missing_requirements()
    if missing:
        pytest.skip("browser journeys need: " + "; ".join(missing))
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


# Reports every Content Security Policy violation to the test (the browser only logs them).
_REPORT_POLICY_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__trainerPolicyViolation(
    `${event.effectiveDirective} refused ${event.blockedURI || "something"}`
    + ` on ${event.documentURI} (${event.sourceFile || "the page"}:${event.lineNumber})`
    + (event.sample ? `: ${event.sample}` : ""));
});
"""


@dataclass
class PageProblems:
    """Script errors, failed requests and security policy problems seen while a test ran."""

    errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    # Content Security Policy violations, and pages served without a policy.
    policy: list[str] = field(default_factory=list)
    # Chromium reports a link that turns into a download as an aborted navigation; those are
    # set aside here and forgiven when a download of that address did start.
    aborted_navigations: list[str] = field(default_factory=list)
    downloads: set[str] = field(default_factory=set)

    def report(self) -> list[str]:
        aborted = [f"{url} (net::ERR_ABORTED)" for url in self.aborted_navigations
                   if url not in self.downloads]
        return self.errors + self.failed + aborted + self.policy


def _open_page(browser, live_server: LiveServer, problems: PageProblems, **context_options):
    context = browser.new_context(base_url=live_server.url, **context_options)
    context.set_default_timeout(TIMEOUT_MS)
    context.expose_function(
        "__trainerPolicyViolation",
        lambda text: problems.policy.append(f"Content Security Policy: {text}"),
    )
    context.add_init_script(_REPORT_POLICY_VIOLATIONS)
    page = context.new_page()
    page.on("pageerror", lambda error: problems.errors.append(str(error)))
    page.on(
        "console",
        lambda message: problems.errors.append(f"console: {message.text}")
        if message.type == "error"
        else None,
    )

    def on_request_failed(request):
        if request.failure == "net::ERR_ABORTED":
            # The browser itself gave up: a navigation that became a download (checked
            # below), or an image or icon still loading when the page moved on. A missing or
            # broken asset shows up as an error status in on_response instead.
            if request.is_navigation_request():
                problems.aborted_navigations.append(request.url)
            return
        problems.failed.append(f"{request.url} ({request.failure})")

    page.on("requestfailed", on_request_failed)
    page.on("download", lambda download: problems.downloads.add(download.url))

    def on_response(response):
        # Pages may answer 4xx on purpose; stylesheets, scripts, fonts and images may not.
        if response.status >= 400 and response.request.resource_type != "document":
            problems.failed.append(f"{response.url} answered {response.status}")
        if (response.request.resource_type == "document"
                and response.url.startswith(live_server.url)
                and "content-security-policy" not in response.headers):
            problems.policy.append(f"{response.url} has no Content-Security-Policy header")

    page.on("response", on_response)
    return context, page


def _check_problems(problems: PageProblems) -> None:
    report = problems.report()
    assert not report, "the browser saw problems:\n  " + "\n  ".join(report)


@pytest.fixture
def page(chromium_browser, live_server):
    """A new browser context and page (desktop size) on the live server, per test.

    The test fails if a script error occurs, an asset (stylesheet, script, font, image)
    cannot be loaded, the Content Security Policy refuses anything, or a page comes without
    one.
    """
    problems = PageProblems()
    context, page = _open_page(
        chromium_browser, live_server, problems, viewport={"width": 1280, "height": 900}
    )
    yield page
    context.close()
    _check_problems(problems)


@pytest.fixture
def phone_page(chromium_browser, live_server):
    """A new page 375 pixels wide, like a small phone."""
    problems = PageProblems()
    context, page = _open_page(
        chromium_browser,
        live_server,
        problems,
        viewport={"width": 375, "height": 667},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    yield page
    context.close()
    _check_problems(problems)


PHONE = {"width": 390, "height": 844}  # a common phone (iPhone 12 to 14)


@pytest.fixture
def phone_390(chromium_browser, live_server):
    """A page in its own browser context, 390 by 844 pixels, touch, like a phone."""
    problems = PageProblems()
    context, page = _open_page(
        chromium_browser,
        live_server,
        problems,
        viewport=PHONE,
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
    )
    yield page
    context.close()
    _check_problems(problems)


# -- accessibility -----------------------------------------------------------------------------

_AXE_RUN = """
async (tags) => {
  const results = await axe.run(document, {runOnly: {type: "tag", values: tags}});
  return results.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target, impact: n.impact, summary: n.failureSummary})),
  }));
}
"""


def axe_check(page) -> list[dict]:
    """Run axe-core (WCAG 2.0–2.2 A and AA rules) on ``page``.

    Fails the test on any serious or critical violation, naming the rule, its impact and the
    selectors of the offending elements. Returns every violation (minor and moderate ones too).
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated by the browser's debugging protocol, which the page's Content Security
        # Policy does not govern: a <script> tag with axe inline would be refused (rightly).
        page.evaluate(AXE_JS.read_text(encoding="utf-8"))
    violations = page.evaluate(_AXE_RUN, AXE_TAGS)
    blocking = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
    if blocking:
        lines = [f"axe-core found {len(blocking)} serious or critical problem(s) on {page.url}:"]
        for violation in blocking:
            lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}")
            for node in violation["nodes"]:
                target = " ".join(" >>> ".join(part) if isinstance(part, list) else part
                                  for part in node["target"])
                lines.append(f"    {node['impact']}: {target}")
        pytest.fail("\n".join(lines), pytrace=False)
    for violation in violations:  # shown with -rP, or when the test fails
        print(f"axe-core ({violation['impact']}) on {page.url}: {violation['id']}")
    return violations


# -- people and moving around ------------------------------------------------------------------


def add_user(app, email: str, name: str, roles=None, **fields) -> int:
    """A verified user with the test password (``tests.conftest.PASSWORD``); their id.

    ``roles`` defaults to practitioner. The test app hashes with pbkdf2 at 1,000 rounds, so
    this is quick.
    """
    from tests.conftest import PASSWORD
    from trainer.db import db, utcnow
    from trainer.people import Role, User, normalise_email

    with app.app_context():
        user = User(email=normalise_email(email), name=name, **fields)
        user.set_password(PASSWORD)
        user.email_verified_at = utcnow()
        for role in roles or [Role.PRACTITIONER]:
            user.grant(role)
        db.session.add(user)
        db.session.commit()
        return user.id


def sign_in(page, email: str, password: str | None = None, check=None) -> None:
    """Sign in through the sign-in page (opened from the main navigation).

    ``check``, if given, is called with the page on the sign-in page (``axe_check``, say).
    Waits until the dashboard is shown.
    """
    import re

    from playwright.sync_api import expect

    from tests.conftest import PASSWORD

    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sign in").click()
    expect(page.get_by_role("heading", level=1, name="Sign in")).to_be_visible()
    if check is not None:
        check(page)
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(password or PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    # Let the dashboard finish loading its scripts, so the next navigation aborts nothing.
    page.wait_for_load_state("load")


def press_tab_until(page, locator, limit: int = 40, key: str = "Tab") -> int:
    """Press Tab (or ``key``, e.g. "Shift+Tab") until ``locator`` has the focus; how many
    presses it took. Fails after ``limit`` presses, naming where the focus went."""
    element = locator.element_handle()
    visited = []
    for presses in range(1, limit + 1):
        page.keyboard.press(key)
        if page.evaluate("(el) => document.activeElement === el", element):
            return presses
        visited.append(page.evaluate(
            "() => { const a = document.activeElement;"
            " return a ? `${a.tagName.toLowerCase()}#${a.id}"
            " ${(a.innerText || a.value || '').trim().slice(0, 30)}` : 'nothing'; }"
        ))
    pytest.fail(f"{key} never reached {locator} in {limit} presses; focus went: "
                + " | ".join(visited), pytrace=False)


# -- finding things on a page ------------------------------------------------------------------


def heading(page, text):
    """The page's main heading (h1) named ``text``."""
    return page.get_by_role("heading", level=1, name=text)


def nav(page, text):
    """A link in the main navigation (behind the "Menu" button on a phone)."""
    navigation = page.get_by_role("navigation", name="Main")
    menu = page.get_by_role("button", name="Menu")
    if menu.is_visible() and menu.get_attribute("aria-expanded") != "true":
        menu.click()
    return navigation.get_by_role("link", name=text, exact=True)


def sign_in_on_phone(page, email: str) -> None:
    """``sign_in`` for a narrow screen, where the main navigation is behind "Menu"."""
    import re

    from playwright.sync_api import expect

    from tests.conftest import PASSWORD

    page.goto("/")
    nav(page, "Sign in").click()
    expect(heading(page, "Sign in")).to_be_visible()
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    page.wait_for_load_state("load")


def panel(page, title):
    """A plugin's panel on a core page, found by its heading."""
    return page.locator("section.trainer-panel").filter(
        has=page.get_by_role("heading", level=2, name=title, exact=True)
    )


def assert_fits(page):
    """The page does not scroll sideways at the viewport's width (on a phone, say).

    Measured against the viewport's own width: in a mobile browser context a page that is too
    wide makes ``window.innerWidth`` grow to the page's width (the browser zooms out), so
    comparing with that would never notice.
    """
    width = page.viewport_size["width"]
    wide = page.evaluate("() => document.documentElement.scrollWidth")
    assert wide <= width, f"{page.url} scrolls sideways on a phone ({wide}px in {width}px)"
