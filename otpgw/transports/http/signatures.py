"""Carrier callback signatures, computed here so the runtime needs no carrier SDK.

Tests produce signatures with the carriers' own SDKs (``twilio.request_validator``,
``vonage_http_client.Auth``), so these functions are checked against the carriers'
shapes rather than against themselves.

Twilio (``X-Twilio-Signature``): base64(HMAC-SHA1(auth token, URL + each form field's
name and value, sorted by name)). The URL is the full URL Twilio called, query included;
as Twilio's own validator does, the URL is also tried with and without its default
port, since Twilio's signing is not consistent about it. A GET webhook signs the URL alone.

Vonage (``sig``): every field but ``sig``, sorted by name, as ``&name=value`` with
``&`` and ``=`` in values replaced by ``_``; then ``md5hash`` = MD5(that string +
secret) (Vonage's legacy default) or an HMAC with the secret (``md5``, ``sha1``,
``sha256``, ``sha512``), hex; compared case-insensitively.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Mapping
from urllib.parse import urlsplit, urlunsplit

VONAGE_METHODS = ("md5hash", "md5", "sha1", "sha256", "sha512")
_DEFAULT_PORTS = {"https": 443, "http": 80}


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    payload = url + "".join(name + params[name] for name in sorted(params))
    mac = hmac.new(auth_token.encode(), payload.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def twilio_signature_valid(auth_token: str, url: str, params: Mapping[str, str], signature: str) -> bool:
    if not signature:
        return False
    return any(hmac.compare_digest(twilio_signature(auth_token, candidate, params).encode(), signature.encode())
               for candidate in _port_variants(url))


def _port_variants(url: str) -> tuple[str, ...]:
    """The URL without and with its scheme's default port."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    bare = host.split(":")[0] if parts.port else host
    default = _DEFAULT_PORTS.get(parts.scheme, 80)
    with_port = host if parts.port else f"{host}:{default}"
    return tuple(urlunsplit(parts._replace(netloc=n)) for n in (bare, with_port))


def vonage_signature(secret: str, method: str, params: Mapping[str, str]) -> str:
    """The hex signature of ``params`` (``sig`` itself excluded)."""
    text = "".join(f"&{name}={_vonage_value(params[name])}" for name in sorted(params) if name != "sig")
    if method == "md5hash":
        return hashlib.md5((text + secret).encode("utf-8")).hexdigest()
    return hmac.new(secret.encode(), text.encode("utf-8"), getattr(hashlib, method)).hexdigest()


def vonage_signature_valid(secret: str, method: str, params: Mapping[str, str]) -> bool:
    given = params.get("sig", "").strip().lower()
    return bool(given) and hmac.compare_digest(vonage_signature(secret, method, params).encode(), given.encode())


def _vonage_value(value: str) -> str:
    return value.replace("&", "_").replace("=", "_")
