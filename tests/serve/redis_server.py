"""A real ``redis-server`` on 127.0.0.1 for the fault tests, and worker processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import cardiostream

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def redis_server() -> Iterator[str]:
    """Start a throwaway server (no persistence) and yield its URL; stop it by its PID."""
    if not Path(REDIS_SERVER).exists():
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    from cardiostream.serve.redis_bench import local_redis

    with local_redis() as url:
        yield url


def start_worker(url: str, shards: str, *args: str) -> subprocess.Popen[bytes]:
    """``cardiostream worker`` in a process of its own."""
    env = dict(os.environ)
    src = str(Path(cardiostream.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    return subprocess.Popen(
        [sys.executable, "-m", "cardiostream", "worker", "--redis", url, "--shards", shards,
         *args],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a worker that may already be gone."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
