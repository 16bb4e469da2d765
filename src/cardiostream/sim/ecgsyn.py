"""A synthetic ECG in the ECGSYN family, generated beat by beat.

ECGSYN (McSharry et al. 2003, IEEE Trans. Biomed. Eng. 50:289) moves a point round a limit
cycle; P, Q, R, S and T are Gaussian events at fixed angles of the cycle, each with an
amplitude and a width, and the ECG is the point's height. Integrated over one turn, each
event adds a Gaussian bump. Here that bump is written directly, in time, around each beat's
R peak, and the beat's own RR interval places and widens its P and T waves as ECGSYN does
with the mean rate (angles of P and T scale with ``(HR/60)^(1/4)``, widths with
``(HR/60)^(1/2)``): in time, P and T sit ``RR^(3/4)`` away from R and are ``RR^(1/2)`` wide,
a Bazett-like QT. The QRS is the same at every rate, as it nearly is in life; ECGSYN's
scaling of it makes the QRS implausibly narrow and steep in fast AF. Its width is also 0.07
rad rather than ECGSYN's 0.1 (a 38 ms wide R wave at half height): with 0.1 the shipped model
called a third of the 60 bpm windows uncertain, with 0.07 all normal.

Written this way the signal is an exact function of time: any sampling rate, any chunking,
no ODE step size, and a beat costs five short ``exp`` calls. A change of rhythm takes effect
at a beat boundary with no jump, since the signal is a sum of smooth bumps.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from cardiostream.errors import InputError

Float64Array = npt.NDArray[np.float64]

#: A beat ends this many widths beyond its outer waves' centres (the rest is below 4e-4 of the
#: peak).
SUPPORT_SIGMAS = 4.0


@dataclass(frozen=True)
class Morphology:
    """The five waves of a beat at 60 bpm (RR 1 s), ECGSYN's angles and widths.

    Attributes
    ----------
    angles : tuple of float
        Angle of P, Q, R, S, T on the cycle relative to R, radians (ECGSYN: -70, -15, 0, 15,
        100 degrees).
    amplitudes_mv : tuple of float
        Peak of each wave in mV (R about 1.25 mV, as in a lead II).
    widths : tuple of float
        Gaussian width of each wave in radians of the cycle (ECGSYN: 0.25, 0.1, 0.1, 0.1, 0.4;
        the QRS narrowed here, see the module notes).
    position_exponents, width_exponents : tuple of float
        How each wave's distance from R and its width, in time, scale with RR: 3/4 and 1/2
        for P and T, 0 (no change) for the QRS.
    """

    angles: tuple[float, ...] = (
        math.radians(-70),
        math.radians(-15),
        0.0,
        math.radians(15),
        math.radians(100),
    )
    amplitudes_mv: tuple[float, ...] = (0.15, -0.12, 1.25, -0.30, 0.30)
    widths: tuple[float, ...] = (0.25, 0.07, 0.07, 0.07, 0.4)
    position_exponents: tuple[float, ...] = (0.75, 0.0, 0.0, 0.0, 0.75)
    width_exponents: tuple[float, ...] = (0.5, 0.0, 0.0, 0.0, 0.5)

    def without_p(self) -> Morphology:
        """The same beat with no P wave (atrial fibrillation)."""
        return replace(self, amplitudes_mv=(0.0, *self.amplitudes_mv[1:]))

    @property
    def qrs_peak_to_peak_mv(self) -> float:
        """R amplitude minus S amplitude: the QRS size that SNR figures refer to."""
        return self.amplitudes_mv[2] - self.amplitudes_mv[3]


NORMAL = Morphology()


@dataclass(frozen=True)
class Beat:
    """One scheduled beat: its waves as Gaussians in time.

    Attributes
    ----------
    r_s : float
        Time of the R peak, seconds.
    centres_s, widths_s, amplitudes_mv : ndarray of float64, shape (5,)
        The P, Q, R, S, T waves.
    start_s, end_s : float
        The span the beat contributes to: from its first wave's centre less
        :data:`SUPPORT_SIGMAS` widths to its last wave's centre plus as many.
    """

    r_s: float
    centres_s: Float64Array
    widths_s: Float64Array
    amplitudes_mv: Float64Array
    start_s: float
    end_s: float


def make_beat(r_s: float, rr_s: float, morphology: Morphology = NORMAL, gain: float = 1.0) -> Beat:
    """Place the waves of a beat whose R peak is at ``r_s``, shaped for an RR of ``rr_s``.

    ``gain`` scales every wave (respiration modulates the QRS amplitude a little).
    """
    if not rr_s > 0:
        raise InputError(f"rr_s: must be positive, got {rr_s!r}")
    angles = np.asarray(morphology.angles)
    exponents = np.asarray(morphology.position_exponents)
    offsets = angles / (2 * np.pi) * rr_s**exponents
    widths = (
        np.asarray(morphology.widths) / (2 * np.pi) * rr_s ** np.asarray(morphology.width_exponents)
    )
    amplitudes = np.asarray(morphology.amplitudes_mv) * gain
    centres = r_s + offsets
    start = float(np.min(centres - SUPPORT_SIGMAS * widths))
    end = float(np.max(centres + SUPPORT_SIGMAS * widths))
    return Beat(float(r_s), centres, widths, amplitudes, start, end)


def render_beats(beats: list[Beat], a: int, b: int, fs: float) -> Float64Array:
    """The sum of the beats' waves at samples ``a`` to ``b - 1`` (sample ``i`` at ``i / fs``).

    Each beat adds all five of its waves over its whole span and nothing outside it, so a
    sample's value depends on nothing but its time: not on where a block starts or ends.
    """
    out = np.zeros(max(b - a, 0))
    for beat in beats:
        # Only the samples within the beat's span are evaluated: cheap at any rate.
        lo = max(a, math.ceil(beat.start_s * fs))
        hi = min(b, math.floor(beat.end_s * fs) + 1)
        if hi <= lo:
            continue
        t = np.arange(lo, hi)[:, None] / fs
        z = (t - beat.centres_s) / beat.widths_s
        out[lo - a : hi - a] += np.exp(-0.5 * z * z) @ beat.amplitudes_mv
    return out


#: Makes the next beat: given the previous R time (None for the first), returns the beat.
BeatMaker = Callable[[float | None], Beat]


class BeatTrain:
    """Beats scheduled a little ahead of the signal and rendered on demand.

    Parameters
    ----------
    fs : float
        Sampling rate of :meth:`render`.
    make : BeatMaker
        Called for each new beat, in order.
    """

    def __init__(self, fs: float, make: BeatMaker) -> None:
        self.fs = fs
        self.make = make
        self.beats: list[Beat] = []
        self.last_r_s: float | None = None
        self.stopped = False

    def _schedule_until(self, t_s: float) -> None:
        while not self.stopped and (not self.beats or self.beats[-1].start_s < t_s):
            beat = self.make(self.last_r_s)
            self.beats.append(beat)
            self.last_r_s = beat.r_s

    def discard_from(self, t_s: float) -> float | None:
        """Drop the scheduled beats that start at or after ``t_s`` (none of their samples has
        been rendered); return when the last kept beat ends, or None when none is kept."""
        kept = [beat for beat in self.beats if beat.start_s < t_s]
        self.beats = kept
        self.last_r_s = kept[-1].r_s if kept else self.last_r_s
        if not kept:
            return None
        return kept[-1].end_s

    def render(self, a: int, b: int) -> Float64Array:
        """Samples ``a`` to ``b - 1``; calls must come in order of ``a``."""
        self._schedule_until(b / self.fs)
        out = render_beats(self.beats, a, b, self.fs)
        # Beats wholly in the past are done; the last one is kept for the next RR.
        cut = b / self.fs
        self.beats = [beat for beat in self.beats[:-1] if beat.end_s >= cut] + self.beats[-1:]
        return out


def ecgsyn(
    duration_s: float, fs: float = 250.0, hr_bpm: float = 70.0, seed: int = 0
) -> tuple[Float64Array, Float64Array]:
    """A synthetic sinus-rhythm ECG in one call.

    Parameters
    ----------
    duration_s : float
        Length in seconds.
    fs : float
        Sampling rate in Hz.
    hr_bpm : float
        Mean heart rate.
    seed : int
        Seed of the RR variability.

    Returns
    -------
    signal : ndarray of float64
        The ECG in mV.
    r_times_s : ndarray of float64
        The R peaks inside it, seconds.
    """
    from cardiostream.sim.rr import HeartRate, SinusRR

    rr = SinusRR(np.random.default_rng(seed), HeartRate.constant(hr_bpm))
    first_r = 0.5

    made: list[float] = []

    def make(last: float | None) -> Beat:
        if last is None:
            beat = make_beat(first_r, rr.mean_at(first_r))
        else:
            interval = rr(last)
            beat = make_beat(last + interval, interval)
        made.append(beat.r_s)
        return beat

    train = BeatTrain(fs, make)
    signal = train.render(0, round(duration_s * fs))
    return signal, np.asarray([r for r in made if r < duration_s])
