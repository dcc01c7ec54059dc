"""The kannel profile against a real Kannel (bearerbox, smsbox, fakesmsc), and against a
stand-in sendsms for the faults a real Kannel does not make on demand."""
from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

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
    TransportRefusedError,
)
from otpgw.transports.http.client import ClientOptions
from otpgw.transports.http.kannel import KannelTransport

from support.carriers import CarrierCallback, Fault
from support.kannel import PASSWORD, USERNAME, FakeSendsms

KANNEL_INBOUND_TOKEN = "kannel-inbound-token-0123"  # as in conftest's sms-service get-url


@pytest.fixture
def make_kannel(clock):
    built = []

    def build(url: str, **overrides) -> KannelTransport:
        options = dict(url=url, username=USERNAME, password=PASSWORD, sender="ACME",
                       inbound_token=KANNEL_INBOUND_TOKEN, client_options=ClientOptions(read_timeout=0.5), clock=clock)
        transport = KannelTransport("kn", **{**options, **overrides})
        built.append(transport)
        return transport

    yield build
    for transport in built:
        transport.close()


@pytest.fixture
def sendsms():
    with FakeSendsms() as fake:
        yield fake


def _callbacks_for(recorder, reference, statuses):
    requests = recorder.wait_for(
        lambda rs: {r.query.get("status") for r in rs if r.query.get("ref") == reference} >= set(statuses),
        what=f"DLRs {statuses} for {reference}")
    return [CarrierCallback.recorded(r, recorder.url) for r in requests if r.query.get("ref") == reference]


@pytest.mark.slow
class TestRealKannel:
    def test_a_gsm_text_reaches_the_smsc_as_written(self, kannel, make_kannel, make_message):
        text = "Your code is 100001. £5 é {ok} @home"
        receipt = make_kannel(kannel.sendsms_url).send(make_message("kn", text, callback_url=""))
        (got,) = [m for m in kannel.wait_for_smsc(lambda ms: any(m.text == text for m in ms)) if m.text == text]
        assert (got.sender, got.receiver) == ("ACME", "+14155552671")
        assert receipt == type(receipt)((), 1, Encoding.GSM7)

    def test_a_ucs2_text_reaches_the_smsc_as_ucs2(self, kannel, make_kannel, make_message):
        text = "Ваш код 100002 🙂"
        receipt = make_kannel(kannel.sendsms_url).send(make_message("kn", text, callback_url=""))
        messages = kannel.wait_for_smsc(lambda ms: any(m.text == text for m in ms))
        assert [m.coding for m in messages if m.text == text] == ["ucs-2"]
        assert receipt.encoding is Encoding.UCS2

    def test_the_post_form_of_sendsms_delivers_too(self, kannel, make_kannel, make_message):
        text = "Kód 100003 ✓"
        make_kannel(kannel.sendsms_url, method="POST").send(make_message("kn", text, callback_url=""))
        kannel.wait_for_smsc(lambda ms: any(m.text == text and m.coding == "ucs-2" for m in ms))

    def test_delivery_reports_reach_the_dlr_url_and_name_the_reference(self, kannel, kannel_callbacks, make_kannel,
                                                                      make_message, tokens):
        transport = make_kannel(kannel.sendsms_url)
        message = make_message("kn", "Your code is 100004", callback_url=f"{kannel_callbacks.url}/callbacks/kn")
        transport.send(message)
        events = {}
        for callback in _callbacks_for(kannel_callbacks, message.reference, {"1", "8"}):
            (report,) = transport.handle_callback(callback.request(), tokens).events
            events[callback.request().query["status"]] = report
        assert events["1"].status is DeliveryStatus.DELIVERED and events["8"].status is DeliveryStatus.SENT
        assert {e.reference for e in events.values()} == {message.reference}
        assert events["1"].carrier_id  # the SMSC's id (%F)

    def test_a_report_with_a_wrong_token_is_forged(self, kannel, kannel_callbacks, make_kannel, make_message, tokens):
        transport = make_kannel(kannel.sendsms_url)
        message = make_message("kn", "Your code is 100005", callback_url=f"{kannel_callbacks.url}/callbacks/kn")
        transport.send(message)
        callback = _callbacks_for(kannel_callbacks, message.reference, {"1"})[0]
        forged_url = callback.url.replace(message.callback_token, tokens.sign("kn", "another-reference"))
        with pytest.raises(ForgedCallbackError):
            transport.handle_callback(callback.request(url=forged_url), tokens)

    def test_a_wrong_password_makes_the_route_fail_over(self, kannel, make_kannel, make_message):
        with pytest.raises(TransportRefusedError) as caught:
            make_kannel(kannel.sendsms_url, password="wrong").send(make_message("kn"))
        assert caught.value.code == "403" and "Authorization failed" in str(caught.value)

    @pytest.mark.parametrize("sender, text", [("+4915112345601", "STOP"), ("+4915112345602", "Стоп 🙂")])
    def test_an_inbound_sms_reaches_the_get_url_and_parses(self, kannel, kannel_callbacks, make_kannel, tokens,
                                                          sender, text):
        kannel.inject_mo(sender, "12345", text)
        requests = kannel_callbacks.wait_for(lambda rs: any(r.query.get("from") == sender for r in rs),
                                             what=f"an inbound callback from {sender}")
        request = next(r for r in requests if r.query.get("from") == sender)
        callback = CarrierCallback.recorded(request, kannel_callbacks.url)
        (event,) = make_kannel(kannel.sendsms_url).handle_callback(callback.request(), tokens).events
        assert isinstance(event, InboundMessage)
        assert (event.sender, event.text, event.carrier_id) == (sender, text, request.query["id"])


class TestKannelRequest:
    def test_get_carries_every_field_in_the_query(self, sendsms, make_kannel, make_message):
        message = make_message("kn", ttl_s=300)
        make_kannel(f"{sendsms.url}/cgi-bin/sendsms", smsc="link1").send(message)
        query = sendsms.last.query
        dlr_url = query.pop("dlr-url")
        assert query == {"username": USERNAME, "password": PASSWORD, "to": "+14155552671", "from": "ACME",
                         "text": "Your code is 482913", "charset": "UTF-8", "coding": "0", "validity": "5",
                         "dlr-mask": "31", "smsc": "link1"}
        assert urlsplit(dlr_url)[:3] == ("https", "otp.example.com", "/callbacks/kn/status")
        assert dict(parse_qsl(urlsplit(dlr_url).query)) == {"ref": message.reference, "token": message.callback_token,
                                                             "status": "%d", "id": "%F"}

    def test_post_puts_the_text_in_the_body_and_the_fields_in_x_kannel_headers(self, sendsms, make_kannel,
                                                                              make_message):
        make_kannel(f"{sendsms.url}/cgi-bin/sendsms", method="POST").send(make_message("kn", "Код 482913"))
        request = sendsms.last
        assert request.body.decode("utf-8") == "Код 482913" and request.query == {}
        assert request.header("Content-Type") == "text/plain; charset=UTF-8"
        assert (request.header("X-Kannel-Password"), request.header("X-Kannel-Coding")) == (PASSWORD, "2")

    @pytest.mark.parametrize("ttl_s, minutes", [(300, "5"), (119, "1"), (59, "1"), (-10, "1"), (3600, "60")])
    def test_validity_is_whole_minutes_left_rounded_down(self, sendsms, make_kannel, make_message, ttl_s, minutes):
        make_kannel(f"{sendsms.url}/cgi-bin/sendsms").send(make_message("kn", ttl_s=ttl_s))
        assert sendsms.last.query["validity"] == minutes

    def test_no_dlr_without_a_public_url(self, sendsms, make_kannel, make_message):
        make_kannel(f"{sendsms.url}/cgi-bin/sendsms").send(make_message("kn", callback_url=""))
        assert "dlr-url" not in sendsms.last.query and "dlr-mask" not in sendsms.last.query

    def test_queued_for_later_delivery_is_accepted(self, sendsms, make_kannel, make_message):
        sendsms.fail_next(Fault.reply(202, "3: Queued for later delivery"))
        assert make_kannel(f"{sendsms.url}/cgi-bin/sendsms").send(make_message("kn", "x" * 200)).parts == 2

    @pytest.mark.parametrize("fault, error", [
        (Fault.reply(503, "Temporal failure, try again later."), TemporaryTransportError),
        (Fault.reply(400, "Missing receiver number"), PermanentTransportError),
        (Fault.reply(202, "Something else entirely"), OutcomeUnknownError),
        (Fault.slow(2.0), OutcomeUnknownError), (Fault.dropped(), OutcomeUnknownError),
        (Fault.throttled("3"), ThrottledError)])
    def test_every_answer_is_classified(self, sendsms, make_kannel, make_message, fault, error):
        sendsms.fail_next(fault)
        with pytest.raises(error) as caught:
            make_kannel(f"{sendsms.url}/cgi-bin/sendsms").send(make_message("kn"))
        if error is TemporaryTransportError:
            assert type(caught.value) is TemporaryTransportError


class TestKannelCallbacks:
    @pytest.mark.parametrize("dlr, status", [("1", DeliveryStatus.DELIVERED), ("2", DeliveryStatus.UNDELIVERED),
                                             ("4", DeliveryStatus.SENT), ("8", DeliveryStatus.SENT),
                                             ("16", DeliveryStatus.FAILED)])
    def test_every_dlr_type_maps_to_a_status(self, make_kannel, make_message, tokens, dlr, status):
        message = make_message("kn")
        url = f"{message.callback_url}/status?ref={message.reference}&token={message.callback_token}&status={dlr}&id=F1"
        result = make_kannel("http://kannel:13013/cgi-bin/sendsms").handle_callback(
            CarrierCallback("GET", url).request(), tokens)
        assert result.events == (DeliveryReport("kn", status, message.reference, "F1", "", f"kannel dlr {dlr}"),)

    @pytest.mark.parametrize("query", ["ref={ref}&status=1", "ref={ref}&token=&status=1", "token={token}&status=1",
                                       "ref=other&token={token}&status=1"])
    def test_a_report_without_its_token_is_forged(self, make_kannel, make_message, tokens, query):
        message = make_message("kn")
        url = f"{message.callback_url}/status?" + query.format(ref=message.reference, token=message.callback_token)
        with pytest.raises(ForgedCallbackError):
            make_kannel("http://kannel:13013/cgi-bin/sendsms").handle_callback(CarrierCallback("GET", url).request(),
                                                                              tokens)

    def test_an_inbound_sms_without_the_inbound_token_is_forged(self, make_kannel, tokens):
        url = "https://otp.example.com/callbacks/kn/inbound?token=guess&from=%2B4915112345678&text=STOP"
        with pytest.raises(ForgedCallbackError):
            make_kannel("http://kannel:13013/cgi-bin/sendsms").handle_callback(CarrierCallback("GET", url).request(),
                                                                              tokens)

    def test_inbound_sms_is_refused_when_no_inbound_token_is_configured(self, make_kannel, tokens):
        url = "https://otp.example.com/callbacks/kn/inbound?token=&from=%2B4915112345678&text=STOP"
        with pytest.raises(ForgedCallbackError):
            make_kannel("http://kannel:13013/cgi-bin/sendsms", inbound_token="").handle_callback(
                CarrierCallback("GET", url).request(), tokens)
