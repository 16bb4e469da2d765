"""The per-beat quality gate and the pacing-spike test: no class is guessed on a flat line, a
lead coming off, clipping, missing samples, loud noise or a paced beat; and both gates keep
the stream equal to the whole-signal function for any chunking and a saved state."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cardiostream.beats import (
    GATE_REASONS,
    BeatClassifier,
    BeatQualityGate,
    Beats,
    classify_beats,
)
from cardiostream.beats.gate import pack_samples, unpack_samples
from cardiostream.dsp.pacing import PacingSpikeDetector, pacing_spikes
from cardiostream.dsp.quality import (
    DEFAULT_CONFIG,
    _fill_missing,
    _run_fractions,
    _spectral_ratios,
    _zero_phase,
)
from cardiostream.errors import InputError

FS = 360.0


def ecg(seconds: float, *, seed: int = 0, fs: float = FS) -> tuple[np.ndarray, np.ndarray]:
    """A clean synthetic lead in mV (P, QRS, T as Gaussians) and its R peaks."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * fs)) / fs
    x = np.zeros_like(t)
    r_times = np.arange(0.5, seconds - 0.5, 0.8)
    r_times = r_times + rng.uniform(-0.03, 0.03, r_times.size)
    for r in r_times:
        for amp, centre, width in (
            (0.15, -0.2, 0.025),
            (-0.1, -0.03, 0.008),
            (1.0, 0.0, 0.01),
            (-0.25, 0.03, 0.01),
            (0.3, 0.25, 0.04),
        ):
            x += amp * np.exp(-0.5 * ((t - r - centre) / width) ** 2)
    x += rng.normal(0, 0.01, t.size)
    return x, np.round(r_times * fs).astype(np.int64)


def in_stretch(beats: Beats, a: float, b: float) -> np.ndarray:
    """Beats whose R peak lies in [a, b) seconds."""
    return (beats.sample >= a * FS) & (beats.sample < b * FS)


def assert_gated(beats: Beats, sel: np.ndarray, reasons: set[str]) -> None:
    assert sel.sum() >= 3, "the detector found too few beats there to test the gate"
    assert set(beats.label[sel]) == {"Q"}, beats.label[sel]
    assert set(beats.reason[sel]) <= reasons, set(beats.reason[sel])
    # The probabilities stay the model's own: they do not say Q.
    assert np.allclose(beats.probabilities[sel].sum(axis=1), 1.0)


def test_clean_synthetic_beats_are_not_gated() -> None:
    x, _ = ecg(60)
    beats = classify_beats(x, FS)
    assert len(beats) >= 70
    assert (beats.reason == "").all() and "Q" not in set(beats.label)


def test_a_flat_low_amplitude_stretch_is_gated_flat() -> None:
    x, _ = ecg(60)
    x[20 * 360 : 40 * 360] *= 0.04  # 0.04 mV beats: no block reaches 0.1 mV
    beats = classify_beats(x, FS)
    assert_gated(beats, in_stretch(beats, 22, 38), {"flat"})
    assert (beats.reason[in_stretch(beats, 2, 18)] == "").all()


def test_a_lead_off_step_pattern_is_gated_lead_off() -> None:
    x, _ = ecg(60)
    # The lead comes off: the amplifier rails to a constant that jumps every 1.5 s.
    for i, start in enumerate(range(20 * 360, 40 * 360, 540)):
        x[start : start + 540] = 2.0 if i % 2 else -1.0
    beats = classify_beats(x, FS)
    assert_gated(beats, in_stretch(beats, 21, 39), {"lead_off"})


def test_missing_samples_are_gated() -> None:
    x, r = ecg(60)
    # The detector itself finds no beat on a gap; a beat just before one is still decided,
    # with 0.83 s of its 2 s span missing.
    marked = r[10::6][:6]
    for peak in marked:
        x[peak + 144 : peak + 444] = np.nan
    beats = classify_beats(x, FS)
    hit = np.isin(beats.sample, marked[:, None] + np.arange(-5, 6))
    assert_gated(beats, hit, {"missing_samples"})
    assert hit.sum() == marked.size


def test_a_clipped_signal_is_gated_clipping() -> None:
    x, _ = ecg(60)
    x[20 * 360 : 40 * 360] = np.clip(4.0 * x[20 * 360 : 40 * 360], -1.0, 1.2)
    beats = classify_beats(x, FS)
    assert_gated(beats, in_stretch(beats, 22, 38), {"clipping"})
    assert (beats.reason[in_stretch(beats, 2, 18)] == "").all()


def test_loud_noise_is_gated() -> None:
    x, _ = ecg(60)
    rng = np.random.default_rng(1)
    x[20 * 360 : 40 * 360] += rng.normal(0, 0.6, 20 * 360)  # muscle-like broadband noise
    beats = classify_beats(x, FS)
    assert_gated(beats, in_stretch(beats, 22, 38), {"high_frequency_noise", "no_beats"})
    assert (beats.reason[in_stretch(beats, 2, 18)] == "").all()


def test_paced_beats_are_q_paced_and_unpaced_ones_are_not() -> None:
    x, r = ecg(60)
    paced = r[(r > 20 * 360) & (r < 40 * 360)]
    # A 1.5 mV stimulus artefact 2 samples wide, 100 ms before each QRS.
    for peak in paced:
        x[peak - 36 : peak - 34] += 1.5
    spikes = pacing_spikes(x, FS)
    assert spikes.size == paced.size
    assert np.all(np.abs(spikes - (paced - 36)) <= 1)
    beats = classify_beats(x, FS)
    assert_gated(beats, in_stretch(beats, 21, 39), {"paced"})
    assert (beats.reason[in_stretch(beats, 2, 18)] == "").all()
    assert (beats.reason[in_stretch(beats, 42, 58)] == "").all()


def test_without_the_gate_the_model_labels_every_beat() -> None:
    x, _ = ecg(40)
    x[10 * 360 : 30 * 360] *= 0.04
    raw = classify_beats(x, FS, gate=False)
    assert (raw.reason == "").all() and "Q" not in set(raw.label)
    gated = classify_beats(x, FS)
    assert np.array_equal(raw.sample, gated.sample)
    assert np.array_equal(raw.probabilities, gated.probabilities)
    assert (gated.label[gated.reason != ""] == "Q").all() and (gated.reason != "").any()


def _troubled() -> np.ndarray:
    """A minute with every kind of trouble in it, in 8 s stretches."""
    x, r = ecg(64, seed=3)
    s = 360
    x[8 * s : 16 * s] *= 0.04
    x[16 * s : 24 * s] = np.clip(4 * x[16 * s : 24 * s], -1.0, 1.2)
    for peak in r[(r > 24 * s) & (r < 32 * s)][::3]:
        x[peak + 144 : peak + 444] = np.nan
    x[32 * s : 40 * s] += np.random.default_rng(2).normal(0, 0.6, 8 * s)
    for peak in r[(r > 40 * s) & (r < 48 * s)]:
        x[peak - 36 : peak - 34] += 1.5
    x[50 * s : 52 * s] = 0.7
    x[52 * s : 54 * s] = -0.4
    return x


@pytest.mark.parametrize("roundtrip", [False, True])
def test_the_gated_stream_equals_the_function_for_any_chunking(roundtrip: bool) -> None:
    x = _troubled()
    whole = classify_beats(x, FS)
    assert set(whole.reason) >= {"", "flat", "clipping", "missing_samples", "paced"}
    rng = np.random.default_rng(7 + roundtrip)
    clf = BeatClassifier(FS)
    parts = []
    i = 0
    while i < x.size:
        n = int(rng.integers(1, 2500))
        parts.append(clf.push(x[i : i + n]))
        i += n
        if roundtrip and rng.random() < 0.2:
            state = json.loads(json.dumps(clf.state_dict()))
            clf = BeatClassifier(FS)
            clf.load_state_dict(state)
    parts.append(clf.flush())
    got = Beats.concatenate(parts)
    assert np.array_equal(got.sample, whole.sample)
    assert np.array_equal(got.label, whole.label)
    assert np.array_equal(got.reason, whole.reason)
    # The model's batch sizes follow the chunks: the last bits of a product may differ.
    assert np.allclose(got.probabilities, whole.probabilities, rtol=0, atol=1e-12)
    # The stream restarts clean after a flush.
    again = Beats.concatenate([clf.push(x), clf.flush()])
    assert np.array_equal(again.reason, whole.reason)


def test_the_spike_detector_is_chunk_invariant_and_restores() -> None:
    x = _troubled()
    whole = pacing_spikes(x, FS)
    assert whole.size >= 5
    det = PacingSpikeDetector(FS)
    got = []
    for i in range(0, x.size, 97):
        got.append(det.push(x[i : i + 97]))
        if i % 970 == 0:
            state = json.loads(json.dumps(det.state_dict()))
            det = PacingSpikeDetector(FS)
            det.load_state_dict(state)
    assert np.array_equal(np.concatenate(got), whole)
    with pytest.raises(InputError):
        PacingSpikeDetector(250.0).load_state_dict(state)


def test_gate_api_and_bad_states() -> None:
    assert GATE_REASONS[-1] == "paced" and "lead_off" in GATE_REASONS
    gate = BeatQualityGate(FS)
    x, r = ecg(10)
    gate.push(x)
    assert gate.judge(r[1:-1]).tolist() == [""] * (r.size - 2)
    m = gate.metrics(int(r[3]))
    assert m["nan_fraction"] == 0 and m["flat_ptp_mv"] > 1 and m["qrs_snr"] > 3
    # A saved state carries the history only, not the whole last chunk, packed.
    big = BeatQualityGate(FS)
    big.push(ecg(60)[0])
    state = big.state_dict()
    assert unpack_samples(state["tail"]).size <= round(5.1 * FS)
    # Noisy doubles: at most their 8 bytes a sample in base64 (a list took about 20).
    assert len(json.dumps(state)) < 20_000
    big.push(ecg(10)[0].astype(np.float32))  # a float32 stream: half that
    assert len(json.dumps(big.state_dict())) < 10_000
    with pytest.raises(InputError):
        BeatQualityGate(FS).load_state_dict({**state, "tail": {"dtype": "<i8", "data": ""}})
    with pytest.raises(InputError):
        BeatQualityGate(FS).load_state_dict({**state, "tail": {"dtype": "<f8", "data": "x!"}})
    with pytest.raises(InputError):
        BeatQualityGate(FS).load_state_dict({"fs": 250.0, "tail": [], "n": 0})
    with pytest.raises(InputError):
        BeatClassifier(FS).load_state_dict({"features": {}})
    b = Beats(np.arange(3), np.array(["N"] * 3), np.full((3, 5), 0.2))
    assert b.reason.tolist() == ["", "", ""]


def _reference_metrics(gate: BeatQualityGate, r: int) -> dict[str, float]:
    """The gate's indices computed one by one with the quality module's functions: the
    compiled kernel is to agree with them."""
    x = gate.span(r)
    out = dict.fromkeys(("constant_fraction", "flat_ptp_mv", "clip_fraction", "qrs_snr"), 0.0)
    out.update(nan_fraction=1.0, hf_ratio=float("nan"))
    if x.size == 0:
        return out
    x, out["nan_fraction"] = _fill_missing(x)
    if out["nan_fraction"] == 1.0:
        return out
    cfg = gate.config
    qcfg = type(DEFAULT_CONFIG)(constant_run_s=cfg.constant_run_s, clip_run_s=cfg.clip_run_s)
    out["constant_fraction"], out["clip_fraction"] = _run_fractions(x, gate.fs, qcfg)
    block = round(cfg.flat_block_s * gate.fs)
    out["flat_ptp_mv"] = max(float(np.ptp(x[i : i + block])) for i in range(0, x.size, block))
    if out["flat_ptp_mv"] > 0 and x.size >= 8:
        out["hf_ratio"] = _spectral_ratios(x, gate.fs)[0]
        c = np.abs(_zero_phase(x, gate.fs, 0.5, 40.0))
        k = r - max(r - round(cfg.pre_s * gate.fs), 0, gate._n - gate._tail.size)
        half = round(cfg.beat_half_width_s * gate.fs)
        out["qrs_snr"] = float(c[max(k - half, 0) : k + half + 1].max() / c.mean())
    return out


def test_the_compiled_indices_are_the_quality_modules() -> None:
    x = _troubled()
    x[61 * 360 : 61 * 360 + 100] = np.nan  # a gap inside a span
    gate = BeatQualityGate(FS)
    gate.push(x)
    # Every kind of span: cut at the stream's start and end, gaps, clipping, noise, flat.
    for r in [0, 5, 100, *range(200, x.size, 97), x.size - 1]:
        got, want = gate.metrics(r), _reference_metrics(gate, r)
        assert got.keys() == want.keys()
        for key, value in want.items():
            # The periodogram is single precision in the gate.
            tol = 1e-5 if key == "hf_ratio" else 1e-9
            assert got[key] == pytest.approx(value, rel=tol, abs=1e-12, nan_ok=True), (r, key)
    # And the verdicts come from the same indices, in one call or beat by beat.
    rs = np.arange(0, x.size, 97)
    assert gate.judge(rs).tolist() == [gate.reason(int(r)) for r in rs]


def test_packed_samples_are_exact_and_old_states_load() -> None:
    x = np.random.default_rng(0).normal(size=500)
    x[[3, 77]] = np.nan
    for y in (x, x.astype(np.float32).astype(np.float64)):
        packed = json.loads(json.dumps(pack_samples(y)))
        assert np.array_equal(unpack_samples(packed), y, equal_nan=True)
    assert pack_samples(x.astype(np.float32).astype(np.float64))["dtype"] == "<f4"
    assert pack_samples(x)["dtype"] == "<f8"
    # A state saved before the samples were packed: a list with NaN as None.
    gate = BeatQualityGate(FS)
    gate.load_state_dict({"fs": FS, "tail": [1.0, None, 2.0], "n": 3})
    assert np.array_equal(gate.span(1), [1.0, np.nan, 2.0], equal_nan=True)


@pytest.mark.parametrize("fs", [80.0, 128.0, 250.0, 360.0, 500.0, 1000.0])
def test_a_few_beats_are_judged_as_a_batch_is(fs: float) -> None:
    from cardiostream.beats import _gate_kernel as gk
    from cardiostream.beats.gate import _band_bins, _band_ratio, _dft_tables

    # The DFT at the bands' bins of a lone beat is the batched FFT's ratio.
    n = 2 * round(fs)
    twiddle, phase, n_qrs = _dft_tables(n, fs)
    if fs >= 90:
        rng = np.random.default_rng(1)
        t = np.arange(n) / fs
        xw = rng.normal(size=(4, n)) + np.sin(2 * np.pi * 10 * t) + np.sin(2 * np.pi * 41 * t)
        xw = (xw * np.hanning(n)).astype(np.float32)
        want = _band_ratio(xw, _band_bins(n, fs))
        acc = np.empty(2 * twiddle.shape[1], np.float32)
        got = [gk.dft_ratio(row, twiddle, phase, n_qrs, acc) for row in xw]
        assert np.allclose(got, want, rtol=1e-5, atol=0)
    else:
        assert twiddle.shape[1] == 0  # no hf_ratio below 90 Hz
    # And the verdicts: a batch (the FFT) and beat by beat (the DFT), every kind of span.
    x, _ = ecg(40, seed=3, fs=fs)
    rng = np.random.default_rng(2)
    x[round(10 * fs) : round(14 * fs)] += rng.normal(0, 0.4, round(4 * fs))  # noise
    x[round(20 * fs) : round(23 * fs)] = 0.01  # lead off
    x[round(30 * fs) : round(30.5 * fs)] = np.nan
    gate = BeatQualityGate(fs, history_s=60.0)
    gate.push(x)
    rs = np.arange(0, x.size, max(round(fs / 7), 1))
    batch = gate.judge(rs)
    assert {"", "high_frequency_noise" if fs >= 90 else "", "lead_off"} <= set(batch)
    assert batch.tolist() == [gate.reason(int(r)) for r in rs]
    assert (
        batch.tolist()
        == np.concatenate([gate.judge(rs[i : i + 3]) for i in range(0, rs.size, 3)]).tolist()
    )


def test_the_in_place_buffers_follow_long_and_short_chunks() -> None:
    x, r = ecg(60, seed=5)
    x[5000:5003] = np.inf
    sizes = [36 * 360, 7, 360, 1, 5 * 360] + [360] * 15
    gate, whole = BeatQualityGate(FS, history_s=4.0), BeatQualityGate(FS, history_s=70.0)
    pacing = PacingSpikeDetector(FS)
    whole.push(x)
    spikes, at, checked = [], 0, False
    for size in [*sizes, x.size]:  # the rest at the end
        chunk = x[at : at + size]
        gate.push(chunk)
        spikes.append(pacing.push(chunk))
        at += chunk.size
        recent = r[(r < gate._n - round(FS)) & (r > gate._n - 3 * round(FS))]
        assert gate.judge(recent).tolist() == whole.judge(recent).tolist()
        if at == sum(sizes):  # shrunk again after the long chunks
            checked = True
            assert gate._buf.size == 2 * gate._keep and pacing._buf.size == 2 * pacing._reach + 360
    assert checked and at == x.size
    assert np.array_equal(np.concatenate(spikes), pacing_spikes(x, FS))
