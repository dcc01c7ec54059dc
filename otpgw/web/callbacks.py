"""The /callbacks blueprint: delivery reports and inbound SMS from carriers.

``{public_url}/callbacks/<transport>/<kind>`` (GET or POST, form, query or JSON, as each
carrier sends them). No API key: carriers authenticate the way each one does, checked by
the transport. The URL the transport checks is the public one the carrier called (Twilio
signs it, query included), so it is rebuilt from ``public_url`` and the raw query string.
"""
from __future__ import annotations

import time

from flask import Blueprint, current_app, request

from ..transports import CallbackRequest

bp = Blueprint("callbacks", __name__, url_prefix="/callbacks")

OPERATIONS = [
    {"method": "post", "path": "/callbacks/{transport}/{kind}", "summary": "A carrier's delivery report or "
     "inbound SMS (authenticated by the carrier's signature or a per-message token)", "tags": ["callbacks"],
     "request": None, "responses": {200: None, 403: "error", 404: "error"}, "security": []},
    {"method": "get", "path": "/callbacks/{transport}/{kind}", "summary": "The same, for carriers that call "
     "back with GET (Kannel, Vonage)", "tags": ["callbacks"], "request": None,
     "responses": {200: None, 403: "error", 404: "error"}, "security": []},
]


def public_url() -> str:
    """The URL as the carrier called it: the configured public base, the path, the raw query."""
    base = current_app.extensions["otpgw.settings"].public_url or request.host_url.rstrip("/")
    query = request.environ.get("QUERY_STRING", "")
    return f"{base}{request.path}" + (f"?{query}" if query else "")


@bp.route("/<string(maxlength=32):transport>/<string(maxlength=32):kind>", methods=["GET", "POST"])
def callback(transport: str, kind: str):
    call = CallbackRequest(
        method=request.method, url=public_url(), kind=kind, query=request.args.to_dict(),
        form=request.form.to_dict() if request.method == "POST" else {}, headers=dict(request.headers),
        body=request.get_data(cache=True), now_ms=int(time.time() * 1000),
        json=request.get_json(silent=True) if request.is_json else None)
    result = current_app.extensions["otpgw.callbacks"].handle(transport, call)
    return result.body, 200, {"Content-Type": result.content_type}
