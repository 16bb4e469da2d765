"""Shared fixtures: where the PhysioNet databases are, and the bundled samples."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    """The PhysioNet data: $CARDIOSTREAM_DATA, else ../shared/data beside the repository."""
    env = os.environ.get("CARDIOSTREAM_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO_ROOT.parent / "shared" / "data")
    for path in candidates:
        if (path / "mitdb").is_dir():
            return path
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to the PhysioNet databases; skips the test when they are absent."""
    path = shared_data_dir()
    if path is None:
        pytest.skip("PhysioNet data not found: set CARDIOSTREAM_DATA or put it at ../shared/data")
    return path


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print what the dashboard tests measured (``record_property("measured", ...)``)."""
    lines = [
        f"{report.nodeid.split('::')[-1]}: {value}"
        for report in terminalreporter.stats.get("passed", [])
        for name, value in getattr(report, "user_properties", [])
        if name == "measured"
    ]
    if lines:
        terminalreporter.section("measured in the browser")
        for line in lines:
            terminalreporter.write_line(line)
