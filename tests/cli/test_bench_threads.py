"""Benchmarks run on one thread, and a kernel compiled mid-benchmark (a cold cache) does not
stop them."""

from __future__ import annotations

import os
import subprocess
import sys

CODE = """
import numba
from cardiostream.cli.bench import _single_thread

_single_thread()
numba.set_num_threads(1)  # the benchmark's thread limit starts numba's threads


@numba.njit
def add_one(x):
    return x + 1


assert add_one(1) == 2  # compiled after the threads started
assert numba.get_num_threads() == 1
print("ok")
"""


def test_a_kernel_compiled_after_the_threads_started_does_not_fail() -> None:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_NUM_THREADS"}
    run = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120, env=env
    )
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]
