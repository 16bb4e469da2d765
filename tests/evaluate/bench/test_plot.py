"""The benchmark figure, drawn from a benchmark run on a bundled record."""

from __future__ import annotations

from pathlib import Path

from cardiostream.beats import detect_rpeaks
from cardiostream.evaluate.bench.plot import plot_benchmark
from cardiostream.evaluate.bench.rpeaks import run_rpeak_benchmark
from cardiostream.samples import sample_path


def test_figure_is_written(tmp_path: Path) -> None:
    data = sample_path("mitdb-100-nsr").parent
    result = run_rpeak_benchmark(
        data,
        {"cardiostream": detect_rpeaks, "half": lambda s, fs: detect_rpeaks(s, fs)[::2]},
        records=["mitdb-100-nsr", "mitdb-201-af"],
        progress=False,
    )
    assert result.detectors["half"].gross.se < 0.6 < result.detectors["cardiostream"].gross.se
    out = plot_benchmark(result, tmp_path / "sub" / "bench.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 10_000
