"""Records from column tables (CSV, plain Parquet): time column, sampling rate, lead units."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream.errors import InputError
from cardiostream.io.checks import check_fs, check_signal
from cardiostream.io.units import foreign_unit, mv_per_unit, split_unit
from cardiostream.record import Annotations, Record

#: Column names (lower case, without spaces, underscores and brackets) that hold time, with
#: the factor that turns them into seconds.
_TIME_NAMES: dict[str, float] = {
    "time": 1.0,
    "t": 1.0,
    "times": 1.0,
    "timesec": 1.0,
    "timeseconds": 1.0,
    "seconds": 1.0,
    "second": 1.0,
    "sec": 1.0,
    "secs": 1.0,
    "elapsed": 1.0,
    "elapsedtime": 1.0,
    "elapseds": 1.0,
    "timems": 1e-3,
    "ms": 1e-3,
    "milliseconds": 1e-3,
    "timemilliseconds": 1e-3,
}

#: Column names that hold a sample index (they say nothing about the sampling rate).
_INDEX_NAMES: frozenset[str] = frozenset(
    {"sample", "samples", "sampleindex", "samplenumber", "sampleno", "index", "idx", "n"}
)

#: How far the explicit ``fs`` may differ from the one the time column implies.
_FS_AGREEMENT = 0.01


def _normalise(name: str) -> str:
    return re.sub(r"[\s_\-\[\]()]", "", name.lower())


def time_column_kind(name: str) -> tuple[str, float] | None:
    """Classify a column name as time (``("time", seconds per unit)``) or sample index."""
    key = _normalise(name)
    if key in _TIME_NAMES:
        return "time", _TIME_NAMES[key]
    if key in _INDEX_NAMES:
        return "index", 1.0
    return None


def fs_from_times(times: npt.NDArray[np.float64], where: str | Path, column: str) -> float:
    """Infer the sampling rate from a time column in seconds, checking that it is uniform.

    Each step must lie within half a step of the median step (a dropped sample makes a step
    of two), and no time may stray half a step from the straight line through the end points,
    so time stamps rounded to a few decimals pass while gaps and drift do not.

    Parameters
    ----------
    times : ndarray of float64
        Time stamps in seconds.
    where : str or Path
        The file, named in errors.
    column : str
        The column's name, named in errors.

    Returns
    -------
    float
        The sampling rate in Hz, rounded to the fewest decimals that the time stamps cannot
        tell apart from it.
    """
    n = times.size
    if n < 2:
        raise InputError(f"{where}: column {column!r} needs at least two times to give fs")
    if not np.isfinite(times).all():
        raise InputError(f"{where}: column {column!r} has missing or non-finite times")
    span = float(times[-1] - times[0])
    if span <= 0:
        raise InputError(f"{where}: column {column!r} does not increase")
    step = span / (n - 1)
    steps = np.diff(times)
    # Judge steps against the median, which one gap cannot move (the mean step can).
    typical = float(np.median(steps))
    off = np.abs(steps - typical) >= 0.5 * typical
    if off.any():
        bad = int(np.argmax(off))
        raise InputError(
            f"{where}: column {column!r} is not uniformly sampled: step {steps[bad]:.6g} s at "
            f"row {bad + 1}, typical {typical:.6g} s"
        )
    deviation = float(np.max(np.abs(times - (times[0] + step * np.arange(n)))))
    if deviation > 0.5 * step:
        raise InputError(
            f"{where}: column {column!r} is not uniformly sampled: times stray {deviation:.6g} s "
            f"from a uniform grid of step {step:.6g} s"
        )
    fs = 1.0 / step
    # The end points are known to within `deviation`, hence fs to within this much: report
    # the roundest rate the time stamps cannot tell apart from the fitted one.
    tolerance = fs * (2 * deviation / span) + 1e-9 * fs
    for decimals in range(7):
        rounded = round(fs, decimals)
        if rounded > 0 and abs(fs - rounded) <= tolerance:
            return float(rounded)
    return fs


def record_from_columns(
    names: list[str],
    columns: list[npt.NDArray[Any]],
    where: str | Path,
    *,
    name: str,
    fs: float | None = None,
    annotations: Annotations | None = None,
    meta: dict[str, Any] | None = None,
) -> Record:
    """Build a Record from named columns: an optional time column and one column per lead.

    Parameters
    ----------
    names : list of str
        Column names; lead columns may carry a unit suffix (``II_mV``, ``II (uV)``), mV when
        they have none.
    columns : list of ndarray
        The columns, numeric, all of one length.
    where : str or Path
        The file, named in errors.
    name : str
        The record's name.
    fs : float, optional
        The sampling rate; needed when there is no time column in seconds.
    annotations : Annotations, optional
        Annotations to attach.
    meta : dict, optional
        Extra metadata to attach.

    Returns
    -------
    Record
    """
    if fs is not None:
        fs = check_fs(fs, where)
    time_idx: int | None = None
    time_scale = 1.0
    index_cols: list[int] = []
    for i, col_name in enumerate(names):
        kind = time_column_kind(col_name)
        if kind is None:
            continue
        if kind[0] == "time" and time_idx is None:
            time_idx, time_scale = i, kind[1]
        elif kind[0] == "index":
            index_cols.append(i)
    skip = set(index_cols) | ({time_idx} if time_idx is not None else set())
    lead_idx = [i for i in range(len(names)) if i not in skip]
    if not lead_idx:
        raise InputError(f"{where}: no lead columns (columns: {names})")

    if time_idx is not None:
        times = _numeric(columns[time_idx], where, names[time_idx]).astype(np.float64)
        inferred = fs_from_times(times * time_scale, where, names[time_idx])
        if fs is None:
            fs = inferred
        elif abs(inferred - fs) > _FS_AGREEMENT * fs:
            raise InputError(
                f"{where}: fs={fs:g} disagrees with column {names[time_idx]!r}, "
                f"which implies {inferred:.6g} Hz"
            )
    elif fs is None:
        what = f"only a sample index column {names[index_cols[0]]!r}" if index_cols else "none"
        raise InputError(
            f"{where}: fs unknown: give fs (--fs on the command line) or a time column in "
            f"seconds (time, t, time_s, seconds); time columns found: {what}"
        )

    n = len(columns[lead_idx[0]])
    signal = np.empty((n, len(lead_idx)), np.float32)
    leads: list[str] = []
    units: list[str] = []
    for j, i in enumerate(lead_idx):
        lead, unit = split_unit(names[i])
        other = foreign_unit(names[i]) if unit is None else None
        if other is not None:
            raise InputError(
                f"{where}: column {names[i]!r}: unit {other!r} is not an ECG unit (V, mV, uV or nV)"
            )
        factor = 1.0 if unit is None else mv_per_unit(unit) or 1.0
        values = _numeric(columns[i], where, names[i])
        # Scale before the cast so that uV columns keep float64 precision up to the end.
        signal[:, j] = values * factor if factor != 1.0 else values
        leads.append(lead or f"ch{j}")
        units.append(unit or "mV")
    check_signal(signal, where)
    info: dict[str, Any] = {"source": str(where), "units": units}
    info.update(meta or {})
    return Record(
        signal=signal,
        fs=fs,
        leads=leads,
        name=name,
        annotations=annotations or Annotations(),
        meta=info,
    )


def _numeric(column: npt.NDArray[Any], where: str | Path, name: str) -> npt.NDArray[Any]:
    """Return a numeric column as floats (missing values NaN); raise for text columns."""
    if column.dtype.kind in "iufb":
        return column.astype(np.float64) if column.dtype.kind != "f" else column
    if column.dtype == object:
        try:
            return np.array([math.nan if v is None else float(v) for v in column], np.float64)
        except (TypeError, ValueError):
            pass
    raise InputError(f"{where}: column {name!r} is not numeric")
