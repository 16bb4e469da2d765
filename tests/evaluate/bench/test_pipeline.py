"""The pipeline benchmark runs end to end on the bundled excerpts and reports every row."""

from __future__ import annotations

from cardiostream.evaluate.bench.pipeline import run_pipeline_benchmark, to_markdown
from cardiostream.samples import sample_path


def test_benchmark_on_two_bundled_records() -> None:
    folder = sample_path("mitdb-201-af").parent
    bench = run_pipeline_benchmark(
        folder, records=["mitdb-201-af", "mitdb-100-nsr"], live_records=1, peer_records=1
    )
    names = [r.name for r in bench.rows]
    assert names[:4] == [
        "cardiostream offline (engine)",
        "cardiostream offline (read + engine)",
        "cardiostream live, 1 s pushes",
        "recompute every window (same stages)",
    ]
    assert bench.rows[0].seconds_of_ecg == 120.0
    assert all(r.processing_s > 0 for r in bench.rows)
    assert bench.live_pushes == 60 and 0 < bench.state_bytes_max < 64 * 1024
    assert set(bench.stages) >= {"model", "peaks", "quality"} and bench.stages["model"] > 0
    assert "recompute every window" in to_markdown(bench)


def test_no_live_or_peer_records_is_refused_with_the_reason() -> None:
    import pytest

    from cardiostream.errors import InputError

    folder = sample_path("mitdb-201-af").parent
    for key in ("live_records", "peer_records"):
        with pytest.raises(InputError, match=f"{key}: at least 1 record"):
            run_pipeline_benchmark(folder, records=["mitdb-100-nsr"], **{key: 0})
