"""The SMS text that carries a code, per locale: pure, no I/O, and never logs the code.

Every Latin-script template stays inside the GSM 7-bit alphabet (no ``á``, ``ó``, ``ã``
or ``ç``: one of them would switch the whole SMS to UCS-2), and every template fits one
segment with a 10-digit code, a 20-character brand and a 10-minute lifetime. Durations
use an abbreviation or a label ("min", "мин", "بالدقائق") so no language needs plural
rules. The ``zh`` template opens with the 【brand】 signature Chinese carriers require.

With a WebOTP domain, the last line is ``@domain #code``, the origin-bound one-time code
format (https://wicg.github.io/web-otp/) that lets the browser fill the code in. That
line may push a UCS-2 message (``ru``, ``ar``, ``zh``) to a second segment.

With an Android app hash, the message ends with a blank line and the 11-character hash
of the SMS Retriever API, so the app reads the code without the SMS permission; the
whole message must then fit 140 bytes (one SMS), which ``check_app_hash_fits`` tells.
The two formats each want the last line, so a message carries one or the other.

An API client may bring its own template (``check_template`` says whether it is usable):
the placeholders are ``{code}`` (required), ``{brand}`` and ``{minutes}``.
"""
from __future__ import annotations

import math
import re
import string

from .textcodec import segment_count

DEFAULT_LOCALE = "en"

TEMPLATES = {
    "en": "{code} is your {brand} code. It expires in {minutes} min. Do not share it.",
    "de": "{code} ist Ihr {brand}-Code. Gültig für {minutes} Min. Geben Sie ihn nicht weiter.",
    "fr": "{code} est votre code {brand}. Il expire dans {minutes} min. Ne le partagez pas.",
    "es": "{code} es tu clave de {brand}. Vence en {minutes} min. No la compartas.",
    "pt": "Sua senha {brand}: {code}. Expira em {minutes} min. Nunca a compartilhe.",
    "ru": "Код {brand}: {code} ({minutes} мин). Никому не сообщайте.",
    "ar": "رمز {brand}: {code}. المدة بالدقائق: {minutes}. لا تشاركه.",
    "zh": "【{brand}】验证码{code}，{minutes}分钟内有效，请勿泄露给他人。",
}

# A bare host name, as WebOTP wants it: no scheme, port, path or spaces.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}", re.IGNORECASE)
# Google's SMS Retriever app hash: 11 characters of base64 (https://developers.google.com/identity/sms-retriever)
_APP_HASH = re.compile(r"[A-Za-z0-9+/]{11}")
PLACEHOLDERS = ("code", "brand", "minutes")
LONGEST = dict(code="0" * 10, minutes=10)  # the longest code and lifetime a message may carry


def supported_locales() -> tuple[str, ...]:
    return tuple(sorted(TEMPLATES))


def resolve_locale(locale: str, default: str = DEFAULT_LOCALE) -> str:
    """The supported locale closest to ``locale``, else ``default``.

    ``en_US``, ``en-us`` and ``en_US.UTF-8`` all mean ``en-us``; subtags are dropped
    from the right until one is supported (``pt-BR`` → ``pt`` → ``default``).
    Raises ValueError when ``default`` itself is not supported.
    """
    if default not in TEMPLATES:
        raise ValueError(f"locale {default!r} is not supported; use one of {', '.join(supported_locales())}")
    tag = (locale or "").split(".")[0].split("@")[0].strip().replace("_", "-").lower()
    while tag:
        if tag in TEMPLATES:
            return tag
        tag = tag.rpartition("-")[0]
    return default


def render(code: str, *, locale: str, brand: str, ttl_seconds: int, webotp_domain: str = "",
           template: str = "", app_hash: str = "") -> str:
    """The SMS text for ``code`` in the locale closest to ``locale`` (resolve it first
    against the deployment's default; an unknown one falls back to ``en``), or in a
    client's own ``template``. The lifetime shows in whole minutes, rounded up. With
    ``webotp_domain`` (a bare host such as ``example.com``) the last line is
    ``@example.com #<code>``; with ``app_hash`` the message ends with that hash."""
    if ttl_seconds < 1:
        raise ValueError(f"ttl_seconds must be positive, got {ttl_seconds}")
    text = (template or TEMPLATES[resolve_locale(locale)]).format(
        code=code, brand=brand, minutes=math.ceil(ttl_seconds / 60))
    if webotp_domain and app_hash:
        raise ValueError("a message carries either a WebOTP domain or an app hash, not both")
    if app_hash:
        check_app_hash(app_hash)
        return f"{text}\n\n{app_hash}"
    if not webotp_domain:
        return text
    check_webotp_domain(webotp_domain)
    return f"{text}\n@{webotp_domain} #{code}"


def check_webotp_domain(domain: str) -> None:
    if not _HOST.fullmatch(domain):
        raise ValueError(f"webotp_domain must be a bare host name such as example.com, got {domain!r}")


def check_app_hash(app_hash: str) -> None:
    if not _APP_HASH.fullmatch(app_hash):
        raise ValueError(f"app_hash must be the 11-character SMS Retriever hash of the app "
                         f"(A-Z a-z 0-9 + /), got {app_hash!r}")


def check_template(template: str, brand: str) -> None:
    """Raise ValueError with a sentence unless ``template`` is a usable message: it names
    ``{code}``, uses no other placeholder than ``{brand}`` and ``{minutes}``, and fits one
    SMS with a 10-digit code and ``brand``."""
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise ValueError(f"template is not a valid template ({exc}); write a literal brace as {{{{ or }}}}") from None
    unknown = sorted({name for name, _, _ in fields if name not in PLACEHOLDERS})
    if unknown:
        raise ValueError(f"template uses {', '.join('{' + n + '}' for n in unknown)}; "
                         f"the placeholders are {{code}}, {{brand}} and {{minutes}}")
    if any(spec or conv for _, spec, conv in fields):
        raise ValueError("template placeholders take no format spec or conversion (write {code}, not {code:>8})")
    if "code" not in {name for name, _, _ in fields}:
        raise ValueError("template must contain the {code} placeholder")
    text = template.format(brand=brand, **LONGEST)
    if segment_count(text) > 1:
        raise ValueError(f"template is longer than one SMS with a 10-digit code ({len(text)} characters)")


def check_app_hash_fits(text: str) -> None:
    """SMS Retriever reads only a message of at most 140 bytes: one SMS."""
    if segment_count(text) > 1:
        raise ValueError("with the app hash the message is longer than one SMS (140 bytes), "
                         "which the SMS Retriever API needs; shorten the template or the brand")
