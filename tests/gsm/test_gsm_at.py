"""The AT channel over a real pty: replies, URCs inside replies, the prompt, failures."""
from __future__ import annotations

import queue

import pytest
import serial

from otpgw.transports.gsm import pdu
from otpgw.transports.gsm.at import AtChannel, UrcKind
from otpgw.transports.gsm.errors import CommandError, CommandTimeout, PortError, PromptMissing, ReplyLost

HELLO = "0011000B916407281553F80000AA0AE8329BFD4697D9EC37"  # dreamfabric's "hellohello", 23 octets


@pytest.fixture
def channel_for():
    """``channel_for(sim)`` -> (open channel, queue of URCs); closed at teardown."""
    opened = []

    def open_channel(sim):
        urcs: queue.Queue = queue.Queue()
        port = serial.serial_for_url(sim.path, timeout=0.05)
        channel = AtChannel(port, urcs.put, name="test", resync_timeout=0.3)
        channel.start()
        opened.append(channel)
        return channel, urcs

    yield open_channel
    for channel in opened:
        channel.close()


def next_urc(urcs: queue.Queue, kind: UrcKind):
    while True:
        urc = urcs.get(timeout=2)
        if urc.kind is kind:
            return urc


class TestReplies:
    """A command gets its own information lines, whatever else the modem says."""

    def test_echo_is_not_taken_for_a_reply(self, sim, channel_for):
        channel, _ = channel_for(sim)
        assert sim.echo
        assert channel.command("AT+CSQ", timeout=1) == ["+CSQ: 20,99"]

    def test_urc_inside_a_reply_goes_to_the_event_queue(self, sim, channel_for):
        channel, urcs = channel_for(sim)
        sim.inject_into_next_reply('\r\n+CMTI: "SM",3\r\n')
        assert channel.command("AT+CSQ", timeout=1) == ["+CSQ: 20,99"]
        assert next_urc(urcs, UrcKind.MESSAGE_STORED).line == '+CMTI: "SM",3'

    def test_two_line_status_report_inside_a_reply_keeps_its_pdu(self, sim, channel_for):
        channel, urcs = channel_for(sim)
        channel.command("AT+CNMI=2,1,0,1,0", timeout=1)
        sim.status_report(5, "+4915112345678", 0, mid_reply=True)
        assert channel.command("AT+COPS?", timeout=1) == ['+COPS: 0,0,"SimNet",7']
        urc = next_urc(urcs, UrcKind.REPORT)
        assert urc.line == "+CDS: 26"
        assert pdu.decode(urc.body, 26).reference == 5

    def test_a_reply_line_that_looks_like_a_urc_answers_its_command(self, sim, channel_for):
        channel, urcs = channel_for(sim)
        assert channel.command("AT+CREG?", timeout=1) == ["+CREG: 0,1"]
        assert urcs.empty()

    def test_unsolicited_lines_between_commands_are_events(self, sim, channel_for):
        channel, urcs = channel_for(sim)
        sim.inject("\r\nRING\r\n\r\n^RSSI: 17\r\n")
        assert next_urc(urcs, UrcKind.RING).line == "RING"
        assert next_urc(urcs, UrcKind.SIGNAL).line == "^RSSI: 17"

    def test_error_codes_are_kept(self, sim, channel_for):
        channel, _ = channel_for(sim)
        channel.command("AT+CMEE=1", timeout=1)
        with pytest.raises(CommandError) as caught:
            channel.command("AT+CMGR=9", timeout=1)
        assert caught.value.code == "CMS 321"


class TestSimulatedSim:
    """The simulator's SIM behaves like a real one, so the PIN tests mean something."""

    def test_three_wrong_pins_lock_the_sim(self, sims, channel_for):
        sim = sims(pin="1234")
        channel, _ = channel_for(sim)
        channel.command("AT+CMEE=1", timeout=1)
        for _ in range(3):
            with pytest.raises(CommandError, match="CME 16"):
                channel.command('AT+CPIN="0000"', timeout=1)
        assert channel.command("AT+CPIN?", timeout=1) == ["+CPIN: SIM PUK"]
        with pytest.raises(CommandError, match="CME 12"):
            channel.command('AT+CPIN="1234"', timeout=1)


class TestPrompt:
    """AT+CMGS waits for '>' (no line end), writes the PDU, and reads the answer."""

    @pytest.mark.parametrize("prompt", [b"> ", b">"], ids=["with-space", "without-space"])
    def test_prompt_with_or_without_a_space(self, sims, channel_for, prompt):
        sim = sims(prompt=prompt, mr_start=42)
        channel, _ = channel_for(sim)
        channel.command("ATE0", timeout=1)
        assert channel.submit("AT+CMGS=23", HELLO, prompt_timeout=1, timeout=1) == ["+CMGS: 42"]
        assert sim.submitted[0].pdu == HELLO

    def test_prompt_is_found_behind_the_echo(self, sim, channel_for):
        channel, _ = channel_for(sim)  # echo still on: "AT+CMGS=23\r\r\n> " then the PDU echoed back
        assert channel.submit("AT+CMGS=23", HELLO, prompt_timeout=1, timeout=1) == ["+CMGS: 0"]

    def test_urc_between_pdu_and_answer(self, sim, channel_for):
        channel, urcs = channel_for(sim)
        sim.inject_during_next_send('\r\n+CMTI: "SM",1\r\n')
        assert channel.submit("AT+CMGS=23", HELLO, prompt_timeout=1, timeout=1) == ["+CMGS: 0"]
        assert next_urc(urcs, UrcKind.MESSAGE_STORED)

    def test_missing_prompt_cancels_and_stays_usable(self, sim, channel_for):
        channel, _ = channel_for(sim)
        sim.withhold_next_prompt()
        with pytest.raises(PromptMissing):
            channel.submit("AT+CMGS=23", HELLO, prompt_timeout=0.3, timeout=1)
        assert sim.submitted == []
        assert channel.command("AT", timeout=1) == []

    def test_missing_answer_after_the_pdu_is_reply_lost(self, sim, channel_for):
        channel, _ = channel_for(sim)
        sim.swallow_next_send()
        with pytest.raises(ReplyLost):
            channel.submit("AT+CMGS=23", HELLO, prompt_timeout=1, timeout=0.3)
        assert len(sim.submitted) == 1  # the SMS may well have left
        assert channel.command("AT", timeout=1) == []


class TestFailures:
    """A silent or vanished modem ends the channel and says so."""

    def test_hung_modem_times_out_and_the_channel_is_lost(self, sim, channel_for):
        channel, urcs = channel_for(sim)
        sim.hang()
        with pytest.raises(CommandTimeout):
            channel.command("AT+CSQ", timeout=0.2)
        assert not channel.alive
        assert next_urc(urcs, UrcKind.LOST)
        with pytest.raises(PortError):
            channel.command("AT", timeout=0.2)

    def test_vanished_device_is_reported(self, sim, channel_for):
        channel, urcs = channel_for(sim)
        sim.vanish()
        assert next_urc(urcs, UrcKind.LOST)
        with pytest.raises(PortError):
            channel.command("AT", timeout=0.5)
