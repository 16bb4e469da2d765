"""The rhythm model's input chain: rate, chunk equivalence, missing samples, state, causality."""

from __future__ import annotations

import itertools
import json

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardiostream.dsp import ECGCleaner, resample_causal
from cardiostream.errors import InputError
from cardiostream.io import read
from cardiostream.rhythm.preprocess import (
    MODEL_FS,
    Preprocessor,
    preprocess,
    preprocess_with_mask,
)
from cardiostream.samples import sample_path


def _ecg(fs: float = 300.0, seconds: float = 20.0) -> npt.NDArray[np.float32]:
    """Lead 0 of a bundled CinC record (300 Hz), repeated or cut to ``seconds``."""
    x = read(sample_path("cinc2017-A00004")).lead(0)
    assert fs == 300.0
    return np.resize(x, round(seconds * fs))


@pytest.mark.parametrize(("fs", "n"), [(300.0, 3000), (360.0, 3601), (250.0, 777), (128.0, 1280)])
def test_output_rate_and_dtype(fs: float, n: int) -> None:
    x = np.random.default_rng(0).standard_normal(n)
    y = preprocess(x, fs)
    assert y.dtype == np.float32
    assert y.shape == (-(-n * 250 // round(fs)) if fs != 128.0 else -(-n * 125 // 64),)
    two = preprocess(np.column_stack([x, -x]), fs)
    assert two.shape == (y.size, 2)
    np.testing.assert_allclose(two[:, 1], -y, atol=1e-6)


def test_equals_the_dsp_chain() -> None:
    x = _ecg()
    expected = ECGCleaner(MODEL_FS).process(resample_causal(x, 300.0, MODEL_FS))
    np.testing.assert_array_equal(preprocess(x, 300.0), expected.astype(np.float32))


def test_removes_baseline_offset() -> None:
    x = _ecg() + np.float32(3.0)
    y = preprocess(x, 300.0)
    assert abs(float(np.mean(y[2500:]))) < 0.05
    assert float(np.std(y)) > 0.05  # the ECG itself survives


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(min_value=0, max_value=3000), min_size=1, max_size=12))
def test_chunked_equals_whole(sizes: list[int]) -> None:
    x = _ecg(seconds=12.0).astype(np.float64)
    x[1000:1040] = np.nan  # a gap, to check the mask and state across chunk edges too
    whole, whole_valid = preprocess_with_mask(x, 300.0)
    chain = Preprocessor(300.0)
    parts, masks = [], []
    edges = np.cumsum([0, *sizes])
    edges = np.unique(np.clip(np.append(edges, x.size), 0, x.size))
    for a, b in itertools.pairwise(edges):
        y, v = chain.process_with_mask(x[a:b])
        parts.append(y)
        masks.append(v)
    np.testing.assert_allclose(np.concatenate(parts), whole, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(np.concatenate(masks), whole_valid)


def test_missing_samples_become_zero_and_masked() -> None:
    x = _ecg().astype(np.float64)
    x[3000:3300] = np.nan  # 10.0-11.0 s
    y, valid = preprocess_with_mask(x, 300.0)
    assert np.isfinite(y).all()
    bad = np.flatnonzero(~valid)
    # The gap, shifted by the resampler's 10-sample delay, give or take the filter's support.
    assert 2500 + 10 - 2 <= bad[0] <= 2500 + 10 + 1
    assert 2750 + 10 - 1 <= bad[-1] <= 2750 + 10 + 2
    assert bad.size == bad[-1] - bad[0] + 1
    assert (y[~valid] == 0).all()
    # Filtering recovers: the last seconds equal those of the same signal without a gap.
    clean = preprocess(_ecg(), 300.0)
    np.testing.assert_allclose(y[-250:], clean[-250:], atol=0.02)
    assert np.array_equal(preprocess(x, 300.0), y)


def test_causal_with_fixed_resampler_delay() -> None:
    x = _ecg().astype(np.float64)
    y = preprocess(x, 300.0)
    x2 = x.copy()
    x2[3000:] += 1.0  # change the input from t = 10 s on
    y2 = preprocess(x2, 300.0)
    changed = np.flatnonzero(y != y2)
    # Output k lies at k / 250 s and sees inputs up to that time: nothing before 10 s changes.
    assert changed[0] >= 2500 - 12
    assert Preprocessor(300.0).delay_s == pytest.approx(0.04)
    assert Preprocessor(250.0).delay_s == 0.0


def test_linear_so_noise_can_be_added_after() -> None:
    rng = np.random.default_rng(1)
    a, b = _ecg().astype(np.float64), 0.2 * rng.standard_normal(6000)
    np.testing.assert_allclose(
        preprocess(a + b, 300.0), preprocess(a, 300.0) + preprocess(b, 300.0), atol=1e-5
    )


def test_state_dict_round_trip_through_json() -> None:
    x = _ecg()
    first = Preprocessor(300.0)
    head = first.process(x[:2001])
    state = json.loads(json.dumps(first.state_dict()))
    second = Preprocessor(300.0)
    second.load_state_dict(state)
    tail = second.process(x[2001:])
    np.testing.assert_allclose(np.concatenate([head, tail]), preprocess(x, 300.0), atol=1e-6)


def test_reset_starts_a_new_signal() -> None:
    chain = Preprocessor(300.0)
    chain.process(np.ones(500))
    chain.reset()
    x = _ecg()
    np.testing.assert_array_equal(chain.process(x), preprocess(x, 300.0))


def test_bad_input_raises_input_error() -> None:
    with pytest.raises(InputError, match="fs"):
        Preprocessor(0.0)
    with pytest.raises(InputError, match="fs"):
        Preprocessor(float("nan"))
    with pytest.raises(InputError, match="chunk"):
        preprocess(np.zeros((2, 2, 2)), 300.0)
    chain = Preprocessor(300.0)
    with pytest.raises(InputError, match="fs"):
        chain.load_state_dict(Preprocessor(360.0).state_dict())
    with pytest.raises(InputError, match="type"):
        chain.load_state_dict({"type": "ECGCleaner"})
