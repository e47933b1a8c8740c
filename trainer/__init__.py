"""trainer: free training and award schemes for early years SEND."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect
from jinja2 import (
    BytecodeCache,
    ChoiceLoader,
    FileSystemLoader,
    PackageLoader,
    PrefixLoader,
)

from trainer import config as default_config

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSECURE_KEYS = {None, "", "dev", "change-me", "secret"}

csrf = CSRFProtect()
login_manager = LoginManager()
migrate = Migrate()


class _ProcessBytecodeCache(BytecodeCache):
    """Compiled templates shared by every app in the process.

    GOV.UK Frontend's macros take seconds to compile; an app built again in the same process
    (a worker restart, a test) reuses them. Keys include a checksum of the source, so an edited
    template is compiled afresh.
    """

    def __init__(self):
        self.store: dict[str, bytes] = {}

    def load_bytecode(self, bucket):
        code = self.store.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket):
        self.store[bucket.key] = bucket.bytecode_to_string()


_bytecode_cache = _ProcessBytecodeCache()


class ConfigError(RuntimeError):
    """The configuration cannot work; the message says how to fix it."""


def create_app(
    config: dict[str, Any] | None = None, *, collect_problems: bool | None = None
) -> Flask:
    """Build the application.

    Configuration: :mod:`trainer.config` defaults, then ``instance/config.py``, then
    ``TRAINER_*`` environment variables, then ``config``. Outside debug and testing the app
    refuses to start without a real ``SECRET_KEY`` (:class:`ConfigError`).

    With ``collect_problems`` (by default: when the command line is ``flask trainer check``)
    such problems are kept in ``app.extensions["trainer.config_problems"]`` instead, for the
    check to report; an app built that way has a throwaway secret key.
    """
    if collect_problems is None:
        from trainer.checks import check_requested

        collect_problems = check_requested()
    problems: list[str] | None = [] if collect_problems else None
    app = Flask(
        __name__,
        instance_path=os.environ.get("TRAINER_INSTANCE_PATH") or str(PROJECT_ROOT / "instance"),
        instance_relative_config=True,
    )
    defaults = {k: v for k, v in vars(default_config).items() if k.isupper()}
    app.config.from_mapping(defaults)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_mapping(default_config.from_environment(defaults, problems=problems))
    if config:
        app.config.update(config)
    _finish_config(app, problems)
    app.extensions["trainer.config_problems"] = problems or []

    try:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    except OSError:
        if problems is None:
            raise
        # The check reports the instance folder with how to fix it.
    app.jinja_loader = ChoiceLoader(
        [
            FileSystemLoader(str(PROJECT_ROOT / "templates")),
            PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
        ]
    )
    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.bytecode_cache = _bytecode_cache

    # Importing the model modules makes every table known to the metadata and migrations.
    from trainer import access, booking, catalogue, hooks, mail, people, reports  # noqa: F401
    from trainer.db import configure_engine, db
    from trainer.people import load_user

    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine, app.config["DATABASE_LOCK_TIMEOUT_SECONDS"])
    migrate.init_app(
        app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True, compare_type=True
    )
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.user_loader(load_user)
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = "Sign in to see this page."
    login_manager.login_message_category = "info"
    access.init_app(app)
    hooks.init_app(app)

    from trainer.web import register_blueprints

    register_blueprints(app)

    from trainer.cli import trainer_group

    app.cli.add_command(trainer_group)

    proxies = app.config["PROXY_FIX"]
    if isinstance(proxies, int) and proxies > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies,
            x_prefix=proxies,
        )
    return app


def _finish_config(app: Flask, problems: list[str] | None = None) -> None:
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = "sqlite:///" + str(
            Path(app.instance_path) / "trainer.sqlite"
        )
    app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True})
    if isinstance(app.config["DISABLED_PLUGINS"], str):
        app.config["DISABLED_PLUGINS"] = [
            name.strip() for name in app.config["DISABLED_PLUGINS"].split(",") if name.strip()
        ]
    if app.config["SECRET_KEY"] in INSECURE_KEYS or len(str(app.config["SECRET_KEY"])) < 16:
        if app.debug or app.testing or app.config.get("DEBUG") or app.config.get("TESTING"):
            app.config["SECRET_KEY"] = "insecure-development-key-not-for-production"
        elif problems is not None:
            problems.append(
                "No secret key is set: set TRAINER_SECRET_KEY to a long random value (at "
                "least 16 characters), e.g. export TRAINER_SECRET_KEY=$(python3 -c 'import "
                "secrets; print(secrets.token_hex(32))'), or put SECRET_KEY = '...' in "
                "instance/config.py."
            )
            app.config["SECRET_KEY"] = secrets.token_hex(32)
        else:
            raise ConfigError(
                "No secret key is set. Set TRAINER_SECRET_KEY to a long random value, e.g.\n"
                "  export TRAINER_SECRET_KEY=$(python -c 'import secrets; "
                "print(secrets.token_hex(32))')\n"
                "or put SECRET_KEY = '...' in instance/config.py."
            )
    app.config["WTF_CSRF_TIME_LIMIT"] = None  # tokens live as long as the browser session
    # The session and "keep me signed in" cookies: never readable by scripts, not sent with
    # other sites' requests (SameSite=Lax unless config chose Strict), and over HTTPS only
    # when the site is served over HTTPS. Flask's own defaults are already in app.config
    # (SameSite unset, Secure off), so they are replaced rather than set by default.
    secure = str(app.config["EXTERNAL_URL"]).lower().startswith("https://") and not (
        app.debug or app.testing or app.config.get("TESTING")
    )
    for cookie in ("SESSION", "REMEMBER"):
        if not app.config.get(f"{cookie}_COOKIE_SAMESITE"):
            app.config[f"{cookie}_COOKIE_SAMESITE"] = "Lax"
        app.config[f"{cookie}_COOKIE_HTTPONLY"] = True
        if secure:
            app.config[f"{cookie}_COOKIE_SECURE"] = True
