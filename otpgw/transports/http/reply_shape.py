"""``[transports.<name>.response]`` of a templated carrier: what its answer means.

Keys (all optional):

- success: ``success_status`` (default: any 2xx), and one test of the body:
  ``success_path`` + ``success_values`` (the JSON value there must be one of them) or
  ``success_regex`` (must match somewhere in the body);
- the carrier's message id: ``id_path`` (JSON) or ``id_regex`` (its first group, or
  the whole match); without either the receipt has no carrier id;
- refusals: ``error_code_path`` or ``error_code_regex`` (the carrier's own code) and
  ``error_message_path``; ``throttle_codes``, ``retryable_codes``, ``permanent_codes``
  (code lists) and ``throttle_status`` (default ``[429]``), ``retryable_status``,
  ``permanent_status`` (HTTP status lists).

How an answer is read, in order: a throttle status or code -> ``ThrottledError``
(with ``Retry-After``); a success status whose body passes the test -> a receipt (a
success without the configured id, or a body that cannot be parsed, ->
``OutcomeUnknownError``); a success status whose body fails the test is a refusal only
when it names an error code (listed codes as listed, others permanent), otherwise
``OutcomeUnknownError``; any other status: listed codes, then listed statuses, then the
common rule of ``replies`` (5xx temporary, 401/402/403/404/407 retryable, 4xx permanent).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Pattern

from ...config.options import Options
from ..base import (
    Message,
    OutcomeUnknownError,
    PermanentTransportError,
    Receipt,
    TemporaryTransportError,
    ThrottledError,
    TransportError,
)
from .client import Reply
from .paths import JsonPath
from .replies import malformed, refusal, retry_after, shorten

_UNREAD = object()


def _regex(value: Any) -> Pattern:
    try:
        return re.compile(str(value))
    except re.error as exc:
        raise ValueError(f"not a valid regular expression ({exc})") from None


def _status(value: Any) -> int:
    if not str(value).isdigit() or not 100 <= int(value) <= 599:
        raise ValueError(f"{value} is not an HTTP status")
    number = int(value)
    return number


@dataclass(frozen=True)
class ReplyShape:
    success_status: frozenset[int] = frozenset()
    success_path: JsonPath | None = None
    success_values: tuple[str, ...] = ()
    success_regex: Pattern | None = None
    id_path: JsonPath | None = None
    id_regex: Pattern | None = None
    error_code_path: JsonPath | None = None
    error_code_regex: Pattern | None = None
    error_message_path: JsonPath | None = None
    throttle_codes: frozenset[str] = frozenset()
    retryable_codes: frozenset[str] = frozenset()
    permanent_codes: frozenset[str] = frozenset()
    throttle_status: frozenset[int] = frozenset({429})
    retryable_status: frozenset[int] = frozenset()
    permanent_status: frozenset[int] = frozenset()

    @classmethod
    def read(cls, options: Options) -> "ReplyShape":
        def path(key: str) -> JsonPath | None:
            return options.get(key, JsonPath, None)

        def regex(key: str) -> Pattern | None:
            return options.get(key, _regex, None)

        def codes(key: str) -> frozenset[str]:
            return frozenset(options.list(key))

        def statuses(key: str, default: tuple[int, ...] = ()) -> frozenset[int]:
            return frozenset(options.list(key, default, item=_status))

        shape = cls(success_status=statuses("success_status"), success_path=path("success_path"),
                    success_values=options.list("success_values"), success_regex=regex("success_regex"),
                    id_path=path("id_path"), id_regex=regex("id_regex"), error_code_path=path("error_code_path"),
                    error_code_regex=regex("error_code_regex"), error_message_path=path("error_message_path"),
                    throttle_codes=codes("throttle_codes"), retryable_codes=codes("retryable_codes"),
                    permanent_codes=codes("permanent_codes"), throttle_status=statuses("throttle_status", (429,)),
                    retryable_status=statuses("retryable_status"), permanent_status=statuses("permanent_status"))
        options.done()
        shape._check(options)
        return shape

    def _check(self, options: Options) -> None:
        pairs = (("success_path", "success_regex"), ("id_path", "id_regex"), ("error_code_path", "error_code_regex"))
        for one, other in pairs:
            if getattr(self, one) and getattr(self, other):
                raise options.fail(other, f"use {one} or {other}, not both")
        if bool(self.success_path) != bool(self.success_values):
            raise options.fail("success_values", "success_path and success_values go together")

    def receipt(self, name: str, reply: Reply, message: Message, now_s: float) -> Receipt:
        """The receipt of an accepted message, or raise the TransportError the answer means."""
        document = _Document(reply)
        code = self._code(document)
        what = self._what(name, reply, code, document)
        if reply.status in self.throttle_status or code in self.throttle_codes:
            raise ThrottledError(what, code=code, retry_after=retry_after(reply.headers.get("retry-after"), now_s))
        if not reply.ok or (self.success_status and reply.status not in self.success_status):
            raise self._refusal(name, reply, code, what, document, now_s)
        if not self._succeeded(name, document):
            if not code:
                raise malformed(name, f"its answer (HTTP {reply.status}) is not a success and names no error code")
            raise self._by_code(code, what) or PermanentTransportError(what, code=code)
        return Receipt(self._ids(name, document), message.parts, message.encoding)

    def _succeeded(self, name: str, document: "_Document") -> bool:
        if self.success_path:
            return self.success_path.text(document.json(name)) in self.success_values
        if self.success_regex:
            return bool(self.success_regex.search(document.reply.text))
        return True

    def _ids(self, name: str, document: "_Document") -> tuple[str, ...]:
        if self.id_path:
            found = self.id_path.text(document.json(name))
        elif self.id_regex:
            match = self.id_regex.search(document.reply.text)
            found = (match.group(1) if match and match.groups() else match.group(0)) if match else ""
        else:
            return ()
        if not found:
            raise malformed(name, "its answer has no message id where response.id_* says")
        return (found,)

    def _code(self, document: "_Document") -> str:
        if self.error_code_path:
            return self.error_code_path.text(document.json_or_none())
        if self.error_code_regex:
            match = self.error_code_regex.search(document.reply.text)
            return (match.group(1) if match.groups() else match.group(0)) if match else ""
        return ""

    def _refusal(self, name: str, reply: Reply, code: str, what: str, document: "_Document",
                 now_s: float) -> TransportError:
        if reply.ok:  # a 2xx outside success_status: we cannot tell what happened
            return OutcomeUnknownError(f"{what}; not a configured success status")
        by_code = self._by_code(code, what)
        if by_code:
            return by_code
        if reply.status in self.retryable_status:
            return TemporaryTransportError(what, code=code)
        if reply.status in self.permanent_status:
            return PermanentTransportError(what, code=code)
        return refusal(name, reply, now_s, code=code, reason=self._message(document))

    def _by_code(self, code: str, what: str) -> TransportError | None:
        if code and code in self.retryable_codes:
            return TemporaryTransportError(what, code=code)
        if code and code in self.permanent_codes:
            return PermanentTransportError(what, code=code)
        return None

    def _what(self, name: str, reply: Reply, code: str, document: "_Document") -> str:
        reason = self._message(document)
        return f"{name}: carrier answered HTTP {reply.status}" + (f" code {code}" if code else "") \
            + (f" ({reason})" if reason else "")

    def _message(self, document: "_Document") -> str:
        return shorten(self.error_message_path.text(document.json_or_none())) if self.error_message_path else ""


class _Document:
    """A reply's body, parsed as JSON at most once and only when a path needs it."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self._json: Any = _UNREAD

    def json_or_none(self) -> Any:
        if self._json is _UNREAD:
            try:
                self._json = self.reply.json()
            except (ValueError, UnicodeDecodeError):
                self._json = None
        return self._json

    def json(self, name: str) -> Any:
        document = self.json_or_none()
        if document is None:
            raise malformed(name, f"its answer (HTTP {self.reply.status}) is not the JSON response.* expects")
        return document
