"""GSM modem transport: AT commands over a serial port, PDU mode, reports and inbound SMS.

The only package that imports ``serial``. Modules, from the wire up:

- ``address``, ``userdata``, ``pdu``: the pure SMS PDU codec (TS 23.040), no I/O;
  ``textmode``: the same for ``AT+CMGF=1``.
- ``at``: the AT line protocol on one port (reader thread, URCs, the ``>`` prompt).
- ``errors``: ``+CMS``/``+CME ERROR`` classification and the mapping to ``TransportError``.
- ``session``: typed AT commands over one open port.
- ``modem``: one modem's supervisor (bring-up, watchdog, reopen) and its send path;
  ``state``: its states and health facts; ``inbox``, ``inbound``, ``reports``: what comes
  back (status reports, SMS) and how it is matched.
- ``pool``, ``transport``: several modems behind ``ModemTransport``; ``settings``: its
  table; ``metrics``: per-modem Prometheus series.
"""
