"""The modem's state machine against the simulator: bring-up, SIM, registration, recovery."""
from __future__ import annotations

import threading
import time

import pytest

from otpgw.domain.textcodec import Encoding
from otpgw.transports.base import TemporaryTransportError


def modem_facts(transport, modem="gsm0") -> dict:
    return transport.health().facts["modems"][modem]


class TestBringUp:
    """A modem becomes ready through the standard initialisation."""

    def test_initialisation_sequence(self, ready):
        transport, _, sim = ready
        expected = ["AT", "ATE0", "AT+CMEE=1", "AT+CPIN?", "AT+CREG?", "AT+CMGF=0", "AT+CSMS=1", "AT+CNMI=2,1,0,1,0"]
        steps = [c for c in sim.commands if c in expected]
        assert steps == expected
        assert not sim.echo and sim.cmgf == 0 and sim.cnmi == (2, 1, 0, 1, 0)

    def test_health_shows_signal_operator_and_registration(self, ready):
        transport, _, _ = ready
        health = transport.health()
        assert health.ready
        facts = modem_facts(transport)
        assert facts["state"] == "ready" and facts["sim"] == "ready" and facts["registration"] == "home"
        assert facts["operator"] == "SimNet" and facts["signal_dbm"] == -73  # CSQ 20 -> -113 + 40

    def test_autobauding_modem_answers_after_a_few_probes(self, sims, transports, wait):
        sim = sims(deaf_probes=3)  # the first rate's two probes and one more go unheard
        transport, _ = transports(sim, fallback_baudrates=(9600,))
        assert wait(lambda: transport.health().ready)

    def test_roaming_counts_as_registered(self, sims, transports, wait):
        sim = sims(registration=5)
        transport, _ = transports(sim)
        assert wait(lambda: transport.health().ready)
        assert modem_facts(transport)["registration"] == "roaming"

    def test_waits_for_network_registration(self, sims, transports, wait):
        sim = sims(registration=2)  # searching
        transport, _ = transports(sim)
        assert wait(lambda: modem_facts(transport)["state"] == "registering")
        assert not transport.health().ready
        sim.set_registration(1)
        assert wait(lambda: transport.health().ready)

    def test_registration_timeout_reopens_with_a_reason(self, sims, transports, wait):
        sim = sims(registration=3)  # denied
        transport, _ = transports(sim, registration_timeout=0.2)
        assert wait(lambda: sim.opens >= 1 and modem_facts(transport)["failures"] >= 2)
        assert "not registered" in modem_facts(transport)["last_error"]

    def test_unsolicited_signal_updates_health(self, sim, transports, wait):
        transport, _ = transports(sim, keepalive=30)  # no AT+CSQ meanwhile
        assert wait(lambda: transport.health().ready)
        sim.inject("\r\n^RSSI: 25\r\n")
        assert wait(lambda: modem_facts(transport)["signal_dbm"] == -63)

    def test_restart_announced_by_the_modem_reinitialises_it(self, ready, wait):
        transport, _, sim = ready
        before = sim.commands.count("ATE0")
        sim.inject("\r\nRDY\r\n")
        assert wait(lambda: sim.commands.count("ATE0") > before and transport.health().ready)


class TestSim:
    """The PIN is sent once; a refused one is never retried."""

    def test_pin_unlocks_the_sim(self, sims, transports, wait):
        sim = sims(pin="1234")
        transport, _ = transports(sim, pin="1234")
        assert wait(lambda: transport.health().ready)
        assert sim.pin_entries == ["1234"]

    def test_wrong_pin_is_not_retried_and_is_reported(self, sims, transports, wait):
        sim = sims(pin="1234")
        transport, _ = transports(sim, pin="0000")
        assert wait(lambda: modem_facts(transport)["state"] == "sim_blocked")
        facts = modem_facts(transport)
        assert facts["sim"] == "wrong_pin" and "CME 16" in facts["last_error"]
        assert not transport.health().ready
        time.sleep(0.5)  # time in which a retry would have happened
        assert sim.pin_entries == ["0000"]
        assert sim.pin_tries == 2  # two tries left: the SIM is not locked

    def test_missing_pin_is_reported_without_guessing(self, sims, transports, wait):
        sim = sims(pin="1234")
        transport, _ = transports(sim)
        assert wait(lambda: modem_facts(transport)["state"] == "sim_blocked")
        assert modem_facts(transport)["sim"] == "pin_required"
        assert sim.pin_entries == []

    def test_a_locked_sim_is_reported_as_needing_the_puk(self, sims, transports, wait):
        sim = sims(pin="1234")
        sim.pin_tries, sim.sim = 0, "SIM PUK"
        transport, _ = transports(sim, pin="1234")
        assert wait(lambda: modem_facts(transport)["state"] == "sim_blocked")
        assert modem_facts(transport)["sim"] == "puk_required"
        assert sim.pin_entries == []

    def test_send_to_a_blocked_modem_fails_fast_and_temporarily(self, sims, transports, wait, message):
        sim = sims(pin="1234")
        transport, _ = transports(sim, ready_wait=5)
        assert wait(lambda: modem_facts(transport)["state"] == "sim_blocked")
        with pytest.raises(TemporaryTransportError, match="sim_blocked"):
            transport.send(message())


class TestRecovery:
    """A hung, vanished or restarted modem is reopened and initialised again."""

    @pytest.mark.slow
    def test_hung_modem_is_detected_by_the_keepalive_and_reopened(self, ready, wait):
        transport, _, sim = ready
        sim.hang()
        assert wait(lambda: not transport.health().ready)
        assert wait(lambda: modem_facts(transport)["failures"] >= 2)  # and stays down: no reset command set
        assert not transport.health().ready and sim.resets == 0

    @pytest.mark.slow
    def test_reset_command_after_repeated_failures_brings_it_back(self, sims, transports, wait):
        sim = sims()
        transport, _ = transports(sim, reset_command="AT+CFUN=1,1", reset_after=2)
        assert wait(lambda: transport.health().ready)
        sim.hang()
        assert wait(lambda: sim.resets == 1 and transport.health().ready, timeout=10)
        assert modem_facts(transport)["resets"] == 1
        assert sim.commands.count("AT+CFUN=1,1") == 1

    def test_vanished_device_comes_back_behind_the_same_path(self, ready, wait, message):
        transport, _, sim = ready
        sim.vanish()
        assert wait(lambda: not transport.health().ready)
        assert wait(lambda: "cannot open" in modem_facts(transport)["last_error"])
        sim.come_back()
        assert wait(lambda: transport.health().ready)
        assert sim.opens == 2
        receipt = transport.send(message())
        assert receipt.encoding is Encoding.GSM7 and len(sim.submitted) == 1

    def test_close_stops_every_thread(self, ready):
        transport, _, _ = ready
        transport.close()
        assert not [t for t in threading.enumerate() if t.name.startswith("otpgw-gsm0")]
