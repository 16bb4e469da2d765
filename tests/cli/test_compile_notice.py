"""While numba compiles (once after an install) a command says so, and otherwise says
nothing."""

from __future__ import annotations

import io
import time

import numba
from numba.core import event
from rich.console import Console

from cardiostream.cli._common import COMPILING, _CompileNotice


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=200), out


def test_a_compile_shows_the_line_and_it_goes_when_compiling_stops() -> None:
    console, out = _console()
    notice = _CompileNotice(console, quiet_s=0.05)
    event.register("numba:compile", notice)
    try:
        event.start_event("numba:compile", data={"dispatcher": None, "args": ()})
        assert notice.live is not None
        event.start_event("numba:compile", data={"dispatcher": None, "args": ()})  # nested
        event.end_event("numba:compile", data={"dispatcher": None, "args": ()})
        event.end_event("numba:compile", data={"dispatcher": None, "args": ()})
        deadline = time.monotonic() + 5
        while notice.live is not None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert notice.live is None
    finally:
        event.unregister("numba:compile", notice)
        notice.stop()
    assert COMPILING in out.getvalue()


def test_a_second_burst_soon_after_keeps_the_line_up() -> None:
    console, _ = _console()
    notice = _CompileNotice(console, quiet_s=10.0)
    event.register("numba:compile", notice)
    try:
        for _ in range(3):
            event.start_event("numba:compile", data={"dispatcher": None, "args": ()})
            event.end_event("numba:compile", data={"dispatcher": None, "args": ()})
        assert notice.live is not None  # still showing within the quiet time
    finally:
        event.unregister("numba:compile", notice)
        notice.stop()
    assert notice.live is None


def test_a_kernel_already_compiled_says_nothing() -> None:
    @numba.njit
    def twice(x: float) -> float:
        return 2 * x

    twice(1.0)  # compiled here, before the notice listens
    console, out = _console()
    notice = _CompileNotice(console, quiet_s=0.05)
    event.register("numba:compile", notice)
    try:
        assert twice(2.0) == 4.0
    finally:
        event.unregister("numba:compile", notice)
        notice.stop()
    assert out.getvalue() == ""
    assert not notice.said


def test_a_real_compile_is_heard() -> None:
    @numba.njit
    def thrice(x: float) -> float:
        return 3 * x

    console, out = _console()
    notice = _CompileNotice(console, quiet_s=0.05)
    event.register("numba:compile", notice)
    try:
        assert thrice(1.0) == 3.0  # compiled now
    finally:
        event.unregister("numba:compile", notice)
        notice.stop()
    assert notice.said and COMPILING in out.getvalue()
