"""otpgw: one-time codes over SMS, stored in Redis, verified under limits and lockout.

Importing the package imports nothing else: a delivery worker or an operator command
never loads Flask. ``create_app`` (in ``otpgw.app``) wires the HTTP side.
"""
from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def create_app(*args: Any, **kwargs: Any):
    """The Flask application; see ``otpgw.app.create_app``."""
    from .app import create_app as build

    return build(*args, **kwargs)
