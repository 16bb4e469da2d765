"""``cardiostream bench redis`` on a tiny load: every window comes back, figures are filled."""

from __future__ import annotations

import math
import shutil

import pytest

from cardiostream.serve.redis_bench import run_redis_benchmark, to_markdown


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_a_tiny_redis_benchmark_gets_every_window() -> None:
    bench = run_redis_benchmark(None, streams=3, seconds=2, workers=[1], shards=2)
    (run,) = bench.runs
    assert run.windows_live == run.windows_expected == 6
    assert run.windows_fast == 6
    assert run.throughput_x > 0 and math.isfinite(run.latency_p99_ms)
    assert run.in_bytes_per_stream_s > 1000  # 250 float32 samples and the entry's fields
    assert "| 1 | 3 |" in to_markdown(bench)
