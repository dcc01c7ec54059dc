"""The console transport: prints each SMS to standard output, for development.

The number is masked; the text is printed whole, because showing the code to the
developer at the keyboard is the point of dev mode. Never configure it in production.
"""
from __future__ import annotations

import sys
import threading
from typing import TextIO

from ..phones import mask
from .base import Message, Transport


class ConsoleTransport(Transport):
    name = "console"

    def __init__(self, stream: TextIO | None = None):
        self._stream = stream
        self._lock = threading.Lock()
        self._count = 0

    def send(self, message: Message) -> tuple[str, ...]:
        with self._lock:
            self._count += 1
            carrier_id = f"console-{self._count}"
            out = self._stream or sys.stdout
            print(f"\n[otpgw console SMS] to {mask(message.destination)} ({message.reference}):\n"
                  f"    {message.text.replace(chr(10), chr(10) + '    ')}\n", file=out, flush=True)
        return (carrier_id,)
