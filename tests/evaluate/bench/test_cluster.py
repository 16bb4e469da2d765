"""The Dask benchmark, run small: every run gives the single-process lines, and the table
carries the ratios and the projection."""

from __future__ import annotations

import pytest

pytest.importorskip("distributed", reason="the scale extra (dask, distributed) is not installed")

from cardiostream.evaluate.bench.cluster import (
    bench_records,
    run_cluster_benchmark,
    to_markdown,
)


def test_a_small_run_gives_the_same_lines_and_a_table() -> None:
    source, paths = bench_records(None, 1, samples=True)
    assert "bundled samples" in source
    paths = paths[:3]
    bench = run_cluster_benchmark(paths, source, workers=(1,), machines=(1, 10))
    single, one = bench.runs
    assert single.records == one.records == 3
    assert single.seconds_of_ecg == one.seconds_of_ecg > 0
    assert one.same_lines
    assert one.engine_s > 0 and one.startup_s > 0
    assert bench.projected(10) == pytest.approx(10 * bench.projected(1))
    text = to_markdown(bench)
    assert "| single process | 1 |" in text and "| Dask, 1 worker | 1 |" in text
    assert "| 10 | 20 |" in text
    assert bench.to_dict()["projection"][1]["machines"] == 10
