"""``[transports.<name>.callback]`` of a templated carrier: how its delivery report reads.

The carrier calls the ``{status_url}`` it was given (``.../status?ref=..&token=..``),
by GET or POST, with its own fields in the query, a form or a JSON body. Keys:

- ``status_field`` (required): the field with the carrier's status (a name, or a JSON
  path such as ``data.status`` for a JSON body);
- ``statuses`` (required): the carrier's status values -> ``sent``, ``delivered``,
  ``undelivered``, ``failed`` or ``ignore`` (compared case-insensitively; values not
  listed are acknowledged and ignored);
- ``id_field``, ``error_field``: the carrier's message id and error code, if it sends them;
- ``answer``: the body otpgw answers with (default empty), for carriers that want ``OK``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ...config.options import Options
from ...domain.outcomes import DeliveryStatus
from ..base import CallbackRequest, DeliveryReport
from .callbacks import fields
from .paths import JsonPath

TARGETS = ("sent", "delivered", "undelivered", "failed", "ignore")


def _statuses(value: Any) -> dict[str, DeliveryStatus | None]:
    if not isinstance(value, Mapping) or not value:
        raise ValueError("expected a table of carrier status = sent, delivered, undelivered, failed or ignore")
    table = {}
    for carrier_value, target in value.items():
        if target not in TARGETS:
            raise ValueError(f"{carrier_value} = {target!r}: use sent, delivered, undelivered, failed or ignore")
        table[str(carrier_value).casefold()] = None if target == "ignore" else DeliveryStatus(target)
    return table


@dataclass(frozen=True)
class CallbackShape:
    status_field: JsonPath
    statuses: Mapping[str, DeliveryStatus | None]
    id_field: JsonPath | None = None
    error_field: JsonPath | None = None
    answer: str = ""

    @classmethod
    def read(cls, options: Options) -> "CallbackShape":
        shape = cls(options.get("status_field", JsonPath), options.get("statuses", _statuses),
                    options.get("id_field", JsonPath, None), options.get("error_field", JsonPath, None),
                    options.str("answer", ""))
        options.done()
        return shape

    def reports(self, transport: str, request: CallbackRequest, reference: str) -> tuple[DeliveryReport, ...]:
        flat = fields(request)
        raw = _value(self.status_field, flat, request.json)
        status = self.statuses.get(raw.casefold())
        if status is None:
            return ()
        return (DeliveryReport(transport, status, reference=reference,
                               carrier_id=_value(self.id_field, flat, request.json),
                               error_code=_value(self.error_field, flat, request.json), detail=raw),)


def _value(path: JsonPath | None, flat: dict[str, str], document: Any) -> str:
    """A field by its plain name (query, form or top-level JSON), else by JSON path."""
    if path is None:
        return ""
    if path.source in flat:
        return flat[path.source]
    return path.text(document) if document is not None else ""
