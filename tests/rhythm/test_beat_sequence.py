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
    BeatSequence,
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
    seq = sequence_inputs(beats, rows, fs)
    assert seq.shape == (len(beats), len(SEQUENCE_INPUTS)) and np.isfinite(seq).all()
    at = SEQUENCE_INPUTS.index
    np.testing.assert_array_equal(seq[:, at("p_N") : at("p_Q") + 1], beats.probabilities)
    np.testing.assert_array_equal(seq[:, at("gated")], beats.reason != "")
    np.testing.assert_allclose(seq[:, at("p_af_rr")], af_from_beats(beats.sample / fs).p_af)
    none = classify_beats_with_features(np.zeros(int(10 * fs)), fs)
    assert sequence_inputs(*none, fs).shape == (0, len(SEQUENCE_INPUTS))


@pytest.fixture(scope="module")
def shipped() -> BeatSequence:
    sequence = read_bundle().beat_sequence
    assert sequence is not None, "the shipped model has a record head, so a beat sequence"
    return sequence


def test_the_shipped_ensemble_tells_af_from_sinus_rhythm(shipped: BeatSequence) -> None:
    verdicts = {}
    for name in ("mitdb-201-af", "mitdb-100-nsr"):
        x, fs = _record(name)
        values = shipped.features(sequence_inputs(*classify_beats_with_features(x, fs), fs))
        assert values.shape == (len(SEQUENCE_FEATURES),) and np.isfinite(values).all()
        verdicts[name] = softmax(values)
    af = CLASSES.index("af")
    assert verdicts["mitdb-201-af"].argmax() == af
    assert verdicts["mitdb-100-nsr"].argmax() == CLASSES.index("normal")
    empty = shipped.features(np.zeros((0, len(SEQUENCE_INPUTS))))
    assert np.isfinite(empty).all()
