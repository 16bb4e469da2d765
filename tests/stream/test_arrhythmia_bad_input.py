"""The engine on signal that cannot carry a beat class: flat lines, lead-off steps, clipping,
pure noise, and rates far from 250 Hz. No class is guessed there, and no VT, pause or
asystole is raised from it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import resample_poly

from cardiostream.io import read
from cardiostream.samples import sample_path
from cardiostream.stream.analyze import Analysis, analyze

from ..beats.test_gate import ecg

#: Event kinds that must never come from an artefact.
ALARMING = {"vt", "svt", "idioventricular_rhythm", "pause", "asystole"}


def _kinds(a: Analysis) -> Counter[str]:
    return Counter(e["kind"] for e in a.lines if e["type"] == "event")


def _classed(a: Analysis) -> int:
    """Beats that got a class other than Q."""
    return sum(a.counts["beats"][c] for c in "NSVF")


@pytest.fixture(scope="module")
def nsr() -> tuple[np.ndarray, float]:
    rec = read(sample_path("mitdb-100-nsr"))
    return rec.lead(0).astype(np.float64), rec.fs


def test_a_flat_line_has_no_beats_and_no_asystole(nsr: tuple[np.ndarray, float]) -> None:
    _, fs = nsr
    a = analyze(np.zeros(int(120 * fs)), fs)
    assert _classed(a) == 0 and not _kinds(a)


@pytest.mark.parametrize("level", ["hold", "step"])
def test_a_lead_coming_off_is_neither_asystole_nor_a_pause(
    nsr: tuple[np.ndarray, float], level: str
) -> None:
    x, fs = nsr
    cut = int(30 * fs)
    value = x[cut] if level == "hold" else 3.0  # held at its last value, or railed
    y = np.concatenate([x[:cut], np.full(int(12 * fs), value), x[cut:]])
    a = analyze(y, fs)
    assert not set(_kinds(a)) & ALARMING, _kinds(a)
    # The beats on both sides keep their class; the ones beside the step are Q.
    assert a.counts["beats"]["N"] > 40 and a.counts["beats"]["Q"] > 0


def test_a_clipped_signal_gets_no_class(nsr: tuple[np.ndarray, float]) -> None:
    x, fs = nsr
    a = analyze(np.clip(x, -0.2, 0.2), fs)
    assert _classed(a) == 0 and a.counts["beats"]["Q"] > 30
    assert not set(_kinds(a)) & ALARMING


@pytest.mark.parametrize("name", ["bw", "ma"])
def test_pure_noise_gets_no_class_and_no_arrhythmia(shared_data: Path, name: str) -> None:
    path = shared_data / "nstdb" / f"{name}.hea"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    rec = read(path)
    a = analyze(rec.lead(0)[: int(300 * rec.fs)].astype(np.float64), rec.fs)
    assert a.counts["beats"]["Q"] > 100
    assert _classed(a) <= 0.02 * a.counts["beats"]["Q"]
    assert not set(_kinds(a)) & ALARMING, _kinds(a)


@pytest.mark.parametrize(("up", "down", "fs"), [(25, 9, 1000.0), (16, 45, 128.0)])
def test_a_rate_far_from_250_hz_gives_the_same_classes(up: int, down: int, fs: float) -> None:
    rec = read(sample_path("mitdb-119-pvc"))
    x = rec.lead(0).astype(np.float64)
    base = analyze(x, rec.fs)
    other = analyze(resample_poly(x, up, down), fs)
    assert base.counts["beats"]["V"] > 15
    assert other.counts["beats"] == base.counts["beats"]
    assert _kinds(other) == _kinds(base)


def test_a_paced_stretch_gets_no_rhythm_verdict() -> None:
    fs = 360.0
    x, r = ecg(90, fs=fs)
    for peak in r[(r > 30 * fs) & (r < 60 * fs)]:
        x[peak - 36 : peak - 34] += 1.5  # a stimulus artefact 100 ms before the QRS
    a = analyze(x, fs)
    paced = [w for w in a.windows if "paced" in w["quality"]["reasons"]]
    assert paced and all(w["label"] == "uncertain" for w in paced)
    assert all(34 <= w["t_end"] <= 66 for w in paced), [w["t_end"] for w in paced]
    assert not [w for w in a.windows if w["t_end"] < 30 and "paced" in w["quality"]["reasons"]]


def test_a_paced_record_is_called_paced(shared_data: Path) -> None:
    rec = read(shared_data / "mitdb" / "102.hea")
    a = analyze(rec.lead(0)[: int(600 * rec.fs)].astype(np.float64), rec.fs)
    paced = [w for w in a.windows if "paced" in w["quality"]["reasons"]]
    assert len(paced) > 0.8 * len(a.windows)
    assert all(w["label"] == "uncertain" for w in paced)
    assert any(e["kind"] == "paced_rhythm" for e in a.lines if e["type"] == "event")
