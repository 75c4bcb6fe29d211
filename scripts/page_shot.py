"""A page opened in headless Chromium (Debian's, found by scripts/chromium) and the top of
it saved as a PNG: the README's pictures (report_screenshot.py, trend_screenshot.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def page_shot(page_file: Path, target: Path, width: int = 1100, height: int = 1400) -> None:
    from playwright.sync_api import sync_playwright

    chromium = subprocess.run(
        [str(ROOT / "scripts" / "chromium")], capture_output=True, text=True, check=True
    ).stdout.strip()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": width, "height": height})
        page.goto(page_file.as_uri())
        page.screenshot(path=str(target))
        browser.close()
    print(f"wrote {target}")
