"""How long a slice of a stored record takes, and how much it reads, as the record grows."""

from __future__ import annotations

import io
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from cardiostream.io.layout import SIGNAL_FILE
from cardiostream.io.store import ROW_GROUP_SECONDS, ParquetStore
from cardiostream.record import Record


class _CountingFile(io.FileIO):
    """A file that adds up the bytes read from it."""

    def __init__(self, path: Path, counter: list[int]) -> None:
        super().__init__(path, "rb")
        self._counter = counter

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self._counter[0] += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        n = super().readinto(buffer)
        self._counter[0] += n
        return n


class _CountingStore(ParquetStore):
    """A store that counts the bytes its signal files give up."""

    def __init__(self, store_dir: Path) -> None:
        super().__init__(store_dir)
        self.bytes_read = [0]

    def _open(self, path: Path) -> BinaryIO:
        return _CountingFile(path, self.bytes_read)


def synthetic_ecg(
    hours: float, fs: float = 250.0, n_leads: int = 2, seed: int = 0
) -> npt.NDArray[np.float32]:
    """Return an ECG-like signal (beats at a wandering rate, baseline drift, noise) in mV.

    Values lie on a 5 µV grid, as from a 200 units/mV converter, so that compression is
    like that of real recordings rather than of random floats.
    """
    n = round(hours * 3600 * fs)
    rng = np.random.default_rng(seed)
    out = np.empty((n, n_leads), np.float32)
    chunk = round(600 * fs)
    phase0 = 0.0
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        t = np.arange(lo, hi) / fs
        rate = 1.2 + 0.15 * np.sin(2 * np.pi * t / 900.0)  # beats per second
        phase = phase0 + np.cumsum(rate) / fs
        phase0 = float(phase[-1])
        p = phase % 1.0
        qrs = 1.1 * np.exp(-(((p - 0.30) / 0.012) ** 2)) - 0.2 * np.exp(-(((p - 0.33) / 0.01) ** 2))
        wave = qrs + 0.25 * np.exp(-(((p - 0.60) / 0.05) ** 2)) + 0.1 * np.sin(2 * np.pi * 0.2 * t)
        for j in range(n_leads):
            lead = (0.6 + 0.4 * j) * wave + 0.02 * rng.standard_normal(hi - lo)
            out[lo:hi, j] = np.round(lead * 200.0) / 200.0
    return out


def bench_store_slice(
    work_dir: str | Path | None = None,
    *,
    hours: tuple[float, ...] = (24.0, 1.0),
    fs: float = 250.0,
    n_leads: int = 2,
    slice_s: float = 15.0,
    repeats: int = 20,
    seed: int = 0,
) -> dict[str, Any]:
    """Time 15 s slices of one lead from stored records of different lengths.

    For each length a synthetic record is written to a store; then ``repeats`` slices at
    random places are read twice: cold (a fresh store object, which reads the Parquet
    footer first) and warm (the footer already known), counting bytes read and row groups.

    Parameters
    ----------
    work_dir : str or Path, optional
        Where to put the store; a temporary folder, removed afterwards, by default.
    hours : tuple of float
        Record lengths in hours.
    fs : float
        Sampling rate in Hz.
    n_leads : int
        Number of leads.
    slice_s : float
        Slice length in seconds.
    repeats : int
        Slices timed per record.
    seed : int
        Seed of the synthetic signal and of the slice positions.

    Returns
    -------
    dict
        ``fs``, ``slice_s``, ``row_group_seconds`` and ``records``: one dict per length with
        ``hours``, ``n_samples``, ``file_bytes``, ``row_groups``, ``write_s``,
        ``cold_ms``/``warm_ms`` (median per slice), ``cold_bytes``/``warm_bytes`` (median
        bytes read per slice) and ``row_groups_read`` (most per slice).
    """
    with tempfile.TemporaryDirectory(prefix="store-bench-") as tmp:
        root = Path(work_dir) if work_dir is not None else Path(tmp)
        rows = [_bench_one(root / "store", h, fs, n_leads, slice_s, repeats, seed) for h in hours]
    return {
        "fs": fs,
        "n_leads": n_leads,
        "slice_s": slice_s,
        "row_group_seconds": ROW_GROUP_SECONDS,
        "records": rows,
    }


def _bench_one(
    store_dir: Path, hours: float, fs: float, n_leads: int, slice_s: float, repeats: int, seed: int
) -> dict[str, Any]:
    record_id = f"synthetic-{hours:g}h"
    signal = synthetic_ecg(hours, fs, n_leads, seed)
    record = Record(signal, fs, [f"ch{j}" for j in range(n_leads)], record_id)
    del signal
    tic = time.perf_counter()
    ParquetStore(store_dir).write(record)
    write_s = time.perf_counter() - tic
    n = record.n_samples
    del record

    rng = np.random.default_rng(seed + 1)
    starts = rng.uniform(0, n / fs - slice_s, repeats)
    cold_ms: list[float] = []
    cold_bytes: list[int] = []
    for start in starts:
        store = _CountingStore(store_dir)
        tic = time.perf_counter()
        store.read_slice(record_id, 0, float(start), slice_s)
        cold_ms.append(1e3 * (time.perf_counter() - tic))
        cold_bytes.append(store.bytes_read[0])
    store = _CountingStore(store_dir)
    store.read_slice(record_id, 0, 0.0, slice_s)  # Reads the footer once.
    part = store._partition(record_id)
    warm_ms: list[float] = []
    warm_bytes: list[int] = []
    groups_read = 0
    for start in starts:
        before = store.bytes_read[0]
        tic = time.perf_counter()
        values, _ = store.read_slice(record_id, 0, float(start), slice_s)
        warm_ms.append(1e3 * (time.perf_counter() - tic))
        warm_bytes.append(store.bytes_read[0] - before)
        first = round(float(start) * fs)
        last = first + values.size - 1
        groups = sum(1 for s in part.row_starts if first < s <= last) + 1
        groups_read = max(groups_read, groups)
    return {
        "hours": hours,
        "n_samples": n,
        "file_bytes": (store.partition_dir(record_id) / SIGNAL_FILE).stat().st_size,
        "row_groups": len(part.row_starts),
        "write_s": write_s,
        "cold_ms": statistics.median(cold_ms),
        "cold_bytes": int(statistics.median(cold_bytes)),
        "warm_ms": statistics.median(warm_ms),
        "warm_bytes": int(statistics.median(warm_bytes)),
        "row_groups_read": groups_read,
    }
