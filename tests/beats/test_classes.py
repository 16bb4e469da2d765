"""AAMI beat classes: the features' causality and chunking, the state, the model file, the
classifier on the bundled samples, and the scoring helpers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cardiostream.beats import (
    AAMI,
    CLASSES,
    FEATURES,
    BeatClassifier,
    BeatFeatureExtractor,
    BeatModel,
    beat_features,
    classify_beats,
    load_beat_model,
)
from cardiostream.errors import InputError
from cardiostream.evaluate.beat_classes import (
    DS1,
    DS2,
    PACED,
    RecordBeats,
    class_stats,
    confusion,
    reference_classes,
)
from cardiostream.io import read
from cardiostream.samples import sample_path


@pytest.fixture(scope="module")
def pvc() -> tuple[np.ndarray, float]:
    rec = read(sample_path("mitdb-119-pvc"))
    return rec.lead(0).astype(np.float64), rec.fs


def _chunked(fs: float, x: np.ndarray, seed: int, roundtrip: bool) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    ext = BeatFeatureExtractor(fs)
    rs, fs_ = [], []
    i = 0
    while i < x.size:
        n = int(rng.integers(1, 3000))
        r, f = ext.push(x[i : i + n])
        rs.append(r)
        fs_.append(f)
        i += n
        if roundtrip and rng.random() < 0.05:
            state = json.loads(json.dumps(ext.state_dict()))
            ext = BeatFeatureExtractor(fs)
            ext.load_state_dict(state)
    r, f = ext.flush()
    return np.concatenate([*rs, r]), np.concatenate([*fs_, f])


def test_the_aami_mapping_follows_ec57() -> None:
    assert {s: AAMI[s] for s in "NLRej"} == dict.fromkeys("NLRej", "N")
    assert {s: AAMI[s] for s in "AaJS"} == dict.fromkeys("AaJS", "S")
    assert AAMI["V"] == AAMI["E"] == "V" and AAMI["F"] == "F"
    assert {s: AAMI[s] for s in "/fQ"} == dict.fromkeys("/fQ", "Q")
    assert "+" not in AAMI and "~" not in AAMI and "|" not in AAMI
    samples, cls = reference_classes(np.array([1, 2, 3, 4]), np.array(["N", "+", "V", "A"]))
    assert samples.tolist() == [1, 3, 4] and [CLASSES[c] for c in cls] == ["N", "V", "S"]


def test_the_inter_patient_split_is_de_chazals() -> None:
    assert len(DS1) == len(DS2) == 22
    assert not set(DS1) & set(DS2) and not (set(DS1) | set(DS2)) & set(PACED)


def test_features_are_the_same_for_any_chunking_and_a_saved_state(pvc) -> None:
    x, fs = pvc
    r, f = beat_features(x, fs)
    assert f.shape == (r.size, len(FEATURES)) and r.size > 50
    assert np.isfinite(f).all()
    for seed, roundtrip in ((0, False), (1, True)):
        r2, f2 = _chunked(fs, x, seed, roundtrip)
        assert np.array_equal(r, r2)
        assert np.array_equal(f, f2)


def test_features_are_causal(pvc) -> None:
    """What comes after a beat's decision does not change its features."""
    x, fs = pvc
    ext = BeatFeatureExtractor(fs)
    cut = x.size // 2
    r_head, f_head = ext.push(x[:cut])
    y = x.copy()
    y[cut:] = np.random.default_rng(0).normal(0, 1, x.size - cut)
    r_all, f_all = beat_features(y, fs)
    assert r_head.size > 10
    assert np.array_equal(r_all[: r_head.size], r_head)
    assert np.array_equal(f_all[: r_head.size], f_head)
    # Decided at most the documented delay after the R peak.
    assert r_head[-1] >= cut - ext.delay_samples - round(2.5 * fs)


def test_a_state_from_other_settings_is_refused(pvc) -> None:
    _, fs = pvc
    state = BeatFeatureExtractor(fs).state_dict()
    with pytest.raises(InputError):
        BeatFeatureExtractor(fs * 2).load_state_dict(state)
    with pytest.raises(InputError):
        BeatFeatureExtractor(fs).load_state_dict({**state, "recent": 3})


def test_bad_signals_are_input_errors() -> None:
    with pytest.raises(InputError):
        classify_beats(np.zeros((10, 3)), 250.0)
    with pytest.raises(InputError):
        classify_beats(np.zeros(100), 5.0)


def test_silence_has_no_beats_and_gaps_are_no_trouble() -> None:
    assert len(classify_beats(np.zeros(5000), 250.0)) == 0
    x = np.full(5000, np.nan)
    assert len(classify_beats(x, 250.0)) == 0


def test_the_shipped_model_finds_the_bigeminy_of_the_pvc_sample(pvc) -> None:
    x, fs = pvc
    beats = classify_beats(x, fs)
    assert set(beats.label) <= set(CLASSES)
    assert np.allclose(beats.probabilities.sum(axis=1), 1.0)
    rec = read(sample_path("mitdb-119-pvc"))
    ref = rec.annotations.beats
    n_v = int((ref.symbol == "V").sum())
    found = int((beats.label == "V").sum())
    assert n_v >= 20 and 0.7 * n_v <= found <= 1.5 * n_v
    # The V beats are where the reference has them.
    v_ref = ref.sample[ref.symbol == "V"]
    v_det = beats.sample[beats.label == "V"]
    near = np.abs(v_det[:, None] - v_ref[None, :]).min(axis=1) <= 0.15 * fs
    assert near.mean() >= 0.8


def test_the_nsr_sample_is_nearly_all_normal() -> None:
    rec = read(sample_path("mitdb-100-nsr"))
    beats = classify_beats(rec.lead(0), rec.fs)
    assert len(beats) > 20 and (beats.label == "N").mean() >= 0.9


@pytest.mark.parametrize("fill", [0.0, np.nan])
def test_beats_after_a_lost_signal_are_classified_as_without_it(fill: float) -> None:
    # Ten minutes of lead-off between AF and sinus rhythm: the interval across it is no RR
    # interval, and taken as one it made every sinus beat after it look premature (S).
    af = read(sample_path("mitdb-201-af"))
    nsr = read(sample_path("mitdb-100-nsr"))
    assert af.fs == nsr.fs
    x = np.r_[np.tile(af.lead(0), 3), np.full(int(600 * af.fs), fill), nsr.lead(0)]
    beats = classify_beats(x, af.fs)
    after = beats.label[beats.sample >= x.size - nsr.lead(0).size]
    alone = classify_beats(nsr.lead(0), nsr.fs).label
    assert after.size >= alone.size - 2
    assert (after == "S").sum() <= (alone == "S").sum() + 2
    assert (after == "N").mean() >= 0.9


def test_the_stream_classifier_equals_the_function_for_any_chunking(pvc) -> None:
    x, fs = pvc
    whole = classify_beats(x, fs)
    clf = BeatClassifier(fs)
    parts = [clf.push(x[i : i + 777]) for i in range(0, x.size, 777)]
    parts.append(clf.flush())
    samples = np.concatenate([p.sample for p in parts])
    labels = np.concatenate([p.label for p in parts])
    probs = np.concatenate([p.probabilities for p in parts])
    reasons = np.concatenate([p.reason for p in parts])
    assert np.array_equal(samples, whole.sample) and np.array_equal(labels, whole.label)
    assert np.array_equal(probs, whole.probabilities)
    assert np.array_equal(reasons, whole.reason) and reasons.dtype.kind == "U"


def test_the_model_file_round_trips(tmp_path, pvc) -> None:
    model = load_beat_model()
    again = BeatModel.from_dict(json.loads(json.dumps(model.to_dict())))
    rows = beat_features(*pvc)[1]
    assert np.array_equal(model.probabilities(rows), again.probabilities(rows))
    path = model.save(tmp_path)
    assert np.array_equal(
        load_beat_model(path.parent).probabilities(rows), again.probabilities(rows)
    )
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(InputError):
        load_beat_model(tmp_path / "bad.json")


def test_confusion_and_class_figures() -> None:
    cm = confusion([0, 0, 1, 2, 2], [0, 1, 1, 2, 0])
    assert cm.sum() == 5 and cm[0, 1] == 1 and cm[2, 0] == 1
    st = class_stats(cm)
    assert st["V"]["se"] == 50.0 and st["V"]["ppv"] == 100.0
    assert st["F"]["se"] is None


def test_training_runs_on_a_tiny_set() -> None:
    from cardiostream.training.beats import train_beat_model

    rng = np.random.default_rng(0)
    recs = []
    for i in range(4):
        y = rng.integers(0, 3, 300)
        x = rng.normal(0, 1, (300, len(FEATURES))) + y[:, None]
        recs.append(RecordBeats(f"r{i}", x, y, np.zeros(5, np.int64), 0))
    result = train_beat_model(recs, folds=2, grid=((0, 1e-3),), maxiter=20, workers=1)
    assert result.report["cv"]["gross"]["V"]["se"] > 80
    p = result.model.probabilities(recs[0].features)
    assert p.shape == (300, 5) and np.allclose(p.sum(axis=1), 1)
    # The fits spread over processes give the same model and figures.
    again = train_beat_model(recs, folds=2, grid=((0, 1e-3),), maxiter=20, workers=2)
    assert again.report == result.report
    assert np.array_equal(again.model.probabilities(recs[0].features), p)


def test_ds1_record_pairs_with_its_reference(shared_data) -> None:
    from cardiostream.evaluate.beat_classes import record_features

    rb = record_features(shared_data / "mitdb" / "119.hea")
    assert rb.features.shape[0] == rb.truth.size > 1900
    assert int((rb.truth == CLASSES.index("V")).sum()) > 400


def test_the_rr_rows_from_beat_times_equal_the_extractor_s(pvc) -> None:
    # The RR model is trained on beat times alone (LTAFDB has no signals): its rows must be
    # the extractor's RR columns.
    from cardiostream.beats.classes import RR_FEATURES
    from cardiostream.training.beats import rr_rows

    _, f = beat_features(*pvc)
    cols = [FEATURES.index(n) for n in RR_FEATURES]
    times = np.cumsum(f[:, 0])  # the first pre RR is the default local RR
    np.testing.assert_allclose(rr_rows(times), f[:, cols], rtol=0, atol=1e-9)


def test_a_model_with_an_rr_model_and_a_feature_subset_round_trips(pvc) -> None:
    from cardiostream.beats.classes import RR_FEATURES, RR_OUTPUTS, RRModel

    rng = np.random.default_rng(1)
    d = len(RR_FEATURES)
    rr = RRModel(
        RR_FEATURES,
        np.zeros(d),
        np.ones(d),
        ((rng.normal(0, 0.3, (d, 4)), np.zeros(4)), (rng.normal(0, 0.3, (4, 5)), np.zeros(5))),
    )
    names = FEATURES[:12]
    k = len(names) + len(RR_OUTPUTS)
    model = BeatModel(np.zeros(k), np.ones(k), ((rng.normal(0, 0.3, (k, 5)), np.zeros(5)),))
    model = BeatModel(model.mean, model.std, model.layers, features=names, rr=rr)
    rows = beat_features(*pvc)[1]
    assert model.inputs(rows).shape == (rows.shape[0], k)
    again = BeatModel.from_dict(json.loads(json.dumps(model.to_dict())))
    assert np.array_equal(model.probabilities(rows), again.probabilities(rows))
    with pytest.raises(InputError):
        BeatModel.from_dict({**model.to_dict(), "features": ["no_such_feature"]})
