"""``cardiostream bench redis``: live streams through Redis and worker processes.

For each number of workers: simulated 250 Hz streams are warmed up (10 s each, until their
first window), then

- throughput: ``seconds`` more of every stream appended at once; the time until the last
  window is back gives the stream-seconds a second the workers analyse;
- real time: ``seconds`` more, one second of every stream a second; the latency of each
  window is the time from the append of the entry that completed it to its arrival at the
  consumer (same machine, same clock);
- memory: Redis's ``MEMORY USAGE`` of the shard streams and checkpoints after the run.

Workers are ``cardiostream worker`` processes; Redis is the one at ``url`` or, without one, a
``redis-server`` started here (no persistence).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream.errors import InputError
from cardiostream.serve.redis_bus import (
    Producer,
    ResultReader,
    ckpt_key,
    in_key,
    lease_key,
    out_key,
    shard_of,
)

FS = 250.0
WARM_S = 10  # the first window ends here


@dataclass
class RedisRun:
    """One number of workers."""

    workers: int
    streams: int
    seconds: int
    throughput_x: float  # stream-seconds analysed per second, all workers together
    windows_fast: int
    latency_p50_ms: float
    latency_p99_ms: float
    latency_max_ms: float
    windows_live: int
    windows_expected: int
    redis_used_mb: float
    in_bytes_per_stream_s: float  # a second of one stream in its shard's Redis stream
    out_bytes_per_window: float  # the result streams
    ckpt_bytes_per_stream: float


@dataclass
class RedisBench:
    """The runs, and the machine they ran on."""

    runs: list[RedisRun] = field(default_factory=list)
    shards: int = 8
    cpus: int = field(default_factory=lambda: os.cpu_count() or 1)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"shards": self.shards, "cpus": self.cpus, "runs": [asdict(r) for r in self.runs]}


def _signal(seconds: int) -> npt.NDArray[np.float32]:
    """``seconds`` of a real sinus recording at 250 Hz (the bundled one, repeated)."""
    from scipy.signal import resample_poly

    from cardiostream.io import read
    from cardiostream.samples import sample_path

    x = resample_poly(read(sample_path("mitdb-100-nsr")).lead(0), 25, 36)
    n = int(seconds * FS)
    return np.resize(x, n).astype(np.float32)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def local_redis() -> Iterator[str]:
    """A throwaway ``redis-server`` on 127.0.0.1 (no persistence); yields its URL and stops
    it by its PID (the benchmark's server, and the tests')."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise InputError("--redis: none given and redis-server is not installed")
    import redis

    port = _free_port()
    proc = subprocess.Popen(
        [exe, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}"
    try:
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise InputError("redis-server did not start") from None
                time.sleep(0.05)
        client.close()
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _workers(url: str, n: int, shards: int) -> list[subprocess.Popen[bytes]]:
    src = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    procs = []
    for j in range(n):
        mine = ",".join(str(s) for s in range(shards) if s % n == j)
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "cardiostream", "worker", "--redis", url, "--shards", mine,
             "--name", f"bench-{j}"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))  # fmt: skip
    return procs


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def _run(
    url: str, n_workers: int, streams: int, seconds: int, shards: int, say: Callable[[str], None]
) -> RedisRun:
    import redis

    client = redis.Redis.from_url(url)
    client.flushall()
    procs = _workers(url, n_workers, shards)
    try:
        deadline = time.monotonic() + 120
        while not all(client.exists(lease_key(s)) for s in range(shards)):
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError("the workers did not start")
            time.sleep(0.1)
        x = _signal(WARM_S + 2 * seconds + 50)
        producer = Producer(client, shards)
        reader = ResultReader(client, range(shards))
        ids = [f"bench-{k}" for k in range(streams)]
        offsets = [(k * 997) % int(50 * FS) for k in range(streams)]  # streams out of phase
        step = int(FS)

        def append(second: int) -> None:
            pipe = client.pipeline(transaction=False)
            n0 = second * step
            for sid, off in zip(ids, offsets, strict=True):
                fields: Any = producer.fields(sid, 1, n0, FS, x[off + n0 : off + n0 + step])
                pipe.xadd(in_key(shard_of(sid, shards)), fields)
            pipe.execute()

        def collect(until_t_end: float, deadline_s: float) -> list[tuple[int, int]]:
            """(append ns, arrival ns) of windows until each stream has ``until_t_end``."""
            got: list[tuple[int, int]] = []
            done = 0
            limit = time.monotonic() + deadline_s
            while done < streams and time.monotonic() < limit:
                for r in reader.read(block_ms=100, count=10_000):
                    now = time.time_ns()
                    message = r.message or {}  # markers are not read: never empty
                    if message.get("type") == "window":
                        got.append((r.ts, now))
                        done += message["t_end"] == until_t_end
            return got

        say(f"{n_workers} worker(s): warming {streams} streams")
        for s in range(WARM_S):
            append(s)
        collect(float(WARM_S), 300)

        say(f"{n_workers} worker(s): {streams} streams x {seconds} s at full speed")
        t0 = time.perf_counter()
        for s in range(WARM_S, WARM_S + seconds):
            append(s)
        fast = collect(float(WARM_S + seconds), 600)
        elapsed = time.perf_counter() - t0

        say(f"{n_workers} worker(s): {streams} streams x {seconds} s in real time")
        live: list[tuple[int, int]] = []
        start = time.monotonic()
        for i, s in enumerate(range(WARM_S + seconds, WARM_S + 2 * seconds)):
            append(s)
            while (wait := start + i + 1 - time.monotonic()) > 0:
                for r in reader.read(block_ms=max(int(wait * 1000), 1), count=10_000):
                    if (r.message or {}).get("type") == "window":
                        live.append((r.ts, time.time_ns()))
        live += collect(float(WARM_S + 2 * seconds), 60)
        lat = [(b - a) / 1e6 for a, b in live]

        used = float(client.info("memory")["used_memory"]) / 2**20

        def usage(key: str) -> float:
            return float(client.memory_usage(key, samples=0) or 0)

        # The owners trim what checkpoints cover, so few entries are left to weigh: a
        # thousand seconds of one stream go to a scratch key instead, as a shard holds them.
        probe = "cs:bench:probe"
        pipe = client.pipeline(transaction=False)
        for s in range(1000):
            probe_fields: Any = producer.fields("probe", 1, s * step, FS, x[:step])
            pipe.xadd(probe, probe_fields)
        pipe.execute()
        per_entry = usage(probe) / 1000
        client.delete(probe)
        n_out = sum(int(client.xlen(out_key(s))) for s in range(shards))
        return RedisRun(
            workers=n_workers, streams=streams, seconds=seconds,
            throughput_x=streams * seconds / elapsed, windows_fast=len(fast),
            latency_p50_ms=_percentile(lat, 50), latency_p99_ms=_percentile(lat, 99),
            latency_max_ms=max(lat, default=float("nan")), windows_live=len(live),
            windows_expected=streams * seconds, redis_used_mb=used,
            in_bytes_per_stream_s=per_entry,
            out_bytes_per_window=sum(usage(out_key(s)) for s in range(shards)) / max(n_out, 1),
            ckpt_bytes_per_stream=sum(usage(ckpt_key(s)) for s in range(shards)) / streams,
        )  # fmt: skip
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        client.close()


def run_redis_benchmark(
    url: str | None,
    streams: int,
    seconds: int,
    workers: list[int],
    shards: int = 8,
    say: Callable[[str], None] = lambda _: None,
) -> RedisBench:
    """Run the benchmark (see the module notes) for each number of ``workers``."""
    bench = RedisBench(shards=shards)
    with contextlib.ExitStack() as stack:
        where = url if url is not None else stack.enter_context(local_redis())
        for n in workers:
            bench.runs.append(_run(where, n, streams, seconds, shards, say))
    return bench


def to_markdown(bench: RedisBench) -> str:
    """The table of the benchmark, with the memory figures per stream."""
    lines = [
        f"Redis Streams, {bench.shards} shards, {bench.cpus} CPU cores shared by Redis, the "
        "workers and the producer/consumer.",
        "",
        "| workers | streams (250 Hz) | throughput (× real time) | latency p50 (ms) | "
        "p99 (ms) | max (ms) | windows live / expected | Redis MB | in B per stream-s | "
        "out B per window | checkpoint B per stream |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in bench.runs:
        lines.append(
            f"| {r.workers} | {r.streams:,} | {r.throughput_x:,.0f} | {r.latency_p50_ms:.1f} | "
            f"{r.latency_p99_ms:.1f} | {r.latency_max_ms:.0f} | {r.windows_live:,} / "
            f"{r.windows_expected:,} | {r.redis_used_mb:.1f} | {r.in_bytes_per_stream_s:,.0f} | "
            f"{r.out_bytes_per_window:,.0f} | {r.ckpt_bytes_per_stream:,.0f} |"
        )
    lines += [
        "",
        "Throughput is stream-seconds analysed per second of wall clock: the number of 250 Hz "
        "streams the workers could carry at real time on this machine.",
    ]
    return "\n".join(lines)
