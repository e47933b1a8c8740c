"""Configuration: defaults, instance/config.py, TRAINER_* variables, the config argument."""

from __future__ import annotations

import pytest

from trainer import ConfigError, create_app
from trainer.config import convert, from_environment


def test_refuses_to_start_without_a_secret_key_outside_testing(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAINER_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("TRAINER_SECRET_KEY", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    with pytest.raises(ConfigError) as error:
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite"})
    assert "TRAINER_SECRET_KEY" in str(error.value)
    with pytest.raises(ConfigError):
        create_app({"SECRET_KEY": "short", "DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite"})


def test_precedence_instance_file_then_environment_then_argument(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAINER_INSTANCE_PATH", str(tmp_path))
    (tmp_path / "config.py").write_text(
        "SECRET_KEY = 'from-the-instance-file-0123456789'\n"
        "SERVICE_NAME = 'From the file'\nPAGE_SIZE = 7\nMAIL_FROM = 'file@example.org'\n"
    )
    monkeypatch.setenv("TRAINER_SERVICE_NAME", "From the environment")
    monkeypatch.setenv("TRAINER_PAGE_SIZE", "12")
    monkeypatch.setenv("TRAINER_DISABLED_PLUGINS", "waiting_list, awards")
    monkeypatch.setenv("TRAINER_DATABASE_URL", f"sqlite:///{tmp_path}/env.sqlite")
    app = create_app({"MAIL_FROM": "argument@example.org"})
    assert app.config["SECRET_KEY"] == "from-the-instance-file-0123456789"
    assert app.config["SERVICE_NAME"] == "From the environment"
    assert app.config["PAGE_SIZE"] == 12
    assert app.config["DISABLED_PLUGINS"] == ["waiting_list", "awards"]
    assert app.config["MAIL_FROM"] == "argument@example.org"
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("env.sqlite")


def test_default_database_is_sqlite_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAINER_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("TRAINER_DATABASE_URL", raising=False)
    app = create_app({"TESTING": True})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/trainer.sqlite"


def test_environment_values_are_converted_with_clear_errors():
    assert convert("PAGE_SIZE", "30", 25) == 30
    assert convert("RATELIMIT_ENABLED", "no", True) is False
    assert convert("RATELIMIT_ENABLED", "Yes", True) is True
    with pytest.raises(ValueError, match="TRAINER_PAGE_SIZE must be a whole number"):
        convert("PAGE_SIZE", "many", 25)
    found = from_environment({"PAGE_SIZE": 25}, {"TRAINER_PAGE_SIZE": "5", "OTHER": "x"})
    assert found == {"PAGE_SIZE": 5}


def test_unknown_mail_transport_is_reported(app_factory):
    from trainer import mail

    app = app_factory(MAIL_TRANSPORT="pigeon")
    with app.app_context(), pytest.raises(RuntimeError, match="Unknown MAIL_TRANSPORT 'pigeon'"):
        mail.transport_for(app)


def test_sendgrid_transport_needs_a_key(app_factory):
    from trainer import mail

    app = app_factory(MAIL_TRANSPORT="sendgrid", SENDGRID_API_KEY=None)
    with app.app_context(), pytest.raises(RuntimeError, match="TRAINER_SENDGRID_API_KEY"):
        mail.transport_for(app)
