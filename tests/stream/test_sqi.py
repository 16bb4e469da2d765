"""Streaming signal quality: per-second blocks and frames, window metrics, verdicts."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from scipy import stats

from cardiostream.dsp import REASONS, rational_ratio
from cardiostream.io import read
from cardiostream.samples import sample_path
from cardiostream.stream import sqi
from cardiostream.stream.sqi import METRICS, STREAM_CONFIG

FloatArray = npt.NDArray[np.float64]

B_N, B_MISSING, B_PTP, B_CONST, B_CLIP = range(5)
COL = {name: i for i, name in enumerate(METRICS)}
FLAG = {name: i for i, name in enumerate(REASONS)}


def params(fs: float) -> tuple[int, int, int, int]:
    """``(up, den, min_run, long_run)`` as the stream processor derives them."""
    up, down = rational_ratio(fs, 250.0)
    long_run = max(round(STREAM_CONFIG.constant_run_s * fs), 2)
    min_run = max(round(STREAM_CONFIG.clip_run_s * fs), 3)
    return up, 250 * down, min_run, long_run


def feed_parts(x: FloatArray, fs: float, sizes: list[int]) -> list[FloatArray]:
    """Block rows of each chunk of ``x`` (chunk sizes ``sizes``), one state carried through."""
    up, den, min_run, long_run = params(fs)
    st = sqi.initial_block_state()
    out, pos = [], 0
    for size in sizes:
        chunk = np.ascontiguousarray(x[pos : pos + size], np.float64)
        rows = np.full((chunk.size // max(int(fs) - 1, 1) + 2, sqi.N_BLOCK), np.nan)
        n = sqi.input_blocks(chunk, pos, up, den, min_run, long_run, st, rows)
        out.append(rows[:n])
        pos += chunk.size
    return out


def feed(x: FloatArray, fs: float, sizes: list[int] | None = None) -> FloatArray:
    """Block rows of ``x`` fed in chunks of ``sizes`` (one call by default)."""
    parts = feed_parts(x, fs, sizes if sizes is not None else [x.size])
    return np.concatenate([np.zeros((0, sqi.N_BLOCK)), *parts])


def ecg_like(fs: float, seconds: float, seed: int = 0) -> FloatArray:
    """Sines, narrow beats at 72 bpm and a little noise: no two samples exactly equal."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * fs)) / fs
    x = 0.2 * np.sin(2 * np.pi * 0.3 * t) + 0.1 * np.sin(2 * np.pi * 7.0 * t)
    for beat in np.arange(0.4, seconds, 60 / 72):
        x += 1.2 * np.exp(-0.5 * ((t - beat) / 0.012) ** 2)
    return x + 0.01 * rng.standard_normal(t.size)


def test_constants_match_the_docstrings() -> None:
    assert len(METRICS) == 9
    assert (sqi.N_BLOCK, sqi.N_FRAME, sqi.N_STATE) == (5, 10, 12)
    assert STREAM_CONFIG.qrs_snr_good == 4.5 and STREAM_CONFIG.qrs_snr_min == 2.75
    assert STREAM_CONFIG.nan_max == 0.1 and STREAM_CONFIG.flat_ptp_mv == 0.1
    st = sqi.initial_block_state()
    assert st.shape == (sqi.N_STATE,) and np.isnan(st[sqi.S_RUN_VAL])
    assert st[sqi.S_BLOCK] == 0 and st[sqi.S_N] == 0


# ------------------------------------------------------------------- input blocks
@pytest.mark.parametrize(("fs", "per_block"), [(250.0, 250), (360.0, 360), (300.0, 300)])
def test_one_row_per_completed_second(fs: float, per_block: int) -> None:
    up, den, _, _ = params(fs)
    assert (up, den) == {250.0: (1, 250), 360.0: (25, 9000), 300.0: (5, 1500)}[fs]
    x = ecg_like(fs, 7.6)
    rows = feed(x, fs)
    assert rows.shape == (7, sqi.N_BLOCK)  # the last 0.6 s is not a completed second
    np.testing.assert_array_equal(rows[:, B_N], per_block)
    np.testing.assert_array_equal(rows[:, B_MISSING], 0)
    for b in range(7):
        np.testing.assert_allclose(rows[b, B_PTP], np.ptp(x[b * per_block : (b + 1) * per_block]))
    # A second's row comes with its last sample, not before.
    parts = feed_parts(x, fs, [2 * per_block - 1, 1, 1, per_block - 2, 1])
    assert [p.shape[0] for p in parts] == [1, 1, 0, 0, 1]
    np.testing.assert_array_equal(np.concatenate(parts), rows[:3])


def test_blocks_follow_the_stream_clock_at_a_fractional_rate() -> None:
    """At 250.5 Hz (ratio 500/501) sample ``i`` is in block ``(i * up) // den``: seconds of
    250 and 251 samples."""
    fs = 250.5
    up, den, _, _ = params(fs)
    assert (up, den) == (500, 250 * 501)
    n = 5000
    rows = feed(ecg_like(fs, n / fs), fs)
    block = (np.arange(n) * up) // den
    last_complete = block[-1] if (n * up) // den != block[-1] else block[-1] - 1
    expected = np.bincount(block)[: last_complete + 1]
    assert rows.shape[0] == expected.size == 19
    np.testing.assert_array_equal(rows[:, B_N], expected)
    assert set(expected.tolist()) == {250, 251}


def test_missing_samples_are_counted() -> None:
    fs = 250.0
    x = ecg_like(fs, 4.0)
    x[[3, 10, 11, 260]] = np.nan
    x[600:640] = np.inf  # any non-finite value is missing
    rows = feed(x, fs)
    np.testing.assert_array_equal(rows[:, B_N], 250)
    np.testing.assert_array_equal(rows[:, B_MISSING], [3, 1, 40, 0])
    finite = np.where(np.isfinite(x), x, np.nan)[:1000].reshape(4, 250)
    ptp = np.nanmax(finite, axis=1) - np.nanmin(finite, axis=1)
    np.testing.assert_allclose(rows[:, B_PTP], ptp)


def test_a_block_without_finite_samples_has_range_minus_one() -> None:
    fs = 360.0
    x = ecg_like(fs, 3.0)
    x[360:720] = np.nan
    rows = feed(x, fs)
    assert rows[1, B_PTP] == -1.0 and rows[1, B_MISSING] == 360
    assert rows[0, B_PTP] > 1.0 and rows[2, B_PTP] > 1.0
    assert rows[1, B_CONST] == 0 and rows[1, B_CLIP] == 0


@pytest.mark.parametrize("fs", [250.0, 360.0])
def test_a_long_constant_run_is_lead_off(fs: float) -> None:
    _, _, _, long_run = params(fs)
    x = ecg_like(fs, 10.0)
    start, stop = round(2 * fs), round(5 * fs)  # 3 s at exactly 0.3 mV
    x[start:stop] = 0.3
    rows = feed(x, fs)
    run = stop - start
    total = rows[:, B_CONST].sum()
    # Every sample of the run once it has lasted 0.5 s; at most the whole run.
    assert run - long_run <= total <= run
    np.testing.assert_array_equal(rows[[0, 1, 5, 6, 7, 8, 9], B_CONST], 0)
    assert rows[3, B_CONST] == rows[3, B_N]  # a second wholly inside the run
    assert (rows[:, B_CONST] <= rows[:, B_N]).all()


def test_a_run_just_under_half_a_second_is_not_lead_off() -> None:
    fs = 250.0
    _, _, _, long_run = params(fs)
    x = ecg_like(fs, 4.0)
    x[300 : 300 + long_run - 1] = 0.3
    x[700 : 700 + long_run + 5] = 0.3  # this one is
    rows = feed(x, fs)
    np.testing.assert_array_equal(rows[:2, B_CONST], 0)
    assert 6 <= rows[2:, B_CONST].sum() <= long_run + 5


@pytest.mark.parametrize("fs", [250.0, 360.0, 300.0])
def test_an_ecg_like_signal_is_neither_constant_nor_clipped(fs: float) -> None:
    rows = feed(ecg_like(fs, 12.0, seed=int(fs)), fs)
    np.testing.assert_array_equal(rows[:, B_CONST], 0)
    np.testing.assert_array_equal(rows[:, B_CLIP], 0)
    assert (rows[:, B_PTP] > 1.0).all()


def test_a_bundled_record_is_neither_constant_nor_clipped() -> None:
    rec = read(sample_path("mitdb-100-nsr"))
    rows = feed(rec.lead(0), rec.fs)
    assert rows.shape == (60, sqi.N_BLOCK)
    np.testing.assert_array_equal(rows[:, B_N], 360)
    assert rows[:, B_CONST].sum() == 0 and rows[:, B_CLIP].sum() == 0
    assert (rows[:, B_PTP] > sqi.STREAM_CONFIG.flat_ptp_mv).all()


@pytest.mark.parametrize("fs", [250.0, 360.0])
def test_clipping_at_both_rails_is_counted(fs: float) -> None:
    t = np.arange(round(6 * fs)) / fs
    x = np.clip(1.5 * np.sin(2 * np.pi * t), -1.2, 1.2)  # runs of ~0.2 s at each rail
    rows = feed(x, fs)
    n = round(fs)
    at_rail = (np.abs(x) == 1.2).reshape(-1, n).sum(axis=1)
    assert at_rail.min() > 3
    np.testing.assert_array_equal(rows[:, B_CLIP], at_rail)
    np.testing.assert_array_equal(rows[:, B_CONST], 0)


def test_clipping_at_the_top_rail_only_is_counted() -> None:
    fs = 250.0
    t = np.arange(round(4 * fs)) / fs
    x = np.minimum(np.sin(2 * np.pi * t), 0.8)
    rows = feed(x, fs)
    np.testing.assert_array_equal(rows[:, B_CLIP], (x == 0.8).reshape(4, 250).sum(axis=1))
    assert rows[0, B_CLIP] > 40


def test_clipping_at_the_bottom_rail_only_is_counted() -> None:
    fs = 250.0
    t = np.arange(round(4 * fs)) / fs
    x = np.maximum(np.sin(2 * np.pi * t), -0.8)
    rows = feed(x, fs)
    np.testing.assert_array_equal(rows[:, B_CLIP], (x == -0.8).reshape(4, 250).sum(axis=1))


def test_plateaus_away_from_the_extremes_or_too_short_are_not_clipping() -> None:
    fs = 250.0
    _, _, min_run, long_run = params(fs)
    x = ecg_like(fs, 3.0)
    x[100:140] = 0.35  # a plateau in the middle of the range
    top = x[250:500].max()
    x[300 : 300 + min_run - 1] = top  # at the maximum but shorter than 10 ms
    x[600 : 600 + long_run + 10] = x[500:750].max() + 0.5  # long: lead off, not clipping
    rows = feed(x, fs)
    np.testing.assert_array_equal(rows[:, B_CLIP], 0)
    assert rows[2, B_CONST] > 0


def _nasty_signal(fs: float, seed: int) -> FloatArray:
    rng = np.random.default_rng(seed)
    n = round(14 * fs) + int(rng.integers(0, round(fs)))
    t = np.arange(n) / fs
    x = ecg_like(fs, n / fs, seed)
    x[round(1.3 * fs) : round(3.1 * fs)] = 0.25  # lead off across block boundaries
    a, b = round(5 * fs), round(7 * fs)
    x[a:b] = np.clip(2 * np.sin(2 * np.pi * t[: b - a]), -1, 1)  # clipped at both rails
    for _ in range(4):
        at = int(rng.integers(0, n - 50))
        x[at : at + int(rng.integers(1, 50))] = np.nan
    x[round(9 * fs) : round(10.2 * fs)] = np.nan
    return x


@pytest.mark.parametrize(("fs", "seed"), [(250.0, 0), (360.0, 1), (300.0, 2), (250.5, 3)])
def test_any_chunking_gives_identical_rows(fs: float, seed: int) -> None:
    x = _nasty_signal(fs, seed)
    whole = feed(x, fs)
    assert whole[:, B_CONST].sum() > 0 and whole[:, B_CLIP].sum() > 0
    assert (whole[:, B_PTP] == -1).any() and whole[:, B_MISSING].sum() > 0
    rng = np.random.default_rng(seed + 100)
    for _ in range(3):
        sizes, total = [], 0
        while total < x.size:
            size = int(rng.choice([0, 1, 2, 7, 100, 359, 360, 361, 1000]))
            sizes.append(size)
            total += size
        chunked = feed(x, fs, sizes)
        assert np.array_equal(chunked, whole)


# --------------------------------------------------------------------- frame sums
def _frame_inputs(seed: int, n_frames: int) -> tuple[FloatArray, ...]:
    rng = np.random.default_rng(seed)
    raw, clean, qrs, high, low = rng.standard_normal((5, n_frames * 250))
    raw[rng.integers(0, raw.size, 30)] = np.nan
    clean[rng.integers(0, raw.size, 30)] = np.nan
    clean[250:500] = np.nan  # a frame with no valid sample
    qrs[raw.size - 3] = np.nan  # ignored where raw is missing
    raw[raw.size - 3] = np.nan
    return raw, clean, qrs, high, low


def test_frame_sums_are_the_sums_over_valid_samples() -> None:
    raw, clean, qrs, high, low = _frame_inputs(0, 5)
    out = np.full((5, sqi.N_FRAME), np.nan)
    sqi.frame_sums(raw, clean, qrs, high, low, out)
    ok = (np.isfinite(raw) & np.isfinite(clean)).reshape(5, 250)

    def per_frame(v: FloatArray) -> FloatArray:
        return np.where(ok, v.reshape(5, 250), 0.0).sum(axis=1)

    c = np.where(np.isfinite(clean), clean, 0.0)
    expected = np.stack(
        [
            ok.sum(axis=1),
            per_frame(np.nan_to_num(qrs) ** 2),
            per_frame(high**2),
            per_frame(low),
            per_frame(low**2),
            per_frame(c),
            per_frame(c**2),
            per_frame(c**3),
            per_frame(c**4),
            per_frame(np.abs(c)),
        ],
        axis=1,
    )
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    assert out[1, sqi.F_VALID] == 0 and (out[1] == 0).all()


# ----------------------------------------------------------------- window metrics
def _metrics(
    blocks: FloatArray,
    frames: FloatArray,
    starts: list[int],
    width: int,
    counts: list[float],
    amps: list[float],
    has_hf: bool = True,
    const_block: FloatArray | None = None,
) -> FloatArray:
    out = np.full((len(starts), len(METRICS)), -123.0)
    top = np.full(len(starts), -1.0) if const_block is None else const_block
    sqi.window_metrics(
        blocks,
        frames,
        np.array(starts, np.int64),
        width,
        STREAM_CONFIG.flat_ptp_mv,
        np.array(counts, np.float64),
        np.array(amps, np.float64),
        has_hf,
        out,
        top,
    )
    return out


def _block_rows(ptp: list[float], n: float = 250.0) -> FloatArray:
    rows = np.zeros((len(ptp), sqi.N_BLOCK))
    rows[:, B_N] = n
    rows[:, B_PTP] = ptp
    return rows


def test_window_metrics_of_the_block_columns() -> None:
    blocks = _block_rows([1.0, 0.05, -1.0, 0.0, 0.1, 2.0])
    blocks[:, B_MISSING] = [0, 10, 250, 0, 0, 5]
    blocks[:, B_CONST] = [0, 0, 0, 250, 0, 0]
    blocks[:, B_CLIP] = [3, 0, 0, 0, 7, 1]
    frames = np.zeros((6, sqi.N_FRAME))
    out = _metrics(blocks, frames, [0, 1, 3], 3, [0, 0, 0], [np.nan] * 3)
    np.testing.assert_allclose(out[:, COL["nan_fraction"]], [260 / 750, 260 / 750, 5 / 750])
    np.testing.assert_allclose(out[:, COL["constant_fraction"]], [0, 250 / 750, 250 / 750])
    np.testing.assert_allclose(out[:, COL["clip_fraction"]], [3 / 750, 0, 8 / 750])
    # Ranges 0.05 and 0.0 are flat; -1 (no finite sample) and 0.1 (the threshold) are not.
    np.testing.assert_allclose(out[:, COL["flat_fraction"]], [1 / 3, 2 / 3, 1 / 3])
    # No valid frame sample: the frame-based metrics are NaN; no beats: rate 0.
    for name in ("hf_ratio", "bw_ratio", "kurtosis", "qrs_snr"):
        assert np.isnan(out[:, COL[name]]).all()
    np.testing.assert_array_equal(out[:, COL["beat_rate_bpm"]], 0)


def test_one_constant_second_is_lead_off() -> None:
    # A whole second of one exact value flags the window at once, though the window's share
    # (1 s of 10) is under the share rule's 0.2; half a second does not.
    blocks = _block_rows([1.0] * 12)
    blocks[:, B_CONST] = [0] * 9 + [250, 125, 0]
    top = np.empty(3)
    out = _metrics(blocks, np.zeros((12, sqi.N_FRAME)), [0, 1, 2], 10, [0] * 3, [np.nan] * 3,
                   const_block=top)  # fmt: skip
    np.testing.assert_allclose(top, [1.0, 1.0, 1.0])
    assert out[0, COL["constant_fraction"]] == 0.1
    _, _, flags = sqi.judge_windows(out, const_block=top)
    assert flags[:, FLAG["lead_off"]].all()
    assert not sqi.judge_windows(out)[2][:, FLAG["lead_off"]].any()  # the share rule alone
    half = np.full(1, -1.0)
    blocks = _block_rows([1.0] * 10)
    blocks[:, B_CONST] = [0] * 9 + [125]
    out = _metrics(blocks, np.zeros((10, sqi.N_FRAME)), [0], 10, [0],
                   [np.nan], const_block=half)  # fmt: skip
    assert half[0] == 0.5
    assert not sqi.judge_windows(out, const_block=half)[2][0, FLAG["lead_off"]]


def test_a_missing_block_is_not_flat_when_judged() -> None:
    blocks = _block_rows([-1.0] * 10)
    blocks[:, B_MISSING] = 250
    out = _metrics(blocks, np.zeros((10, sqi.N_FRAME)), [0], 10, [0], [np.nan])
    assert out[0, COL["flat_fraction"]] == 0 and out[0, COL["nan_fraction"]] == 1
    _, _, flags = sqi.judge_windows(out)
    assert flags[0, FLAG["missing_samples"]] and not flags[0, FLAG["flat"]]


def test_window_metrics_of_the_frame_columns_equal_direct_formulas() -> None:
    rng = np.random.default_rng(7)
    width, n_frames = 4, 9
    n = n_frames * 250
    t = np.arange(n) / 250
    raw = rng.standard_normal(n)
    raw[rng.integers(0, n, 40)] = np.nan
    clean = np.sin(2 * np.pi * 1.1 * t) ** 7 + 0.1 * rng.standard_normal(n)
    clean[rng.integers(0, n, 40)] = np.nan
    qrs = rng.standard_normal(n)
    high = 0.3 * rng.standard_normal(n)
    low = 0.2 * np.sin(2 * np.pi * 0.2 * t) + 0.5
    frames = np.empty((n_frames, sqi.N_FRAME))
    sqi.frame_sums(raw, clean, qrs, high, low, frames)
    blocks = _block_rows([1.0] * n_frames)
    starts = [0, 2, 5]
    counts, amps = [5.0, 0.0, 3.0], [1.7, np.nan, 0.9]
    out = _metrics(blocks, frames, starts, width, counts, amps)
    no_hf = _metrics(blocks, frames, starts, width, counts, amps, has_hf=False)
    for w, s in enumerate(starts):
        span = slice(s * 250, (s + width) * 250)
        ok = np.isfinite(raw[span]) & np.isfinite(clean[span])
        c, lo = clean[span][ok], low[span][ok]
        hf = np.sum(high[span][ok] ** 2) / np.sum(qrs[span][ok] ** 2)
        bw = np.var(lo) / (np.var(lo) + np.var(c))
        snr = amps[w] / np.mean(np.abs(c)) if counts[w] else 0.0
        expected = [hf, bw, stats.kurtosis(c, fisher=False), snr, 60 * counts[w] / width]
        names = ("hf_ratio", "bw_ratio", "kurtosis", "qrs_snr", "beat_rate_bpm")
        got = [out[w, COL[k]] for k in names]
        np.testing.assert_allclose(got, expected, rtol=1e-7)
        assert np.isnan(no_hf[w, COL["hf_ratio"]])
        np.testing.assert_array_equal(
            np.delete(no_hf[w], COL["hf_ratio"]), np.delete(out[w], COL["hf_ratio"])
        )


def test_window_metrics_do_not_depend_on_how_many_windows_a_call_computes() -> None:
    rng = np.random.default_rng(3)
    raw, clean, qrs, high, low = rng.standard_normal((5, 20 * 250))
    frames = np.empty((20, sqi.N_FRAME))
    sqi.frame_sums(raw, clean, qrs, high, low, frames)
    blocks = _block_rows(list(rng.uniform(-1, 1, 20)))
    blocks[:, B_MISSING] = rng.integers(0, 20, 20)
    starts = list(range(11))
    counts = list(rng.integers(0, 15, 11).astype(float))
    amps = list(rng.uniform(0.2, 2, 11))
    all_at_once = _metrics(blocks, frames, starts, 10, counts, amps)
    for w in starts:
        one = _metrics(blocks, frames, [w], 10, [counts[w]], [amps[w]])
        assert np.array_equal(one[0], all_at_once[w], equal_nan=True)


def test_beats_with_a_zero_amplitude_signal_give_an_infinite_snr() -> None:
    frames = np.zeros((2, sqi.N_FRAME))
    frames[:, sqi.F_VALID] = 250
    out = _metrics(_block_rows([0.0, 0.0]), frames, [0], 2, [3], [0.5])
    assert np.isinf(out[0, COL["qrs_snr"]])
    assert np.isnan(out[0, COL["kurtosis"]])  # no variance
    assert out[0, COL["beat_rate_bpm"]] == 90.0


# ----------------------------------------------------------------------- verdicts
GOOD = {
    "nan_fraction": 0.0,
    "constant_fraction": 0.0,
    "flat_fraction": 0.0,
    "clip_fraction": 0.0,
    "hf_ratio": 0.05,
    "bw_ratio": 0.3,
    "kurtosis": 9.0,
    "qrs_snr": 8.0,
    "beat_rate_bpm": 70.0,
}


def rows(*changes: dict[str, float]) -> FloatArray:
    out = np.empty((len(changes), len(METRICS)))
    for i, change in enumerate(changes):
        values = {**GOOD, **change}
        out[i] = [values[name] for name in METRICS]
    return out


def test_a_clean_window_is_usable_with_score_one() -> None:
    usable, score, flags = sqi.judge_windows(rows({}))
    assert usable.tolist() == [True] and score.tolist() == [1.0]
    assert flags.shape == (1, len(REASONS)) and not flags.any()


CFG = STREAM_CONFIG
EPS = 1e-9


@pytest.mark.parametrize(
    ("reason", "metric", "flagged", "passed"),
    [
        ("missing_samples", "nan_fraction", CFG.nan_max + EPS, CFG.nan_max),
        ("lead_off", "constant_fraction", CFG.constant_max + EPS, CFG.constant_max),
        ("flat", "flat_fraction", CFG.flat_max, CFG.flat_max - EPS),
        ("clipping", "clip_fraction", CFG.clip_max + EPS, CFG.clip_max),
        ("high_frequency_noise", "hf_ratio", CFG.hf_max + EPS, CFG.hf_max),
        ("baseline_wander", "bw_ratio", CFG.bw_max + EPS, CFG.bw_max),
        ("no_beats", "beat_rate_bpm", CFG.rate_min_bpm - EPS, CFG.rate_min_bpm),
        ("no_beats", "qrs_snr", CFG.qrs_snr_min - EPS, CFG.qrs_snr_min),
        ("no_beats", "qrs_snr", 0.0, 3.0),
    ],
)
def test_each_reason_is_flagged_past_its_threshold(
    reason: str, metric: str, flagged: float, passed: float
) -> None:
    usable, score, flags = sqi.judge_windows(rows({metric: flagged}, {metric: passed}))
    expected = np.zeros((2, len(REASONS)), np.bool_)
    expected[0, FLAG[reason]] = True
    np.testing.assert_array_equal(flags, expected)
    assert usable.tolist() == [False, True]
    assert score[0] <= 0.5 + 1e-6 and score[1] < 1.0


def test_kurtosis_lowers_the_score_but_flags_nothing() -> None:
    usable, score, flags = sqi.judge_windows(rows({"kurtosis": 1.0}, {"kurtosis": 3.0}))
    assert usable.all() and not flags.any()
    np.testing.assert_allclose(score, [0.0, 0.5])


@pytest.mark.parametrize(
    ("metric", "good", "threshold"),
    [
        ("nan_fraction", 0.0, CFG.nan_max),
        ("hf_ratio", CFG.hf_good, CFG.hf_max),
        ("bw_ratio", CFG.bw_good, CFG.bw_max),
        ("kurtosis", CFG.kurtosis_good, CFG.kurtosis_min),
        ("qrs_snr", CFG.qrs_snr_good, CFG.qrs_snr_min),
        ("beat_rate_bpm", CFG.rate_good_bpm, CFG.rate_min_bpm),
    ],
)
def test_the_score_is_the_ramp_of_the_quality_module(
    metric: str, good: float, threshold: float
) -> None:
    """1 at the good value, 0.5 at the threshold, 0 as far again past it."""
    far = 2 * threshold - good
    quarter = good + 0.25 * (threshold - good)
    _, score, _ = sqi.judge_windows(
        rows({metric: good}, {metric: threshold}, {metric: far}, {metric: quarter})
    )
    np.testing.assert_allclose(score, [1.0, 0.5, 0.0, 0.875], atol=1e-12)


def test_scores_multiply() -> None:
    _, score, _ = sqi.judge_windows(
        rows({"hf_ratio": CFG.hf_max, "bw_ratio": CFG.bw_max, "qrs_snr": CFG.qrs_snr_min})
    )
    np.testing.assert_allclose(score, [0.125])


def test_nan_metrics_score_one_and_are_not_flagged() -> None:
    changes = [{name: np.nan} for name in METRICS] + [dict.fromkeys(METRICS, np.nan)]
    usable, score, flags = sqi.judge_windows(rows(*changes))
    assert usable.all() and not flags.any()
    np.testing.assert_array_equal(score, 1.0)


def test_a_custom_config_moves_the_thresholds() -> None:
    from dataclasses import replace

    strict = replace(STREAM_CONFIG, hf_max=0.04, qrs_snr_min=9.0)
    _, _, flags = sqi.judge_windows(rows({}), strict)
    assert flags[0, FLAG["high_frequency_noise"]] and flags[0, FLAG["no_beats"]]
    assert flags.sum() == 2


def test_metrics_from_blocks_flag_lead_off_and_flat_end_to_end() -> None:
    """A stream with 5 s of lead-off in 10 s: blocks, then metrics, then the verdict."""
    fs = 360.0
    x = ecg_like(fs, 10.0)
    x[round(3 * fs) : round(8 * fs)] = 0.1
    blocks = feed(x, fs)
    frames = np.zeros((10, sqi.N_FRAME))
    out = _metrics(blocks, frames, [0], 10, [4], [1.2])
    assert 0.45 <= out[0, COL["constant_fraction"]] <= 0.5
    assert out[0, COL["flat_fraction"]] == pytest.approx(0.5)
    usable, _, flags = sqi.judge_windows(out)
    assert not usable[0]
    assert flags[0, FLAG["lead_off"]] and flags[0, FLAG["flat"]]
    assert not flags[0, FLAG["missing_samples"]] and not flags[0, FLAG["clipping"]]
