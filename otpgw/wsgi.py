"""WSGI entry point for gunicorn: ``otpgw.wsgi:application``."""
from .app import create_app
from .config import load_settings
from .logs import configure_logging

_settings = load_settings()
configure_logging(_settings.logging.level)
application = create_app(_settings)
