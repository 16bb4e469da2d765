"""The RR AF detector's evidence in the per-second verdict: feed, fusion layer, shipped fit."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from cardiostream.beats.af_rr import af_from_beats
from cardiostream.errors import InputError
from cardiostream.io import read
from cardiostream.rhythm import RhythmModel
from cardiostream.rhythm.bundle import read_bundle, weights_dir
from cardiostream.rhythm.rr_fusion import INPUTS, LOGIT_CLIP, RRFeed, RRFusion, rr_inputs
from cardiostream.rhythm.verdict import CLASSES
from cardiostream.samples import sample_path
from cardiostream.training.rr_fusion import fit_fusion

AF = CLASSES.index("af")


def _peaks(irregular: bool, n: int = 300, seed: int = 0) -> npt.NDArray[np.int64]:
    """R peaks (250 Hz samples) of a regular or an AF-like rhythm."""
    rng = np.random.default_rng(seed)
    rr = rng.uniform(0.45, 1.1, n) if irregular else np.full(n, 0.8) + rng.normal(0, 0.01, n)
    return np.round(np.cumsum(rr) * 250).astype(np.int64) + 500


def test_feed_gives_the_detector_at_the_last_beat_before_each_end() -> None:
    peaks = _peaks(True)
    ends = np.arange(2500, int(peaks[-1]), 250, dtype=np.int64)
    delay = 250
    got = RRFeed().at(peaks, ends, delay)
    p = af_from_beats(peaks / 250.0).p_af
    last = np.searchsorted(peaks, ends - delay) - 1
    np.testing.assert_array_equal(got, np.where(last >= 0, p[np.maximum(last, 0)], 0.0))
    assert got[-1] > 0.5  # an AF-like rhythm, well past the detector's 16 intervals


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_feed_is_the_same_in_any_grouping_of_the_ends(seed: int) -> None:
    peaks = _peaks(True, seed=seed)
    ends = np.arange(2500, int(peaks[-1]), 250, dtype=np.int64)
    whole = RRFeed().at(peaks, ends, 250)
    feed, parts = RRFeed(), []
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.choice(np.arange(1, ends.size), 12, replace=False))
    for chunk in np.split(ends, cuts):
        # A stream keeps only its recent peaks: give each call the peaks from a while back.
        recent = peaks[peaks >= chunk[0] - 4000]
        parts.append(feed.at(recent, chunk, 250))
        state = json.loads(json.dumps(feed.state_dict()))
        feed = RRFeed()
        feed.load_state_dict(state)
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_rr_inputs_mark_missing_evidence_and_clip() -> None:
    x = rr_inputs([0.0, 0.5, 1.0, 1e-30])
    np.testing.assert_array_equal(x[:, 1], [0.0, 1.0, 1.0, 1.0])
    assert x[0, 0] == 0.0 and x[1, 0] == pytest.approx(0.0)
    assert x[2, 0] == LOGIT_CLIP and x[3, 0] == -LOGIT_CLIP


def test_identity_fusion_leaves_the_verdict_unchanged() -> None:
    k = len(CLASSES)
    weights = np.zeros((k, len(INPUTS)))
    weights[:, :k] = np.eye(k)
    fusion = RRFusion(weights, np.zeros(k), 0.6)
    log_p = np.log(np.array([[0.7, 0.1, 0.15, 0.05], [0.2, 0.5, 0.2, 0.1]]))
    np.testing.assert_allclose(fusion.log_probabilities(log_p, [0.9, 0.0]), log_p, atol=1e-12)
    again = RRFusion.from_dict(json.loads(json.dumps(fusion.to_dict())))
    np.testing.assert_array_equal(again.weights, weights)


@pytest.mark.parametrize(
    "change",
    [
        {"format": "other/1"},
        {"inputs": ["log_p_normal"]},
        {"weights": [[1.0, 0.0]]},
        {"bias": [0.0]},
    ],
)
def test_a_malformed_entry_is_refused(change: dict[str, object]) -> None:
    k = len(CLASSES)
    weights = np.zeros((k, len(INPUTS)))
    entry = {**RRFusion(weights, np.zeros(k), 0.6).to_dict(), **change}
    with pytest.raises(InputError, match="window_fusion"):
        RRFusion.from_dict(entry)


def test_fit_learns_what_the_rr_evidence_carries() -> None:
    rng = np.random.default_rng(0)
    n = 4000
    y = rng.integers(0, 4, n)
    # The head sees the class dimly; the RR evidence tells AF from the rest clearly.
    log_p = np.log(np.full((n, 4), 0.2) + 0.2 * np.eye(4)[y])
    p_af = np.where(y == AF, rng.uniform(0.8, 0.99, n), rng.uniform(0.01, 0.2, n))
    from cardiostream.rhythm.rr_fusion import fusion_inputs

    x = fusion_inputs(log_p - np.log(np.exp(log_p).sum(1, keepdims=True)), p_af)
    weights, _ = fit_fusion(x, y, 1e-3)
    logit = INPUTS.index("rr_af_logit")
    assert weights[AF, logit] > 0.5 and all(
        weights[AF, logit] > weights[c, logit] + 0.5 for c in range(4) if c != AF
    )


def test_shipped_fusion_raises_af_with_irregular_beats() -> None:
    fusion = read_bundle().window_fusion
    assert fusion is not None
    log_p = np.log(np.array([[0.5, 0.3, 0.15, 0.05]] * 3))
    p = np.exp(fusion.log_probabilities(log_p, [0.02, 0.0, 0.98]))
    # Strong RR evidence of AF raises AF; evidence against it lowers it.
    assert p[2, AF] > p[1, AF] > p[0, AF]
    assert read_bundle().window_threshold == fusion.threshold


def test_fused_verdicts_equal_head_then_fusion(tmp_path: Path) -> None:
    rec = read(sample_path("mitdb-201-af"))
    x, fs = rec.lead(0), rec.fs
    for f in weights_dir().iterdir():
        if f.is_file():
            shutil.copy(f, tmp_path / f.name)
    meta = json.loads((tmp_path / "model.json").read_text())
    del meta["window_fusion"]
    (tmp_path / "model.json").write_text(json.dumps(meta))
    plain, fused = RhythmModel(tmp_path), RhythmModel()
    assert plain.window_fusion is None and fused.window_fusion is not None
    _, p0 = plain.window_probabilities(x, fs)
    _, p1 = fused.window_probabilities(x, fs)
    np.testing.assert_array_equal(p0[:9], p1[:9])
    assert np.abs(p0[9:] - p1[9:]).max() > 0.01
    # On this AF excerpt the beat intervals add AF evidence.
    assert p1[30:, AF].mean() > p0[30:, AF].mean()


def test_a_fusion_without_a_window_head_is_refused(tmp_path: Path) -> None:
    for f in weights_dir().iterdir():
        if f.is_file():
            shutil.copy(f, tmp_path / f.name)
    meta = json.loads((tmp_path / "model.json").read_text())
    del meta["window_head"], meta["window_trees"]
    (tmp_path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="window_fusion entry needs a window_head"):
        read_bundle(tmp_path)
