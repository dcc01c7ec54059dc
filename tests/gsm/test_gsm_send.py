"""Sending through a simulated modem: what leaves it, and how failures are classified.

Each test decodes the PDUs the simulator recorded, i.e. exactly what would have gone on air.
"""
from __future__ import annotations

import threading

import pytest

from otpgw.domain.textcodec import Encoding
from otpgw.transports.base import (
    OutcomeUnknownError,
    PermanentTransportError,
    TemporaryTransportError,
    TransportError,
    TransportRefusedError,
)
from otpgw.transports.gsm import pdu
from otpgw.transports.gsm.settings import Mode

PHONE = "+4915112345678"


def sent(sim) -> list[pdu.Submit]:
    return [pdu.decode(s.pdu) for s in sim.submitted]


class TestSingle:
    """One short message is one SMS-SUBMIT with our destination, text and report request."""

    def test_gsm7_message(self, ready, message):
        transport, _, sim = ready
        receipt = transport.send(message("Your code is 123456"))
        assert receipt.carrier_ids == ("gsm0:0",)
        assert (receipt.parts, receipt.encoding) == (1, Encoding.GSM7)
        [submit] = sent(sim)
        assert submit.destination.text == PHONE
        assert submit.user_data.text == "Your code is 123456"
        assert submit.report_requested and submit.smsc is None

    def test_validity_is_the_code_lifetime_left(self, ready, message):
        transport, _, sim = ready
        transport.send(message(ttl_s=90))
        transport.send(message(ttl_s=2 * 3600))
        short, long_ = sent(sim)
        assert 85 <= short.validity <= 90  # enhanced format, in seconds
        assert 2 * 3600 - 300 <= long_.validity <= 2 * 3600  # relative steps of 5 min, rounded down

    def test_validity_is_capped_by_validity_max(self, sims, transports, wait, message):
        sim = sims()
        transport, _ = transports(sim, validity_max=3600)
        assert wait(lambda: transport.health().ready)
        transport.send(message(ttl_s=3 * 86400))
        assert sent(sim)[0].validity == 3600

    def test_configured_smsc_leads_each_pdu(self, sims, transports, wait, message):
        sim = sims()
        transport, _ = transports(sim, smsc="+491710760000", status_reports=False)
        assert wait(lambda: transport.health().ready)
        transport.send(message())
        [submit] = sent(sim)
        assert submit.smsc.text == "+491710760000" and not submit.report_requested

    def test_message_reference_wraps_after_255(self, sims, transports, wait, message):
        sim = sims(mr_start=255)
        transport, _ = transports(sim)
        assert wait(lambda: transport.health().ready)
        ids = [transport.send(message()).carrier_ids[0] for _ in range(2)]
        assert ids == ["gsm0:255", "gsm0:0"]

    def test_carrier_ids_never_hold_the_number(self, ready, message):
        transport, _, _ = ready
        receipt = transport.send(message("x" * 400))
        assert all("5112345678" not in cid and "+" not in cid for cid in receipt.carrier_ids)


class TestMultipart:
    """Long messages go out as concatenated parts, back to back, one carrier id each."""

    def test_gsm7_with_extension_characters(self, ready, message):
        transport, _, sim = ready
        text = "Your code is 123456 [valid 5 min] €" * 6
        receipt = transport.send(message(text))
        parts = sent(sim)
        assert receipt.parts == len(receipt.carrier_ids) == len(parts) == 2
        assert receipt.carrier_ids == ("gsm0:0", "gsm0:1")
        concats = [p.user_data.concat for p in parts]
        assert len({c.reference for c in concats}) == 1
        assert [(c.seq, c.total) for c in concats] == [(1, 2), (2, 2)]
        assert "".join(p.user_data.text for p in parts) == text

    def test_ucs2_with_emoji(self, ready, message):
        transport, _, sim = ready
        text = "Ваш код 123456 😀 " * 6
        receipt = transport.send(message(text))
        parts = sent(sim)
        assert (receipt.parts, receipt.encoding) == (len(parts), Encoding.UCS2)
        assert all(p.dcs == 0x08 for p in parts)
        assert "".join(p.user_data.text for p in parts) == text

    def test_sixteen_bit_concatenation_reference(self, sims, transports, wait, message):
        sim = sims()
        transport, _ = transports(sim, concat_reference=16)
        assert wait(lambda: transport.health().ready)
        receipt = transport.send(message("y" * 320))
        parts = sent(sim)
        assert receipt.parts == len(parts) == 3  # 152 septets a part
        assert all(p.user_data.concat.wide for p in parts)

    def test_consecutive_messages_get_new_concatenation_references(self, ready, message):
        transport, _, sim = ready
        transport.send(message("a" * 200))
        transport.send(message("b" * 200))
        references = {p.user_data.concat.reference for p in sent(sim)}
        assert len(references) == 2


class TestErrors:
    """+CMS ERROR codes are classified; a lost answer is an unknown outcome."""

    @pytest.mark.parametrize(("code", "error"), [
        (1, PermanentTransportError), (21, PermanentTransportError), (96, PermanentTransportError),
        (304, PermanentTransportError), (38, TemporaryTransportError), (41, TemporaryTransportError),
        (42, TemporaryTransportError), (47, TemporaryTransportError), (331, TemporaryTransportError),
        (332, TemporaryTransportError), (500, TemporaryTransportError), (8, TransportRefusedError),
        (50, TransportRefusedError), (330, TransportRefusedError),
    ])
    def test_cms_errors(self, ready, message, code, error):
        transport, _, sim = ready
        sim.fail_next_send(code)
        with pytest.raises(error) as caught:
            transport.send(message())
        assert caught.value.code == f"CMS {code}"
        assert not isinstance(caught.value, OutcomeUnknownError)
        assert caught.value.retryable is (error is TemporaryTransportError)
        assert caught.value.failover is (error is not PermanentTransportError)

    def test_no_answer_after_the_pdu_is_an_unknown_outcome(self, ready, message):
        transport, _, sim = ready
        sim.swallow_next_send()
        with pytest.raises(OutcomeUnknownError):
            transport.send(message())
        assert len(sim.submitted) == 1
        assert transport.send(message()).carrier_ids == ("gsm0:1",)  # resynchronised and still usable

    def test_port_lost_after_the_pdu_is_an_unknown_outcome(self, sims, transports, wait, message):
        sim = sims(cmgs_delay=0.5)
        transport, _ = transports(sim)
        assert wait(lambda: transport.health().ready)
        unplug = threading.Timer(0.2, sim.vanish)
        unplug.start()
        with pytest.raises(OutcomeUnknownError):
            transport.send(message())
        unplug.join()
        assert len(sim.submitted) == 1

    def test_no_prompt_is_temporary_and_nothing_left(self, ready, message):
        transport, _, sim = ready
        sim.withhold_next_prompt()
        with pytest.raises(TemporaryTransportError) as caught:
            transport.send(message())
        assert not isinstance(caught.value, OutcomeUnknownError)
        assert sim.submitted == []

    def test_repeated_modem_trouble_reinitialises_the_modem(self, ready, message, wait):
        transport, _, sim = ready
        for _ in range(3):
            sim.fail_next_send(500)
            with pytest.raises(TemporaryTransportError):
                transport.send(message())
        assert wait(lambda: sim.commands.count("ATE0") == 2 and transport.health().ready)

    def test_a_number_that_cannot_be_encoded_is_permanent(self, ready, message):
        transport, _, _ = ready
        with pytest.raises(PermanentTransportError):
            transport.send(message(to="+49 151 123"))

    def test_send_before_start_is_temporary(self, sim, transports, message):
        transport, _ = transports(sim, start=False)
        with pytest.raises(TemporaryTransportError):
            transport.send(message())

    def test_send_waits_briefly_for_a_modem_that_is_not_ready(self, sims, transports, message):
        sim = sims(registration=2)
        transport, _ = transports(sim, ready_wait=0.3)
        with pytest.raises(TemporaryTransportError, match="no modem .* is ready"):
            transport.send(message())

    def test_send_waits_for_a_modem_that_becomes_ready(self, sims, transports, message):
        sim = sims(registration_delay=0.3)
        transport, _ = transports(sim, ready_wait=3)
        assert transport.send(message()).carrier_ids == ("gsm0:0",)


class TestConcurrency:
    """Worker threads may send at once; each message's parts stay together."""

    def test_parallel_sends(self, ready, message):
        transport, _, sim = ready
        receipts, errors = [], []

        def send(n: int) -> None:
            try:
                receipts.append(transport.send(message(f"{n:02d}" * 100, reference=f"otp-{n}")))
            except TransportError as exc:
                errors.append(exc)

        threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [] and len(receipts) == 8
        ids = [cid for r in receipts for cid in r.carrier_ids]
        assert len(ids) == len(set(ids)) == 16
        parts = sent(sim)
        for first, second in zip(parts[::2], parts[1::2]):  # each message's two parts adjacent
            assert first.user_data.concat.reference == second.user_data.concat.reference


class TestTextMode:
    """mode = "text" sends with AT+CMGF=1 and UCS2-hex strings."""

    def test_text_mode_send(self, sims, transports, wait, message):
        sim = sims()
        transport, _ = transports(sim, mode=Mode.TEXT)
        assert wait(lambda: transport.health().ready)
        receipt = transport.send(message("Your code is 123456 ✓"))
        assert receipt.carrier_ids == ("gsm0:0",) and receipt.encoding is Encoding.UCS2
        assert (sim.submitted[0].number, sim.submitted[0].text) == (PHONE, "Your code is 123456 ✓")
        assert sim.cmgf == 1 and "AT+CSMP=49,0,0,8" in sim.commands
