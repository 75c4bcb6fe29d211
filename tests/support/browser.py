"""Headless Chromium for the tests that look at pages: Debian's, found (or installed when
run as root) by scripts/chromium, driven by Playwright."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def chromium() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    found = subprocess.run(
        [str(ROOT / "scripts" / "chromium")], capture_output=True, text=True, check=False
    )
    assert found.returncode == 0, found.stderr
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=found.stdout.strip(),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield browser
        finally:
            browser.close()
