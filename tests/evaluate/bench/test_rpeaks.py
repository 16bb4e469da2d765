"""The R-peak benchmark harness on short excerpts of two MITDB records."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from rich.console import Console
from scipy.signal import find_peaks

from cardiostream.errors import InputError
from cardiostream.evaluate.bench.rpeaks import (
    BenchResult,
    DetectorSpec,
    default_detectors,
    markdown_table,
    outside,
    record_table,
    run_rpeak_benchmark,
    summary_table,
    vf_episodes,
    write_outputs,
)
from cardiostream.io.listing import list_records
from cardiostream.record import BEAT_SYMBOLS

REPO = Path(__file__).resolve().parents[3]


def _mitdb() -> Path | None:
    root = Path(os.environ.get("CARDIOSTREAM_DATA", REPO.parent / "shared" / "data"))
    folder = root / "mitdb"
    return folder if (folder / "100.hea").is_file() and (folder / "201.hea").is_file() else None


MITDB = _mitdb()
needs_mitdb = pytest.mark.skipif(
    MITDB is None, reason="MITDB not found (set CARDIOSTREAM_DATA or provide ../shared/data)"
)


def trivial_detector(sig: npt.NDArray[np.float64], fs: float) -> npt.NDArray[np.intp]:
    """Local maxima of the absolute first difference, at least 250 ms apart."""
    slope = np.abs(np.diff(sig, prepend=sig[0]))
    peaks, _ = find_peaks(slope, distance=max(1, int(0.25 * fs)), height=0.5 * slope.max())
    return np.asarray(peaks, dtype=np.intp)


@pytest.fixture(scope="module")
def result() -> BenchResult:
    assert MITDB is not None
    sleepecg = pytest.importorskip("sleepecg")
    return run_rpeak_benchmark(
        MITDB,
        {
            "trivial": trivial_detector,
            "sleepecg": DetectorSpec(lambda s, fs: sleepecg.detect_heartbeats(s, fs)),
        },
        records=["100", "201"],
        progress=False,
        max_seconds=60.0,
    )


@pytest.mark.shared_data
@needs_mitdb
def test_counts_and_ratios_are_consistent(result: BenchResult) -> None:
    import wfdb

    assert MITDB is not None
    assert result.records == ["100", "201"]
    assert result.durations == {"100": 60.0, "201": 60.0}
    assert result.total_duration_s == 120.0
    for rec in result.records:
        ann = wfdb.rdann(str(MITDB / rec), "atr")
        n_beats = sum(
            sym in BEAT_SYMBOLS and s < 60 * 360
            for s, sym in zip(ann.sample, ann.symbol, strict=True)
        )
        for det in result.detectors.values():
            assert det.scores[rec].n_reference == n_beats
    for name, det in result.detectors.items():
        g = det.gross
        assert g.tp == sum(s.tp for s in det.scores.values())
        assert g.fp == sum(s.fp for s in det.scores.values())
        assert g.fn == sum(s.fn for s in det.scores.values())
        assert g.se == pytest.approx(g.tp / (g.tp + g.fn))
        assert g.ppv == pytest.approx(g.tp / (g.tp + g.fp))
        assert g.f1 == pytest.approx(2 * g.tp / (2 * g.tp + g.fp + g.fn))
        assert det.total_time_s == pytest.approx(sum(det.times.values()))
        assert result.x_real_time(name) == pytest.approx(120.0 / det.total_time_s)
        assert det.first_call_s >= 0
    # sleepecg finds these easy beats; the trivial detector is worse but not useless.
    assert result.detectors["sleepecg"].gross.f1 > 0.98
    assert 0.3 < result.detectors["trivial"].gross.f1 <= result.detectors["sleepecg"].gross.f1


@pytest.mark.shared_data
@needs_mitdb
def test_tables_render(result: BenchResult) -> None:
    console = Console(record=True, width=120)
    console.print(summary_table(result))
    console.print(record_table(result, "trivial", worst=1))
    console.print(record_table(result, "sleepecg"))
    text = console.export_text()
    assert "trivial" in text and "sleepecg" in text
    g = result.detectors["sleepecg"].gross
    assert f"{100 * g.se:.2f}" in text
    worst = result.worst_records("trivial", 1)[0]
    assert result.detectors["trivial"].scores[worst].f1 == min(
        s.f1 for s in result.detectors["trivial"].scores.values()
    )
    md = markdown_table(result)
    lines = md.splitlines()
    assert lines[0].startswith("| detector | Se % | PPV % | F1 %")
    assert lines[2].startswith("| trivial |") and lines[3].startswith("| sleepecg |")
    assert f"| {100 * g.ppv:.2f} |" in lines[3]
    with pytest.raises(InputError, match="nope"):
        record_table(result, "nope")


@pytest.mark.shared_data
@needs_mitdb
def test_json_round_trip(result: BenchResult, tmp_path: Path) -> None:
    write_outputs(result, tmp_path / "r.json", tmp_path / "r.md")
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["n_records"] == 2
    assert data["detectors"]["sleepecg"]["gross"]["tp"] == result.detectors["sleepecg"].gross.tp
    back = BenchResult.from_dict(data)
    assert back.to_dict() == json.loads(json.dumps(result.to_dict()))
    assert (tmp_path / "r.md").read_text() == markdown_table(result)
    with pytest.raises(InputError, match="benchmark result"):
        BenchResult.from_dict({"detectors": {}})


@pytest.mark.shared_data
@needs_mitdb
def test_each_detector_gets_its_own_copy() -> None:
    assert MITDB is not None
    seen: list[float] = []

    def vandal(sig: npt.NDArray[np.float32], fs: float) -> npt.NDArray[np.int64]:
        seen.append(float(np.abs(sig).sum()))
        assert sig.dtype == np.float32
        sig[:] = 0.0
        return np.zeros(0, np.int64)

    res = run_rpeak_benchmark(
        MITDB,
        {"a": DetectorSpec(vandal, np.float32), "b": DetectorSpec(vandal, np.float32)},
        records=["100"],
        progress=False,
        max_seconds=5.0,
        repeat=3,
    )
    # Warm-up twice, then three timed calls each; every call saw the real signal.
    assert len(seen) == 2 + 2 * 3 and all(v > 0 for v in seen)
    assert res.to_dict()["info"]["repeat"] == 3
    assert "fastest of up to 3 calls" in markdown_table(res)
    assert res.detectors["a"].gross.fn == res.detectors["a"].gross.n_reference > 0
    assert math.isnan(res.detectors["a"].gross.ppv)


def test_records_listing(tmp_path: Path) -> None:
    for name in ("b", "a"):
        (tmp_path / f"{name}.hea").write_text("")
    assert list_records(tmp_path) == ["a", "b"]
    (tmp_path / "RECORDS").write_text("b\n\n")
    assert list_records(tmp_path) == ["b"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no WFDB records"):
        list_records(empty)
    with pytest.raises(InputError, match="not a folder"):
        list_records(tmp_path / "missing")
    with pytest.raises(InputError, match=r"a\.atr"):
        run_rpeak_benchmark(tmp_path, {"t": trivial_detector}, records=["a"], progress=False)


def test_default_detectors_by_name() -> None:
    pytest.importorskip("sleepecg")
    specs, skipped = default_detectors(["SleepECG"])
    assert list(specs) == ["sleepecg"] and not skipped
    with pytest.raises(InputError, match="unknown detector"):
        default_detectors(["pan-tompkins"])


def test_vf_episodes_pair_brackets() -> None:
    syms = ["N", "[", "!", "]", "N", "]", "[", "!"]
    at = [10, 20, 25, 30, 40, 50, 60, 70]
    assert vf_episodes(at, syms, 100).tolist() == [[20, 30], [60, 100]]
    # A closing bracket first: the episode was open when the record began.
    assert vf_episodes([5, 9, 12], ["!", "]", "N"], 50).tolist() == [[0, 9]]
    assert vf_episodes([1, 2], ["N", "V"], 10).shape == (0, 2)
    spans = np.array([[20, 30], [60, 100]])
    assert outside([5, 20, 25, 30, 31, 59, 60, 120], spans).tolist() == [5, 31, 59, 120]
    assert outside([1, 2], np.zeros((0, 2), np.int64)).tolist() == [1, 2]


def test_skip_vf_leaves_the_bracketed_span_out(tmp_path: Path) -> None:
    wfdb = pytest.importorskip("wfdb")
    fs = 250
    sig = np.zeros(fs * 20)
    beats = np.arange(fs, sig.size - fs, fs)  # one a second
    sig[beats] = 1.0
    symbols = ["N"] * beats.size
    # VF from 8.5 s to 12.5 s: the four beats inside go, with the detector's misses there.
    marks = np.array([int(8.5 * fs), int(12.5 * fs)])
    samples = np.concatenate([beats, marks])
    order = np.argsort(samples, kind="stable")
    wfdb.wrsamp("r", fs=fs, units=["mV"], sig_name=["I"], p_signal=sig[:, None],
                write_dir=str(tmp_path), fmt=["16"])  # fmt: skip
    wfdb.wrann("r", "atr", samples[order], np.array([*symbols, "[", "]"])[order],
               write_dir=str(tmp_path))  # fmt: skip

    def blind_in_vf(s: npt.NDArray[np.float64], rate: float) -> npt.NDArray[np.int64]:
        found = np.flatnonzero(s > 0.5)
        return found[(found < marks[0]) | (found > marks[1])]

    def run(skip: bool) -> BenchResult:
        return run_rpeak_benchmark(
            tmp_path, {"d": blind_in_vf}, records=["r"], progress=False, skip_vf=skip
        )

    counted, skipped = run(False), run(True)
    assert counted.detectors["d"].gross.fn == 4 and not counted.skip_vf
    g = skipped.detectors["d"].gross
    assert (g.fn, g.fp, g.tp) == (0, 0, beats.size - 4)
    assert "episodes left out (EC57)" in markdown_table(skipped)
    assert BenchResult.from_dict(json.loads(json.dumps(skipped.to_dict()))).skip_vf
