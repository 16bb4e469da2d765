"""A live ECG simulator whose rhythm can be switched while it runs.

Modes
    ``nsr``
        Sinus rhythm at ``hr_bpm`` with respiratory and Mayer-wave variability.
    ``rate``
        Sinus rhythm whose rate ramps to ``hr_bpm`` over ``ramp_s`` (10 s).
    ``af``
        Atrial fibrillation: real recordings spliced in (``real_af=True``, the default), or
        synthetic (irregular RR of mean ``hr_bpm`` and CV ``cv``, no P waves, f waves).
    ``noise``
        The rhythm of the moment plus NSTDB noise at ``snr_db`` (0 dB); synthetic noise
        when NSTDB is not found.
    ``leadoff``
        An unplugged electrode: exactly 0 mV; on leaving it a step of ``step_mv`` (1.5 mV)
        decays over a second or two before the rhythm shows again.

The signal is made in blocks of 0.25 s on a fixed grid, and a mode change waits for the next
block, then for the next beat boundary of the rhythm that plays. What comes out therefore
depends only on the seed and on the sample indices at which modes were set, never on how
the samples are read. Changes between synthetic rhythms reshape the beats not yet begun;
changes to or from real AF cross-fade over 0.2 s at quiet points between beats.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from cardiostream.errors import InputError
from cardiostream.sim.ecgsyn import NORMAL
from cardiostream.sim.noise import NoiseSource
from cardiostream.sim.real_af import FADE_S, RealAF
from cardiostream.sim.rr import HeartRate
from cardiostream.sim.synthetic import AfSettings, SyntheticRhythm

Float32Array = npt.NDArray[np.float32]
Float64Array = npt.NDArray[np.float64]

MODES = ("nsr", "rate", "af", "noise", "leadoff")
#: The parameters each mode takes, with their accepted ranges (None: a bool).
PARAMS: dict[str, dict[str, tuple[float, float] | None]] = {
    "nsr": {"hr_bpm": (20, 250)},
    "rate": {"hr_bpm": (20, 250), "ramp_s": (0, 300)},
    "af": {"real_af": None, "hr_bpm": (20, 250), "cv": (0, 0.6), "f_amplitude_mv": (0, 0.5)},
    # A sinus rate with these sets the rhythm under the noise, or the one after lead-off.
    "noise": {"snr_db": (-20, 60), "hr_bpm": (20, 250)},
    "leadoff": {"step_mv": (0, 5), "hr_bpm": (20, 250)},
}
#: Seconds per block of the fixed grid the signal is made on (see the module notes).
BLOCK_S = 0.25
NOISE_FADE_S = 0.5
STEP_TAU_S = 0.5


class _Rhythm(Protocol):
    @property
    def label(self) -> str: ...

    def render(self, a: int, b: int) -> Float64Array: ...

    def stop(self, a: int) -> int: ...


class _Flat:
    """Lead off: nothing at all."""

    label = "leadoff"

    def render(self, a: int, b: int) -> Float64Array:
        return np.zeros(b - a)

    def stop(self, a: int) -> int:
        return a


@dataclass
class _Handover:
    """The rhythm being left: it plays until ``at``, then fades out over ``fade`` samples."""

    source: _Rhythm
    at: int
    fade: int


def check_fs(fs: float) -> float:
    """A sampling rate of 50 to 2000 Hz, or InputError."""
    if isinstance(fs, bool) or not isinstance(fs, int | float) or not 50 <= fs <= 2000:
        raise InputError(f"fs: expected 50 to 2000 Hz, got {fs!r}")
    return float(fs)


def check_params(mode: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters of a mode, checked (see :data:`PARAMS`)."""
    if mode not in PARAMS:
        raise InputError(f"mode: expected one of {', '.join(MODES)}, got {mode!r}")
    allowed = PARAMS[mode]
    out: dict[str, Any] = {}
    for key, value in params.items():
        if key not in allowed:
            names = ", ".join(allowed) or "none"
            raise InputError(f"{key}: not a parameter of mode {mode} (it takes {names})")
        bounds = allowed[key]
        if bounds is None:
            if not isinstance(value, bool):
                raise InputError(f"{key}: expected true or false, got {value!r}")
            out[key] = value
            continue
        lo, hi = bounds
        if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
            raise InputError(f"{key}: expected {lo:g} to {hi:g}, got {value!r}")
        out[key] = float(value)
    return out


class Simulator:
    """A synthetic live ECG source, one lead in mV (see the module notes).

    Parameters
    ----------
    fs : float
        Sampling rate, 50 to 2000 Hz.
    mode : str
        The mode to start in (one of :data:`MODES`).
    hr_bpm : float
        Sinus rate, 20 to 250 bpm.
    seed : int
        Seed of everything random.
    noise_dir : path, optional
        NSTDB folder for ``noise`` mode (default: ``$CARDIOSTREAM_DATA/nstdb``, then
        ``../shared/data/nstdb``; synthetic noise when neither exists).
    real_af : bool
        Whether ``af`` plays real recordings when :meth:`set_mode` does not say.
    **params
        Parameters of ``mode`` (see :meth:`set_mode`).

    Examples
    --------
    >>> sim = Simulator(fs=250, hr_bpm=60)
    >>> x = sim.read(2500)
    >>> sim.set_mode("af")  # real AF recordings from the next beat boundary
    >>> x.dtype, x.shape
    (dtype('float32'), (2500,))
    """

    leads: tuple[str, ...] = ("II",)

    def __init__(
        self,
        fs: float = 250.0,
        mode: str = "nsr",
        hr_bpm: float = 70.0,
        seed: int = 0,
        noise_dir: str | Path | None = None,
        real_af: bool = True,
        **params: Any,
    ) -> None:
        self.fs = check_fs(fs)
        if not isinstance(real_af, bool):
            raise InputError(f"real_af: expected true or false, got {real_af!r}")
        self.real_af = real_af
        hr = check_params("nsr", {"hr_bpm": hr_bpm})["hr_bpm"]
        self._seeds = np.random.SeedSequence(seed)
        self._block = max(round(BLOCK_S * self.fs), 1)
        self._rate = HeartRate.constant(hr)
        self._af = AfSettings()
        self._rhythm = "sinus"  # what plays, or comes back after lead-off
        self._noise = NoiseSource(self.fs, self._rng(), noise_dir)
        self._noise_fade = (0.0, 0.0, -1.0)  # time, gain then, direction
        self._snr_db = 0.0
        self._step_mv = 1.5
        self._step: tuple[int, float] | None = None
        self._step_rng = self._rng()
        self._baseline_phase = float(self._rng().uniform(0, 2 * np.pi))
        self._real: RealAF | None = None
        self._cur: _Rhythm | None = None
        self._from: _Handover | None = None
        self._busy_until = 0
        self._requests: deque[tuple[str, dict[str, Any]]] = deque()
        self._generated = 0
        self._buffer: Float32Array = np.zeros(0, np.float32)
        self.samples = 0
        self._mode = mode
        self.set_mode(mode, **params)

    def _rng(self) -> np.random.Generator:
        return np.random.default_rng(self._seeds.spawn(1)[0])

    @property
    def mode(self) -> str:
        """The mode last set (it takes effect at the next beat boundary)."""
        return self._mode

    @property
    def noise_source(self) -> str:
        """Where ``noise`` mode's noise comes from (NSTDB records, or synthetic)."""
        return self._noise.description

    def set_mode(self, mode: str, **params: Any) -> None:
        """Switch mode from the next beat boundary on.

        Parameters
        ----------
        mode : str
            ``nsr``, ``rate``, ``af``, ``noise`` or ``leadoff``.
        **params
            ``nsr``: ``hr_bpm``. ``rate``: ``hr_bpm`` (the target; default 130, or 70 from
            a rate of 100 or more), ``ramp_s`` (10). ``af``: ``real_af`` (default
            :attr:`real_af`), ``hr_bpm`` (100), ``cv`` (0.25), ``f_amplitude_mv`` (0.1), the
            last three for synthetic AF.
            ``noise``: ``snr_db`` (0). ``leadoff``: ``step_mv`` (1.5). ``noise`` and
            ``leadoff`` also take ``hr_bpm``, the sinus rate underneath or after.

        Raises
        ------
        InputError
            For an unknown mode, or a parameter that is unknown or out of range.
        """
        checked = check_params(mode, params)
        self._mode = mode
        self._requests.append((mode, checked))

    def describe(self) -> dict[str, Any]:
        """The state for a status line: mode, rhythm playing, heart rate, rate, samples."""
        label = "starting" if self._cur is None else self._cur.label
        t = self.samples / self.fs
        hr: float | None = None
        if label == "sinus":
            hr = self._rate.at(t)
        elif label == "af":
            hr = self._af.hr_bpm
        elif label == "af_real" and self._real is not None:
            hr = self._real.loop.hr_bpm
        doc: dict[str, Any] = {"mode": self._mode, "rhythm": label,
                               "hr_bpm": None if hr is None else round(hr, 1), "fs": self.fs,
                               "samples": self.samples}  # fmt: skip
        if self._noise_fade[2] > 0:
            doc["noise"] = {"snr_db": self._snr_db, "source": self.noise_source}
        return doc

    def read(self, n: int) -> Float32Array:
        """The next ``n`` samples in mV, continuing the last call.

        Raises
        ------
        InputError
            When ``n`` is negative.
        """
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise InputError(f"n: expected a number of samples, got {n!r}")
        parts = [self._buffer]
        have = len(self._buffer)
        while have < n:
            block = self._make_block(self._generated, self._generated + self._block)
            self._generated += self._block
            parts.append(block)
            have += len(block)
        x = np.concatenate(parts) if len(parts) > 1 else self._buffer
        self._buffer = x[n:]
        self.samples += int(n)
        out: Float32Array = x[:n].copy()
        return out

    # --- the signal, block by block ---------------------------------------------------------

    def _make_block(self, a: int, b: int) -> Float32Array:
        while self._requests and a >= self._busy_until:
            mode, params = self._requests.popleft()
            self._apply(a, mode, params)
        assert self._cur is not None
        out = np.zeros(b - a)
        handover = self._from
        start = a
        if handover is not None:
            end = handover.at + handover.fade
            if min(b, end) > a:
                w = 1.0 - self._ramp(a, min(b, end), handover)
                out[: min(b, end) - a] += w * handover.source.render(a, min(b, end))
            if b >= end:
                self._from = None
            start = max(a, handover.at)
        if b > start:
            out[start - a :] += self._ramp(start, b, handover) * self._cur.render(start, b)
        self._add_noise(out, a, b)
        self._add_step(out, a, b)
        if isinstance(self._cur, _Flat):
            out[start - a :] = 0.0  # exactly flat, noise and all
        return out.astype(np.float32)

    @staticmethod
    def _ramp(a: int, b: int, handover: _Handover | None) -> Float64Array:
        # The incoming source's weight: 0 before the handover, rising over the fade.
        i = np.arange(a, b, dtype=np.float64)
        if handover is None:
            return np.ones(b - a)
        if handover.fade == 0:
            return (i >= handover.at).astype(np.float64)
        ramp: Float64Array = np.clip((i - handover.at + 0.5) / handover.fade, 0.0, 1.0)
        return ramp

    def _add_noise(self, out: Float64Array, a: int, b: int) -> None:
        t0, g0, direction = self._noise_fade
        t = np.arange(a, b) / self.fs
        gain = np.clip(g0 + direction * (t - t0) / NOISE_FADE_S, 0.0, 1.0)
        if gain.any():
            # NSTDB's convention: signal power = (QRS peak-to-peak)^2 / 8.
            rms = NORMAL.qrs_peak_to_peak_mv / math.sqrt(8) * 10 ** (-self._snr_db / 20)
            out += rms * gain * self._noise.render(a, b)

    def _add_step(self, out: Float64Array, a: int, b: int) -> None:
        if self._step is None:
            return
        at, height = self._step
        tau = STEP_TAU_S * self.fs
        i = np.arange(max(a, at), b)
        out[i - a] += height * np.exp(-(i - at) / tau)
        if a > at + 15 * tau:
            self._step = None

    def _set_noise(self, a: int, on: bool) -> None:
        t0, g0, direction = self._noise_fade
        t = a / self.fs
        g_now = float(np.clip(g0 + direction * (t - t0) / NOISE_FADE_S, 0.0, 1.0))
        self._noise_fade = (t, g_now, 1.0 if on else -1.0)

    def _apply(self, a: int, mode: str, params: dict[str, Any]) -> None:
        if "hr_bpm" in params and mode in ("nsr", "noise", "leadoff"):
            self._rate = HeartRate.constant(params["hr_bpm"])
        if mode == "noise":
            self._snr_db = params.get("snr_db", self._snr_db)
            self._set_noise(a, True)
            self._switch(a, self._rhythm)  # leaves lead-off, if there
            return
        self._set_noise(a, False)
        if mode == "leadoff":
            self._step_mv = params.get("step_mv", self._step_mv)
            self._switch(a, "leadoff")
            return
        t = a / self.fs
        if mode == "nsr":
            self._rhythm = "sinus"
        elif mode == "rate":
            now = self._rate.at(t)
            target = params.get("hr_bpm", 130.0 if self._rate.to_bpm < 100 else 70.0)
            self._rate = HeartRate(t, now, target, params.get("ramp_s", 10.0))
            self._rhythm = "sinus"
        else:
            self._af = AfSettings(
                params.get("hr_bpm", self._af.hr_bpm),
                params.get("cv", self._af.cv),
                params.get("f_amplitude_mv", self._af.f_amplitude_mv),
            )
            self._rhythm = "af_real" if params.get("real_af", self.real_af) else "af"
        self._switch(a, self._rhythm)

    def _switch(self, a: int, target: str) -> None:
        cur = self._cur
        af = self._af if target == "af" else None
        if isinstance(cur, SyntheticRhythm) and target in ("sinus", "af"):
            cur.set_rhythm(a, self._rate, af)
            return
        if cur is not None and cur.label == target:
            return
        at = a if cur is None else cur.stop(a)
        fade = 0 if cur is None or "leadoff" in (cur.label, target) else round(FADE_S * self.fs)
        if isinstance(cur, _Flat):
            sign = 1.0 if self._step_rng.random() < 0.5 else -1.0
            self._step = (at, sign * self._step_mv)
        new: _Rhythm
        if target == "leadoff":
            new = _Flat()
        elif target == "af_real":
            if self._real is None:
                self._real = RealAF(self.fs, self._rng())
            self._real.start(at)
            new = self._real
        else:
            new = SyntheticRhythm(self.fs, self._rng(), at, self._rate, af, self._baseline_phase)
        if cur is not None:
            self._from = _Handover(cur, at, fade)
        self._cur = new
        self._busy_until = at + fade
