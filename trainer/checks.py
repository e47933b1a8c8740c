"""``flask trainer check``: find what would stop trainer working, before it starts.

Each check returns :class:`Finding` objects: a problem (the check fails, and the message says
how to fix it), a passed check, or a note (advice that does not fail the check). "Production"
means anything but debug mode (``flask --debug``) and testing: there the app must have a real
secret key, a public ``https`` address, real mail and every migration applied.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Flask

from trainer.backup import BackupError, file_folders
from trainer.db import db

PROBLEM, PASSED, NOTE = "problem", "ok", "note"
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}
PLACEHOLDER_DOMAINS = {"example.org", "example.com", "example.net", "localhost"}
KNOWN_TRANSPORTS = {"file", "sendgrid", "memory"}
# SendGrid keys are "SG." then a key id and a secret, base64url, separated by a dot.
SENDGRID_KEY_PATTERN = re.compile(r"^SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{32,}$")
UPGRADE_COMMAND = "flask --app wsgi db upgrade"


@dataclass(frozen=True)
class Finding:
    """One result: ``level`` is ``problem``, ``ok`` or ``note``; ``message`` one line."""

    level: str
    message: str


def problem(message: str) -> Finding:
    return Finding(PROBLEM, message)


def passed(message: str) -> Finding:
    return Finding(PASSED, message)


def note(message: str) -> Finding:
    return Finding(NOTE, message)


def check_requested(argv: list[str] | None = None) -> bool:
    """True when this process was started as ``flask ... trainer check``.

    The app is then built even from a configuration it would refuse, so that the check can
    report every problem at once instead of stopping at the first.
    """
    words = (sys.argv if argv is None else argv)[1:]
    return any(first == "trainer" and second == "check" for first, second in
               zip(words, words[1:], strict=False))


def is_production(app: Flask) -> bool:
    return not (app.debug or app.testing or app.config.get("DEBUG") or app.config.get("TESTING"))


def safe_url(url: str) -> str:
    """The database URL without its password, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(unreadable URL)"


# -- the checks ------------------------------------------------------------------------------


def check_configuration(app: Flask) -> list[Finding]:
    """Problems found while reading the configuration (a missing secret key, say)."""
    found = [problem(message) for message in app.extensions.get("trainer.config_problems", [])]
    if not any("secret key" in finding.message for finding in found):
        if app.config["SECRET_KEY"] == "insecure-development-key-not-for-production":
            found.append(note("Secret key: the development key is used (debug mode); set "
                              "TRAINER_SECRET_KEY before running in production."))
        else:
            found.append(passed("Secret key is set."))
    return found


def check_database(app: Flask) -> list[Finding]:
    """The database answers, and every migration has been applied to it."""
    url = safe_url(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        with db.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
            current = _current_revisions(connection)
    except sa.exc.SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        return [problem(f"Database {url} cannot be reached ({reason}): check "
                        "TRAINER_DATABASE_URL and that the database server is running.")]
    found = [passed(f"Database {url} answers.")]
    return found + _migration_findings(app, current)


def _current_revisions(connection) -> set[str]:
    from alembic.migration import MigrationContext

    return set(MigrationContext.configure(connection).get_current_heads())


def _migration_findings(app: Flask, current: set[str]) -> list[Finding]:
    from alembic.script import ScriptDirectory

    directory = app.extensions["migrate"].directory
    script = ScriptDirectory(directory)
    heads = set(script.get_heads())
    if not current:
        return [problem("The database has no schema yet (no migration applied): run "
                        f"`{UPGRADE_COMMAND}`.")]
    unknown = {revision for revision in current if script.get_revision(revision) is None}
    if unknown:
        return [problem(f"The database is at revision {', '.join(sorted(unknown))}, which this "
                        "version of trainer does not know: deploy the version that made it, "
                        "or restore a backup taken with this one.")]
    if current == heads:
        return [passed(f"Database schema is up to date (revision {', '.join(sorted(heads))}).")]
    pending = [
        revision.revision
        for revision in script.iterate_revisions(tuple(heads), tuple(current))
        if revision.revision not in current
    ]
    count = len(pending)
    return [problem(f"{count} migration{'' if count == 1 else 's'} not applied to the "
                    f"database (it is at {', '.join(sorted(current))}): run "
                    f"`{UPGRADE_COMMAND}` before starting this version.")]


def check_external_url(app: Flask) -> list[Finding]:
    """``EXTERNAL_URL`` is an address people can follow; https in production."""
    value = str(app.config.get("EXTERNAL_URL") or "").strip()
    if not value:
        return [problem("EXTERNAL_URL is not set: set TRAINER_EXTERNAL_URL to the address "
                        "people use, e.g. https://training.example.org.")]
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return [problem(f"EXTERNAL_URL {value!r} is not a web address: set "
                        "TRAINER_EXTERNAL_URL to e.g. https://training.example.org.")]
    if not is_production(app):
        return [passed(f"External address is {value}.")]
    found = []
    if parts.scheme != "https":
        found.append(problem(f"EXTERNAL_URL {value} is not https: links in emails would "
                             "travel unencrypted and cookies would not be marked secure; set "
                             "TRAINER_EXTERNAL_URL=https://... and terminate TLS at the "
                             "reverse proxy."))
    if parts.hostname in LOOPBACK_HOSTS:
        found.append(problem(f"EXTERNAL_URL {value} points at this machine: links in emails "
                             "would not work for anyone else; set TRAINER_EXTERNAL_URL to the "
                             "public address."))
    return found or [passed(f"External address is {value}.")]


def check_mail(app: Flask) -> list[Finding]:
    """A known transport; SendGrid has a key of the right shape; a real from-address."""
    transport = app.config.get("MAIL_TRANSPORT")
    production = is_production(app)
    found = []
    if transport not in KNOWN_TRANSPORTS:
        found.append(problem(f"MAIL_TRANSPORT {transport!r} is unknown: set "
                             "TRAINER_MAIL_TRANSPORT to sendgrid (or file while trying it "
                             "out)."))
    elif transport == "sendgrid":
        key = str(app.config.get("SENDGRID_API_KEY") or "").strip()
        if not key:
            found.append(problem("MAIL_TRANSPORT is sendgrid but no API key is set: set "
                                 "TRAINER_SENDGRID_API_KEY to a key with the Mail Send "
                                 "permission."))
        elif not SENDGRID_KEY_PATTERN.match(key):
            found.append(problem("TRAINER_SENDGRID_API_KEY does not look like a SendGrid API "
                                 "key (SG.<id>.<secret>, 69 characters): copy the whole key "
                                 "from SendGrid's API keys page."))
        else:
            found.append(passed("Mail goes through SendGrid."))
    elif production:
        where = "kept in memory" if transport == "memory" else "written to instance/mail/"
        found.append(problem(f"MAIL_TRANSPORT is {transport}: emails are only {where}, "
                             "nobody receives them; set TRAINER_MAIL_TRANSPORT=sendgrid and "
                             "TRAINER_SENDGRID_API_KEY."))
    else:
        found.append(passed(f"Mail transport is {transport}."))

    sender = str(app.config.get("MAIL_FROM") or "").strip()
    local, _, domain = sender.rpartition("@")
    if not local or "." not in domain:
        found.append(problem(f"MAIL_FROM {sender!r} is not an email address: set "
                             "TRAINER_MAIL_FROM to the address emails come from."))
    elif production and domain.lower() in PLACEHOLDER_DOMAINS:
        found.append(problem(f"MAIL_FROM is the placeholder {sender}: set TRAINER_MAIL_FROM "
                             "to your address (the sender verified in SendGrid)."))
    else:
        found.append(passed(f"Emails come from {sender}."))
    return found


def check_folders(app: Flask) -> list[Finding]:
    """The instance folder, the SQLite database's folder, mail files and plugins' file folders
    can be written."""
    folders = {"instance folder": Path(app.instance_path)}
    url = sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        folders["SQLite database folder"] = Path(url.database).resolve().parent
    if app.config.get("MAIL_TRANSPORT") == "file":
        folders["mail folder"] = Path(app.instance_path) / "mail"
    try:
        plugin_folders = file_folders(app)
    except BackupError as error:
        return [problem(str(error))]
    for name, path in plugin_folders.items():
        folders[f"{name} folder (uploads)"] = path
    found = []
    for label, path in folders.items():
        reason = unwritable_reason(path)
        if reason:
            found.append(problem(f"The {label} {path} {reason}: create it and give the user "
                                 "that runs trainer the right to write to it (chown/chmod), or "
                                 "point the setting at a folder that can be written."))
        else:
            found.append(passed(f"The {label} {path} can be written."))
    return found


def unwritable_reason(path: Path) -> str | None:
    """Why files cannot be written in ``path`` (``None`` when they can). A missing folder is
    fine when it can be created."""
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            return "does not exist"
        existing = existing.parent
    if not existing.is_dir():
        return f"cannot be made ({existing} is not a folder)"
    try:
        handle, name = tempfile.mkstemp(dir=existing, prefix=".trainer-check-")
    except OSError:
        return "cannot be written" if existing == path else f"cannot be created in {existing}"
    os.close(handle)
    os.unlink(name)
    return None


def check_hosts(app: Flask, hosts: int) -> list[Finding]:
    """With several app hosts: PostgreSQL, shared sign-in counting, shared upload storage."""
    backend = sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name()
    production = is_production(app)
    found = []
    if hosts > 1:
        if backend == "sqlite":
            found.append(problem(f"{hosts} app hosts cannot share a SQLite database: use "
                                 "PostgreSQL (TRAINER_DATABASE_URL=postgresql+psycopg://...)."))
        if str(app.config.get("RATELIMIT_STORAGE_URI", "")).startswith("memory"):
            found.append(problem("Sign-in attempts are counted in each process's memory, so "
                                 f"{hosts} hosts allow {hosts} times as many: set "
                                 "TRAINER_RATELIMIT_STORAGE_URI=redis://..."))
        try:
            folders = ", ".join(str(path) for path in file_folders(app).values())
        except BackupError:
            folders = ""  # reported by the folders' check
        if folders:
            found.append(note(f"Keep {folders} on storage every app host shares (NFS, a "
                              "mounted volume): uploads made on one host are read on another."))
    elif backend == "sqlite" and production:
        found.append(note("SQLite serves one app host well; with several, use PostgreSQL "
                          "(`flask trainer check --hosts N` checks such a set-up)."))
    if backend == "postgresql":
        found.append(passed("PostgreSQL: app hosts, tick and send-mail may run on several "
                            "hosts at once."))
    return found


def check_proxy(app: Flask) -> list[Finding]:
    """``PROXY_FIX`` is a sensible number of proxies."""
    proxies = app.config.get("PROXY_FIX")
    if not isinstance(proxies, int) or isinstance(proxies, bool) or proxies < 0:
        return [problem(f"PROXY_FIX {proxies!r} is not a number of proxies: set "
                        "TRAINER_PROXY_FIX to 1 behind one reverse proxy, 0 without one.")]
    if proxies:
        return [passed(f"X-Forwarded-* headers from {proxies} reverse "
                       f"prox{'y' if proxies == 1 else 'ies'} are trusted.")]
    if is_production(app):
        return [note("PROXY_FIX is 0: behind a reverse proxy (nginx) set TRAINER_PROXY_FIX=1, "
                     "or sign-in limits count every visitor as the proxy's address.")]
    return []


def run_checks(app: Flask, hosts: int = 1) -> list[Finding]:
    """Every check, in the order a deployer would fix them."""
    checks: list[Callable[[], Iterable[Finding]]] = [
        lambda: check_configuration(app),
        lambda: check_database(app),
        lambda: check_external_url(app),
        lambda: check_mail(app),
        lambda: check_folders(app),
        lambda: check_hosts(app, hosts),
        lambda: check_proxy(app),
    ]
    findings: list[Finding] = []
    for check in checks:
        findings.extend(check())
    return findings


def report(findings: list[Finding], echo: Callable[[str], None]) -> int:
    """Print one line per finding and the verdict; return the exit status (0 or 1)."""
    labels = {PASSED: "ok     ", NOTE: "note   ", PROBLEM: "PROBLEM"}
    for finding in findings:
        echo(f"{labels[finding.level]} {finding.message}")
    problems = sum(1 for finding in findings if finding.level == PROBLEM)
    if not problems:
        echo("All checks passed.")
        return 0
    echo(f"{problems} problem{'' if problems == 1 else 's'} found: fix "
         f"{'it' if problems == 1 else 'them'} before starting trainer.")
    return 1
