"""The beat-sequence rows and the shipped ensemble: one row per classified beat with what
the classifier and the beat-interval AF detector say of it, finite logits for any record
(none without beats), and an AF record told from a sinus one."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax

from cardiostream.beats.af_rr import af_from_beats
from cardiostream.beats.classes import (
    beat_features_of,
    classify_beats,
    classify_beats_with_features,
)
from cardiostream.io import read
from cardiostream.rhythm.beat_sequence import (
    SEQUENCE_FEATURES,
    SEQUENCE_INPUTS,
    WAVE_OFFSETS_S,
    WAVE_SCALE_AT_S,
    BeatSequence,
    beat_waveforms,
    sequence_inputs,
)
from cardiostream.rhythm.bundle import read_bundle
from cardiostream.rhythm.verdict import CLASSES
from cardiostream.samples import sample_path


def _record(name: str) -> tuple[np.ndarray, float]:
    record = read(sample_path(name))
    return record.lead(0)[: int(30 * record.fs)], record.fs


def test_one_pass_gives_the_classes_and_the_features_of_two() -> None:
    x, fs = _record("mitdb-119-pvc")
    beats, rows = classify_beats_with_features(x, fs)
    alone = classify_beats(x, fs)
    samples, features = beat_features_of(x, fs)
    assert np.array_equal(beats.sample, alone.sample) and np.array_equal(beats.sample, samples)
    assert np.array_equal(beats.label, alone.label)
    np.testing.assert_array_equal(rows, features)


def test_a_row_per_beat_with_its_classes_gate_and_rr_af() -> None:
    x, fs = _record("mitdb-201-af")
    beats, rows = classify_beats_with_features(x, fs)
    seq = sequence_inputs(beats, rows, fs, x)
    assert seq.shape == (len(beats), len(SEQUENCE_INPUTS)) and np.isfinite(seq).all()
    at = SEQUENCE_INPUTS.index
    np.testing.assert_array_equal(seq[:, at("p_N") : at("p_Q") + 1], beats.probabilities)
    np.testing.assert_array_equal(seq[:, at("gated")], beats.reason != "")
    np.testing.assert_allclose(seq[:, at("p_af_rr")], af_from_beats(beats.sample / fs).p_af)
    np.testing.assert_array_equal(seq[:, at("wave_-250ms") :], beat_waveforms(x, fs, beats.sample))
    flat = np.zeros(int(10 * fs))
    assert sequence_inputs(*classify_beats_with_features(flat, fs), fs, flat).shape == (
        0,
        len(SEQUENCE_INPUTS),
    )


def test_a_beats_waveform_is_its_shape_whatever_the_gain() -> None:
    fs = 360.0
    t = np.arange(int(20 * fs)) / fs
    peaks = np.arange(1.0, 19.0, 0.8)
    # A P wave 160 ms before each narrow R wave, on a slow baseline drift.
    x = 0.3 * np.sin(2 * np.pi * 0.1 * t)
    for r in peaks:
        x += np.exp(-(((t - r) / 0.012) ** 2)) + 0.15 * np.exp(-(((t - r + 0.16) / 0.03) ** 2))
    samples = np.round(peaks * fs).astype(np.int64)
    waves = beat_waveforms(x, fs, samples)
    assert waves.shape == (peaks.size, len(WAVE_OFFSETS_S))
    at = WAVE_OFFSETS_S.index
    inner = waves[2:-2]  # away from the ends of the filtered record
    assert np.abs(inner[:, at(WAVE_SCALE_AT_S)]).mean() == pytest.approx(1.0, abs=0.05)
    assert (inner[:, at(-0.17)] > inner[:, at(-0.25)] + 0.05).all()  # the P wave is there
    np.testing.assert_allclose(beat_waveforms(25.0 * x, fs, samples), waves, rtol=1e-5)
    assert beat_waveforms(x[:10], fs, samples[:1]).shape == (1, len(WAVE_OFFSETS_S))


@pytest.fixture(scope="module")
def shipped() -> BeatSequence:
    sequence = read_bundle().beat_sequence
    assert sequence is not None, "the shipped model has a record head, so a beat sequence"
    return sequence


def test_the_shipped_ensemble_tells_af_from_sinus_rhythm(shipped: BeatSequence) -> None:
    verdicts = {}
    for name in ("mitdb-201-af", "mitdb-100-nsr"):
        x, fs = _record(name)
        values = shipped.features(sequence_inputs(*classify_beats_with_features(x, fs), fs, x))
        assert values.shape == (len(SEQUENCE_FEATURES),) and np.isfinite(values).all()
        verdicts[name] = softmax(values)
    af = CLASSES.index("af")
    assert verdicts["mitdb-201-af"].argmax() == af
    assert verdicts["mitdb-100-nsr"].argmax() == CLASSES.index("normal")
    empty = shipped.features(np.zeros((0, len(SEQUENCE_INPUTS))))
    assert np.isfinite(empty).all()
