"""Headless Chromium (Debian's ``chromium``) driven by Playwright, for page tests.

Like ``find_redis_server``, the binary is installed with apt-get when missing and the
tests run as root; otherwise they fail loudly, never skip. Playwright never downloads a
browser: it drives ``/usr/bin/chromium``. Screenshots go to ``artifacts/`` at the
repository root (git-ignored), which CI keeps.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import ROOT

ARTIFACTS = ROOT / "artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def find_chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=False, env=env, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], check=False, env=env, capture_output=True)
        found = shutil.which("chromium")
        if found:
            return found
    pytest.fail("chromium is not installed and could not be installed (apt-get install chromium)", pytrace=False)


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium with a fresh profile, closed after the module's tests."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="otpgw-chromium-")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=find_chromium(), headless=True, args=FLAGS,
            viewport={"width": 1200, "height": 760})
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=full_page)
    return path
