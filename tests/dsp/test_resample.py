"""Resampling: ratios, causal = shifted zero-phase, chunking invariance, gaps, accuracy."""

from __future__ import annotations

import json

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardiostream.dsp import Resampler, rational_ratio, resample, resample_causal
from cardiostream.errors import InputError

from .test_filters import run_chunked, signal_with_gaps

RATES = [(360, 250), (300, 250), (500, 250), (1000, 250), (128, 250), (250, 250)]


@pytest.mark.parametrize(
    ("fs_in", "fs_out", "expected"),
    [
        (360, 250, (25, 36)),
        (300, 250, (5, 6)),
        (500, 250, (1, 2)),
        (1000, 250, (1, 4)),
        (128, 250, (125, 64)),
        (250, 250, (1, 1)),
        (250.0, 360.0, (36, 25)),
    ],
)
def test_rational_ratio(fs_in: float, fs_out: float, expected: tuple[int, int]) -> None:
    assert rational_ratio(fs_in, fs_out) == expected


def test_bad_rates_are_input_errors() -> None:
    with pytest.raises(InputError, match="fs_in"):
        Resampler(0, 250)
    with pytest.raises(InputError, match="fs_out"):
        resample(np.ones(10), 250, float("nan"))
    with pytest.raises(InputError, match="fs_out"):
        rational_ratio(250.0, 250.0123)
    with pytest.raises(InputError, match="signal"):
        resample(np.ones((2, 2, 2)), 360, 250)


@pytest.mark.parametrize(("fs_in", "fs_out"), RATES)
def test_delay_and_lengths(fs_in: int, fs_out: int) -> None:
    res = Resampler(fs_in, fs_out)
    expected_delay = 0 if fs_in == fs_out else (20 if fs_in < fs_out else 10)
    assert res.delay_samples == expected_delay
    assert res.delay_s == pytest.approx(expected_delay / fs_out)
    for n in (0, 1, 2, 7, 1001):
        x = np.ones(n)
        n_out = -(-n * res.up // res.down)
        assert resample(x, fs_in, fs_out).shape == (n_out,)
        assert resample_causal(x, fs_in, fs_out).shape == (n_out,)


@pytest.mark.parametrize(("fs_in", "fs_out"), RATES)
def test_causal_is_the_zero_phase_output_delayed(fs_in: int, fs_out: int) -> None:
    rng = np.random.default_rng(fs_in)
    x = np.cumsum(rng.standard_normal((3000, 2)), axis=0) * 0.05 + 1.0
    causal = resample_causal(x, fs_in, fs_out)
    zero_phase = resample(x, fs_in, fs_out)
    delay = int(Resampler(fs_in, fs_out).delay_samples)
    np.testing.assert_allclose(causal[delay:], zero_phase[: len(zero_phase) - delay], atol=1e-9)


@pytest.mark.parametrize(("fs_in", "fs_out"), RATES)
def test_causal_equals_the_textbook_definition(fs_in: int, fs_out: int) -> None:
    """Zero-stuff by ``up``, filter causally with the taps, keep every ``down``-th sample."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal(700) + 2.0
    res = Resampler(fs_in, fs_out)
    pre = res.taps.size // res.up + 2  # the signal before time 0 is its first value
    stuffed = np.zeros((pre + x.size) * res.up)
    stuffed[:: res.up] = np.concatenate([np.full(pre, x[0]), x])
    full = np.convolve(stuffed, res.taps)[pre * res.up :: res.down]
    out = res.process(x)
    np.testing.assert_allclose(out, full[: out.size], atol=1e-9)


@pytest.mark.parametrize(("fs_in", "fs_out"), RATES)
@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    n=st.integers(1, 1200),
    n_leads=st.integers(1, 2),
    nan_runs=st.integers(0, 3),
    sizes=st.lists(st.integers(0, 300), min_size=1, max_size=10).filter(any),
)
def test_any_chunking_equals_resample_causal(
    fs_in: int, fs_out: int, seed: int, n: int, n_leads: int, nan_runs: int, sizes: list[int]
) -> None:
    x = signal_with_gaps(seed, n, n_leads, nan_runs)
    whole = resample_causal(x, fs_in, fs_out)
    res = Resampler(fs_in, fs_out)
    chunked = run_chunked(res, x, sizes)
    assert res.n_in == n and res.n_out == whole.shape[0]
    np.testing.assert_array_equal(np.isnan(chunked), np.isnan(whole))
    np.testing.assert_allclose(chunked, whole, rtol=0, atol=1e-6, equal_nan=True)


def test_one_sample_chunks_and_state_dict() -> None:
    x = signal_with_gaps(2, 900, 2, 2)
    whole = resample_causal(x, 360, 250)
    res = Resampler(360, 250)
    parts = [res.process(x[i : i + 1]) for i in range(450)]
    state = json.loads(json.dumps(res.state_dict()))
    other = Resampler(360, 250)
    other.load_state_dict(state)
    parts += [other.process(x[i : i + 1]) for i in range(450, 900)]
    np.testing.assert_allclose(np.concatenate(parts), whole, atol=1e-12, equal_nan=True)
    with pytest.raises(InputError, match="config"):
        Resampler(300, 250).load_state_dict(state)


def sine(freq: float, fs: float, seconds: float, delay_s: float = 0.0) -> npt.NDArray[np.float64]:
    t = np.arange(int(seconds * fs)) / fs - delay_s
    return np.sin(2 * np.pi * freq * t)


@pytest.mark.parametrize(("fs_in", "fs_out"), RATES)
def test_a_5_hz_sine_survives_after_delay_compensation(fs_in: int, fs_out: int) -> None:
    res = Resampler(fs_in, fs_out)
    out = res.process(sine(5.0, fs_in, 4.0))
    ideal = sine(5.0, res.fs_out, 4.0, delay_s=res.delay_s)[: out.size]
    settled = slice(int(0.5 * fs_out), None)
    assert np.abs(out[settled] - ideal[settled]).max() < 2e-3


def test_content_above_the_new_nyquist_rate_is_removed() -> None:
    out = resample_causal(sine(200.0, 1000, 4.0), 1000, 250)
    assert np.std(out[100:]) < 0.01  # 200 Hz would alias to 50 Hz
    passed = resample_causal(sine(40.0, 1000, 4.0), 1000, 250)
    assert abs(np.std(passed[100:]) * np.sqrt(2) - 1) < 0.01


def test_gaps_give_nan_at_the_delayed_positions_and_then_recover() -> None:
    x = sine(5.0, 360, 10.0) + 1.0
    gap_in = slice(int(3.0 * 360), int(3.5 * 360))
    gappy = x.copy()
    gappy[gap_in] = np.nan
    res = Resampler(360, 250)
    out, clean = res.process(gappy), resample_causal(x, 360, 250)
    t_out = (np.arange(out.size) - res.delay_samples) / 250  # input time of each output
    nan = np.isnan(out)
    assert nan[(t_out > 3.0 + 1e-3) & (t_out < 3.5 - 0.01)].all()
    assert not nan[(t_out < 3.0 - 0.01) | (t_out > 3.5 + 0.01)].any()
    late = t_out > 4.0
    np.testing.assert_allclose(out[late], clean[late], atol=1e-9)


def test_identity_passes_samples_through() -> None:
    x = signal_with_gaps(4, 100, 2, 1)
    np.testing.assert_array_equal(resample_causal(x, 250, 250), x)
    np.testing.assert_array_equal(resample(x, 250.0, 250.0), x)


@pytest.mark.parametrize(("fs_in", "fs_out"), RATES)
def test_long_chunks_equal_short_chunks(fs_in: int, fs_out: int) -> None:
    """Long chunks go through ``upfirdn``, short ones through the compiled kernel."""
    x = signal_with_gaps(8, 12_000, 2, 4)
    whole = resample_causal(x, fs_in, fs_out)
    chunked = run_chunked(Resampler(fs_in, fs_out), x, [250, 0, 3001, 1])
    np.testing.assert_array_equal(np.isnan(chunked), np.isnan(whole))
    np.testing.assert_allclose(chunked, whole, rtol=0, atol=1e-9, equal_nan=True)


def _random_sizes(rng: np.random.Generator, total: int) -> list[int]:
    """Chunk sizes covering ``total``: empty, tiny, around and well over the 2,048 cut-over."""
    sizes: list[int] = []
    while sum(sizes) < total:
        sizes.append(int(rng.choice([0, 1, 7, 250, 2047, 2048, 2049, 5000, 9001])))
    return sizes


@pytest.mark.parametrize("n_leads", [1, 2])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_resampler_is_bit_identical_under_any_chunking(seed: int, n_leads: int) -> None:
    x = signal_with_gaps(20 + seed, 30_000, n_leads, 3)
    if n_leads == 1:
        x = x[:, 0]
    whole = Resampler(360, 250, exact=True).process(x)
    assert whole.shape[0] == -(-x.shape[0] * 25 // 36)
    rng = np.random.default_rng(seed)
    for _ in range(3):
        sizes = _random_sizes(rng, x.shape[0])
        assert max(sizes) > 2048
        res = Resampler(360, 250, exact=True)
        chunked = run_chunked(res, x, sizes)
        assert res.n_in == x.shape[0] and res.n_out == whole.shape[0]
        assert np.array_equal(chunked, whole, equal_nan=True)
    # One sample at a time too, for a stretch.
    res = Resampler(360, 250, exact=True)
    head = np.concatenate([res.process(x[i : i + 1]) for i in range(3000)])
    assert np.array_equal(head, whole[: head.shape[0]], equal_nan=True)


def test_exact_resampler_equals_the_default_one() -> None:
    x = signal_with_gaps(31, 40_000, 2, 4)
    exact = Resampler(360, 250, exact=True).process(x)
    default = Resampler(360, 250).process(x)  # one long chunk: the upfirdn path
    assert Resampler(360, 250, exact=True).exact and not Resampler(360, 250).exact
    np.testing.assert_array_equal(np.isnan(exact), np.isnan(default))
    assert np.isnan(exact).any()
    np.testing.assert_allclose(exact, default, rtol=0, atol=1e-9, equal_nan=True)
    np.testing.assert_allclose(
        exact, resample_causal(x, 360, 250), rtol=0, atol=1e-9, equal_nan=True
    )


def test_the_default_resampler_on_long_chunks_is_only_equal_to_rounding() -> None:
    """Why ``exact`` exists: the ``upfirdn`` path rounds differently from the kernel."""
    x = signal_with_gaps(32, 20_000, 1, 0)[:, 0]
    long_chunk = Resampler(360, 250).process(x)
    short_chunks = run_chunked(Resampler(360, 250), x, [1000])
    np.testing.assert_allclose(long_chunk, short_chunks, rtol=0, atol=1e-9)
    # Not bit-identical, so the chunking tests of the exact resampler above have teeth.
    assert not np.array_equal(long_chunk, short_chunks)
    assert np.array_equal(run_chunked(Resampler(360, 250, exact=True), x, [1000]), short_chunks)
