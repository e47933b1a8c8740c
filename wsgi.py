"""The WSGI entry point: ``gunicorn wsgi:app``."""

from trainer import create_app

app = create_app()
