"""The http profile: an SMS API described in TOML, against a fake API in two dialects
(JSON with bearer auth; form or query with text answers and refusals in a 200)."""
from __future__ import annotations

import copy

import pytest

from otpgw.config import SettingsError
from otpgw.config.options import Options
from otpgw.domain.outcomes import DeliveryStatus
from otpgw.transports.base import (
    DeliveryReport,
    ForgedCallbackError,
    OutcomeUnknownError,
    PermanentTransportError,
    TemporaryTransportError,
    ThrottledError,
    TransportError,
)
from otpgw.transports.http.generic import TemplatedHttpTransport

from support.carriers import Answer, CarrierCallback, Fault, GenericCarrier

JSON_API = {
    "from": "Acme", "read_timeout": 0.5,
    "request": {"url": "{base}/v1/messages", "auth": {"type": "bearer", "token": GenericCarrier.TOKEN},
                "headers": {"Idempotency-Key": "{reference}"},
                "fields": {"to": "{to}", "text": "{text}", "sender": "{sender}", "reference": "{reference}",
                           "report": {"url": "{status_url}", "validity": "{validity_s}"}}},
    "response": {"success_status": [201], "id_path": "message.id", "error_code_path": "error.code",
                 "error_message_path": "error.message", "permanent_codes": ["INVALID_NUMBER"],
                 "throttle_codes": ["RATE"]},
    "callback": {"status_field": "state", "id_field": "message_id", "error_field": "error_code",
                 "statuses": {"DELIVRD": "delivered", "UNDELIV": "undelivered", "REJECTD": "failed",
                              "ENROUTE": "sent", "ACCEPTD": "ignore"}},
}
TEXT_API = {
    "read_timeout": 0.5,
    "request": {"url": "{base}/v1/send", "body": "form",
                "fields": {"key": GenericCarrier.TOKEN, "to": "{to_digits}", "msg": "{text}", "ttl": "{validity_min}"}},
    "response": {"success_regex": "^OK ", "id_regex": r"id=(\w+)", "error_code_regex": r"^ERR (\w+)",
                 "permanent_codes": ["INVALID_NUMBER"], "retryable_codes": ["AUTH"]},
}


def _table(template: dict, base: str = "", **changes) -> dict:
    table = copy.deepcopy(template)
    table["request"]["url"] = table["request"]["url"].replace("{base}", base)
    for path, value in changes.items():
        node = table
        *parents, last = path.split("__")
        for key in parents:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return table


@pytest.fixture
def make_http(generic_carrier, clock):
    built = []

    def build(template: dict = JSON_API, **changes) -> TemplatedHttpTransport:
        table = _table(template, generic_carrier.url, **changes)
        transport = TemplatedHttpTransport.from_config("acme", Options("transports.acme", table))
        transport.clock = clock
        built.append(transport)
        return transport

    yield build
    for transport in built:
        transport.close()


def _fail(transport, message, error=TransportError):
    with pytest.raises(error) as caught:
        transport.send(message)
    return caught.value


class TestJsonDialect:
    def test_request_is_built_from_the_templates(self, make_http, generic_carrier, make_message):
        message = make_message("acme")
        receipt = make_http().send(message)
        request = generic_carrier.last
        assert (request.method, request.path) == ("POST", "/v1/messages")
        assert request.header("Authorization") == f"Bearer {GenericCarrier.TOKEN}"
        assert request.header("Idempotency-Key") == message.reference
        assert request.json == {"to": "+14155552671", "text": "Your code is 482913", "sender": "Acme",
                                "reference": message.reference,
                                "report": {"url": f"https://otp.example.com/callbacks/acme/status?ref="
                                                  f"{message.reference}&token={message.callback_token}",
                                           "validity": 300}}
        assert receipt.carrier_ids == ("msg-1000",) and receipt.parts == 1

    def test_a_messages_own_sender_wins(self, make_http, generic_carrier, make_message):
        make_http().send(make_message("acme", sender="Other"))
        assert generic_carrier.last.json["sender"] == "Other"

    def test_a_listed_error_code_is_permanent_with_the_carriers_reason(self, make_http, make_message):
        error = _fail(make_http(), make_message("acme", to="+1"), PermanentTransportError)
        assert error.code == "INVALID_NUMBER" and "to is not a valid number" in str(error)

    def test_refused_credentials_fail_over_by_the_common_rule(self, make_http, make_message):
        error = _fail(make_http(request__auth={"type": "bearer", "token": "wrong"}), make_message("acme"))
        assert error.failover and not isinstance(error, PermanentTransportError) and error.code == "AUTH"

    def test_429_throttles_with_retry_after(self, make_http, generic_carrier, make_message):
        generic_carrier.fail_next(Fault.throttled("4"))
        assert _fail(make_http(), make_message("acme"), ThrottledError).retry_after == 4.0

    def test_a_throttle_code_throttles_whatever_the_status(self, make_http, generic_carrier, make_message):
        generic_carrier.fail_next(Fault(Answer.json(400, {"error": {"code": "RATE", "message": "slow down"}})))
        assert _fail(make_http(), make_message("acme"), ThrottledError).code == "RATE"

    def test_a_server_error_is_temporary(self, make_http, generic_carrier, make_message):
        generic_carrier.fail_next(Fault.server_error(502))
        assert type(_fail(make_http(), make_message("acme"))) is TemporaryTransportError

    def test_status_lists_override_the_common_rule(self, make_http, generic_carrier, make_message):
        transport = make_http(response__permanent_status=[503], response__retryable_status=[400])
        generic_carrier.fail_next(Fault.server_error(503), Fault.reply(400, "{}"))
        _fail(transport, make_message("acme"), PermanentTransportError)
        error = _fail(transport, make_message("acme"))
        assert error.retryable and not isinstance(error, PermanentTransportError)

    @pytest.mark.parametrize("fault", [Fault(Answer.text(201, "<html>created</html>")),
                                       Fault(Answer.json(201, {"message": {"status": "queued"}})),
                                       Fault(Answer.json(200, {"message": {"id": "m1"}})),
                                       Fault.slow(2.0), Fault.dropped()])
    def test_answers_that_may_hide_an_acceptance_are_unknown_outcomes(self, make_http, generic_carrier, make_message,
                                                                      fault):
        generic_carrier.fail_next(fault)
        _fail(make_http(), make_message("acme"), OutcomeUnknownError)


class TestTextDialect:
    def test_a_form_request_and_an_id_found_by_regex(self, make_http, generic_carrier, make_message):
        receipt = make_http(TEXT_API).send(make_message("acme", ttl_s=600))
        assert generic_carrier.last.form == {"key": GenericCarrier.TOKEN, "to": "14155552671",
                                             "msg": "Your code is 482913", "ttl": "10"}
        assert receipt.carrier_ids == ("1000",)

    def test_a_get_request_carries_the_fields_in_the_query(self, make_http, generic_carrier, make_message):
        make_http(TEXT_API, request__method="GET", request__body=None).send(make_message("acme"))
        assert generic_carrier.last.method == "GET" and generic_carrier.last.query["to"] == "14155552671"

    def test_refusals_in_a_200_are_read_by_their_code(self, make_http, make_message):
        error = _fail(make_http(TEXT_API), make_message("acme", to="+1x"), PermanentTransportError)
        assert error.code == "INVALID_NUMBER"
        wrong_key = make_http(TEXT_API, request__fields={"key": "nope", "to": "{to_digits}", "msg": "{text}"})
        assert _fail(wrong_key, make_message("acme")).code == "AUTH"

    def test_an_unlisted_code_in_a_200_is_permanent(self, make_http, generic_carrier, make_message):
        generic_carrier.fail_next(Fault.reply(200, "ERR CONTENT_BLOCKED spam"))
        assert _fail(make_http(TEXT_API), make_message("acme"), PermanentTransportError).code == "CONTENT_BLOCKED"

    def test_a_200_that_is_neither_success_nor_error_is_an_unknown_outcome(self, make_http, generic_carrier,
                                                                           make_message):
        generic_carrier.fail_next(Fault.reply(200, "<html>maintenance</html>"))
        _fail(make_http(TEXT_API), make_message("acme"), OutcomeUnknownError)


class TestGenericCallbacks:
    @pytest.mark.parametrize("method", ["POST", "GET"])
    @pytest.mark.parametrize("state, status", [
        ("DELIVRD", DeliveryStatus.DELIVERED), ("delivrd", DeliveryStatus.DELIVERED),
        ("UNDELIV", DeliveryStatus.UNDELIVERED), ("REJECTD", DeliveryStatus.FAILED), ("ENROUTE", DeliveryStatus.SENT)])
    def test_a_report_maps_through_the_status_table(self, make_http, make_message, tokens, method, state, status):
        transport, message = make_http(), make_message("acme")
        report = GenericCarrier.report(_status_url(message), "msg-7", state, error="E12", method=method)
        result = transport.handle_callback(report.request(), tokens)
        assert result.events == (DeliveryReport("acme", status, message.reference, "msg-7", "E12", state),)

    @pytest.mark.parametrize("state", ["ACCEPTD", "SOMETHING_NEW"])
    def test_ignored_and_unknown_statuses_are_acknowledged_without_events(self, make_http, make_message, tokens, state):
        report = GenericCarrier.report(_status_url(make_message("acme")), "msg-7", state)
        assert make_http().handle_callback(report.request(), tokens).events == ()

    def test_a_nested_json_status_is_found_by_path_and_the_answer_is_configured(self, make_http, make_message,
                                                                                tokens):
        transport = make_http(callback__status_field="data.status", callback__id_field="data.id",
                              callback__answer="OK")
        message = make_message("acme")
        report = CarrierCallback("POST", _status_url(message), json={"data": {"status": "DELIVRD", "id": "m9"}})
        result = transport.handle_callback(report.request(), tokens)
        assert result.events[0].carrier_id == "m9" and result.body == "OK"

    @pytest.mark.parametrize("url", ["https://otp.example.com/callbacks/acme/status?ref={ref}",
                                     "https://otp.example.com/callbacks/acme/status?ref={ref}&token=forged",
                                     "https://otp.example.com/callbacks/acme/status?ref=other&token={token}"])
    def test_a_report_without_its_token_is_forged(self, make_http, make_message, tokens, url):
        message = make_message("acme")
        report = GenericCarrier.report(url.format(ref=message.reference, token=message.callback_token), "m", "DELIVRD")
        with pytest.raises(ForgedCallbackError):
            make_http().handle_callback(report.request(), tokens)

    def test_without_a_callback_table_every_callback_is_refused(self, make_http, make_message, tokens):
        transport = make_http(TEXT_API)
        report = GenericCarrier.report(_status_url(make_message("acme")), "m", "DELIVRD")
        with pytest.raises(ForgedCallbackError):
            transport.handle_callback(report.request(), tokens)


def _status_url(message) -> str:
    return f"{message.callback_url}/status?ref={message.reference}&token={message.callback_token}"


class TestGenericConfig:
    @pytest.mark.parametrize("changes, sentence", [
        ({"request__fields": {"to": "{too}"}}, r"transports\.acme\.request\.fields\.to: unknown placeholder \{too\}"),
        ({"request__headers": {"X-Ref": "{reference"}}, r"request\.headers\.X-Ref: .*lone brace"),
        ({"request__method": "GET", "request__body": "json"}, r"request\.body: a GET request sends its fields in"),
        ({"request__body": "form"}, r"request\.fields\.report: only strings and numbers"),
        ({"request__url": "/v1/messages"}, r"request\.url: .* is not an absolute http\(s\) URL"),
        ({"request__feilds": {}}, r"request\.feilds is not a known option; did you mean 'fields'\?"),
        ({"request__auth": {"type": "bearer"}}, r"request\.auth\.token is required"),
        ({"response__success_path": "status"}, r"response\.success_values: success_path and success_values go"),
        ({"response__id_regex": "id=(x"}, r"response\.id_regex: not a valid regular expression"),
        ({"response__success_status": [999]}, r"response\.success_status: 999 is not an HTTP status"),
        ({"callback": None}, r"transports\.acme\.request uses \{status_url\} but there is no "
                             r"\[transports\.acme\.callback\] table"),
        ({"callback__statuses": {"DELIVRD": "done"}}, r"callback\.statuses: DELIVRD = 'done': use sent, delivered"),
        ({"callback__status_field": None}, r"transports\.acme\.callback\.status_field is required"),
    ])
    def test_a_bad_table_stops_the_start_with_a_sentence_naming_the_setting(self, changes, sentence):
        with pytest.raises(SettingsError, match=sentence):
            TemplatedHttpTransport.from_config("acme", Options("transports.acme",
                                                               _table(JSON_API, "https://api.example", **changes)))

    def test_literal_braces_are_written_doubled(self, make_http, generic_carrier, make_message):
        make_http(request__fields={"to": "{to}", "text": "{{{text}}}"}).send(make_message("acme"))
        assert generic_carrier.last.json["text"] == "{Your code is 482913}"
