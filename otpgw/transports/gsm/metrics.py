"""Per-modem Prometheus series. Labels are the transport name and the modem id
(``gsm0``): never a port path, an IMSI or a number."""
from __future__ import annotations

from prometheus_client import Counter, Gauge

from .errors import Fault

SIGNAL = Gauge("otpgw_modem_signal_dbm", "Modem signal strength from AT+CSQ (dBm).", ["transport", "modem"],
               multiprocess_mode="livemostrecent")
READY = Gauge("otpgw_modem_ready", "1 when the modem is registered and configured, else 0.", ["transport", "modem"],
              multiprocess_mode="livemostrecent")
ERRORS = Counter("otpgw_modem_errors_total", "Modem failures by kind (see gsm.errors.Fault).",
                 ["transport", "modem", "kind"])


def signal(transport: str, modem: str, dbm: int | None) -> None:
    if dbm is not None:
        SIGNAL.labels(transport, modem).set(dbm)


def ready(transport: str, modem: str, is_ready: bool) -> None:
    READY.labels(transport, modem).set(1 if is_ready else 0)


def error(transport: str, modem: str, fault: Fault) -> None:
    ERRORS.labels(transport, modem, fault.value).inc()
