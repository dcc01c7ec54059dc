"""``[transports.<name>.request]`` of a templated carrier: how one message is submitted.

Keys (every string may hold placeholders, see ``templates``):

- ``url`` (required; placeholder values are URL-encoded into it), ``method`` (``POST``
  default, ``GET``, ``PUT``, ``PATCH``);
- ``body``: ``json`` (default, ``fields`` as a JSON object, nested tables allowed),
  ``form`` (``application/x-www-form-urlencoded``, flat) or ``query`` (``fields`` in
  the URL's query; the only choice for ``GET``);
- ``fields`` (the message's fields), ``query`` (extra query fields), ``headers``
  (a placeholder here makes an idempotency key: ``"Idempotency-Key" = "{reference}"``);
- ``auth``: ``{ type = "basic", username, password }``, ``{ type = "bearer", token }``,
  ``{ type = "header", name, value }`` or ``{ type = "none" }`` (default).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import quote

from ...config.errors import SettingsError
from ...config.options import Options
from .templates import NAMES, Template, compile_tree, render_tree, tree_names

METHODS = ("POST", "GET", "PUT", "PATCH")
BODIES = ("json", "form", "query")
_HEADER = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_URL = re.compile(r"https?://[^\s/?#]+(/[^\s]*)?")


def _table(value: Any) -> Mapping:
    if not isinstance(value, Mapping):
        raise ValueError("expected a table")
    return value


@dataclass(frozen=True)
class RequestShape:
    url: Template
    method: str = "POST"
    body: str = "json"
    fields: Any = field(default_factory=dict)
    query: Any = field(default_factory=dict)
    headers: Any = field(default_factory=dict)
    auth: tuple[str, str] | None = None  # basic credentials
    auth_headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, options: Options) -> "RequestShape":
        where = options.where
        method = options.str("method", "POST", choices=METHODS, upper=True)
        shape = cls(url=_url(options), method=method,
                    body=options.str("body", "query" if method == "GET" else "json", choices=BODIES),
                    fields=compile_tree(dict(options.get("fields", _table, {})), f"{where}.fields"),
                    query=compile_tree(dict(options.get("query", _table, {})), f"{where}.query"),
                    headers=compile_tree(dict(options.get("headers", _table, {})), f"{where}.headers"),
                    **_auth(options.table("auth", {"type": "none"})))
        options.done()
        shape._check(where)
        return shape

    def _check(self, where: str) -> None:
        if self.method == "GET" and self.body != "query":
            raise SettingsError(f"{where}.body: a GET request sends its fields in the query; use body = \"query\"")
        for name, value in self.headers.items():
            if not _HEADER.fullmatch(name) or not isinstance(value, Template):
                raise SettingsError(f"{where}.headers.{name}: a header needs a token name and a string value")
        flat = {"query": self.query, **({"fields": self.fields} if self.body != "json" else {})}
        for table, tree in flat.items():
            for name, value in tree.items():
                if isinstance(value, (dict, list)):
                    raise SettingsError(f"{where}.{table}.{name}: only strings and numbers fit here; "
                                        "nested values need body = \"json\"")

    @property
    def names(self) -> frozenset[str]:
        """Every placeholder the request uses."""
        return self.url.names | tree_names([self.fields, self.query, self.headers])

    def build(self, values: dict[str, str]) -> tuple[str, str, dict[str, Any]]:
        """Method, URL and httpx keyword arguments for one message's values."""
        url = self.url.render(values, lambda v: quote(v, safe=""))
        fields = render_tree(self.fields, values, numbers=self.body == "json")
        kwargs: dict[str, Any] = {"headers": {**render_tree(self.headers, values, numbers=False),
                                              **self.auth_headers}}
        query = {k: str(v) for k, v in render_tree(self.query, values, numbers=False).items()}
        if self.body == "query":
            query.update({k: str(v) for k, v in fields.items()})
        elif self.body == "form":
            kwargs["data"] = {k: str(v) for k, v in fields.items()}
        else:
            kwargs["json"] = fields
        if query:
            kwargs["params"] = query
        if self.auth:
            kwargs["auth"] = self.auth
        return self.method, url, kwargs


def _url(options: Options) -> Template:
    url = options.get("url", lambda v: Template(str(v).strip()))
    sample = url.render({name: "x" for name in NAMES})
    if not _URL.fullmatch(sample):
        raise options.fail("url", f"{url.source!r} is not an absolute http(s) URL")
    return url


def _auth(auth: Options) -> dict[str, Any]:
    kind = auth.str("type", "none", choices=("none", "basic", "bearer", "header"))
    result: dict[str, Any] = {}
    if kind == "basic":
        result["auth"] = (auth.str("username"), auth.str("password"))
    elif kind == "bearer":
        token = auth.str("token", pattern=r"\S+", hint="no spaces")
        result["auth_headers"] = {"Authorization": f"Bearer {token}"}
    elif kind == "header":
        name = auth.str("name", pattern=_HEADER.pattern, hint="a header name")
        result["auth_headers"] = {name: auth.str("value")}
    auth.done()
    return result
