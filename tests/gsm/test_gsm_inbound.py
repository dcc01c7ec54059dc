"""Inbound SMS reach the sink as InboundMessage events, parts reassembled."""
from __future__ import annotations

import re
import time

from otpgw.transports.gsm.settings import Mode

SENDER = "+4917612345678"


class TestStored:
    """+CMTI -> AT+CMGR -> sink -> AT+CMGD."""

    def test_single_message(self, ready, wait):
        transport, events, sim = ready
        sim.receive(SENDER, "STOP")
        [inbound] = events.wait_inbound(1)
        assert (inbound.transport, inbound.sender, inbound.text) == ("gsm", SENDER, "STOP")
        assert inbound.carrier_id.startswith("gsm0:mt:") and "7612345678" not in inbound.carrier_id
        assert inbound.received_ms > 0
        assert wait(lambda: sim.storage["SM"] == {})
        assert any(re.fullmatch(r"AT\+CMGD=\d+", c) for c in sim.commands)

    def test_multipart_out_of_order_is_reassembled(self, ready, wait):
        transport, events, sim = ready
        text = "Please call me back about the delivery of my parcel, it did not arrive yesterday as promised. " * 2
        sim.receive(SENDER, text, parts=3, order=[2, 3, 1])
        [inbound] = events.wait_inbound(1)
        assert inbound.text == text and inbound.extra == {"parts": "3/3"}
        assert wait(lambda: sim.storage["SM"] == {})

    def test_missing_part_gives_up_after_the_timeout(self, ready):
        transport, events, sim = ready
        sim.receive(SENDER, "first half and second half and a lost third", parts=3, order=[1, 2])
        [inbound] = events.wait_inbound(1, timeout=4)  # reassembly_timeout is 1 s here
        assert inbound.extra == {"parts": "2/3"}
        assert inbound.text.startswith("first half")

    def test_ucs2_message(self, ready):
        transport, events, sim = ready
        sim.receive(SENDER, "Спасибо 😀", ucs2=True)
        assert events.wait_inbound(1)[0].text == "Спасибо 😀"

    def test_alphanumeric_sender(self, ready):
        transport, events, sim = ready
        sim.receive("InfoSvc", "Your balance is low", alphanumeric=True)
        assert events.wait_inbound(1)[0].sender == "InfoSvc"

    def test_messages_stored_while_offline_are_read_at_start_up(self, sim, transports):
        sim.receive(SENDER, "sent while the worker was down")  # +CNMI is still 0: stored silently
        transport, events = transports(sim)
        assert events.wait_inbound(1)[0].text == "sent while the worker was down"

    def test_a_failing_sink_keeps_the_message_stored(self, ready, wait):
        transport, events, sim = ready
        transport.modems[0].inbox.sink = _refuse
        sim.receive(SENDER, "keep me")
        assert wait(lambda: any(c.startswith("AT+CMGR") for c in sim.commands))
        time.sleep(0.2)  # time in which a delete would have followed the read
        assert len(sim.storage["SM"]) == 1


class TestDirect:
    """+CMT delivered directly (``AT+CNMI=2,2,...``) and acknowledged."""

    def test_direct_delivery_is_acknowledged(self, sims, transports, wait):
        sim = sims()
        transport, events = transports(sim, cnmi="2,2,0,1,0")
        assert wait(lambda: transport.health().ready)
        sim.receive(SENDER, "Hello there")
        assert events.wait_inbound(1)[0].text == "Hello there"
        assert wait(lambda: sim.acks == 1)
        assert sim.storage["SM"] == {}


def _refuse(event) -> None:
    raise RuntimeError("store is down")


class TestTextMode:
    """In text mode a stored SMS is read as header and UCS2-hex text."""

    def test_text_mode_message(self, sims, transports, wait):
        sim = sims()
        transport, events = transports(sim, mode=Mode.TEXT)
        assert wait(lambda: transport.health().ready)
        sim.receive(SENDER, "Danke, alles gut")
        [inbound] = events.wait_inbound(1)
        assert (inbound.sender, inbound.text) == (SENDER, "Danke, alles gut")
        assert wait(lambda: sim.storage["SM"] == {})
