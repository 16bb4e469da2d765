"""AF from beat times: chunking equivalence, state round trip, the shipped model on
synthetic rhythms (regular, irregularly irregular, sinus with frequent premature beats),
bad input, and the Long-Term AF Database reader."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cardiostream
from cardiostream.beats.af_rr import (
    HISTORY,
    AFBeatDetector,
    AFBeats,
    af_from_beats,
    beat_times_from_rr,
    load_rr_af_model,
)
from cardiostream.errors import InputError
from tests.conftest import shared_data_dir

WARM_UP = 64  # beats before the long window is full


def sinus(n: int, seed: int, mean: float = 0.85) -> np.ndarray:
    """Sinus rhythm: respiratory modulation (±3.5 %) and a little noise."""
    rng = np.random.default_rng(seed)
    k = np.arange(n)
    return mean * (1 + 0.035 * np.sin(2 * np.pi * k / 4.5) + rng.normal(0, 0.01, n))


def af_rr(n: int, seed: int) -> np.ndarray:
    """Irregularly irregular intervals: independent, wide, no pattern."""
    rng = np.random.default_rng(seed)
    return np.clip(rng.lognormal(np.log(0.62), 0.22, n), 0.3, 1.6)


def with_ectopy(rr: np.ndarray, seed: int, rate: float = 0.12) -> np.ndarray:
    """Isolated premature beats: a short interval then a compensatory pause."""
    rng = np.random.default_rng(seed)
    out = rr.copy()
    i = 2
    while i < out.size - 2:
        if rng.random() < rate:
            base = out[i]
            out[i] = base * rng.uniform(0.55, 0.75)
            out[i + 1] = 2 * base - out[i] + rng.normal(0, 0.01)
            i += 3
        else:
            i += 1
    return out


def times(rr: np.ndarray) -> np.ndarray:
    return 100.0 + np.cumsum(rr)


def pushed_in_chunks(det: AFBeatDetector, t: np.ndarray, sizes: list[int]) -> list[AFBeats]:
    """The detector's answers to ``t`` pushed in chunks of ``sizes``, then the rest."""
    parts = []
    i = 0
    for size in sizes:
        parts.append(det.push(t[i : i + size]))
        i += size
    parts.append(det.push(t[i:]))
    return parts


def mixed(seed: int) -> np.ndarray:
    return times(np.concatenate([sinus(150, seed), af_rr(200, seed + 1), sinus(120, seed + 2)]))


def test_the_public_name_and_its_attributes() -> None:
    out = cardiostream.af_from_beats(times(sinus(100, 0)))
    assert out.af.dtype == np.bool_ and out.p_af.dtype == np.float64
    assert out.af.shape == out.p_af.shape == (100,)
    assert cardiostream.AFBeatDetector is AFBeatDetector
    assert ((out.p_af >= 0) & (out.p_af <= 1)).all()


def test_regular_rhythm_is_not_af() -> None:
    for seed in range(3):
        for mean in (0.5, 0.85, 1.2):
            out = af_from_beats(times(sinus(400, seed, mean)))
            assert not out.af.any(), (seed, mean)


def test_irregularly_irregular_rhythm_is_af() -> None:
    for seed in range(3):
        out = af_from_beats(times(af_rr(400, seed)))
        assert out.af[WARM_UP:].mean() > 0.95, seed
        assert out.p_af[WARM_UP:].mean() > 0.8


def test_sinus_with_frequent_isolated_premature_beats_is_not_af() -> None:
    for seed in range(3):
        rr = with_ectopy(sinus(600, seed), seed + 10)
        out = af_from_beats(times(rr))
        assert out.af.mean() < 0.05, seed


def test_af_then_sinus_gives_an_episode() -> None:
    out = af_from_beats(mixed(3))
    assert len(out.episodes()) >= 1
    start, end = max(out.episodes(), key=lambda e: e[1] - e[0])
    t = mixed(3)
    assert abs(start - t[150]) < 40 and abs(end - t[350]) < 60
    assert 0.2 < out.burden() < 0.7


def test_first_beats_have_p_zero() -> None:
    out = af_from_beats(times(af_rr(20, 0)))
    assert (out.p_af[:16] == 0).all() and not out.af[:16].any()


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 90), min_size=1, max_size=30), st.integers(0, 5))
def test_any_chunking_gives_the_same_answer_bit_for_bit(sizes: list[int], seed: int) -> None:
    t = mixed(seed)
    whole = af_from_beats(t)
    det = AFBeatDetector()
    parts = pushed_in_chunks(det, t, sizes)
    parts.append(det.flush())
    p = np.concatenate([x.p_af for x in parts])
    af = np.concatenate([x.af for x in parts])
    assert np.array_equal(p, whole.p_af) and np.array_equal(af, whole.af)
    assert np.array_equal(np.concatenate([x.time_s for x in parts]), t)
    assert det.beats_seen == t.size


def with_gaps(t: np.ndarray) -> np.ndarray:
    """The beats with a 5 s gap inside the AF and an hour's gap at its end (a sensor off)."""
    t = t.copy()
    t[200:] += 5.0
    t[350:] += 3600.0
    return t


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 90), min_size=1, max_size=30), st.integers(0, 5))
def test_any_chunking_gives_the_same_answer_across_gaps(sizes: list[int], seed: int) -> None:
    t = with_gaps(mixed(seed))
    whole = af_from_beats(t)
    parts = pushed_in_chunks(AFBeatDetector(), t, sizes)
    assert np.array_equal(np.concatenate([x.p_af for x in parts]), whole.p_af)


def test_a_gap_in_the_beats_is_neither_af_nor_rhythm() -> None:
    # One minute of AF, an hour without beats, then sinus rhythm.
    rr = np.concatenate([af_rr(100, 1), [3600.0], sinus(100, 2)])
    t = times(rr)
    out = af_from_beats(t)
    # The detector starts afresh after the gap, as at a stream's start.
    assert t[100] - t[99] == pytest.approx(3600.0)
    assert np.all(out.p_af[100 : 100 + 16] == 0.0)
    fresh = af_from_beats(t[100:])
    assert np.array_equal(out.p_af[100:], fresh.p_af)
    # The hour counts neither way: the burden is that of the two minutes with beats.
    observed = np.diff(t)[np.diff(t) <= 3.0]
    af_time = np.diff(t)[out.af[1:] & (np.diff(t) <= 3.0)].sum()
    assert out.burden() == pytest.approx(af_time / observed.sum())
    assert 0.2 < out.burden() < 0.6
    # And the AF episode ends at the last beat before the gap.
    (episode,) = out.episodes()
    assert episode[1] <= t[99] and episode[1] - episode[0] > 30
    # Read as rhythm (the former behaviour), the hour was AF time.
    assert af_from_beats(t, gap_s=None).burden() > 0.9
    with pytest.raises(InputError, match="gap_s"):
        AFBeatDetector(gap_s=0.0)


def test_one_beat_at_a_time_equals_whole() -> None:
    t = mixed(7)
    det = AFBeatDetector()
    p = np.concatenate([det.push(t[i : i + 1]).p_af for i in range(t.size)])
    assert np.array_equal(p, af_from_beats(t).p_af)


def test_state_round_trip_through_json() -> None:
    t = mixed(1)
    whole = af_from_beats(t)
    for cut in (0, 3, 70, 200, t.size):
        det = AFBeatDetector()
        first = det.push(t[:cut])
        state = json.loads(json.dumps(det.state_dict()))
        assert len(state["tail"]) <= HISTORY
        again = AFBeatDetector()
        again.load_state_dict(state)
        rest = again.push(t[cut:])
        assert np.array_equal(np.concatenate([first.p_af, rest.p_af]), whole.p_af), cut


def test_the_average_is_bias_corrected_from_the_first_logit() -> None:
    """Each p_af is the logistic of sum((1-a)^(n-k) z_k) / sum((1-a)^(n-k)) over the logits so
    far (NaN ones skipped): the first logits are averaged evenly, not led by the first."""
    from cardiostream.beats import _af_rr_kernel as kernel

    rng = np.random.default_rng(3)
    z = rng.normal(0.0, 3.0, 120)
    z[[0, 5, 6, 40]] = np.nan
    alpha = 0.05
    out = np.empty(z.size)
    ema, weight = kernel.smooth(z, alpha, np.nan, 0.0, out)
    expected = np.zeros(z.size)
    seen: list[float] = []
    for i, v in enumerate(z):
        if np.isnan(v):
            continue
        seen.append(v)
        w = (1 - alpha) ** np.arange(len(seen) - 1, -1, -1)
        expected[i] = 1 / (1 + np.exp(-np.dot(w, seen) / w.sum()))
    assert np.allclose(out, expected, rtol=0, atol=1e-12)
    assert weight == pytest.approx(1 - (1 - alpha) ** len(seen))
    assert 1 / (1 + np.exp(-ema)) == pytest.approx(expected[-1])


def test_a_state_saved_before_the_bias_correction_loads_as_settled() -> None:
    t = mixed(2)
    det = AFBeatDetector()
    det.push(t[:150])
    state = det.state_dict()
    old = {k: v for k, v in state.items() if k != "ema_weight"}
    settled = AFBeatDetector()
    settled.load_state_dict(old)
    assert settled.state_dict()["ema_weight"] == 1.0
    fresh = {**old, "tail": [], "count": 0, "ema": None}
    again = AFBeatDetector()
    again.load_state_dict(fresh)
    assert again.state_dict()["ema_weight"] == 0.0
    for bad in (
        {**state, "ema_weight": 1.5},
        {**state, "ema_weight": 0.0},
        {**fresh, "ema_weight": 0.5},
    ):
        with pytest.raises(InputError, match="weight"):
            AFBeatDetector().load_state_dict(bad)


def test_bad_input_is_an_input_error() -> None:
    with pytest.raises(InputError, match="finite"):
        af_from_beats([0.0, 1.0, np.nan, 2.0])
    with pytest.raises(InputError, match="increase"):
        af_from_beats([0.0, 1.0, 1.0, 2.0])
    with pytest.raises(InputError, match="increase"):
        af_from_beats([0.0, 2.0, 1.0])
    with pytest.raises(InputError, match="1-D"):
        af_from_beats(np.zeros((3, 2)))
    with pytest.raises(InputError, match="not numbers"):
        af_from_beats(["a", "b"])
    det = AFBeatDetector()
    det.push([1.0, 2.0])
    with pytest.raises(InputError, match="not after"):
        det.push([1.5])
    with pytest.raises(InputError, match="format"):
        det.load_state_dict({"tail": []})
    with pytest.raises(InputError):
        beat_times_from_rr([800, -1])
    assert len(af_from_beats([])) == 0


def test_rr_intervals_give_beat_times() -> None:
    t = beat_times_from_rr([1000, 500, 750])
    assert np.allclose(t, [0, 1.0, 1.5, 2.25])


def test_the_shipped_model_loads_and_round_trips(tmp_path: Path) -> None:
    model = load_rr_af_model()
    assert 0 < model.threshold < 1 and 0 < model.alpha <= 1
    path = model.save(tmp_path)
    again = load_rr_af_model(path)
    t = mixed(2)
    assert np.array_equal(af_from_beats(t, again).p_af, af_from_beats(t).p_af)
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(InputError):
        load_rr_af_model(tmp_path / "bad.json")


def test_the_pulse_model_is_chosen_by_timing() -> None:
    ecg, pulse = load_rr_af_model(), load_rr_af_model(timing="pulse")
    assert ecg is load_rr_af_model(timing="ecg") and pulse is not ecg
    # The pulse model learned from noisy copies, the ECG model from one without noise.
    assert pulse.meta["jitter_ms"] == [10.0, 25.0] and ecg.meta["jitter_ms"] == [0.0]
    t = mixed(2)
    assert np.array_equal(af_from_beats(t, timing="pulse").p_af, af_from_beats(t, pulse).p_af)
    assert np.array_equal(AFBeatDetector(timing="pulse").push(t).p_af, af_from_beats(t, pulse).p_af)
    with pytest.raises(InputError, match="timing"):
        af_from_beats(t, timing="ppg")  # type: ignore[arg-type]


def pulse_timed(rr: np.ndarray, seed: int, sigma_s: float = 0.025) -> np.ndarray:
    """Beat times as a pulse sensor gives them: each off by Gaussian noise."""
    t = times(rr)
    return np.sort(t + np.random.default_rng(seed).normal(0.0, sigma_s, t.size))


def test_pulse_timing_noise_is_not_af_for_the_pulse_model() -> None:
    # A regular rhythm at 120 bpm timed from a pulse wave: 30 ms of noise on every beat time
    # makes its successive differences a tenth of the interval, as a slow AF's.
    ecg_share, pulse_share = [], []
    for seed in range(3):
        t = pulse_timed(sinus(600, seed, mean=0.5), seed + 20, sigma_s=0.03)
        ecg_share.append(af_from_beats(t).af[WARM_UP:].mean())
        pulse_share.append(af_from_beats(t, timing="pulse").af[WARM_UP:].mean())
    assert max(pulse_share) < 0.1, pulse_share
    assert min(ecg_share) > 0.15, ecg_share
    # ... while AF timed the same way stays AF.
    for seed in range(3):
        out = af_from_beats(pulse_timed(af_rr(400, seed), seed + 30, 0.03), timing="pulse")
        assert out.af[WARM_UP:].mean() > 0.95, seed


def _ltafdb() -> Path:
    root = shared_data_dir()
    if root is None or not (root / "ltafdb" / "00.atr").is_file():
        pytest.skip(
            "LTAFDB annotations not found: set CARDIOSTREAM_DATA or put them at "
            "../shared/data/ltafdb"
        )
    return root / "ltafdb"


@pytest.mark.shared_data
@pytest.mark.slow
def test_an_ltafdb_record_reads_with_labels_and_is_scored() -> None:
    from cardiostream.evaluate.rr_af import read_ltafdb_record, scores

    rec = read_ltafdb_record(_ltafdb(), "06")
    for series in (rec.atr, rec.qrs):
        assert series.time_s.size > 50_000
        assert set(np.unique(series.label)) <= {-1, 0, 1} and (series.label == 1).any()
        out = af_from_beats(series.time_s)
        s = scores(series.label, out.af)
        assert s["se"] is not None and s["se"] > 80 and s["sp"] > 90
