"""Receiving otpgw's webhooks in Flask: verify the signature over the raw body, then act.

    OTPGW_WEBHOOK_SECRET=whsec_... flask --app examples/webhook_receiver.py run --port 5001

Events arrive at least once: remember the ids you have handled and skip repeats.
"""
from __future__ import annotations

import os

from flask import Flask, request

from otpgw.client import SIGNATURE_HEADER, WebhookSignatureError, verify_webhook

app = Flask(__name__)
SECRET = os.environ.get("OTPGW_WEBHOOK_SECRET", "")
seen: set[str] = set()  # use your database in real life


@app.post("/otpgw-events")
def otpgw_event():
    try:
        event = verify_webhook(request.get_data(), request.headers.get(SIGNATURE_HEADER), SECRET)
    except WebhookSignatureError:
        return {"error": "bad signature"}, 400
    if event["id"] in seen:
        return {"ok": True, "duplicate": True}
    seen.add(event["id"])
    if event["type"] == "delivery.failed":
        app.logger.warning("code %s was not delivered: %s", event["data"]["code_id"], event["data"]["reason"])
    return {"ok": True}
