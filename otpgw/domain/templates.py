"""The SMS text that carries a code, per locale: pure, no I/O, and never logs the code.

Every Latin-script template stays inside the GSM 7-bit alphabet (no ``á``, ``ó``, ``ã``
or ``ç``: one of them would switch the whole SMS to UCS-2), and every template fits one
segment with a 10-digit code, a 20-character brand and a 10-minute lifetime. Durations
use an abbreviation or a label ("min", "мин", "بالدقائق") so no language needs plural
rules. The ``zh`` template opens with the 【brand】 signature Chinese carriers require.

With a WebOTP domain, the last line is ``@domain #code``, the origin-bound one-time code
format (https://wicg.github.io/web-otp/) that lets the browser fill the code in. That
line may push a UCS-2 message (``ru``, ``ar``, ``zh``) to a second segment.
"""
from __future__ import annotations

import math
import re

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


def render(code: str, *, locale: str, brand: str, ttl_seconds: int, webotp_domain: str = "") -> str:
    """The SMS text for ``code`` in the locale closest to ``locale`` (resolve it first
    against the deployment's default; an unknown one falls back to ``en``). The lifetime
    shows in whole minutes, rounded up. With ``webotp_domain`` (a bare host such as
    ``example.com``) the last line is ``@example.com #<code>``."""
    if ttl_seconds < 1:
        raise ValueError(f"ttl_seconds must be positive, got {ttl_seconds}")
    text = TEMPLATES[resolve_locale(locale)].format(code=code, brand=brand, minutes=math.ceil(ttl_seconds / 60))
    if not webotp_domain:
        return text
    if not _HOST.fullmatch(webotp_domain):
        raise ValueError(f"webotp_domain must be a bare host name such as example.com, got {webotp_domain!r}")
    return f"{text}\n@{webotp_domain} #{code}"
