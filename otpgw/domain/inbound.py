"""What an inbound SMS asks for: the opt-out and opt-in keywords carriers honour.

The keywords are those US carriers (CTIA) and most aggregators treat as an opt-out or
opt-in, matched on the whole message, trimmed, case-insensitively, ignoring trailing
punctuation: "stop", "STOP." and " Stop " opt out; "please stop texting me" does not
(a human reply is forwarded to the client instead).
"""
from __future__ import annotations

import enum
import re

OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "OPT-OUT", "REVOKE"})
OPT_IN = frozenset({"START", "UNSTOP", "YES", "SUBSCRIBE", "OPTIN", "OPT-IN"})


class Keyword(str, enum.Enum):
    STOP = "stop"
    START = "start"
    NONE = "none"


def keyword_of(text: str) -> Keyword:
    word = re.sub(r"[\s.!]+$", "", text.strip()).upper()
    if word in OPT_OUT:
        return Keyword.STOP
    if word in OPT_IN:
        return Keyword.START
    return Keyword.NONE
