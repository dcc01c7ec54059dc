"""The console transport: prints each SMS to standard output, for development.

The number is masked; the text is printed whole, because showing the code to the
developer at the keyboard is the point of dev mode. Never configure it in production.
"""
from __future__ import annotations

import sys
import threading
from typing import TextIO

from ..domain.phones import mask
from .base import Message, Options, Receipt, Transport


class ConsoleTransport(Transport):
    type_name = "console"

    def __init__(self, stream: TextIO | None = None, *, name: str = "console"):
        super().__init__(name)
        self._stream = stream
        self._lock = threading.Lock()
        self._count = 0

    @classmethod
    def from_config(cls, name: str, options: Options) -> "ConsoleTransport":
        options.done()
        return cls(name=name)

    def send(self, message: Message) -> Receipt:
        with self._lock:
            self._count += 1
            carrier_id = f"{self.name}-{self._count}"
            out = self._stream or sys.stdout
            print(f"\n[otpgw console SMS] to {mask(message.destination)} ({message.reference}):\n"
                  f"    {message.text.replace(chr(10), chr(10) + '    ')}\n", file=out, flush=True)
        return Receipt.for_message(message, (carrier_id,))
