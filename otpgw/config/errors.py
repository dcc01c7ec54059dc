"""The one error a bad configuration raises: its sentence names the setting."""
from __future__ import annotations


class SettingsError(ValueError):
    """A setting is missing, malformed or contradicts another one."""
