"""Data on standard output is the same whether or not the error console is a terminal.

In a terminal the commands show progress bars and notices on the error console; those must
not take standard output with them (rich's live displays redirect it by default), so a
command's data reaches a redirected standard output byte for byte.
"""

from __future__ import annotations

import fcntl
import io
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from rich.console import Console

from cardiostream.cli._common import _CompileNotice
from cardiostream.samples import sample_path

#: Environment variables with which rich decides about colour and terminals on its own.
_RICH_ENV = ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "LINES")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _RICH_ENV}
    env["TERM"] = "xterm-256color"
    env["OMP_NUM_THREADS"] = "1"
    return env


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "cardiostream.cli", *args]


def run_with_terminal_stderr(args: list[str], out: Path, timeout_s: float = 300) -> bytes:
    """Run the command with standard output into ``out`` and the error console on a
    pseudo-terminal, as in an interactive shell with ``> out``; returns what the terminal
    showed."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    with out.open("wb") as fh:
        proc = subprocess.Popen(
            _command(*args), stdin=subprocess.DEVNULL, stdout=fh, stderr=slave, env=_env()
        )
    os.close(slave)
    shown = bytearray()
    deadline = time.monotonic() + timeout_s
    try:
        # Read the terminal as the command writes, so that it never blocks on a full one.
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the command has closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        proc.wait(timeout=max(deadline - time.monotonic(), 1))
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert proc.returncode == 0, bytes(shown).decode(errors="replace")
    return bytes(shown)


def run_without_terminal(args: list[str]) -> bytes:
    proc = subprocess.run(_command(*args), capture_output=True, env=_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_analyze_writes_its_lines_to_a_redirected_stdout_under_a_terminal(
    fmt: str, tmp_path: Path
) -> None:
    args = ["analyze", str(sample_path("mitdb-201-af")), "cinc2017-A00004", "--format", fmt]
    out = tmp_path / f"out.{fmt}"
    shown = run_with_terminal_stderr(args, out)
    expected = run_without_terminal(args)
    assert expected.count(b"\n") > 50
    assert out.read_bytes() == expected
    # The terminal had the progress bar, not the data.
    assert b'"type": "window"' not in shown and b"mitdb-201-af,0.0," not in shown


def test_the_compile_notice_leaves_stdout_alone(capsys: pytest.CaptureFixture[str]) -> None:
    terminal = io.StringIO()
    notice = _CompileNotice(Console(file=terminal, force_terminal=True, width=80))
    notice.on_start(None)
    try:
        assert notice.live is not None  # showing, as while numba compiles
        # Written just after a compile, before the notice has gone.
        sys.stdout.write("sample,time_s\n")
    finally:
        notice.stop()
    assert capsys.readouterr().out == "sample,time_s\n"
    assert "sample,time_s" not in terminal.getvalue()
