"""Noise for the simulator: real recordings from the MIT-BIH Noise Stress Test Database
(NSTDB), or a synthetic stand-in where the database is absent.

The NSTDB noise records (``ma`` muscle artefact, ``em`` electrode motion, ``bw`` baseline
wander; 360 Hz, WFDB) are resampled, each scaled to unit RMS and summed with equal power, into
one loop with a one-second cross-fade at its seam. The synthetic stand-in has the same three
parts: band-limited noise 20-100 Hz, 1-10 Hz noise in bursts, and slow sinusoids. SNR follows
the NSTDB convention: the signal power is the QRS peak-to-peak amplitude squared over 8.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy import signal as sps

from cardiostream.errors import InputError

Float64Array = npt.NDArray[np.float64]

NSTDB_RECORDS = ("ma", "em", "bw")
#: Seconds of each noise record used (the start of it; each record is 30 minutes).
USE_S = 600.0


def default_nstdb_dirs() -> list[Path]:
    """Where NSTDB is looked for: ``$CARDIOSTREAM_DATA/nstdb``, then ``../shared/data/nstdb``."""
    dirs = []
    env = os.environ.get("CARDIOSTREAM_DATA")
    if env:
        dirs.append(Path(env) / "nstdb")
    dirs.append(Path("..") / "shared" / "data" / "nstdb")
    return dirs


def find_nstdb(noise_dir: str | Path | None = None) -> Path | None:
    """The NSTDB folder to use, or None when there is none.

    Raises
    ------
    InputError
        When ``noise_dir`` is given but holds none of the noise records.
    """
    if noise_dir is not None:
        path = Path(noise_dir)
        if not any((path / f"{name}.hea").is_file() for name in NSTDB_RECORDS):
            raise InputError(f"noise_dir: {path} holds none of the NSTDB records ma, em, bw")
        return path
    for path in default_nstdb_dirs():
        if any((path / f"{name}.hea").is_file() for name in NSTDB_RECORDS):
            return path
    return None


def _unit(x: Float64Array) -> Float64Array:
    x = x - x.mean()
    rms = float(np.sqrt(np.mean(x**2)))
    return x / rms if rms > 0 else x


def _seamless(x: Float64Array, fade: int) -> Float64Array:
    # The last `fade` samples blend into the first ones, so the loop has no seam.
    w = (np.arange(fade) + 0.5) / fade
    y = x[:-fade].copy()
    y[:fade] = (1 - w) * x[-fade:] + w * x[:fade]
    return y


@lru_cache(maxsize=4)
def nstdb_loop(folder: str, fs: float) -> tuple[Float64Array, tuple[str, ...]]:
    """Unit-RMS NSTDB noise at ``fs`` and the names of the records in it (cached)."""
    from cardiostream.dsp.resample import resample
    from cardiostream.io import read

    parts, names = [], []
    for name in NSTDB_RECORDS:
        header = Path(folder) / f"{name}.hea"
        if not header.is_file():
            continue
        rec = read(header)
        x = np.nan_to_num(rec.lead(0)[: round(USE_S * rec.fs)].astype(np.float64))
        parts.append(_unit(resample(x, rec.fs, fs)))
        names.append(name)
    n = min(len(p) for p in parts)
    mix = _unit(np.sum([p[:n] for p in parts], axis=0))
    loop = _seamless(mix, round(fs))
    loop.setflags(write=False)
    return loop, tuple(names)


@lru_cache(maxsize=4)
def synthetic_loop(fs: float, seconds: float = 60.0) -> Float64Array:
    """Unit-RMS synthetic noise at ``fs``: muscle-like, motion-like and baseline wander."""
    rng = np.random.default_rng(2017)
    n = round(seconds * fs)
    nyq = fs / 2
    muscle = sps.sosfiltfilt(
        sps.butter(4, [20.0, min(100.0, 0.45 * fs)], "bandpass", fs=fs, output="sos"),
        rng.standard_normal(n),
    )
    motion = sps.sosfiltfilt(
        sps.butter(2, [1.0, min(10.0, 0.9 * nyq)], "bandpass", fs=fs, output="sos"),
        rng.standard_normal(n),
    )
    # Electrode motion comes in bursts: a slow envelope switches it on and off.
    t = np.arange(n) / fs
    envelope = np.clip(np.sin(2 * np.pi * 0.07 * t + rng.uniform(0, 6.3)) + 0.3, 0, None)
    wander = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) for f in (0.13, 0.27, 0.41))
    mix = _unit(_unit(muscle) + _unit(motion * envelope) + _unit(np.asarray(wander)))
    loop = _seamless(mix, round(fs))
    loop.setflags(write=False)
    return loop


class NoiseSource:
    """Unit-RMS noise as a function of the sample index, loaded on first use.

    Parameters
    ----------
    fs : float
        Sampling rate.
    rng : numpy.random.Generator
        Chooses where in the loop the noise starts.
    noise_dir : path, optional
        The NSTDB folder (default: :func:`default_nstdb_dirs`; synthetic noise when absent).
    """

    def __init__(self, fs: float, rng: np.random.Generator, noise_dir: str | Path | None) -> None:
        self.fs = fs
        self.folder = find_nstdb(noise_dir)
        self.offset = int(rng.integers(2**31))
        self._loop: Float64Array | None = None
        self._names: tuple[str, ...] = ()

    @property
    def description(self) -> str:
        """Where the noise comes from, for status lines."""
        if self.folder is None:
            return "synthetic (NSTDB not found)"
        if not self._names:
            self._load()
        return f"NSTDB {'+'.join(self._names)} ({self.folder})"

    def _load(self) -> Float64Array:
        if self._loop is None:
            if self.folder is None:
                self._loop = synthetic_loop(self.fs)
            else:
                self._loop, self._names = nstdb_loop(str(self.folder), self.fs)
        return self._loop

    def render(self, a: int, b: int) -> Float64Array:
        """Samples ``a`` to ``b - 1`` of unit-RMS noise."""
        loop = self._load()
        out: Float64Array = loop[(self.offset + np.arange(a, b)) % len(loop)]
        return out
