"""Playwright driving Debian's Chromium, for the dashboard tests (see ENVIRONMENT notes)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
FFMPEG = Path("/usr/bin/ffmpeg")
#: Playwright 1.65.2 looks for its ffmpeg (video recording) under this folder name.
FFMPEG_DIR = "ffmpeg-1013"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class PageLog:
    """What a page said: console errors and uncaught exceptions."""

    errors: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        def console(message: Any) -> None:
            if message.type == "error":
                self.errors.append(message.text)

        page.on("console", console)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))


def launch(tmp: Path) -> Iterator[Any]:
    """A headless Chromium (skips with the reason when it or Playwright is missing)."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is missing (/usr/bin/chromium): `make test` installs it")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if FFMPEG.exists():
        # Video needs an ffmpeg where Playwright looks for its own (whose download fails).
        (tmp / FFMPEG_DIR).mkdir(parents=True, exist_ok=True)
        link = tmp / FFMPEG_DIR / "ffmpeg-linux"
        if not link.exists():
            link.symlink_to(FFMPEG)
        os.environ["PLAYWRIGHT_BROWSERS_PATH"] = str(tmp)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
    """``check()``'s first true value, asked every ``every`` s (AssertionError naming
    ``what`` when none comes within ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout} s")


def run_in_thread(loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]) -> threading.Thread:
    """Run ``task`` on ``loop`` in a daemon thread, started (cancelled: ends quietly); stop it
    with ``loop.call_soon_threadsafe(task.cancel)`` and join the thread."""

    def run() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(task)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    return runner
