"""The twilio profile against a fake Twilio that answers by Twilio's documentation.

Callback signatures in these tests come from Twilio's own SDK (RequestValidator), so
the transport's signature check is held to Twilio's computation, not to itself.
"""
from __future__ import annotations

import socket
import threading
from email.utils import formatdate

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
from otpgw.transports.http.twilio import TwilioTransport

from support.carriers import Answer, Fault, TwilioCarrier

SENDER = "+15017122661"


@pytest.fixture
def make_twilio(twilio_carrier, clock):
    built = []

    def build(**overrides) -> TwilioTransport:
        options = dict(account_sid=TwilioCarrier.ACCOUNT_SID, auth_token=TwilioCarrier.AUTH_TOKEN, sender=SENDER,
                       base_url=twilio_carrier.url, client_options=ClientOptions(read_timeout=0.5), clock=clock)
        transport = TwilioTransport("tw", **{**options, **overrides})
        built.append(transport)
        return transport

    yield build
    for transport in built:
        transport.close()


@pytest.fixture
def twilio(make_twilio):
    return make_twilio()


def _send_and_fail(transport, message, error=TransportError):
    with pytest.raises(error) as caught:
        transport.send(message)
    return caught.value


class TestTwilioRequest:
    def test_message_is_a_form_post_with_basic_auth_and_the_documented_fields(self, twilio, twilio_carrier,
                                                                               make_message):
        message = make_message("tw")
        receipt = twilio.send(message)
        request = twilio_carrier.last
        assert request.method == "POST"
        assert request.path == f"/2010-04-01/Accounts/{TwilioCarrier.ACCOUNT_SID}/Messages.json"
        assert request.basic_auth == (TwilioCarrier.ACCOUNT_SID, TwilioCarrier.AUTH_TOKEN)
        assert request.form == {"To": "+14155552671", "From": SENDER, "Body": "Your code is 482913",
                                "ValidityPeriod": "300",
                                "StatusCallback": f"https://otp.example.com/callbacks/tw/status?ref={message.reference}"}
        assert receipt.carrier_ids == (twilio_carrier.messages[0]["sid"],)
        assert (receipt.parts, receipt.encoding) == (1, Encoding.GSM7)

    def test_an_api_key_authenticates_in_place_of_the_auth_token(self, make_twilio, twilio_carrier, make_message):
        transport = make_twilio(auth_token="", api_key_sid=TwilioCarrier.API_KEY_SID,
                                api_key_secret=TwilioCarrier.API_KEY_SECRET)
        transport.send(make_message("tw"))
        assert twilio_carrier.last.basic_auth == (TwilioCarrier.API_KEY_SID, TwilioCarrier.API_KEY_SECRET)
        assert "StatusCallback" not in twilio_carrier.last.form  # no auth token: reports could not be verified

    def test_a_messaging_service_is_named_and_a_message_sender_wins(self, make_twilio, twilio_carrier, make_message):
        service = "MG" + "ab" * 16
        make_twilio(sender="", messaging_service_sid=service).send(make_message("tw", sender="Acme"))
        assert twilio_carrier.last.form["MessagingServiceSid"] == service
        assert twilio_carrier.last.form["From"] == "Acme"

    @pytest.mark.parametrize("ttl_s, sent", [(100_000, "36000"), (-5, "1"), (59.9, "59")])
    def test_validity_period_is_the_codes_remaining_life_within_twilios_range(self, twilio, twilio_carrier,
                                                                              make_message, ttl_s, sent):
        twilio.send(make_message("tw", ttl_s=ttl_s))
        assert twilio_carrier.last.form["ValidityPeriod"] == sent

    def test_twilios_segment_count_is_the_receipts_parts(self, twilio, twilio_carrier, make_message):
        twilio_carrier.num_segments = 3
        assert twilio.send(make_message("tw")).parts == 3

    def test_a_non_gsm_text_is_counted_in_ucs2_segments(self, twilio, make_message):
        receipt = twilio.send(make_message("tw", "Код подтверждения: 482913. Никому его не сообщайте, даже нам 🙂."))
        assert (receipt.parts, receipt.encoding) == (1, Encoding.UCS2)
        receipt = twilio.send(make_message("tw", "Код " * 20))
        assert (receipt.parts, receipt.encoding) == (2, Encoding.UCS2)

    def test_no_status_callback_without_a_public_url(self, twilio, twilio_carrier, make_message):
        twilio.send(make_message("tw", callback_url=""))
        assert "StatusCallback" not in twilio_carrier.last.form

    def test_concurrent_sends_share_one_client_safely(self, twilio, twilio_carrier, make_message):
        messages = [make_message("tw") for _ in range(40)]
        receipts = {}

        def send(message):
            receipts[message.reference] = twilio.send(message)

        threads = [threading.Thread(target=send, args=(m,)) for m in messages]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert len({r.carrier_ids[0] for r in receipts.values()}) == 40
        assert len(twilio_carrier.requests) == 40


class TestTwilioRefusals:
    def test_an_invalid_number_is_permanent_with_twilios_code(self, twilio, make_message):
        error = _send_and_fail(twilio, make_message("tw", to="12345"), PermanentTransportError)
        assert error.code == "21211"
        assert "not a valid phone number" in str(error)

    def test_refused_credentials_fail_over_instead_of_failing_the_message(self, make_twilio, make_message):
        error = _send_and_fail(make_twilio(auth_token="wrong-token"), make_message("tw"))
        assert isinstance(error, TransportRefusedError) and error.failover and not error.retryable
        assert error.code == "20003"

    def test_throttling_pauses_for_the_seconds_in_retry_after(self, twilio, twilio_carrier, make_message):
        body = TwilioCarrier.error(20429, "Too Many Requests", 429).answer
        twilio_carrier.fail_next(Fault.throttled("7", body))
        error = _send_and_fail(twilio, make_message("tw"), ThrottledError)
        assert (error.retry_after, error.code) == (7.0, "20429")

    def test_retry_after_may_be_an_http_date(self, twilio, twilio_carrier, make_message, clock):
        twilio_carrier.fail_next(Fault.throttled(formatdate(clock() + 30, usegmt=True)))
        error = _send_and_fail(twilio, make_message("tw"), ThrottledError)
        assert 29 <= error.retry_after <= 30

    def test_a_429_without_retry_after_still_throttles(self, twilio, twilio_carrier, make_message):
        twilio_carrier.fail_next(Fault.throttled(None))
        assert _send_and_fail(twilio, make_message("tw"), ThrottledError).retry_after is None

    def test_a_queue_overflow_code_throttles(self, twilio, twilio_carrier, make_message):
        twilio_carrier.fail_next(TwilioCarrier.error(21611, "This 'From' number has exceeded the queue", 400))
        assert _send_and_fail(twilio, make_message("tw"), ThrottledError).code == "21611"

    @pytest.mark.parametrize("status", [500, 502, 503])
    def test_a_server_error_is_temporary(self, twilio, twilio_carrier, make_message, status):
        twilio_carrier.fail_next(Fault.server_error(status))
        error = _send_and_fail(twilio, make_message("tw"), TemporaryTransportError)
        assert not isinstance(error, (OutcomeUnknownError, ThrottledError))

    def test_an_error_page_instead_of_json_on_a_4xx_is_still_permanent(self, twilio, twilio_carrier, make_message):
        twilio_carrier.fail_next(Fault.reply(400, "<html>Bad Request</html>"))
        assert _send_and_fail(twilio, make_message("tw"), PermanentTransportError).code == ""


class TestTwilioLostAnswers:
    def test_an_answer_slower_than_the_read_timeout_is_an_unknown_outcome(self, twilio, twilio_carrier,
                                                                          make_message):
        twilio_carrier.fail_next(Fault.slow(2.0))
        _send_and_fail(twilio, make_message("tw"), OutcomeUnknownError)
        assert len(twilio_carrier.requests) == 1  # the request did reach the carrier

    def test_a_connection_dropped_after_the_request_is_an_unknown_outcome(self, twilio, twilio_carrier,
                                                                          make_message):
        twilio_carrier.fail_next(Fault.dropped())
        _send_and_fail(twilio, make_message("tw"), OutcomeUnknownError)
        assert twilio.send(make_message("tw")).carrier_ids  # the pool recovers

    def test_a_refused_connection_is_temporary_not_unknown(self, make_twilio, make_message):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            closed_port = sock.getsockname()[1]
        error = _send_and_fail(make_twilio(base_url=f"http://127.0.0.1:{closed_port}"), make_message("tw"),
                               TemporaryTransportError)
        assert not isinstance(error, OutcomeUnknownError)

    @pytest.mark.parametrize("answer", [Answer.text(201, "<html>Created</html>"),
                                        Answer.json(201, {"status": "queued"}),
                                        Answer.json(201, ["not", "an", "object"])])
    def test_a_2xx_we_cannot_read_is_an_unknown_outcome(self, twilio, twilio_carrier, make_message, answer):
        twilio_carrier.fail_next(Fault(answer))
        _send_and_fail(twilio, make_message("tw"), OutcomeUnknownError)


class TestTwilioStatusCallbacks:
    @pytest.mark.parametrize("twilio_status, status", [
        ("sent", DeliveryStatus.SENT), ("sending", DeliveryStatus.SENT), ("delivered", DeliveryStatus.DELIVERED),
        ("undelivered", DeliveryStatus.UNDELIVERED), ("failed", DeliveryStatus.FAILED)])
    def test_message_status_maps_to_a_delivery_report_for_the_reference(self, twilio, twilio_carrier, make_message,
                                                                        tokens, twilio_status, status):
        message = make_message("tw")
        sid = twilio.send(message).carrier_ids[0]
        error = "30003" if status in (DeliveryStatus.UNDELIVERED, DeliveryStatus.FAILED) else ""
        callback = twilio_carrier.status_callback(sid, twilio_status, error_code=error)
        result = twilio.handle_callback(callback.request(), tokens)
        assert result.events == (DeliveryReport("tw", status, message.reference, sid, error, twilio_status),)

    @pytest.mark.parametrize("twilio_status", ["queued", "accepted", "scheduled", "something-new"])
    def test_statuses_before_sending_are_acknowledged_and_ignored(self, twilio, twilio_carrier, make_message, tokens,
                                                                 twilio_status):
        sid = twilio.send(make_message("tw")).carrier_ids[0]
        result = twilio.handle_callback(twilio_carrier.status_callback(sid, twilio_status).request(), tokens)
        assert result.events == ()

    def test_the_signature_covers_the_reference_in_the_url(self, twilio, twilio_carrier, make_message, tokens):
        message, other = make_message("tw"), make_message("tw")
        sid = twilio.send(message).carrier_ids[0]
        callback = twilio_carrier.status_callback(sid, "delivered")
        with pytest.raises(ForgedCallbackError):
            twilio.handle_callback(callback.request(url=callback.url.replace(message.reference, other.reference)),
                                   tokens)

    def test_a_changed_field_breaks_the_signature(self, twilio, twilio_carrier, make_message, tokens):
        sid = twilio.send(make_message("tw")).carrier_ids[0]
        callback = twilio_carrier.status_callback(sid, "failed")
        forged = type(callback)(callback.method, callback.url, {**callback.form, "MessageStatus": "delivered"},
                                headers=callback.headers)
        with pytest.raises(ForgedCallbackError):
            twilio.handle_callback(forged.request(), tokens)

    @pytest.mark.parametrize("headers", [{}, {"X-Twilio-Signature": ""}, {"X-Twilio-Signature": "bm9wZQ=="}])
    def test_a_missing_or_wrong_signature_is_forged(self, twilio, twilio_carrier, make_message, tokens, headers):
        sid = twilio.send(make_message("tw")).carrier_ids[0]
        callback = twilio_carrier.status_callback(sid, "delivered")
        unsigned = type(callback)(callback.method, callback.url, callback.form, headers=headers)
        with pytest.raises(ForgedCallbackError):
            twilio.handle_callback(unsigned.request(), tokens)

    def test_a_signature_made_with_another_token_is_forged(self, twilio, twilio_carrier, make_message, tokens):
        sid = twilio.send(make_message("tw")).carrier_ids[0]
        callback = twilio_carrier.status_callback(sid, "delivered", token="someone-elses-token")
        with pytest.raises(ForgedCallbackError):
            twilio.handle_callback(callback.request(), tokens)

    def test_a_url_signed_with_its_default_port_still_verifies(self, twilio, twilio_carrier, make_message, tokens):
        message = make_message("tw")
        sid = twilio.send(message).carrier_ids[0]
        signed_url = f"https://otp.example.com:443/callbacks/tw/status?ref={message.reference}"
        callback = twilio_carrier.status_callback(sid, "delivered", url=signed_url)
        request = callback.request(url=signed_url.replace(":443", ""))
        assert twilio.handle_callback(request, tokens).events[0].status is DeliveryStatus.DELIVERED

    def test_a_callback_for_another_account_is_forged(self, twilio, make_message, tokens):
        with TwilioCarrier(account_sid="AC" + "9" * 32) as other:  # same token, other account
            callback = other.status_callback("SM" + "0" * 32, "delivered",
                                             url="https://otp.example.com/callbacks/tw/status?ref=x")
        with pytest.raises(ForgedCallbackError):
            twilio.handle_callback(callback.request(), tokens)

    def test_without_an_auth_token_every_callback_is_refused(self, make_twilio, twilio_carrier, make_message, tokens):
        transport = make_twilio(auth_token="", api_key_sid=TwilioCarrier.API_KEY_SID,
                                api_key_secret=TwilioCarrier.API_KEY_SECRET)
        callback = twilio_carrier.status_callback("SM1", "delivered", url="https://otp.example.com/callbacks/tw/status")
        with pytest.raises(ForgedCallbackError):
            transport.handle_callback(callback.request(), tokens)

    def test_an_unknown_kind_is_refused(self, twilio, twilio_carrier, tokens):
        callback = twilio_carrier.status_callback("SM1", "delivered", url="https://otp.example.com/callbacks/tw/other")
        with pytest.raises(ForgedCallbackError):
            twilio.handle_callback(callback.request(), tokens)


class TestTwilioInbound:
    def test_an_incoming_sms_becomes_an_inbound_message_answered_with_empty_twiml(self, twilio, twilio_carrier,
                                                                                 tokens, clock):
        callback = twilio_carrier.inbound("https://otp.example.com/callbacks/tw/inbound", "+14155552671", "STOP")
        result = twilio.handle_callback(callback.request(now_ms=int(clock() * 1000)), tokens)
        (event,) = result.events
        assert isinstance(event, InboundMessage)
        assert (event.transport, event.sender, event.text, event.recipient) == ("tw", "+14155552671", "STOP", SENDER)
        assert event.carrier_id == callback.form["MessageSid"] and event.received_ms == int(clock() * 1000)
        assert result.content_type == "text/xml" and "<Response/>" in result.body

    def test_an_unsigned_incoming_sms_is_forged(self, twilio, twilio_carrier, tokens):
        callback = twilio_carrier.inbound("https://otp.example.com/callbacks/tw/inbound", "+14155552671", "STOP",
                                          token="not-our-token")
        with pytest.raises(ForgedCallbackError):
            twilio.handle_callback(callback.request(), tokens)
