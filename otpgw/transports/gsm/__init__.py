"""GSM modem transport: AT commands over a serial port, PDU mode, reports and inbound SMS."""
