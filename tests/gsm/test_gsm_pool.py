"""Several modems behind one transport name."""
from __future__ import annotations

import threading

import pytest
from prometheus_client import REGISTRY

from otpgw.transports.base import TemporaryTransportError
from otpgw.transports.gsm.settings import Strategy


def modem_of(carrier_id: str) -> str:
    return carrier_id.split(":")[0]


class TestPool:
    """Sends are spread over ready modems; a dead one is skipped."""

    def test_round_robin_across_three_modems(self, sims, transports, wait, message):
        modems = [sims() for _ in range(3)]
        transport, _ = transports(*modems, name="pool")
        assert wait(lambda: all(m.ready for m in transport.modems))
        used = [modem_of(transport.send(message()).carrier_ids[0]) for _ in range(6)]
        assert used == ["pool0", "pool1", "pool2"] * 2
        assert [len(m.submitted) for m in modems] == [2, 2, 2]

    def test_a_dead_modem_is_skipped(self, sims, transports, wait, message, tmp_path):
        alive = [sims(), sims()]
        transport, _ = transports(alive[0], tmp_path / "unplugged", alive[1], name="pool")
        assert wait(lambda: transport.modems[0].ready and transport.modems[2].ready)
        used = {modem_of(transport.send(message()).carrier_ids[0]) for _ in range(4)}
        assert used == {"pool0", "pool2"}
        health = transport.health()
        assert health.ready
        assert health.facts["modems"]["pool1"]["state"] in ("opening", "backoff")
        assert "cannot open" in health.facts["modems"]["pool1"]["last_error"]

    def test_a_modem_that_vanishes_mid_way_is_skipped(self, sims, transports, wait, message):
        modems = [sims(), sims()]
        transport, _ = transports(*modems, name="pool")
        assert wait(lambda: all(m.ready for m in transport.modems))
        modems[0].vanish()
        assert wait(lambda: not transport.modems[0].ready)
        assert {modem_of(transport.send(message()).carrier_ids[0]) for _ in range(3)} == {"pool1"}

    def test_least_busy_sends_to_the_idle_modem(self, sims, transports, wait, message):
        slow, fast = sims(cmgs_delay=0.5), sims()
        transport, _ = transports(slow, fast, name="pool", strategy=Strategy.LEAST_BUSY)
        assert wait(lambda: all(m.ready for m in transport.modems))
        first = threading.Thread(target=transport.send, args=(message(),))
        first.start()
        assert wait(lambda: transport.modems[0].busy == 1)
        used = [modem_of(transport.send(message()).carrier_ids[0]) for _ in range(3)]
        first.join()
        assert used == ["pool1"] * 3

    def test_no_ready_modem_is_a_temporary_error(self, sims, transports, message):
        sim = sims(registration=2)
        transport, _ = transports(sim, sims(registration=2), name="pool", ready_wait=0.2)
        with pytest.raises(TemporaryTransportError, match="pool0 (registering|configuring|probing)"):
            transport.send(message())

    def test_health_and_metrics_per_modem(self, sims, transports, wait):
        transport, _ = transports(sims(), sims(csq=99), name="metered")
        assert wait(lambda: all(m.ready for m in transport.modems))
        facts = transport.health().facts["modems"]
        assert facts["metered0"]["signal_dbm"] == -73 and facts["metered1"]["signal_dbm"] is None
        labels = {"transport": "metered", "modem": "metered0"}
        assert REGISTRY.get_sample_value("otpgw_modem_ready", labels) == 1
        assert REGISTRY.get_sample_value("otpgw_modem_signal_dbm", labels) == -73
