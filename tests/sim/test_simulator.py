"""The simulator: rates, irregularity, modes, switching, and exactness under any chunking."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cardiostream.beats import detect_rpeaks
from cardiostream.errors import InputError
from cardiostream.sim.ecgsyn import NORMAL
from cardiostream.sim.real_af import af_loop
from cardiostream.sim.simulator import Simulator
from tests.conftest import shared_data_dir

FS = 250.0
Switches = list[tuple[int, str, dict[str, Any]]]


def _play(sim: Simulator, n: int, switches: Switches, sizes: np.random.Generator | None) -> Any:
    """Read ``n`` samples, setting modes at the given sample indices, in chunks of random
    sizes (or all at once between switches)."""
    out, pos = [], 0
    pending = sorted(switches)
    while pos < n:
        stop = pending[0][0] if pending else n
        k = stop - pos if sizes is None else min(int(sizes.integers(1, 700)), stop - pos)
        if k:
            out.append(sim.read(k))
            pos += k
        while pending and pending[0][0] == pos:
            _, mode, params = pending.pop(0)
            sim.set_mode(mode, **params)
    return np.concatenate(out)


def _rr(x: np.ndarray, fs: float = FS) -> np.ndarray:
    return np.diff(detect_rpeaks(x, fs)) / fs


@pytest.mark.parametrize("hr", [60.0, 120.0])
def test_nsr_beats_at_the_chosen_rate(hr: float) -> None:
    x = Simulator(FS, "nsr", hr_bpm=hr).read(round(60 * FS))
    measured = 60 / np.mean(_rr(x))
    assert abs(measured - hr) / hr < 0.03, measured


def test_af_is_irregular_and_nsr_is_not() -> None:
    nsr = _rr(Simulator(FS, "nsr", hr_bpm=70).read(round(60 * FS)))
    af = _rr(Simulator(FS, "af", real_af=False).read(round(60 * FS)))
    real = _rr(Simulator(FS, "af").read(round(60 * FS)))
    assert np.std(nsr) / np.mean(nsr) < 0.08
    assert np.std(af) / np.mean(af) > 0.15
    assert np.std(real) / np.mean(real) > 0.15
    assert 85 < 60 / np.mean(af) < 115  # synthetic AF's mean rate, 100 bpm by default


def test_rate_ramps_to_its_target() -> None:
    sim = Simulator(FS, "nsr", hr_bpm=60)
    sim.read(round(10 * FS))
    sim.set_mode("rate", hr_bpm=120, ramp_s=10)
    x = sim.read(round(40 * FS))
    peaks = detect_rpeaks(x, FS)
    late = np.diff(peaks[peaks > 20 * FS]) / FS
    assert abs(60 / np.mean(late) - 120) < 4
    assert sim.describe()["hr_bpm"] == 120


def test_chunking_does_not_change_the_output() -> None:
    one = Simulator(FS, seed=7).read(10_000)
    many = _play(Simulator(FS, seed=7), 10_000, [], np.random.default_rng(1))
    np.testing.assert_array_equal(one, many)
    assert one.dtype == np.float32


def test_chunking_does_not_change_the_output_across_mode_switches() -> None:
    switches: Switches = [
        (1500, "af", {"real_af": False}),
        (3100, "af", {}),
        (4700, "leadoff", {}),
        (5600, "noise", {"snr_db": 6}),
        (7000, "rate", {"hr_bpm": 140}),
        (8800, "nsr", {"hr_bpm": 55}),
    ]
    whole = _play(Simulator(FS, seed=3), 10_000, switches, None)
    pieces = _play(Simulator(FS, seed=3), 10_000, switches, np.random.default_rng(2))
    np.testing.assert_array_equal(whole, pieces)
    other_seed = _play(Simulator(FS, seed=4), 10_000, switches, None)
    assert not np.array_equal(whole, other_seed)


def test_switching_nsr_to_synthetic_af_makes_no_jump() -> None:
    switch = round(10 * FS)
    x = _play(Simulator(FS, hr_bpm=70), round(20 * FS), [(switch, "af", {"real_af": False})], None)
    jumps = np.abs(np.diff(x))
    assert jumps.max() < 0.5
    assert jumps[switch - 250 : switch + 500].max() < 0.5
    # Beats after the switch have no P wave, so the rhythm did change.
    assert np.std(_rr(x[switch + 500 :])) / np.mean(_rr(x[switch + 500 :])) > 0.1


def test_switching_to_real_af_and_back_joins_smoothly() -> None:
    n = round(40 * FS)
    x = _play(Simulator(FS), n, [(2500, "af", {}), (6000, "nsr", {})], None)
    # The joins are no steeper than the recordings themselves, and far from a step.
    assert np.abs(np.diff(x)).max() <= np.abs(np.diff(af_loop(FS).signal)).max() + 1e-6
    sim = Simulator(FS)
    sim.read(2500)
    sim.set_mode("af")
    sim.read(2000)
    assert sim.describe()["rhythm"] == "af_real"


def test_leadoff_is_exactly_flat_then_a_step_decays() -> None:
    sim = Simulator(FS, hr_bpm=70, seed=1)
    before = sim.read(round(5 * FS))
    sim.set_mode("leadoff")
    off = sim.read(round(5 * FS))
    sim.set_mode("nsr")
    after = sim.read(round(5 * FS))
    flat = np.flatnonzero(off == 0.0)
    assert len(flat) > 4 * FS
    assert np.all(off[flat[0] :] == 0.0)  # from the boundary on: exactly flat
    assert flat[0] < 1.2 * FS  # and it came at the next beat boundary
    assert abs(off[flat[0] - 1]) < 0.15  # a quiet point, no jump into it
    first = np.flatnonzero(after != 0.0)[0]
    step = after[first]
    assert 1.0 <= abs(step) <= 2.0
    # It decays: after 2 s the offset is under a tenth of the step.
    late = after[first + round(2 * FS) : first + round(3 * FS)]
    assert abs(np.median(late)) < abs(step) / 10
    assert np.abs(np.diff(before)).max() < 0.5


def test_noise_mode_adds_noise_at_the_chosen_snr(tmp_path: Path, monkeypatch: Any) -> None:
    # No NSTDB where the simulator looks: it says so and uses synthetic noise.
    monkeypatch.setenv("CARDIOSTREAM_DATA", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    clean = Simulator(FS, "nsr", seed=5).read(round(30 * FS))
    sim = Simulator(FS, "noise", seed=5)
    noisy = sim.read(round(30 * FS))
    assert "synthetic" in sim.noise_source
    assert "synthetic" in sim.describe()["noise"]["source"]
    _check_snr(noisy - clean, 0.0)


def _check_snr(noise: np.ndarray, snr_db: float) -> None:
    expected = NORMAL.qrs_peak_to_peak_mv / np.sqrt(8) * 10 ** (-snr_db / 20)
    rms = np.sqrt(np.mean(noise[round(FS) :].astype(np.float64) ** 2))
    assert expected / 2 < rms < expected * 2, (rms, expected)


@pytest.mark.shared_data
def test_noise_mode_uses_nstdb_when_present() -> None:
    data = shared_data_dir()
    if data is None or not (data / "nstdb" / "ma.hea").is_file():
        pytest.skip("NSTDB not found: set CARDIOSTREAM_DATA or put it at ../shared/data/nstdb")
    clean = Simulator(FS, "nsr", seed=5).read(round(30 * FS))
    sim = Simulator(FS, "noise", seed=5, noise_dir=data / "nstdb", snr_db=6.0)
    noisy = sim.read(round(30 * FS))
    assert "NSTDB" in sim.noise_source and "ma" in sim.noise_source
    _check_snr(noisy - clean, 6.0)
    # Back to nsr: the noise fades out and the clean rhythm is what is left.
    sim.set_mode("nsr")
    sim.read(round(FS))
    later = sim.read(round(5 * FS))
    reference = Simulator(FS, "nsr", seed=5).read(round(36 * FS))[-round(5 * FS) :]
    np.testing.assert_allclose(later, reference, atol=1e-6)


def test_modes_and_parameters_are_checked() -> None:
    with pytest.raises(InputError, match="mode: expected one of nsr"):
        Simulator(FS, "vfib")
    with pytest.raises(InputError, match="fs: expected 50 to 2000"):
        Simulator(fs=20)
    with pytest.raises(InputError, match="hr_bpm: expected 20 to 250"):
        Simulator(FS, hr_bpm=300)
    sim = Simulator(FS)
    with pytest.raises(InputError, match="hr_bpm: expected 20 to 250"):
        sim.set_mode("rate", hr_bpm=10)
    with pytest.raises(InputError, match="snr: not a parameter of mode noise"):
        sim.set_mode("noise", snr=3)
    with pytest.raises(InputError, match="real_af: expected true or false"):
        sim.set_mode("af", real_af="yes")
    with pytest.raises(InputError, match="n: expected a number of samples"):
        sim.read(-1)
    assert sim.mode == "nsr"


def test_describe_reports_mode_rate_and_fs() -> None:
    sim = Simulator(500, "nsr", hr_bpm=64)
    sim.read(100)
    assert sim.describe() == {
        "mode": "nsr",
        "rhythm": "sinus",
        "hr_bpm": 64.0,
        "fs": 500.0,
        "samples": 100,
    }
    sim.set_mode("af", real_af=False, hr_bpm=110)
    assert sim.mode == "af"
    sim.read(1000)
    assert sim.describe()["rhythm"] == "af" and sim.describe()["hr_bpm"] == 110


@pytest.mark.parametrize("fs", [50.0, 1000.0])
def test_extreme_rates_work(fs: float) -> None:
    x = Simulator(fs, hr_bpm=90).read(round(30 * fs))
    assert abs(60 / np.mean(_rr(x, fs)) - 90) < 3
