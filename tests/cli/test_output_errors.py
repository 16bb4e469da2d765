"""Output paths that cannot be written, and a full disk: one line naming the path, exit 2,
never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cardiostream.cli import app

runner = CliRunner()


def _one_line_error(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_out_naming_a_file_is_one_line(tmp_path: Path) -> None:
    existing = tmp_path / "good.csv"
    existing.write_text("x\n")
    line = _one_line_error(["analyze", "cinc2017-A00004", "--out", str(existing)])
    assert line == f"error: {existing}: exists and is not a folder"
    inside = existing / "sub"
    line = _one_line_error(["analyze", "cinc2017-A00004", "--out", str(inside)])
    assert line == f"error: {inside}: not a folder (a part of the path is a file)"
    line = _one_line_error(["analyze", "cinc2017-A00004", "--summary", str(inside / "s.csv")])
    assert str(inside) in line and "not a folder" in line
    line = _one_line_error(["rpeaks", "cinc2017-A00004", "--out", str(tmp_path)])
    assert line == f"error: {tmp_path}: is a folder, not a file"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("command", [["rpeaks"], ["analyze", "--format", "jsonl"]])
def test_a_full_disk_is_one_line(command: list[str]) -> None:
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "cardiostream.cli", *command, "cinc2017-A00004"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=300,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == "error: writing standard output: No space left on device\n"
