"""The package layout is what the tree says it is: import-linter's contracts in pyproject.toml.

Layers run downward (entry points, web, services, store and transports, config, the
vocabulary, errors); Flask and marshmallow stay in ``otpgw.web``, redis in ``otpgw.store``,
the HTTP client in ``otpgw.transports.http`` and pyserial in ``otpgw.transports.gsm``.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class TestImportContracts:
    """Every import-linter contract of pyproject.toml is kept."""

    def test_every_contract_is_kept(self):
        lint = Path(sys.executable).parent / "lint-imports"
        result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
        assert "0 broken" in result.stdout


class TestWorkerImportsNoWebFramework:
    """A delivery worker or an operator command never loads Flask."""

    def test_worker_and_operator_modules_load_without_flask(self):
        code = ("import sys; import otpgw.delivery.worker, otpgw.admin, otpgw.logs, otpgw.store; "
                "print(sorted(m for m in ('flask', 'werkzeug', 'marshmallow') if m in sys.modules))")
        result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "[]"
