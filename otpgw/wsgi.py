"""WSGI entry point for gunicorn: ``otpgw.wsgi:application``."""
from . import create_app
from .logs import configure_logging
from .config import load_settings

_settings = load_settings()
configure_logging(_settings.logging.level)
application = create_app(_settings)
