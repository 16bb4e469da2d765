"""The quality gate of each beat: is the signal around it good enough to name its class.

A beat classifier guesses a class for whatever the R-peak detector hands it, noise and a
lead coming off included. :class:`BeatQualityGate` sees the same samples as the classifier
and judges, for each decided beat at R peak ``r``, the raw signal from ``pre_s`` before to
``post_s`` after it (1 s and 1 s: the detector reports a peak 1 s after it, so that span is
always complete when the beat is decided, and the verdict does not depend on the chunking).
It keeps the last few seconds of raw samples and computes, per beat, the indices of
:mod:`cardiostream.dsp.quality` on that 2 s span, with the same definitions:

====================  ===========================================================  ========
reason                metric (key of :meth:`BeatQualityGate.metrics`)              flagged
====================  ===========================================================  ========
missing_samples       ``nan_fraction``: share of non-finite samples                > 0.1
lead_off              ``constant_fraction``: share of samples in runs of exactly   > 0.2
                      equal values lasting 0.5 s or more
flat                  ``flat_ptp_mv``: the largest peak-to-peak range of the       < 0.1 mV
                      span's 0.25 s blocks (no block with a QRS in it)
clipping              ``clip_fraction``: share of samples in runs of 10 ms (and 3  > 0.02
                      samples) to 0.5 s at the span's maximum or minimum
high_frequency_noise  ``hf_ratio``: power 40-100 Hz over power 5-15 Hz (the QRS    > 0.5
                      band); NaN, never flagged, when fs < 90 Hz
no_beats              ``qrs_snr``: the beat's height (largest magnitude of the     < 2.25
                      0.5-40 Hz band-passed span within 40 ms of the R peak) over
                      the span's mean magnitude: the "beat" does not stand out
                      from the noise around it
====================  ===========================================================  ========

A beat gets the first reason flagged in that order; the pacing test of
:mod:`cardiostream.dsp.pacing` (reason ``"paced"``) comes after them, in
:class:`~cardiostream.beats.classes.BeatClassifier`. The thresholds are the quality module's
except ``qrs_snr``, which has no 2 s counterpart there (the streaming SQI's 10 s median of
the same ratio is flagged below 2.75; one beat's ratio scatters more, so its threshold is
lower). How they were checked on MITDB and NSTDB is in ``docs/decisions.md``. Amplitudes are
in millivolts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream.dsp.quality import (
    DEFAULT_CONFIG,
    _fill_missing,
    _run_fractions,
    _spectral_ratios,
    _zero_phase,
)
from cardiostream.errors import InputError

#: The reasons a beat can be gated for, in the order they are tested.
GATE_REASONS: tuple[str, ...] = (
    "missing_samples",
    "lead_off",
    "flat",
    "clipping",
    "high_frequency_noise",
    "no_beats",
    "paced",
)


@dataclass(frozen=True)
class GateConfig:
    """The span judged around each beat and the thresholds (see the module notes)."""

    pre_s: float = 1.0
    post_s: float = 1.0
    nan_max: float = DEFAULT_CONFIG.nan_max
    constant_run_s: float = DEFAULT_CONFIG.constant_run_s
    constant_max: float = DEFAULT_CONFIG.constant_max
    flat_block_s: float = 0.25
    flat_ptp_mv: float = DEFAULT_CONFIG.flat_ptp_mv
    clip_run_s: float = DEFAULT_CONFIG.clip_run_s
    clip_max: float = DEFAULT_CONFIG.clip_max
    hf_max: float = DEFAULT_CONFIG.hf_max
    beat_half_width_s: float = 0.04
    qrs_snr_min: float = 2.25


DEFAULT_GATE = GateConfig()


class BeatQualityGate:
    """Streaming per-beat quality verdicts, identical for any chunking.

    Push it every sample the classifier gets (:meth:`push`), then ask about the beats the
    classifier decided (:meth:`judge`). It keeps ``history_s`` seconds of samples besides the
    span before a beat: a beat decided up to that long after its R peak can still be judged.

    Parameters
    ----------
    fs : float
        Sampling rate in Hz.
    config : GateConfig, optional
        Span and thresholds; :data:`DEFAULT_GATE` by default.
    history_s : float
        The longest time from an R peak to the moment the beat is judged.
    """

    def __init__(
        self, fs: float, config: GateConfig | None = None, *, history_s: float = 4.0
    ) -> None:
        self.fs = float(fs)
        if not np.isfinite(self.fs) or self.fs <= 0:
            raise InputError(f"fs: expected a positive sampling rate, got {fs}")
        self.config = config or DEFAULT_GATE
        self._pre = round(self.config.pre_s * self.fs)
        self._post = round(self.config.post_s * self.fs)
        self._keep = self._pre + int(np.ceil(history_s * self.fs)) + 1
        self._quality = DEFAULT_CONFIG.__class__(
            constant_run_s=self.config.constant_run_s, clip_run_s=self.config.clip_run_s
        )
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next sample starts a new stream."""
        self._tail = np.zeros(0, np.float64)
        self._n = 0

    def push(self, chunk: npt.ArrayLike) -> None:
        """Feed samples (the same as the classifier's, in order)."""
        x = np.asarray(chunk, np.float64).reshape(-1)
        x = np.where(np.isfinite(x), x, np.nan)  # inf is as missing as NaN
        # Trimmed before appending, so that every beat decided from this chunk, however
        # long it is, still has its span here.
        self._tail = np.concatenate([self._tail[-self._keep :], x])
        self._n += x.size

    def span(self, r: int) -> npt.NDArray[np.float64]:
        """The raw samples judged for the beat at ``r`` (cut at the stream's ends)."""
        start = self._n - self._tail.size
        a = max(r - self._pre, 0, start) - start
        b = min(r + self._post, self._n) - start
        return self._tail[a:b] if b > a else np.zeros(0)

    def metrics(self, r: int) -> dict[str, float]:
        """The quality indices of the span of the beat at ``r`` (see the module notes)."""
        x = self.span(r)
        out = {
            "nan_fraction": 1.0,
            "constant_fraction": 0.0,
            "flat_ptp_mv": 0.0,
            "clip_fraction": 0.0,
            "hf_ratio": float("nan"),
            "qrs_snr": 0.0,
        }
        if x.size == 0:
            return out
        x, nan_fraction = _fill_missing(x)
        out["nan_fraction"] = nan_fraction
        if nan_fraction == 1.0:
            return out
        constant, clip = _run_fractions(x, self.fs, self._quality)
        block = max(round(self.config.flat_block_s * self.fs), 1)
        ptp = max(float(np.ptp(x[i : i + block])) for i in range(0, x.size, block))
        out.update(constant_fraction=constant, flat_ptp_mv=ptp, clip_fraction=clip)
        if ptp > 0 and x.size >= 8:
            out["hf_ratio"] = _spectral_ratios(x, self.fs)[0]
            c = np.abs(_zero_phase(x, self.fs, 0.5, 40.0))
            k = r - max(r - self._pre, 0, self._n - self._tail.size)  # r within the span
            half = max(round(self.config.beat_half_width_s * self.fs), 1)
            near = c[max(k - half, 0) : k + half + 1]
            base = float(c.mean())
            if near.size and base > 0:
                out["qrs_snr"] = float(near.max()) / base
        return out

    def reason(self, r: int) -> str:
        """Why the beat at ``r`` is not to be classified, or ``""`` when it may be."""
        cfg = self.config
        m = self.metrics(r)
        flags = (
            ("missing_samples", m["nan_fraction"] > cfg.nan_max),
            ("lead_off", m["constant_fraction"] > cfg.constant_max),
            ("flat", m["flat_ptp_mv"] < cfg.flat_ptp_mv),
            ("clipping", m["clip_fraction"] > cfg.clip_max),
            ("high_frequency_noise", m["hf_ratio"] > cfg.hf_max),  # NaN: never
            ("no_beats", m["qrs_snr"] < cfg.qrs_snr_min),
        )
        return next((name for name, bad in flags if bad), "")

    def judge(self, samples: npt.ArrayLike) -> npt.NDArray[np.str_]:
        """The :meth:`reason` of each beat, as a string array (``""``: usable)."""
        rs = np.asarray(samples, np.int64).reshape(-1)
        return np.array([self.reason(int(r)) for r in rs], dtype="<U20").reshape(rs.size)

    def state_dict(self) -> dict[str, Any]:
        """The full state as plain Python data (JSON-serialisable; NaN as None)."""
        # Only what the next push keeps: a long last chunk is not carried along.
        tail = self._tail[-self._keep :]
        return {
            "fs": self.fs,
            "tail": [None if not np.isfinite(v) else float(v) for v in tail],
            "n": self._n,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state produced by :meth:`state_dict` of a gate with the same fs."""
        try:
            if float(state["fs"]) != self.fs:
                raise InputError("state: fs differs from this quality gate's")
            self._tail = np.array(
                [np.nan if v is None else float(v) for v in state["tail"]], np.float64
            )
            self._n = int(state["n"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"state: not a quality-gate state ({exc})") from exc
