"""The beat-timing input of the rhythm network: the latest RR interval, as a signal.

Atrial fibrillation is first of all an irregular rhythm, and a small network learns RR
irregularity far more easily from the RR intervals themselves than from 10 s of waveform. So
the network gets a second input channel: at each 250 Hz sample, the most recent RR interval
in seconds, as found by the package's causal R-peak detector (0 until two beats are known).
The detector reports a beat one second after it happens (its fixed delay); the channel is
therefore built from beats at least :data:`RR_DELAY` samples old, so offline and live runs
see the same values at every sample.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from cardiostream.beats import detect_rpeaks
from cardiostream.beats.detector import DEFAULT_DELAY_S
from cardiostream.rhythm.preprocess import MODEL_FS

#: Beats enter the channel this many samples after their R peak (the detector's delay).
RR_DELAY = round(DEFAULT_DELAY_S * MODEL_FS)
#: RR intervals are clipped to this range (s), so a pause or a missed beat stays bounded.
RR_RANGE = (0.2, 3.0)


def _hold(
    known_at: npt.NDArray[np.int64], values: npt.NDArray[np.float32], n_samples: int
) -> npt.NDArray[np.float32]:
    """Each value from its sample ``known_at`` on, until the next; 0 before the first."""
    out = np.zeros(n_samples, np.float32)
    keep = known_at < n_samples
    known_at, values = known_at[keep], values[keep]
    if known_at.size == 0:
        return out
    # Runs of each value up to the next one's start (a later value wins a shared start).
    starts = np.maximum(known_at, 0)
    first = int(starts[0])
    lengths = np.diff(np.append(starts, n_samples))
    out[first:] = np.repeat(values, lengths)
    return out


def rr_channel_from_peaks(peaks: npt.ArrayLike, n_samples: int) -> npt.NDArray[np.float32]:
    """The RR channel for ``n_samples`` samples at 250 Hz, given R-peak sample indices."""
    p = np.sort(np.asarray(peaks, np.int64))
    if p.size < 2:
        return np.zeros(n_samples, np.float32)
    rr = np.clip(np.diff(p) / MODEL_FS, *RR_RANGE).astype(np.float32)
    # Interval i (between beats i and i+1) is known from sample p[i + 1] + RR_DELAY on.
    return _hold(p[1:] + RR_DELAY, rr, n_samples)


def rr_change_from_peaks(peaks: npt.ArrayLike, n_samples: int) -> npt.NDArray[np.float32]:
    """The RR-change channel: ``|RR_i - RR_(i-1)| / RR_i`` of the latest interval, held like
    :func:`rr_channel_from_peaks` (0 until three beats are known).

    Irregularity is what sets AF apart; handing the network the successive difference saves it
    learning a difference of two step functions a second apart.
    """
    p = np.sort(np.asarray(peaks, np.int64))
    if p.size < 3:
        return np.zeros(n_samples, np.float32)
    rr = np.clip(np.diff(p) / MODEL_FS, *RR_RANGE)
    change = np.minimum(np.abs(np.diff(rr)) / rr[1:], 2.0).astype(np.float32)
    return _hold(p[2:] + RR_DELAY, change, n_samples)


def model_inputs(
    ecg: npt.ArrayLike, peaks: npt.ArrayLike, channels: int = 2
) -> npt.NDArray[np.float32]:
    """The network's input ``[channels, samples]``: the ECG, the RR channel and (with 3
    channels) the RR-change channel."""
    x = np.asarray(ecg, np.float32)
    parts = [x, rr_channel_from_peaks(peaks, x.size)]
    if channels >= 3:
        parts.append(rr_change_from_peaks(peaks, x.size))
    return np.stack(parts[:channels])


def rr_channel(ecg: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """The RR channel of a preprocessed 250 Hz ECG (beats from :func:`detect_rpeaks`)."""
    x = np.asarray(ecg, np.float32)
    return rr_channel_from_peaks(detect_rpeaks(x, MODEL_FS), x.size)
