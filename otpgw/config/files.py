"""The settings file: TOML, named by ``OTPGW_CONFIG``, with ``${VAR}`` taken from the environment.

Substitution runs on every string in the file (keys are left alone), so a secret such as
``auth_token = "${TWILIO_AUTH_TOKEN}"`` lives only in the environment (a Kubernetes
Secret), never in the file or its ConfigMap. ``$${`` writes a literal ``${``. A variable
that is not set stops the start with a sentence naming it and where it was used.
"""
from __future__ import annotations

import re
import tomllib
from typing import Any, Mapping

from .errors import SettingsError

ENV_PREFIX = "OTPGW_"
_REFERENCE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def read_config_file(path: str, environ: Mapping[str, str]) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"OTPGW_CONFIG: cannot read {path}: {exc}") from exc
    return expand(data, environ, path)


def expand(value: Any, environ: Mapping[str, str], where: str) -> Any:
    """``value`` with every ``${VAR}`` in its strings replaced from ``environ``."""
    if isinstance(value, str):
        return _REFERENCE.sub(lambda m: _lookup(m, environ, where), value)
    if isinstance(value, dict):
        return {k: expand(v, environ, f"{where}: {k}" if ":" not in where else f"{where}.{k}")
                for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, environ, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _lookup(match: re.Match, environ: Mapping[str, str], where: str) -> str:
    if match.group(0) == "$${":
        return "${"
    name = match.group(1)
    if name not in environ:
        raise SettingsError(f"{where} refers to ${{{name}}}, but the environment variable {name} is not set")
    return environ[name]
