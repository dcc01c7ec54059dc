"""Status reports become DeliveryReports for the right message and part."""
from __future__ import annotations

import pytest

from otpgw.domain.outcomes import DeliveryStatus
from otpgw.transports.gsm.reports import MemoryIndex, report_status
from otpgw.transports.gsm.settings import Mode

PHONE = "+4915112345678"


class TestMatching:
    """A report is matched by TP-MR and recipient to the part we sent."""

    def test_delivered_report_names_reference_and_carrier_id(self, ready, message, wait):
        transport, events, sim = ready
        receipt = transport.send(message(reference="otp-abc"))
        sim.status_report(0, PHONE, 0x00)
        [report] = events.wait_reports(1)
        assert (report.transport, report.status, report.reference) == ("gsm", DeliveryStatus.DELIVERED, "otp-abc")
        assert report.carrier_id == receipt.carrier_ids[0] == "gsm0:0"
        assert wait(lambda: sim.acks == 1)  # AT+CSMS=1 took, so the direct +CDS is acknowledged

    def test_late_and_out_of_order_reports(self, ready, message):
        transport, events, sim = ready
        first = transport.send(message(reference="otp-1"))
        second = transport.send(message(reference="otp-2"))
        transport.send(message(reference="otp-3"))
        sim.status_report(1, PHONE, 0x00)
        sim.status_report(0, PHONE, 0x46)
        reports = events.wait_reports(2)
        assert [(r.reference, r.carrier_id, r.status) for r in reports] == [
            ("otp-2", second.carrier_ids[0], DeliveryStatus.DELIVERED),
            ("otp-1", first.carrier_ids[0], DeliveryStatus.UNDELIVERED)]

    def test_each_part_of_a_multipart_message_is_reported(self, ready, message):
        transport, events, sim = ready
        receipt = transport.send(message("z" * 300, reference="otp-long"))
        for mr in (1, 0):
            sim.status_report(mr, PHONE, 0x00)
        reports = events.wait_reports(2)
        assert {r.carrier_id for r in reports} == set(receipt.carrier_ids)
        assert {r.reference for r in reports} == {"otp-long"}

    def test_wrapped_message_reference(self, sims, transports, wait, message):
        sim = sims(mr_start=254)
        transport, events = transports(sim)
        assert wait(lambda: transport.health().ready)
        ids = [transport.send(message(reference=f"otp-{n}")).carrier_ids[0] for n in range(3)]
        assert ids == ["gsm0:254", "gsm0:255", "gsm0:0"]
        for mr in (0, 255, 254):
            sim.status_report(mr, PHONE, 0x00)
        reports = events.wait_reports(3)
        assert {(r.carrier_id, r.reference) for r in reports} == {("gsm0:254", "otp-0"), ("gsm0:255", "otp-1"),
                                                                  ("gsm0:0", "otp-2")}

    def test_reference_reused_after_wrapping_belongs_to_the_newer_message(self, sims, transports, wait, message):
        sim = sims()
        transport, events = transports(sim)
        assert wait(lambda: transport.health().ready)
        transport.send(message(reference="old"))
        sim.next_mr = 0  # the counter came round again
        transport.send(message(reference="new"))
        sim.status_report(0, PHONE, 0x00)
        assert events.wait_reports(1)[0].reference == "new"

    def test_national_format_recipient_still_matches(self, ready, message):
        transport, events, sim = ready
        transport.send(message(reference="otp-nat"))
        sim.status_report(0, "015112345678", 0x00)
        assert events.wait_reports(1)[0].reference == "otp-nat"

    def test_report_for_another_recipient_or_unknown_reference_is_ignored(self, ready, message, wait):
        transport, events, sim = ready
        transport.send(message())
        sim.status_report(0, "+4917099999999", 0x00)
        sim.status_report(99, PHONE, 0x00)
        assert wait(lambda: sim.acks == 2)
        assert events.reports == []

    def test_index_survives_a_worker_restart(self, sim, transports, wait, message):
        index = MemoryIndex()  # stands in for the Redis-backed index the worker passes
        first, _ = transports(sim, index=index)
        assert wait(lambda: first.health().ready)
        first.send(message(reference="otp-before-restart"))
        first.close()
        second, events = transports(sim, index=index)
        assert wait(lambda: second.health().ready)
        sim.status_report(0, PHONE, 0x00)
        assert events.wait_reports(1)[0].reference == "otp-before-restart"

    def test_index_keys_are_the_only_place_the_number_appears(self, sims, transports, wait, message):
        class RecordingIndex(MemoryIndex):
            def put(self, key, reference, ttl_s):
                self.put_calls.append((key, reference, ttl_s))
                super().put(key, reference, ttl_s)

        index = RecordingIndex()
        index.put_calls = []
        sim = sims()
        transport, _ = transports(sim, index=index)
        assert wait(lambda: transport.health().ready)
        receipt = transport.send(message(ttl_s=300, reference="otp-k"))
        [(key, reference, ttl)] = index.put_calls
        assert reference == "otp-k" and "112345678" in key
        assert 300 <= ttl <= 300 + 3600  # validity left plus the report window
        assert "112345678" not in receipt.carrier_ids[0]


class TestStatusMapping:
    """TP-ST (TS 23.040 §9.2.3.15) maps to delivered, undelivered or failed; 0x20-0x3F waits."""

    @pytest.mark.parametrize(("st", "status"), [
        (0x00, DeliveryStatus.DELIVERED), (0x01, DeliveryStatus.DELIVERED), (0x02, DeliveryStatus.DELIVERED),
        (0x1F, DeliveryStatus.DELIVERED), (0x20, None), (0x30, None), (0x3F, None),
        (0x40, DeliveryStatus.FAILED), (0x41, DeliveryStatus.FAILED), (0x43, DeliveryStatus.FAILED),
        (0x46, DeliveryStatus.UNDELIVERED), (0x49, DeliveryStatus.FAILED), (0x60, DeliveryStatus.UNDELIVERED),
        (0x62, DeliveryStatus.UNDELIVERED), (0x7F, DeliveryStatus.UNDELIVERED), (0x80, DeliveryStatus.FAILED),
    ])
    def test_tp_st(self, st, status):
        assert report_status(st) is status

    def test_still_trying_then_final(self, ready, message, wait):
        transport, events, sim = ready
        transport.send(message(reference="otp-t"))
        sim.status_report(0, PHONE, 0x21)  # handset busy, SMSC still trying
        assert wait(lambda: sim.acks == 1)
        assert events.reports == []
        sim.status_report(0, PHONE, 0x00)
        assert events.wait_reports(1)[0].status is DeliveryStatus.DELIVERED

    def test_permanent_failure_carries_the_status_code(self, ready, message):
        transport, events, sim = ready
        transport.send(message())
        sim.status_report(0, PHONE, 0x41)
        [report] = events.wait_reports(1)
        assert report.status is DeliveryStatus.FAILED
        assert report.error_code == "TP-ST 0x41" and report.detail == "incompatible destination"


class TestRouting:
    """Reports arrive however +CNMI routes them, even inside other traffic."""

    def test_stored_report_is_read_matched_and_deleted(self, sims, transports, wait, message):
        sim = sims()
        transport, events = transports(sim, cnmi="2,1,0,2,0")
        assert wait(lambda: transport.health().ready)
        transport.send(message(reference="otp-sr"))
        sim.status_report(0, PHONE, 0x00)
        assert events.wait_reports(1)[0].reference == "otp-sr"
        assert wait(lambda: sim.storage["SR"] == {})
        assert sim.acks == 0

    def test_report_inside_another_reply(self, ready, message):
        transport, events, sim = ready
        transport.send(message(reference="otp-mid"))
        sim.status_report(0, PHONE, 0x00, mid_reply=True)  # lands inside the next keepalive's reply
        assert events.wait_reports(1, timeout=3)[0].reference == "otp-mid"

    def test_report_while_a_send_waits_for_its_answer(self, sims, transports, wait, message):
        sim = sims(cmgs_delay=0.2)
        transport, events = transports(sim)
        assert wait(lambda: transport.health().ready)
        transport.send(message(reference="otp-a"))
        sim.inject_during_next_send("\r\n+CDS: 26\r\n" + _report_hex(sim, 0) + "\r\n")
        receipt = transport.send(message(reference="otp-b"))
        assert receipt.carrier_ids == ("gsm0:1",)
        assert events.wait_reports(1)[0].reference == "otp-a"

    def test_reports_flow_automatically_after_each_send(self, sims, transports, wait, message):
        sim = sims(auto_report=0.05)
        transport, events = transports(sim)
        assert wait(lambda: transport.health().ready)
        for n in range(5):
            transport.send(message(reference=f"otp-{n}"))
        assert {r.reference for r in events.wait_reports(5)} == {f"otp-{n}" for n in range(5)}

    @pytest.mark.parametrize("cnmi", ["2,1,0,1,0", "2,1,0,2,0"], ids=["direct", "stored"])
    def test_text_mode_report(self, sims, transports, wait, message, cnmi):
        sim = sims()
        transport, events = transports(sim, mode=Mode.TEXT, cnmi=cnmi)
        assert wait(lambda: transport.health().ready)
        transport.send(message(reference="otp-text"))
        sim.status_report(0, PHONE, 0x00)
        [report] = events.wait_reports(1)
        assert (report.carrier_id, report.reference) == ("gsm0:0", "otp-text")
        assert wait(lambda: sim.storage["SR"] == {})


def _report_hex(sim, mr: int) -> str:
    from datetime import datetime, timezone

    from support.modem_sim import status_report_pdu
    pdu, length = status_report_pdu(mr, PHONE, 0, datetime.now(timezone.utc), sim.smsc)
    assert length == 26
    return pdu
