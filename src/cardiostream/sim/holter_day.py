"""A Holter day with known truth: a long synthetic recording with scripted episodes.

:func:`holter_day` lays out a day (24 h by default; any length from 20 minutes, for fast
tests) of sinus rhythm from the ECGSYN-family generator (:mod:`cardiostream.sim.ecgsyn`,
with the respiratory and Mayer-wave variability of :class:`~cardiostream.sim.rr.SinusRR`)
and writes into it, at set fractions of its length:

- premature ventricular beats (VEBs): a wide beat without P wave, at 55 % of the RR, then a
  full compensatory pause; isolated ones spread over the day, a few couplets and runs of
  ventricular tachycardia (beats at 150 bpm);
- atrial fibrillation: bundled real AF excerpts without ventricular beats
  (:func:`cardiostream.sim.real_af.af_loop`; a model trained on real AF is fooled by
  synthetic AF), entered and left at quiet points;
- pauses: beats left out (sinus arrest) so that one RR interval is of a set length;
- a stretch of sinus bradycardia (40 bpm) and one of sinus tachycardia (130 bpm);
- an hour (a twelfth of a shorter day) of heavy noise, on which nothing is analysable;
- everywhere, a recorder's noise floor of :data:`NOISE_FLOOR_MV` rms.

Everything is a function of the seed and the duration: the same arguments give the same
samples. The truth lists what was put in (seconds from the start); the beats' times are
those of the R peaks of the generator, before any filter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream.errors import InputError
from cardiostream.sim.ecgsyn import Beat, Morphology, make_beat, render_beats
from cardiostream.sim.rr import HeartRate, SinusRR

Float64Array = npt.NDArray[np.float64]

#: A ventricular beat: no P wave, a wide QRS of larger swing, a T wave of the other sign.
VENTRICULAR = Morphology(
    amplitudes_mv=(0.0, -0.25, 1.6, -0.6, -0.45),
    widths=(0.25, 0.16, 0.2, 0.18, 0.45),
)
#: Coupling interval of a VEB as a fraction of the sinus RR.
COUPLING = 0.55
#: Rate of the scripted runs of ventricular tachycardia, bpm.
VT_BPM = 150.0
SINUS_BPM = 70.0
BRADY_BPM = 40.0
TACHY_BPM = 130.0
#: The real AF excerpts spliced in: not MITDB 203's minute, whose wide aberrant beats and
#: multiform VEBs would make the day's count of ventricular beats unknowable.
AF_SAMPLES = ("mitdb-201-af", "cinc2017-A00004")
#: Seconds over which the sinus rate moves into and out of the brady and tachy stretches.
RAMP_S = 60.0
#: Lengths of the scripted pauses, seconds (two reach 3 s).
PAUSES_S = (2.4, 3.2, 3.6)
#: The shortest day :func:`holter_day` makes.
MIN_DURATION_S = 1200.0
#: Rms of the white noise on every sample, in mV: a recorder's floor.
NOISE_FLOOR_MV = 0.015


@dataclass
class HolterDay:
    """A scripted recording and what was put in it.

    Attributes
    ----------
    signal : ndarray of float32
        One lead in mV.
    fs : float
        Sampling rate.
    start : datetime
        Clock time of the first sample.
    truth : dict
        ``af_s`` (seconds of AF), ``af_episodes`` (``[start_s, end_s]`` each), ``veb``
        (all ventricular beats), ``veb_isolated``, ``veb_couplets``, ``vt_runs``
        (``[start_s, end_s, n_beats]`` each), ``pauses`` (``[at_s, rr_s]``: the beat that
        starts the pause and the interval), ``brady`` and ``tachy`` (``[start_s, end_s]``),
        ``noise`` (``[start_s, end_s]``), ``beats_t`` and ``beats_label`` (every R peak
        outside AF and noise, with its class letter, N or V).
    """

    signal: npt.NDArray[np.float32]
    fs: float
    start: datetime
    truth: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Script:
    """When each scripted thing happens, seconds from the start."""

    duration_s: float
    af: list[tuple[float, float]]
    noise: tuple[float, float]
    brady: tuple[float, float]
    tachy: tuple[float, float]
    pauses: list[tuple[float, float]]  # (when, RR)
    veb_at: list[float]
    couplets_at: list[float]
    runs: list[tuple[float, int]]  # (when, beats)


def _script(duration_s: float, rng: np.random.Generator) -> _Script:
    d = duration_s
    hour = min(3600.0, d / 12)
    af = [(0.30 * d, 0.30 * d + min(3 * 3600.0, d / 8)), (0.72 * d, 0.72 * d + min(1200.0, d / 24))]
    noise = (0.55 * d, 0.55 * d + hour)
    brady = (0.12 * d, 0.12 * d + min(1200.0, d / 20))
    tachy = (0.85 * d, 0.85 * d + min(900.0, d / 24))
    pauses = [(f * d, rr) for f, rr in zip((0.08, 0.48, 0.65), PAUSES_S, strict=True)]
    busy = [*af, noise, brady, tachy, *((t - 15, t + 15) for t, _ in pauses)]

    def free(t: float, margin: float = 20.0) -> bool:
        return 30 <= t <= d - 30 and all(not (a - margin <= t <= b + margin) for a, b in busy)

    # About 100 isolated VEBs an hour on a day, at least 40 on a short one.
    n_veb = max(40, round(100 * d / 3600))
    candidates = np.sort(rng.uniform(30, d - 30, n_veb * 3))
    veb_at: list[float] = []
    for t in candidates.tolist():
        if free(t) and (not veb_at or t - veb_at[-1] > 12):
            veb_at.append(t)
        if len(veb_at) == n_veb:
            break
    couplets_at = [f * d for f in (0.05, 0.22, 0.68)]
    runs = [(0.18 * d, 5), (0.45 * d, 8), (0.92 * d, 4)]
    for t in [*couplets_at, *(t for t, _ in runs)]:
        veb_at = [v for v in veb_at if abs(v - t) > 15]
    return _Script(d, af, noise, brady, tachy, pauses, veb_at, couplets_at, runs)


def _ramp(t: float, span: tuple[float, float]) -> float:
    """0 outside ``span``, 1 inside, linear over :data:`RAMP_S` (at most a quarter of the
    span) across either edge."""
    a, b = span
    ramp = min(RAMP_S, (b - a) / 4)
    return float(np.clip(min(t - a, b - t) / ramp + 0.5, 0.0, 1.0))


def _bpm(s: _Script, t: float) -> float:
    """The sinus rate at ``t``: a sinus node speeds up and slows down over a minute or so,
    and a sudden change of rate would make the sinus beats after it look premature."""
    return (
        SINUS_BPM
        + (BRADY_BPM - SINUS_BPM) * _ramp(t, s.brady)
        + (TACHY_BPM - SINUS_BPM) * _ramp(t, s.tachy)
    )


def _sinus_beats(
    s: _Script, rng: np.random.Generator
) -> tuple[list[Beat], list[str], dict[str, Any]]:
    """The beats outside AF: sinus rhythm with the rate stretches, pauses and VEBs."""
    rate = SinusRR(rng, HeartRate.constant(SINUS_BPM))
    beats: list[Beat] = []
    labels: list[str] = []
    truth: dict[str, Any] = {"pauses": [], "vt_runs": [], "veb_isolated": 0, "veb_couplets": 0}
    veb = iter([*s.veb_at, math.inf])
    next_veb = next(veb)
    couplets = sorted(s.couplets_at)
    runs = sorted(s.runs)
    pauses = sorted(s.pauses)
    t = 0.5
    while t < s.duration_s - 1:
        if any(a <= t < b for a, b in s.af):
            t = next(b for a, b in s.af if a <= t < b)
            continue
        rate.rate = HeartRate.constant(_bpm(s, t))
        rr = rate(t)
        beats.append(make_beat(t, rr))
        labels.append("N")
        if pauses and t >= pauses[0][0]:
            _, length = pauses.pop(0)
            truth["pauses"].append([round(t, 3), length])
            t += length
            continue
        ectopic: list[float] = []
        if t >= next_veb:
            ectopic = [t + COUPLING * rr]
            truth["veb_isolated"] += 1
            next_veb = next(veb)
        elif couplets and t >= couplets[0]:
            couplets.pop(0)
            ectopic = [t + COUPLING * rr, t + COUPLING * rr + 60 / VT_BPM]
            truth["veb_couplets"] += 1
        elif runs and t >= runs[0][0]:
            _, n = runs.pop(0)
            ectopic = [t + COUPLING * rr + k * 60 / VT_BPM for k in range(n)]
            truth["vt_runs"].append([round(ectopic[0], 3), round(ectopic[-1], 3), n])
        for e in ectopic:
            beats.append(make_beat(e, 60 / VT_BPM, VENTRICULAR))
            labels.append("V")
        # A full compensatory pause: the sinus node keeps its rhythm behind the ectopy.
        t = t + rr * (1 + math.ceil((ectopic[-1] - t) / rr)) if ectopic else t + rr
    return beats, labels, truth


def _splice_af(
    x: Float64Array, fs: float, spans: list[tuple[float, float]], rng: np.random.Generator
) -> list[list[float]]:
    """Write the real AF loop over each span, from one quiet point to another; return the
    spans as written."""
    from cardiostream.sim.real_af import FADE_S, af_loop

    loop = af_loop(fs, AF_SAMPLES)
    fade = max(round(FADE_S * fs), 1)
    w = (np.arange(fade) + 0.5) / fade
    out = []
    for a_s, b_s in spans:
        a, b = round(a_s * fs), round(b_s * fs)
        n = b - a
        first = int(loop.quiet[int(rng.integers(loop.quiet.size // 2))])
        idx = (first + np.arange(n)) % loop.signal.size
        seg = loop.signal[idx].copy()
        seg[:fade] = (1 - w) * x[a : a + fade] + w * seg[:fade]
        seg[-fade:] = w * x[b - fade : b] + (1 - w) * seg[-fade:]
        x[a:b] = seg
        out.append([round(a / fs, 3), round(b / fs, 3)])
    return out


def holter_day(
    duration_s: float = 86_400.0,
    *,
    fs: float = 250.0,
    seed: int = 0,
    start: datetime | None = None,
) -> HolterDay:
    """Make a recording with scripted episodes (see the module notes).

    Parameters
    ----------
    duration_s : float
        Length in seconds, at least :data:`MIN_DURATION_S`.
    fs : float
        Sampling rate in Hz.
    seed : int
        Seed of the rhythm's variability, the VEBs' times and the AF excerpt's offsets.
    start : datetime, optional
        Clock time of the first sample (default 2026-01-05 08:00).

    Returns
    -------
    HolterDay
    """
    if not duration_s >= MIN_DURATION_S:
        raise InputError(f"duration_s: at least {MIN_DURATION_S:g} s, got {duration_s!r}")
    if not 100 <= fs <= 1000:
        raise InputError(f"fs: expected 100 to 1000 Hz, got {fs!r}")
    rng = np.random.default_rng(seed)
    s = _script(float(duration_s), rng)
    beats, labels, truth = _sinus_beats(s, rng)
    n = round(duration_s * fs)
    x = np.zeros(n)
    step = round(600 * fs)  # rendered in blocks: each call only walks the beats near it
    beat_end = np.asarray([b.end_s for b in beats])
    beat_start = np.asarray([b.start_s for b in beats])
    for a in range(0, n, step):
        b = min(a + step, n)
        lo = int(np.searchsorted(beat_end, a / fs))
        hi = int(np.searchsorted(beat_start, b / fs))
        x[a:b] = render_beats(beats[lo:hi], a, b, fs)
    # Baseline wander of respiration, as a chest lead has it.
    x += 0.05 * np.sin(2 * np.pi * 0.25 * np.arange(n) / fs)
    # A recorder's noise floor (15 uV rms): without it a pause is exactly flat, and once
    # quantised to 16 bits (EDF) a constant run that the quality check rightly calls clipping.
    x += NOISE_FLOOR_MV * np.random.default_rng(seed + 2).standard_normal(n)
    af = _splice_af(x, fs, s.af, rng)
    a, b = round(s.noise[0] * fs), round(s.noise[1] * fs)
    # Muscle artefact and electrode motion at an SNR far below 0 dB: nothing can be read.
    noise_rng = np.random.default_rng(seed + 1)
    x[a:b] += 2.0 * noise_rng.standard_normal(b - a)
    x[a:b] += np.cumsum(noise_rng.standard_normal(b - a)) * 0.02
    r = np.asarray([bt.r_s for bt in beats])
    lab = np.asarray(labels)
    keep = (r < duration_s) & ~((r >= s.noise[0]) & (r < s.noise[1]))
    n_v = int(np.count_nonzero(lab[keep] == "V"))
    truth.update(
        af_s=float(sum(e - a for a, e in af)),
        af_episodes=af,
        veb=n_v,
        brady=[s.brady[0], s.brady[1]],
        tachy=[s.tachy[0], s.tachy[1]],
        noise=[s.noise[0], s.noise[1]],
        beats_t=r[keep].tolist(),
        beats_label=lab[keep].tolist(),
    )
    return HolterDay(
        signal=x.astype(np.float32),
        fs=float(fs),
        start=start or datetime(2026, 1, 5, 8, 0, 0),
        truth=truth,
    )
