"""A port the server cannot listen on is one line and exit 2, said before anything starts."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from cardiostream.errors import InputError
from cardiostream.serve.ports import check_port


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_a_busy_port_is_one_line_before_anything_starts(command: str, taken_port: int) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "cardiostream", command, "--port", str(taken_port)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2, run.stderr
    assert run.stderr == (
        f"error: --port {taken_port}: 127.0.0.1:{taken_port} is already in use (another "
        "cardiostream serve?); choose another with --port\n"
    )
    assert run.stdout == ""


def test_a_listening_port_is_taken(taken_port: int) -> None:
    with pytest.raises(InputError, match=f"--port {taken_port}: .* already in use"):
        check_port("127.0.0.1", taken_port)


def test_a_port_in_time_wait_is_free() -> None:
    # A server that stopped a moment ago, having bound its port as uvicorn does.
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with socket.socket() as client:
            client.connect(("127.0.0.1", port))
            accepted, _ = server.accept()
            accepted.close()  # the server's end closes first, so it is the one left waiting
            time.sleep(0.1)
    with socket.socket() as plain:
        try:
            plain.bind(("127.0.0.1", port))
        except OSError:
            pass  # TIME_WAIT holds the port against a plain bind
        else:
            pytest.skip("this system lets a plain bind reuse a port in TIME_WAIT")
    check_port("127.0.0.1", port)


@pytest.mark.parametrize(
    ("host", "port", "message"),
    [("127.0.0.1", 70000, "--port: expected 0 to 65535"),
     ("192.0.2.1", 8000, "--host 192.0.2.1: not an address of this machine")],
)  # fmt: skip
def test_an_impossible_address_is_named(host: str, port: int, message: str) -> None:
    with pytest.raises(InputError, match=message):
        check_port(host, port)


def test_any_free_port_passes() -> None:
    check_port("127.0.0.1", 0)


@pytest.mark.parametrize("ttl", ["-1", "nan", "100000"])
def test_a_resume_window_out_of_range_is_refused_before_anything_starts(
    ttl: str, taken_port: int
) -> None:
    # The port is taken too: the resume window is checked first, so only it is named.
    run = subprocess.run(
        [sys.executable, "-m", "cardiostream", "serve", "--port", str(taken_port),
         "--resume-ttl", ttl],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith("error: --resume-ttl: expected 0 to 86400 s"), run.stderr
