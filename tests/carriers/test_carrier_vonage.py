"""The vonage profile against a fake Vonage SMS API that answers by Vonage's documentation.

Delivery receipts and inbound SMS are signed with Vonage's own SDK
(``vonage_http_client.Auth.sign_params``), or for the legacy ``md5hash`` method (which
the v4 SDK dropped) as Vonage's signing guide describes it.
"""
from __future__ import annotations

import pytest

from otpgw.domain.outcomes import DeliveryStatus
from otpgw.domain.textcodec import Encoding
from otpgw.transports.base import (
    DeliveryReport,
    ForgedCallbackError,
    InboundMessage,
    OutcomeUnknownError,
    PermanentTransportError,
    TemporaryTransportError,
    ThrottledError,
    TransportError,
    TransportRefusedError,
)
from otpgw.transports.http.client import ClientOptions
from otpgw.transports.http.vonage import VonageTransport

from support.carriers import Answer, CarrierCallback, Fault, VonageCarrier

STATUS_URL = "https://otp.example.com/callbacks/vn/status"
INBOUND_URL = "https://otp.example.com/callbacks/vn/inbound"
LONG_GSM = "Your code is 482913. " * 9  # 189 septets: two parts


@pytest.fixture
def make_vonage(vonage_carrier, clock):
    built = []

    def build(**overrides) -> VonageTransport:
        options = dict(api_key=VonageCarrier.API_KEY, api_secret=VonageCarrier.API_SECRET, sender="Acme",
                       signature_secret=VonageCarrier.SIGNATURE_SECRET, signature_method="sha256",
                       base_url=vonage_carrier.url, client_options=ClientOptions(read_timeout=0.5), clock=clock)
        transport = VonageTransport("vn", **{**options, **overrides})
        built.append(transport)
        return transport

    yield build
    for transport in built:
        transport.close()


@pytest.fixture
def vonage(make_vonage):
    return make_vonage()


def _fail(transport, message, error=TransportError):
    with pytest.raises(error) as caught:
        transport.send(message)
    return caught.value


def _now_ms(clock) -> int:
    return int(clock() * 1000)


class TestVonageRequest:
    def test_message_is_a_form_post_with_the_documented_fields(self, vonage, vonage_carrier, make_message):
        message = make_message("vn")
        receipt = vonage.send(message)
        request = vonage_carrier.last
        assert (request.method, request.path) == ("POST", "/sms/json")
        assert request.form == {"api_key": VonageCarrier.API_KEY, "api_secret": VonageCarrier.API_SECRET,
                                "from": "Acme", "to": "14155552671", "text": "Your code is 482913",
                                "client-ref": message.reference, "ttl": "300000", "callback": STATUS_URL}
        assert receipt.carrier_ids and (receipt.parts, receipt.encoding) == (1, Encoding.GSM7)

    def test_a_non_gsm_text_is_sent_as_unicode(self, vonage, vonage_carrier, make_message):
        receipt = vonage.send(make_message("vn", "Ваш код 482913"))
        assert vonage_carrier.last.form["type"] == "unicode"
        assert receipt.encoding is Encoding.UCS2

    def test_a_gsm_text_with_extension_characters_stays_text(self, vonage, vonage_carrier, make_message):
        vonage.send(make_message("vn", "Code {482913} costs 0 €"))
        assert "type" not in vonage_carrier.last.form

    def test_a_long_text_gives_one_carrier_id_per_part(self, vonage, make_message):
        receipt = vonage.send(make_message("vn", LONG_GSM))
        assert receipt.parts == 2 and len(set(receipt.carrier_ids)) == 2

    @pytest.mark.parametrize("ttl_s, sent", [(5, "20000"), (30 * 86400, "604800000"), (61.5, "61000")])
    def test_ttl_is_the_codes_remaining_life_in_ms_within_vonages_range(self, vonage, vonage_carrier, make_message,
                                                                       ttl_s, sent):
        vonage.send(make_message("vn", ttl_s=ttl_s))
        assert vonage_carrier.last.form["ttl"] == sent

    def test_no_callback_without_a_signature_secret_or_a_public_url(self, make_vonage, vonage_carrier, make_message):
        make_vonage(signature_secret="").send(make_message("vn"))
        assert "callback" not in vonage_carrier.last.form
        make_vonage().send(make_message("vn", callback_url=""))
        assert "callback" not in vonage_carrier.last.form

    def test_a_callback_url_longer_than_vonage_takes_is_left_out(self, vonage, vonage_carrier, make_message):
        vonage.send(make_message("vn", callback_url="https://otp.example.com/" + "x" * 80))
        assert "callback" not in vonage_carrier.last.form


class TestVonageRefusals:
    @pytest.mark.parametrize("status", ["1", "10"])
    def test_throttling_statuses_throttle(self, vonage, vonage_carrier, make_message, status):
        vonage_carrier.fail_next(VonageCarrier.refusal(status, "Throughput Rate Exceeded"))
        assert _fail(vonage, make_message("vn"), ThrottledError).code == status

    def test_an_internal_error_is_temporary(self, vonage, vonage_carrier, make_message):
        vonage_carrier.fail_next(VonageCarrier.refusal("5", "Internal Error"))
        error = _fail(vonage, make_message("vn"), TemporaryTransportError)
        assert error.code == "5" and not isinstance(error, ThrottledError)

    @pytest.mark.parametrize("status", ["3", "6", "7", "12", "22", "33"])
    def test_number_and_content_refusals_are_permanent(self, vonage, vonage_carrier, make_message, status):
        vonage_carrier.fail_next(VonageCarrier.refusal(status))
        assert _fail(vonage, make_message("vn"), PermanentTransportError).code == status

    @pytest.mark.parametrize("status", ["2", "4", "8", "9", "11", "14", "15", "23", "29", "32", "99"])
    def test_account_side_refusals_fail_over_instead_of_failing_the_message(self, vonage, vonage_carrier,
                                                                           make_message, status):
        vonage_carrier.fail_next(VonageCarrier.refusal(status))
        error = _fail(vonage, make_message("vn"))
        assert isinstance(error, TransportRefusedError) and error.failover
        assert error.code == status

    def test_wrong_credentials_are_status_4_and_fail_over(self, make_vonage, make_message):
        error = _fail(make_vonage(api_secret="wrong"), make_message("vn"))
        assert (error.code, error.failover) == ("4", True)
        assert "Bad Credentials" in str(error)

    def test_a_part_refused_after_another_was_accepted_decides(self, vonage, vonage_carrier, make_message):
        answer = Answer.json(200, {"message-count": "2", "messages": [
            {"to": "14155552671", "message-id": "0A01", "status": "0"},
            {"status": "9", "error-text": "Quota Exceeded - rejected"}]})
        vonage_carrier.fail_next(Fault(answer))
        assert _fail(vonage, make_message("vn", LONG_GSM)).code == "9"

    def test_http_429_throttles_with_retry_after(self, vonage, vonage_carrier, make_message):
        vonage_carrier.fail_next(Fault.throttled("12"))
        assert _fail(vonage, make_message("vn"), ThrottledError).retry_after == 12.0

    def test_http_5xx_is_temporary(self, vonage, vonage_carrier, make_message):
        vonage_carrier.fail_next(Fault.server_error(503))
        assert not isinstance(_fail(vonage, make_message("vn"), TemporaryTransportError), OutcomeUnknownError)

    def test_a_slow_answer_is_an_unknown_outcome(self, vonage, vonage_carrier, make_message):
        vonage_carrier.fail_next(Fault.slow(2.0))
        _fail(vonage, make_message("vn"), OutcomeUnknownError)

    def test_a_dropped_connection_after_the_request_is_an_unknown_outcome(self, vonage, vonage_carrier,
                                                                          make_message):
        vonage_carrier.fail_next(Fault.dropped())
        _fail(vonage, make_message("vn"), OutcomeUnknownError)
        assert len(vonage_carrier.requests) == 1

    @pytest.mark.parametrize("answer", [Answer.text(200, "<html>ok</html>"), Answer.json(200, {"message-count": "0"}),
                                        Answer.json(200, {"messages": [{"status": "0"}]})])
    def test_a_2xx_we_cannot_read_is_an_unknown_outcome(self, vonage, vonage_carrier, make_message, answer):
        vonage_carrier.fail_next(Fault(answer))
        _fail(vonage, make_message("vn"), OutcomeUnknownError)


class TestVonageDeliveryReceipts:
    @pytest.mark.parametrize("method", ["GET", "POST", "POST-JSON"])
    @pytest.mark.parametrize("vonage_status, status, err", [
        ("delivered", DeliveryStatus.DELIVERED, "0"), ("accepted", DeliveryStatus.SENT, "0"),
        ("buffered", DeliveryStatus.SENT, "0"), ("expired", DeliveryStatus.UNDELIVERED, "5"),
        ("failed", DeliveryStatus.FAILED, "2"), ("rejected", DeliveryStatus.FAILED, "6")])
    def test_every_receipt_shape_maps_to_a_report_for_the_reference(self, vonage, make_message, tokens, clock,
                                                                   vonage_carrier, method, vonage_status, status, err):
        message = make_message("vn")
        message_id = vonage.send(message).carrier_ids[0]
        receipt = vonage_carrier.delivery_receipt(STATUS_URL, message_id, vonage_status, client_ref=message.reference,
                                                  err_code=err, method=method, timestamp=int(clock()))
        result = vonage.handle_callback(receipt.request(now_ms=_now_ms(clock)), tokens)
        expected_error = "" if err == "0" else err
        assert result.events == (DeliveryReport("vn", status, message.reference, message_id, expected_error,
                                                vonage_status),)

    def test_an_unknown_status_is_acknowledged_and_ignored(self, vonage, vonage_carrier, tokens, clock):
        receipt = vonage_carrier.delivery_receipt(STATUS_URL, "0A01", "unknown", timestamp=int(clock()))
        assert vonage.handle_callback(receipt.request(now_ms=_now_ms(clock)), tokens).events == ()

    def test_each_part_of_a_long_message_reports_on_its_own(self, vonage, vonage_carrier, make_message, tokens, clock):
        message = make_message("vn", LONG_GSM)
        first, second = vonage.send(message).carrier_ids
        events = [vonage.handle_callback(vonage_carrier.delivery_receipt(
            STATUS_URL, part, "delivered", client_ref=message.reference, timestamp=int(clock())
        ).request(now_ms=_now_ms(clock)), tokens).events[0] for part in (first, second)]
        assert [(e.reference, e.carrier_id, e.status) for e in events] == [
            (message.reference, first, DeliveryStatus.DELIVERED), (message.reference, second, DeliveryStatus.DELIVERED)]

    @pytest.mark.parametrize("method", ["md5hash", "md5", "sha1", "sha256", "sha512"])
    def test_every_signature_method_vonage_offers_verifies(self, make_vonage, clock, tokens, method):
        with VonageCarrier(signature_method=method) as carrier:
            receipt = carrier.delivery_receipt(STATUS_URL, "0A01", "delivered", client_ref="r1", timestamp=int(clock()))
        transport = make_vonage(signature_method=method)
        assert transport.handle_callback(receipt.request(now_ms=_now_ms(clock)), tokens).events[0].reference == "r1"

    def test_a_signature_from_another_method_is_forged(self, make_vonage, clock, tokens):
        with VonageCarrier(signature_method="sha512") as carrier:
            receipt = carrier.delivery_receipt(STATUS_URL, "0A01", timestamp=int(clock()))
        with pytest.raises(ForgedCallbackError):
            make_vonage(signature_method="sha256").handle_callback(receipt.request(now_ms=_now_ms(clock)), tokens)

    def test_a_changed_field_breaks_the_signature(self, vonage, vonage_carrier, clock, tokens):
        receipt = vonage_carrier.delivery_receipt(STATUS_URL, "0A01", "failed", client_ref="r1", timestamp=int(clock()))
        forged = CarrierCallback("POST", STATUS_URL, json={**receipt.json, "status": "delivered"})
        with pytest.raises(ForgedCallbackError, match="sig"):
            vonage.handle_callback(forged.request(now_ms=_now_ms(clock)), tokens)

    def test_a_missing_signature_is_forged(self, vonage, vonage_carrier, clock, tokens):
        receipt = vonage_carrier.delivery_receipt(STATUS_URL, "0A01", timestamp=int(clock()), sign=False)
        with pytest.raises(ForgedCallbackError):
            vonage.handle_callback(receipt.request(now_ms=_now_ms(clock)), tokens)

    @pytest.mark.parametrize("age_s", [301, -301, 86400])
    def test_a_stale_or_future_timestamp_is_forged_even_when_signed(self, vonage, vonage_carrier, clock, tokens,
                                                                    age_s):
        receipt = vonage_carrier.delivery_receipt(STATUS_URL, "0A01", timestamp=int(clock()) - age_s)
        with pytest.raises(ForgedCallbackError, match="stale"):
            vonage.handle_callback(receipt.request(now_ms=_now_ms(clock)), tokens)

    def test_a_replayed_nonce_is_forged(self, vonage, vonage_carrier, clock, tokens):
        receipt = vonage_carrier.delivery_receipt(STATUS_URL, "0A01", client_ref="r1", timestamp=int(clock()))
        assert vonage.handle_callback(receipt.request(now_ms=_now_ms(clock)), tokens).events
        clock.advance(60)
        with pytest.raises(ForgedCallbackError, match="replayed"):
            vonage.handle_callback(receipt.request(now_ms=_now_ms(clock)), tokens)

    def test_a_forged_callback_does_not_burn_the_nonce_of_the_real_one(self, vonage, vonage_carrier, clock, tokens):
        real = vonage_carrier.delivery_receipt(STATUS_URL, "0A01", client_ref="r1", timestamp=int(clock()),
                                               nonce="n-1")
        forged = CarrierCallback("POST", STATUS_URL, json={**real.json, "sig": "0" * 64})
        with pytest.raises(ForgedCallbackError):
            vonage.handle_callback(forged.request(now_ms=_now_ms(clock)), tokens)
        assert vonage.handle_callback(real.request(now_ms=_now_ms(clock)), tokens).events

    def test_without_a_signature_secret_every_callback_is_refused(self, make_vonage, vonage_carrier, clock, tokens):
        receipt = vonage_carrier.delivery_receipt(STATUS_URL, "0A01", timestamp=int(clock()))
        with pytest.raises(ForgedCallbackError):
            make_vonage(signature_secret="").handle_callback(receipt.request(now_ms=_now_ms(clock)), tokens)


class TestVonageInbound:
    @pytest.mark.parametrize("method", ["GET", "POST-JSON"])
    def test_an_inbound_sms_becomes_an_inbound_message(self, vonage, vonage_carrier, clock, tokens, method):
        callback = vonage_carrier.inbound(INBOUND_URL, "447700900123", "STOP", method=method, timestamp=int(clock()))
        (event,) = vonage.handle_callback(callback.request(now_ms=_now_ms(clock)), tokens).events
        assert isinstance(event, InboundMessage)
        assert (event.sender, event.text, event.recipient) == ("+447700900123", "STOP", "447700900001")
        assert event.carrier_id and event.received_ms == _now_ms(clock)

    def test_a_part_of_a_concatenated_inbound_sms_carries_its_place(self, vonage, vonage_carrier, clock, tokens):
        callback = vonage_carrier.inbound(INBOUND_URL, "447700900123", "first half", timestamp=int(clock()),
                                          **{"concat": "true", "concat-ref": "7", "concat-part": "1",
                                             "concat-total": "2"})
        (event,) = vonage.handle_callback(callback.request(now_ms=_now_ms(clock)), tokens).events
        assert (event.extra["concat-ref"], event.extra["concat-part"], event.extra["concat-total"]) == ("7", "1", "2")

    def test_an_unsigned_inbound_sms_is_forged(self, vonage, clock, tokens):
        callback = CarrierCallback("POST", INBOUND_URL, json={"msisdn": "447700900123", "text": "STOP",
                                                              "timestamp": str(int(clock())), "nonce": "n"})
        with pytest.raises(ForgedCallbackError):
            vonage.handle_callback(callback.request(now_ms=_now_ms(clock)), tokens)
