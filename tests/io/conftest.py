"""Fixtures for the io tests: small generated records."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import wfdb

from cardiostream.record import Annotations, BeatTable, Record, RhythmTable


def make_record(
    n_samples: int = 2500,
    fs: float = 250.0,
    leads: Sequence[str] = ("I", "II"),
    name: str = "rec",
    seed: int = 0,
    with_annotations: bool = True,
) -> Record:
    """A small ECG-like record with beats and two rhythm intervals."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / fs
    base = np.sin(2 * np.pi * 1.2 * t)
    signal = np.stack(
        [(0.5 + j) * base + 0.05 * rng.standard_normal(n_samples) for j in range(len(leads))],
        axis=1,
    ).astype(np.float32)
    annotations = Annotations()
    if with_annotations:
        beats = np.arange(100, n_samples, int(fs * 0.8), dtype=np.int64)
        symbols = np.array(["N" if i % 5 else "V" for i in range(beats.size)], dtype="<U1")
        half = n_samples // 2
        annotations = Annotations(
            beats=BeatTable(beats, symbols),
            rhythms=RhythmTable(
                np.array([0, half], np.int64),
                np.array([half, n_samples], np.int64),
                np.array(["N", "AFIB"]),
            ),
        )
    return Record(signal, fs, list(leads), name, annotations)


def write_wfdb(
    folder: Path,
    name: str,
    digital: npt.NDArray[np.int64],
    *,
    fs: float = 250.0,
    fmt: str = "16",
    units: Sequence[str] | None = None,
    sig_name: Sequence[str] | None = None,
    gain: float = 200.0,
    baseline: int = 0,
) -> Path:
    """Write a WFDB record from digital samples and return its .hea path."""
    digital = np.asarray(digital).reshape(digital.shape[0], -1)
    n_sig = digital.shape[1]
    wfdb.wrsamp(
        name,
        fs=fs,
        units=list(units or ["mV"] * n_sig),
        sig_name=list(sig_name or [f"ch{j}" for j in range(n_sig)]),
        d_signal=digital.astype(np.int32),
        fmt=[fmt] * n_sig,
        adc_gain=[gain] * n_sig,
        baseline=[baseline] * n_sig,
        write_dir=str(folder),
    )
    return folder / f"{name}.hea"
