"""The shipped model on garbage: never a confident rhythm verdict, or a clear InputError.

Runs on ONNX Runtime alone (no torch). Flat lines, noise, mains hum, unplugged electrodes,
missing samples and too-short records must come out ``uncertain`` with the reasons why;
malformed arrays and rates must raise an InputError naming ``signal`` or ``fs``; a clean ECG
must keep its verdict.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from cardiostream.errors import InputError
from cardiostream.io import read
from cardiostream.rhythm.infer import Prediction, RhythmModel
from cardiostream.samples import sample_path

CLASSES = ("normal", "af", "other", "noise")
FS = 360.0  # the MITDB sample's rate; generated signals use it too
Signal = npt.NDArray[np.float64]


@pytest.fixture(scope="module")
def model() -> RhythmModel:
    return RhythmModel()


@pytest.fixture(scope="module")
def nsr() -> Signal:
    """60 s of clean sinus rhythm (MITDB 100, lead 0) at 360 Hz, in mV."""
    rec = read(sample_path("mitdb-100-nsr"))
    assert rec.fs == FS
    return rec.lead(0).astype(np.float64)


def seconds(s: float) -> int:
    return round(s * FS)


def assert_no_verdict(p: Prediction, *reasons: str) -> None:
    """``uncertain``, with reasons, and every one of ``reasons`` among them."""
    assert p.label == "uncertain", p
    assert p.raw_label in CLASSES
    assert p.quality["reasons"], p
    for reason in reasons:
        assert reason in p.quality["reasons"], p
    assert sum(p.probabilities.values()) == pytest.approx(1.0)


def test_clean_ecg_keeps_its_verdict(model: RhythmModel, nsr: Signal) -> None:
    for x in (nsr, nsr[: seconds(30)]):
        p = model.predict(x, FS)
        assert p.raw_label == "normal"
        assert p.label == "normal", p
        assert p.probabilities["normal"] >= model.threshold
        assert p.quality == {"usable": True, "reasons": []}


@pytest.mark.parametrize("level", [0.0, 1.5])
def test_flat_line(model: RhythmModel, level: float) -> None:
    p = model.predict(np.full(seconds(30), level), FS)
    assert_no_verdict(p, "flat", "lead_off", "no_beats")
    assert not p.quality["usable"]


def generated_noise(kind: str) -> Signal:
    rng = np.random.default_rng(7)
    t = np.arange(seconds(30)) / FS
    if kind == "gaussian":
        return 0.2 * rng.standard_normal(t.size)
    if kind == "white-uniform":
        return rng.uniform(-1.0, 1.0, t.size)
    if kind == "hum-50hz":
        return 0.5 * np.sin(2 * np.pi * 50.0 * t)
    if kind == "hum-50hz-offset":
        return 1.0 + 0.2 * np.sin(2 * np.pi * 50.0 * t)
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["gaussian", "white-uniform", "hum-50hz", "hum-50hz-offset"])
def test_generated_noise(model: RhythmModel, kind: str) -> None:
    p = model.predict(generated_noise(kind), FS)
    assert_no_verdict(p, "high_frequency_noise")
    assert not p.quality["usable"]


@pytest.mark.shared_data
@pytest.mark.parametrize("lead", [0, 1])
@pytest.mark.parametrize("name", ["bw", "ma", "em"])
def test_nstdb_noise_records(model: RhythmModel, shared_data: Path, name: str, lead: int) -> None:
    folder = shared_data / "nstdb"
    if not (folder / f"{name}.hea").is_file():
        pytest.skip(f"NSTDB noise record {name!r} is not in {folder}")
    rec = read(folder / f"{name}.hea")
    p = model.predict(rec.lead(lead)[: round(60 * rec.fs)], rec.fs)
    assert_no_verdict(p, "no_beats")
    assert not p.quality["usable"]


def unplugged(nsr: Signal) -> Signal:
    """60 s of which 40 s are an electrode coming off: flat, rail to rail, flat, saturated."""
    x = nsr.copy()
    x[: seconds(10)] = 0.0
    x[seconds(10) : seconds(15)] = 5.0
    x[seconds(15) : seconds(20)] = -5.0
    x[seconds(20) : seconds(30)] = 0.0
    x[seconds(30) : seconds(40)] = np.clip(20 * x[seconds(30) : seconds(40)], -1.0, 1.0)
    return x


def rail_to_rail(nsr: Signal) -> Signal:
    """The amplifier jumping between its rails: two seconds of every four at +-5 mV."""
    x = nsr.copy()
    for k in range(1, x.size // seconds(4) + 1):
        x[seconds(4 * k - 3) : seconds(4 * k - 1)] = 5.0 if k % 2 else -5.0
    return x


def saturated(nsr: Signal) -> Signal:
    """Gain 20 into a +-1 mV input range: every R wave clipped flat."""
    return np.clip(20 * nsr, -1.0, 1.0)


@pytest.mark.parametrize(
    ("make", "reason"),
    [(unplugged, "lead_off"), (rail_to_rail, "lead_off"), (saturated, "clipping")],
)
def test_unplugged_electrode(model: RhythmModel, nsr: Signal, make: Any, reason: str) -> None:
    p = model.predict(make(nsr), FS)
    assert_no_verdict(p, reason)
    assert not p.quality["usable"]


def test_short_unplugged_stretch_keeps_the_verdict(model: RhythmModel, nsr: Signal) -> None:
    # 20 s off then 40 s of clean ECG: usable, the stretch reported, and the verdict taken
    # from the frames that see only clean seconds.
    x = nsr.copy()
    x[: seconds(10)] = 0.0
    x[seconds(10) : seconds(15)] = 5.0
    x[seconds(15) : seconds(20)] = -5.0
    p = model.predict(x, FS)
    assert p.quality["usable"]
    assert "lead_off" in p.quality["reasons"]
    assert p.label == "normal"
    clean = model.predict(nsr[seconds(20) :], FS)
    assert abs(p.probabilities["normal"] - clean.probabilities["normal"]) < 0.1


def test_square_wave_is_not_an_ecg(model: RhythmModel) -> None:
    # A 1.2 Hz square wave passes every named quality test (its edges look like beats), but
    # scores far below any real ECG window; the network alone calls it "other".
    t = np.arange(seconds(30)) / FS
    p = model.predict(np.sign(np.sin(2 * np.pi * 1.2 * t)), FS)
    assert_no_verdict(p, "low_quality")


@pytest.mark.parametrize("pattern", ["every-other", "first-80-percent", "gap-15s"])
def test_missing_samples(model: RhythmModel, nsr: Signal, pattern: str) -> None:
    x = nsr[: seconds(30)].copy()
    if pattern == "every-other":
        x[::2] = np.nan
    elif pattern == "first-80-percent":
        x[: int(0.8 * x.size)] = np.nan
    else:
        x[seconds(10) : seconds(25)] = np.nan
    p = model.predict(x, FS)
    assert_no_verdict(p, "missing_samples")


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((seconds(12), 3)),  # several leads
        np.zeros((3, seconds(12))),  # leads first
        np.zeros((10, 10, 10)),
        np.array(1.0),
        np.zeros(0),
        np.full(seconds(12), np.nan),
        np.full(seconds(12), "0.1"),
        np.full(seconds(12), 1e12),  # not in mV by any reading
        [[0.1] * seconds(6), [0.2] * seconds(7)],  # ragged
    ],
    ids=[
        "2d-leads-last",
        "2d-leads-first",
        "3d",
        "scalar",
        "empty",
        "all-nan",
        "text",
        "huge",
        "ragged",
    ],
)
def test_malformed_signal_is_refused(model: RhythmModel, bad: Any) -> None:
    with pytest.raises(InputError, match=r"^signal: "):
        model.predict(bad, FS)


def test_one_lead_column_is_accepted(model: RhythmModel, nsr: Signal) -> None:
    a = model.predict(nsr[: seconds(20), None], FS)
    b = model.predict(nsr[: seconds(20)], FS)
    assert a == b


@pytest.mark.parametrize("fs", [0.0, -250.0, float("nan"), float("inf"), 1.0, 49.0, 1e6, "fast"])
def test_absurd_rate_is_refused(model: RhythmModel, nsr: Signal, fs: Any) -> None:
    with pytest.raises(InputError, match=r"^fs: "):
        model.predict(nsr[: seconds(12)], fs)


def test_lengths(model: RhythmModel, nsr: Signal) -> None:
    # Under 1 s: refused. 1 to 3 s: too short to judge. Under 10 s: left-padded, a verdict
    # of the network, kept only if confident.
    with pytest.raises(InputError, match=r"^signal: .* under 1 s"):
        model.predict(nsr[: seconds(1) - 1], FS)
    for s in (1, 2.5):
        assert_no_verdict(model.predict(nsr[: seconds(s)], FS), "too_short")
    p = model.predict(nsr[: seconds(5)], FS)
    assert p.raw_label in CLASSES
    assert "too_short" not in p.quality["reasons"]
    assert p.label in (p.raw_label, "uncertain")


def test_predict_many_keeps_order(model: RhythmModel, nsr: Signal) -> None:
    signals = [
        np.zeros(seconds(30)),
        nsr,
        generated_noise("gaussian"),
        nsr[: seconds(5)],
        unplugged(nsr),
        nsr[: seconds(30)],
        generated_noise("hum-50hz"),
    ]
    many = model.predict_many(signals, [FS] * len(signals))
    one = [model.predict(x, FS) for x in signals]
    assert [p.label for p in many] == [p.label for p in one]
    assert [p.label for p in many][:3] == ["uncertain", "normal", "uncertain"]
    assert [p.label for p in many][4:] == ["uncertain", "normal", "uncertain"]
    for a, b in zip(many, one, strict=True):
        assert a.raw_label == b.raw_label
        assert a.quality == b.quality
        for c in CLASSES:
            assert a.probabilities[c] == pytest.approx(b.probabilities[c], abs=1e-5)


def test_predict_many_names_the_bad_record(model: RhythmModel, nsr: Signal) -> None:
    with pytest.raises(InputError, match=r"^record 1: fs: "):
        model.predict_many([nsr, nsr], [FS, 0.0])
    with pytest.raises(InputError, match=r"^record 2: signal: "):
        model.predict_many([nsr, nsr, np.zeros((100, 2))], [FS] * 3)
    with pytest.raises(InputError, match=r"^rates: "):
        model.predict_many([nsr, nsr], [FS])
