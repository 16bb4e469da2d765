"""Stateful filters: chunking invariance, missing samples, state, responses and delays."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal as sps

from cardiostream.dsp import (
    BandpassFilter,
    BaselineFilter,
    ECGCleaner,
    FIRBandpassFilter,
    MovingAverage,
    NotchFilter,
    StreamFilter,
    bandpass,
    clean_ecg,
    fir_bandpass,
    moving_average,
    notch,
    remove_baseline,
)
from cardiostream.errors import InputError

from .conftest import synthetic_ecg

FS = 250.0

FACTORIES: dict[str, Callable[[], StreamFilter]] = {
    "bandpass": lambda: BandpassFilter(FS, 0.5, 40.0, order=3),
    "notch": lambda: NotchFilter(FS, 50.0),
    "baseline": lambda: BaselineFilter(FS),
    "cleaner": lambda: ECGCleaner(FS, notch=60.0),
    "fir": lambda: FIRBandpassFilter(FS, 1.0, 40.0, numtaps=31),
    "moving_average": lambda: MovingAverage(7),
}


def run_chunked(filt: StreamFilter, x: npt.NDArray[np.float64], sizes: list[int]) -> np.ndarray:
    """Feed ``x`` in chunks of the given sizes (cycled), empty chunks included."""
    out, pos, i = [], 0, 0
    while pos < x.shape[0]:
        size = sizes[i % len(sizes)]
        out.append(filt.process(x[pos : pos + size]))
        pos += size
        i += 1
    return np.concatenate(out)


def signal_with_gaps(seed: int, n: int, n_leads: int, nan_runs: int) -> npt.NDArray[np.float64]:
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.standard_normal((n, n_leads)), axis=0) * 0.05 + rng.normal(0, 1, n_leads)
    for _ in range(nan_runs):
        start = int(rng.integers(0, n))
        lead = int(rng.integers(0, n_leads))
        x[start : start + int(rng.integers(1, 40)), lead] = np.nan
    return x


@pytest.mark.parametrize("name", sorted(FACTORIES))
@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    n=st.integers(1, 1500),
    n_leads=st.integers(1, 3),
    nan_runs=st.integers(0, 3),
    sizes=st.lists(st.integers(0, 400), min_size=1, max_size=12).filter(any),
)
def test_any_chunking_equals_one_pass(
    name: str, seed: int, n: int, n_leads: int, nan_runs: int, sizes: list[int]
) -> None:
    x = signal_with_gaps(seed, n, n_leads, nan_runs)
    whole = FACTORIES[name]().process(x)
    chunked = run_chunked(FACTORIES[name](), x, sizes)
    assert chunked.shape == whole.shape == x.shape
    np.testing.assert_array_equal(np.isnan(chunked), np.isnan(whole))
    np.testing.assert_allclose(chunked, whole, rtol=0, atol=1e-6, equal_nan=True)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_one_sample_chunks_equal_one_pass(name: str) -> None:
    x = signal_with_gaps(3, 600, 2, 2)
    whole = FACTORIES[name]().process(x)
    filt = FACTORIES[name]()
    singles = np.concatenate([filt.process(x[i : i + 1]) for i in range(x.shape[0])])
    np.testing.assert_allclose(singles, whole, rtol=0, atol=1e-6, equal_nan=True)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_state_dict_survives_json_mid_stream(name: str) -> None:
    x = signal_with_gaps(5, 900, 2, 1)
    whole = FACTORIES[name]().process(x)
    first = FACTORIES[name]()
    head = first.process(x[:333])
    state = json.loads(json.dumps(first.state_dict()))
    second = FACTORIES[name]()
    second.load_state_dict(state)
    tail = second.process(x[333:])
    np.testing.assert_allclose(np.concatenate([head, tail]), whole, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_reset_starts_a_new_signal(name: str) -> None:
    x = signal_with_gaps(7, 500, 1, 0)
    filt = FACTORIES[name]()
    first = filt.process(x)
    filt.process(x[::-1] * 3)
    filt.reset()
    np.testing.assert_array_equal(filt.process(x), first)


def test_state_dict_rejects_another_filter() -> None:
    state = NotchFilter(FS, 50.0).state_dict()
    with pytest.raises(InputError, match="type"):
        BandpassFilter(FS).load_state_dict(state)
    with pytest.raises(InputError, match="config"):
        NotchFilter(FS, 60.0).load_state_dict(state)
    filt = MovingAverage(5)
    filt.process(np.ones((10, 2)))
    bad = filt.state_dict()
    bad["_buf"] = bad["_buf"][:-1]
    with pytest.raises(InputError, match="_buf"):
        MovingAverage(5).load_state_dict(bad)


def test_shapes_dtypes_and_bad_input() -> None:
    filt = BandpassFilter(FS)
    assert filt.process(np.zeros(0)).shape == (0,)
    assert filt.process(np.zeros((0, 2))).shape == (0, 2)
    out = filt.process(np.ones(10, dtype=np.float32))
    assert out.dtype == np.float64 and out.shape == (10,)
    with pytest.raises(InputError, match="leads"):
        filt.process(np.ones((5, 2)))
    with pytest.raises(InputError, match="3-D"):
        BandpassFilter(FS).process(np.ones((2, 2, 2)))
    with pytest.raises(InputError, match="high"):
        BandpassFilter(100.0, 0.5, 60.0)
    with pytest.raises(InputError, match="fs"):
        BandpassFilter(0.0)
    with pytest.raises(InputError, match="numtaps"):
        FIRBandpassFilter(FS, numtaps=30)
    with pytest.raises(InputError, match="width"):
        MovingAverage(0)
    with pytest.raises(InputError, match="freq"):
        NotchFilter(100.0, 60.0)


def test_functions_equal_their_classes() -> None:
    x, _ = synthetic_ecg(FS, 6.0)
    np.testing.assert_array_equal(bandpass(x, FS), BandpassFilter(FS).process(x))
    np.testing.assert_array_equal(notch(x, FS, 60.0), NotchFilter(FS, 60.0).process(x))
    np.testing.assert_array_equal(remove_baseline(x, FS), BaselineFilter(FS).process(x))
    np.testing.assert_array_equal(fir_bandpass(x, FS), FIRBandpassFilter(FS).process(x))
    np.testing.assert_array_equal(moving_average(x, 9), MovingAverage(9).process(x))
    np.testing.assert_array_equal(clean_ecg(x, FS, notch=50.0), ECGCleaner(FS, notch=50).process(x))


def test_iir_equals_scipy_sosfilt_with_steady_start() -> None:
    x = signal_with_gaps(11, 3000, 2, 0) + 5.0
    for filt in (BandpassFilter(FS, order=4), NotchFilter(FS, 60.0), ECGCleaner(FS, notch=50)):
        zi = sps.sosfilt_zi(filt.sos)[:, :, None] * x[0][None, None, :]
        expected, _ = sps.sosfilt(filt.sos, x, axis=0, zi=zi)
        np.testing.assert_allclose(filt.process(x), expected, rtol=0, atol=1e-12)


def test_fir_and_moving_average_equal_direct_convolution() -> None:
    x = signal_with_gaps(13, 5000, 1, 0)[:, 0]
    for width in (1, 2, 25):
        padded = np.concatenate([np.full(width - 1, x[0]), x])
        expected = np.convolve(padded, np.full(width, 1.0 / width), mode="valid")
        np.testing.assert_allclose(moving_average(x, width), expected, atol=1e-12)
    fir = FIRBandpassFilter(FS)
    padded = np.concatenate([np.full(fir.numtaps - 1, x[0]), x])
    expected = sps.lfilter(fir.taps, np.ones(1), padded)[fir.numtaps - 1 :]
    np.testing.assert_allclose(fir.process(x), expected, atol=1e-12)


def test_fir_fft_path_equals_direct_path() -> None:
    x = signal_with_gaps(17, 40_000, 1, 2)
    whole = FIRBandpassFilter(FS, numtaps=251).process(x)  # large: FFT convolution
    chunked = run_chunked(FIRBandpassFilter(FS, numtaps=251), x, [250])  # small: direct
    np.testing.assert_allclose(chunked, whole, rtol=0, atol=1e-9, equal_nan=True)


def test_moving_average_does_not_drift_over_a_long_signal() -> None:
    rng = np.random.default_rng(0)
    x = 1000.0 + rng.standard_normal(1_000_003)
    out = MovingAverage(37).process(x)
    tail = x[-37:].mean()
    assert abs(out[-1] - tail) < 1e-9


def test_missing_samples_give_nan_only_there_and_state_recovers() -> None:
    t = np.arange(int(20 * FS)) / FS
    clean = np.sin(2 * np.pi * 10 * t) + 0.5
    gappy = clean.copy()
    gap = slice(int(5 * FS), int(5.4 * FS))
    gappy[gap] = np.nan
    for make in FACTORIES.values():
        out, reference = make().process(gappy), make().process(clean)
        assert np.isnan(out[gap]).all()
        assert np.isfinite(np.delete(out, np.r_[gap])).all()
        # The state never holds a NaN and forgets the gap: 10 s later the output is the
        # gap-free output again.
        late = t > 15
        np.testing.assert_allclose(out[late], reference[late], atol=1e-3)


def test_leading_missing_samples_start_the_state_at_the_first_value() -> None:
    x = np.full(1000, 2.0)
    x[:50] = np.nan
    out = BaselineFilter(FS).process(x)
    assert np.isnan(out[:50]).all()
    np.testing.assert_allclose(out[50:], 0.0, atol=1e-12)  # steady start: no transient
    x2 = np.column_stack([x, np.full(1000, -1.0)])
    out2 = ECGCleaner(FS).process(x2)
    np.testing.assert_allclose(out2[50:, 0], 0.0, atol=1e-12)
    np.testing.assert_allclose(out2[:, 1], 0.0, atol=1e-12)


def test_infinite_values_count_as_missing() -> None:
    x = np.ones(100)
    x[10] = np.inf
    x[20] = -np.inf
    out = BandpassFilter(FS).process(x)
    assert np.isnan(out[[10, 20]]).all()
    assert np.isfinite(np.delete(out, [10, 20])).all()


def gain_db(filt: StreamFilter, freq: float, fs: float = FS, seconds: float = 20.0) -> float:
    """Measured gain of the streaming filter on a sine, after the start-up transient."""
    t = np.arange(int(seconds * fs)) / fs
    y = filt.process(np.sin(2 * np.pi * freq * t))
    settled = y[len(y) // 2 :]
    return float(20 * np.log10(np.sqrt(2) * np.std(settled)))


@pytest.mark.parametrize("mains", [50.0, 60.0])
def test_notch_removes_mains_and_passes_the_ecg_band(mains: float) -> None:
    assert gain_db(NotchFilter(FS, mains), mains) < -30
    for freq in (1.0, 10.0, 25.0):
        assert abs(gain_db(NotchFilter(FS, mains), freq)) < 0.2


def test_bandpass_baseline_and_fir_responses() -> None:
    assert abs(gain_db(BandpassFilter(FS), 10.0)) < 0.2
    assert gain_db(BandpassFilter(FS), 0.05, seconds=400) < -20
    assert gain_db(BandpassFilter(FS, order=4), 100.0) < -25
    assert gain_db(BaselineFilter(FS), 0.05, seconds=400) < -30
    assert abs(gain_db(BaselineFilter(FS), 5.0)) < 0.1
    assert abs(gain_db(FIRBandpassFilter(FS), 10.0)) < 0.1
    assert gain_db(FIRBandpassFilter(FS), 80.0) < -40
    cleaner = ECGCleaner(FS, notch=50.0)
    freqs = np.array([0.05, 10.0, 50.0, 100.0])
    gains = 20 * np.log10(cleaner.frequency_response(freqs))
    assert gains[0] < -30 and abs(gains[1]) < 0.2 and gains[2] < -40 and gains[3] < -15


def test_cleaner_at_low_sampling_rate_drops_the_lowpass() -> None:
    cleaner = ECGCleaner(64.0)
    assert cleaner.high is None
    assert abs(gain_db(cleaner, 10.0, fs=64.0)) < 0.2


def test_linear_phase_delays_are_exact() -> None:
    impulse = np.zeros(600)
    impulse[100] = 1.0
    fir = FIRBandpassFilter(FS, numtaps=101)
    assert int(np.argmax(fir.process(impulse))) == 100 + fir.delay_samples == 150
    ma = MovingAverage(9)
    assert ma.delay_samples == 4
    t = np.arange(2000, dtype=np.float64)
    np.testing.assert_allclose(ma.process(t)[100:], t[100:] - 4)


def test_iir_delay_is_the_group_delay_at_10_hz() -> None:
    # A 10 Hz wave packet: its envelope is delayed by the group delay at 10 Hz.
    t = np.arange(int(20 * FS)) / FS
    packet = np.exp(-0.5 * ((t - 10.0) / 0.3) ** 2) * np.sin(2 * np.pi * 10.0 * t)
    for filt in (BandpassFilter(FS, order=4), ECGCleaner(FS, notch=50), NotchFilter(FS, 50)):
        envelope_in = np.abs(sps.hilbert(packet))
        envelope_out = np.abs(sps.hilbert(filt.process(packet)))
        shift = np.sum(t * envelope_out) / np.sum(envelope_out) - np.sum(t * envelope_in) / np.sum(
            envelope_in
        )
        assert abs(shift * FS - filt.delay_samples) < 0.3
    assert 1 < BandpassFilter(FS, order=4).delay_samples < 10


def test_cleaner_keeps_the_qrs_of_an_ecg() -> None:
    x, rpeaks = synthetic_ecg(FS, 10.0)
    x = x + 1.5 + 0.8 * np.sin(2 * np.pi * 0.15 * np.arange(x.size) / FS)
    cleaned = ECGCleaner(FS, notch=50.0).process(x)
    delay = round(ECGCleaner(FS).delay_samples)
    peaks = rpeaks[(rpeaks > 500) & (rpeaks < x.size - 20)]
    # R waves stay the dominant, positive deflections and the baseline is gone.
    assert np.all(cleaned[peaks + delay] > 0.6)
    assert abs(np.median(cleaned[500:])) < 0.05
