"""The store slice benchmark, run small: what it reads must not grow with record length."""

from __future__ import annotations

from pathlib import Path

from cardiostream.evaluate.bench.store import bench_store_slice, synthetic_ecg


def test_bench_store_slice_small(tmp_path: Path) -> None:
    result = bench_store_slice(tmp_path, hours=(0.5, 0.1), repeats=3)
    long, short = result["records"]
    assert long["n_samples"] == 5 * short["n_samples"] == 450_000
    assert long["row_groups"] == 30
    assert short["row_groups"] == 6
    # A 15 s slice touches at most two 60 s row groups, whatever the length.
    assert long["row_groups_read"] <= 2
    assert short["row_groups_read"] <= 2
    assert long["warm_bytes"] < 2 * short["warm_bytes"]
    assert long["warm_bytes"] < long["file_bytes"] / 10


def test_synthetic_ecg_is_on_a_5_uv_grid() -> None:
    signal = synthetic_ecg(0.01, fs=250.0, n_leads=2)
    assert signal.shape == (9000, 2)
    steps = signal.astype("float64") * 200.0
    assert abs(steps - steps.round()).max() < 1e-3
