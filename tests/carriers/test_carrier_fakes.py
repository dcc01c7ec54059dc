"""The fake carriers and callback helpers themselves, since end-to-end tests build on them."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import flask
import pytest

from support.carriers import CallbackRecorder, CarrierCallback, Fault, TwilioCarrier


def _post(url: str, data: bytes = b"", headers: dict | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, headers=headers or {}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


class TestFakeCarriers:
    def test_twilio_refuses_what_twilio_refuses(self, twilio_carrier):
        status, body = _post(f"{twilio_carrier.url}/2010-04-01/Accounts/AC1/Messages.json")
        assert (status, json.loads(body)["code"]) == (404, 20404)
        path = f"{twilio_carrier.url}/2010-04-01/Accounts/{TwilioCarrier.ACCOUNT_SID}/Messages.json"
        status, body = _post(path, b"To=%2B14155552671&Body=hi&From=%2B1501")
        assert (status, json.loads(body)["code"]) == (401, 20003)

    def test_faults_replace_answers_in_order_and_every_request_is_recorded(self, twilio_carrier):
        twilio_carrier.fail_next(Fault.reply(418, "first"), Fault.server_error(503))
        assert _post(f"{twilio_carrier.url}/x", b"a=1")[0] == 418
        assert _post(f"{twilio_carrier.url}/x", b"a=2")[0] == 503
        assert _post(f"{twilio_carrier.url}/x", b"a=3")[0] == 404
        assert [r.body for r in twilio_carrier.requests] == [b"a=1", b"a=2", b"a=3"]


class TestCallbackFiring:
    def test_a_callback_fired_at_a_url_arrives_with_its_path_query_body_and_signature(self):
        callback = CarrierCallback("POST", "https://otp.example.com/callbacks/tw/status?ref=r1",
                                   {"MessageStatus": "delivered"}, headers={"X-Twilio-Signature": "sig"})
        with CallbackRecorder(body="ok") as recorder:
            assert callback.fire(recorder.url) == (200, "ok")
        (request,) = recorder.requests
        assert (request.path, request.query, request.form) == ("/callbacks/tw/status", {"ref": "r1"},
                                                               {"MessageStatus": "delivered"})
        assert request.header("X-Twilio-Signature") == "sig"

    @pytest.mark.parametrize("callback", [
        CarrierCallback("POST", "https://otp.example.com/callbacks/vn/status", json={"status": "delivered"}),
        CarrierCallback("GET", "https://otp.example.com/callbacks/vn/status?status=delivered"),
        CarrierCallback("POST", "https://otp.example.com/callbacks/vn/status", {"status": "delivered"})])
    def test_a_callback_fired_at_a_flask_client_arrives_in_its_shape(self, callback):
        app = flask.Flask("callbacks")

        @app.route("/callbacks/<transport>/<kind>", methods=["GET", "POST"])
        def view(transport, kind):
            fields = {**flask.request.args, **flask.request.form, **(flask.request.get_json(silent=True) or {})}
            return f"{transport}/{kind}/{fields['status']}"

        assert callback.fire(app.test_client()) == (200, "vn/status/delivered")

    def test_a_callback_becomes_otpgws_callback_request(self):
        callback = CarrierCallback("POST", "https://otp.example.com/callbacks/vn/inbound?x=1", json={"text": "STOP"})
        request = callback.request(now_ms=5)
        assert (request.kind, request.query, request.json, request.now_ms) == ("inbound", {"x": "1"},
                                                                               {"text": "STOP"}, 5)
        assert json.loads(request.body) == {"text": "STOP"}
