"""EDF and EDF+ records through edfio: ECG channels in a voltage unit, EDF+ annotations."""

from __future__ import annotations

import datetime
import math
import re
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import edfio
import numpy as np
import numpy.typing as npt

from cardiostream.errors import InputError
from cardiostream.io.checks import check_fs, check_signal, foreign_errors
from cardiostream.io.units import mv_per_unit
from cardiostream.record import BEAT_SYMBOLS, Annotations, BeatTable, Record, RhythmTable

#: Labels that name an ECG channel: anything mentioning ECG/EKG, or a standard lead name.
_ECG_LABEL = re.compile(
    r"(ECG|EKG)|^(LEAD\s*)?(I|II|III|AVR|AVL|AVF|V[1-6]|MLII|MLIII|MLI|MV[1-6]|CM5|D[1-3])$",
    re.IGNORECASE,
)

#: Recording-field prefix under which :func:`write_edf` stores the true number of samples
#: when the signal had to be padded to whole data records.
_LENGTH_TAG = "n_samples="

#: Data-record durations tried when writing, longest first: EDF wants a whole number of
#: samples per data record.
_RECORD_DURATIONS = (1.0, 2.0, 4.0, 5.0, 10.0, 0.5, 0.25, 0.2, 0.1)


def looks_like_ecg(label: str) -> bool:
    """Tell whether an EDF signal label names an ECG channel (``ECG II``, ``EKG``, ``V1``)."""
    return _ECG_LABEL.search(label.strip()) is not None


def read_edf(path: str | Path) -> Record:
    """Read the ECG channels of an EDF or EDF+ file, in millivolts.

    Channels are those with a voltage unit (uV, mV, V); when some of their labels name an
    ECG lead, only those are kept (EEG and EMG channels in a sleep recording are left out).
    When the kept channels have different sampling rates, only those at the most common
    rate are kept. Everything left out is listed in ``meta["dropped_signals"]``.

    EDF+ annotations become beats (text is one beat symbol, no duration), rhythm intervals
    (text ``(AFIB``, ``(N``: the interval lasts its duration, or runs to the next rhythm
    change) or, for anything else, ``meta["edf_annotations"]``.

    Parameters
    ----------
    path : str or Path
        The ``.edf`` file.

    Returns
    -------
    Record
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    _check_fixed_header(path)
    with foreign_errors(path, "reading EDF"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        edf = edfio.read_edf(path, lazy_load_data=False)
    notes = _check_warnings(caught, path)
    with foreign_errors(path, "reading EDF"):
        signals = list(edf.signals)
        raw_annotations = list(edf.annotations)
        additional = list(edf.recording.additional) if _is_edf_plus(edf) else []
        continuous = bool(edf.is_continuous) if _is_edf_plus(edf) else True
        start = edf.startdatetime if _has_date(edf) else None
        equipment = _equipment(edf)

    dropped: list[str] = []
    voltage = []
    for s in signals:
        if mv_per_unit(s.physical_dimension) is None:
            dropped.append(f"{s.label} (unit {s.physical_dimension!r})")
        else:
            voltage.append(s)
    if not voltage:
        raise InputError(f"{path}: no signal has a voltage unit (uV, mV, V)")
    ecg = [s for s in voltage if looks_like_ecg(s.label)]
    if ecg:
        dropped += [f"{s.label} (not an ECG label)" for s in voltage if s not in ecg]
        voltage = ecg
    rates = Counter(float(s.sampling_frequency) for s in voltage)
    # Most channels win; among equals, the highest rate keeps the most detail.
    fs = max(rates, key=lambda r: (rates[r], r))
    fs = check_fs(fs, path, "sampling frequency")
    kept = [s for s in voltage if float(s.sampling_frequency) == fs]
    dropped += [
        f"{s.label} ({float(s.sampling_frequency):g} Hz)"
        for s in voltage
        if float(s.sampling_frequency) != fs
    ]

    for s in kept:
        _check_ranges(s, path)
    n_samples = min(len(s.data) for s in kept)
    true_length = _tagged_length(additional)
    if true_length is not None and 0 < true_length <= n_samples:
        n_samples = true_length
    signal = np.empty((n_samples, len(kept)), np.float32)
    for j, s in enumerate(kept):
        factor = mv_per_unit(s.physical_dimension) or 1.0
        with foreign_errors(path, f"reading signal {s.label!r}"):
            data = np.asarray(s.data[:n_samples], dtype=np.float64)
        signal[:, j] = data * factor if factor != 1.0 else data
    check_signal(signal, path)

    beats, rhythms, other = _split_annotations(raw_annotations, fs, n_samples)
    meta: dict[str, Any] = {
        "source": str(path),
        "format": "edf",
        "units": [s.physical_dimension for s in kept],
    }
    if dropped:
        meta["dropped_signals"] = dropped
    if other:
        meta["edf_annotations"] = other
    if notes:
        meta["warnings"] = notes
    if not continuous:
        meta["discontinuous"] = "EDF+D: data records are not contiguous in time"
    if start is not None:
        meta["start"] = start.isoformat()
    if equipment:
        meta["device"] = equipment
    return Record(
        signal=signal,
        fs=fs,
        leads=[s.label or f"ch{j}" for j, s in enumerate(kept)],
        name=path.stem,
        annotations=Annotations(beats=beats, rhythms=rhythms),
        meta=meta,
    )


def _check_fixed_header(path: Path) -> None:
    """Check the fields of the fixed 256-byte header that edfio trips over with odd messages."""
    with foreign_errors(path, "reading the EDF header"), path.open("rb") as f:
        head = f.read(256)
    if len(head) < 256:
        raise InputError(f"{path}: {len(head)} bytes, too short for an EDF header (256)")
    fields = {"data record duration": head[244:252], "number of signals": head[252:256]}
    for name, raw in fields.items():
        try:
            value = float(raw.decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            raise InputError(f"{path}: header field {name!r} is not a number: {raw!r}") from None
        if not value > 0:
            raise InputError(f"{path}: header field {name!r} must be positive, got {value:g}")


def _check_ranges(signal: edfio.EdfSignal, path: Path) -> None:
    """Raise InputError unless a signal's physical and digital ranges can calibrate it.

    edfio reads a signal whose range ends are equal or not numbers, or whose digital range is
    inverted, as raw digital values (up to 32,768 "mV"), which would then be classified as if
    they were an ECG.
    A physical range may run downwards (inverted polarity, allowed by EDF); a digital one
    may not.

    Parameters
    ----------
    signal : edfio.EdfSignal
        The signal whose header fields are checked.
    path : Path
        The file, named in errors.
    """
    values: dict[str, float] = {}
    for field in ("physical_min", "physical_max", "digital_min", "digital_max"):
        try:
            value = float(getattr(signal, field))
        except (ValueError, TypeError, OverflowError):
            value = math.nan
        if not math.isfinite(value):
            raise InputError(
                f"{path}: signal {signal.label!r}: {field.replace('_', ' ')} is not a finite number"
            )
        values[field] = value
    if values["physical_min"] == values["physical_max"]:
        raise InputError(
            f"{path}: signal {signal.label!r}: physical minimum equals physical maximum "
            f"({values['physical_min']:g})"
        )
    if values["digital_min"] >= values["digital_max"]:
        raise InputError(
            f"{path}: signal {signal.label!r}: digital minimum {values['digital_min']:g} is "
            f"not below digital maximum {values['digital_max']:g}"
        )


def _check_warnings(caught: list[warnings.WarningMessage], path: Path) -> list[str]:
    """Raise for the warnings by which edfio reports a truncated file; return the others.

    edfio reads what it can of a short file and fixes its header in memory; a record whose
    end is missing is bad input here. A header count of -1 (unknown, allowed by the
    standard while recording) is fine.
    """
    notes = []
    for w in caught:
        text = str(w.message)
        if "Incomplete data record" in text:
            raise InputError(f"{path}: truncated: the last data record is incomplete")
        counts = re.search(r"indicates (-?\d+) data records, but file contains (\d+)", text)
        if counts is not None:
            if counts.group(1) != "-1":
                raise InputError(
                    f"{path}: the header declares {counts.group(1)} data records, the file "
                    f"holds {counts.group(2)}"
                )
            continue
        notes.append(text.splitlines()[0] if text else type(w.message).__name__)
    return notes


def _is_edf_plus(edf: edfio.Edf) -> bool:
    return str(edf.reserved).startswith("EDF+")


def _equipment(edf: edfio.Edf) -> str | None:
    """EDF+'s equipment code, ``None`` where the file leaves it unknown (``X``) or is plain EDF."""
    if not _is_edf_plus(edf):
        return None
    try:
        code = str(edf.recording.equipment_code).replace("_", " ").strip()
    except Exception:
        return None
    return code if code and code != "X" else None


def _has_date(edf: edfio.Edf) -> bool:
    try:
        edf.startdatetime  # noqa: B018 (anonymised dates raise)
    except Exception:
        return False
    return True


def _tagged_length(additional: list[str]) -> int | None:
    for item in additional:
        if item.startswith(_LENGTH_TAG) and item[len(_LENGTH_TAG) :].isdigit():
            return int(item[len(_LENGTH_TAG) :])
    return None


def _split_annotations(
    annotations: list[edfio.EdfAnnotation], fs: float, n_samples: int
) -> tuple[BeatTable, RhythmTable, list[dict[str, Any]]]:
    """Sort EDF+ annotations into beats, rhythm intervals and the rest."""
    beat_samples: list[int] = []
    beat_symbols: list[str] = []
    rhythm_rows: list[tuple[int, int | None, str]] = []
    other: list[dict[str, Any]] = []
    for a in annotations:
        text = a.text.strip()
        sample = round(a.onset * fs)
        if text in BEAT_SYMBOLS and not a.duration:
            if 0 <= sample < n_samples:
                beat_samples.append(sample)
                beat_symbols.append(text)
        elif text.startswith("(") and len(text) > 1:
            end = None if not a.duration else round((a.onset + a.duration) * fs)
            rhythm_rows.append((sample, end, text[1:].strip()))
        else:
            other.append({"onset": a.onset, "duration": a.duration, "text": a.text})
    order = np.argsort(beat_samples, kind="stable")
    beats = (
        BeatTable(
            np.asarray(beat_samples, np.int64)[order],
            np.asarray(beat_symbols, dtype="<U1")[order],
        )
        if beat_samples
        else BeatTable.empty()
    )
    rhythm_rows.sort(key=lambda r: r[0])
    starts, ends, labels = [], [], []
    for i, (start, end, label) in enumerate(rhythm_rows):
        if end is None:
            end = rhythm_rows[i + 1][0] if i + 1 < len(rhythm_rows) else n_samples
        start, end = max(0, start), min(end, n_samples)
        if end > start:
            starts.append(start)
            ends.append(end)
            labels.append(label)
    rhythms = (
        RhythmTable(
            np.asarray(starts, np.int64), np.asarray(ends, np.int64), np.asarray(labels, str)
        )
        if starts
        else RhythmTable.empty()
    )
    return beats, rhythms, other


def write_edf(record: Record, path: str | Path) -> Path:
    """Write a record as EDF+ (16-bit, mV), with its beats and rhythm intervals as annotations.

    ``record.meta["start"]`` (ISO 8601) becomes the file's start date and time, and
    ``record.meta["device"]`` its equipment code, where they are given.

    EDF stores whole data records, so a signal whose length is not a whole number of them is
    padded with its last value and the true length is kept in the recording field, which
    :func:`read_edf` honours. EDF has no missing-value code: NaN samples are written as 0 mV.
    Values are quantised to 16 bits over each lead's range.

    Parameters
    ----------
    record : Record
        The record to write.
    path : str or Path
        The ``.edf`` file to create (overwritten when it exists).

    Returns
    -------
    Path
        The file written.
    """
    path = Path(path)
    fs = record.fs
    duration = _record_duration(fs, path)
    per_record = round(fs * duration)
    n = record.n_samples
    padded = math.ceil(n / per_record) * per_record
    signals = []
    for j, lead in enumerate(record.leads):
        data = _finite(record.signal[:, j])
        if padded > n:
            data = np.concatenate([data, np.full(padded - n, data[-1] if n else 0.0)])
        low, high = float(data.min()), float(data.max())
        if high - low < 1e-6:
            low, high = low - 1.0, high + 1.0
        signals.append(
            edfio.EdfSignal(
                data,
                fs,
                label=lead[:16],
                transducer_type="ECG electrode",
                physical_dimension="mV",
                physical_range=_rounded_range(low, high),
            )
        )
    annotations = [
        edfio.EdfAnnotation(int(s) / fs, None, str(sym))
        for s, sym in zip(
            record.annotations.beats.sample, record.annotations.beats.symbol, strict=True
        )
    ]
    rh = record.annotations.rhythms
    annotations += [
        edfio.EdfAnnotation(int(s) / fs, (int(e) - int(s)) / fs, f"({lab}")
        for s, e, lab in zip(rh.start, rh.end, rh.label, strict=True)
    ]
    additional = [f"{_LENGTH_TAG}{n}"] if padded > n else []
    start = _start_of(record)
    device = str(record.meta.get("device") or "").strip()
    with foreign_errors(path, "writing EDF"):
        edf = edfio.Edf(
            signals,
            recording=edfio.Recording(
                startdate=start.date() if start is not None else None,
                # EDF+ fields are space-separated: spaces within one become underscores.
                equipment_code=device.replace(" ", "_")[:40] if device else "X",
                additional=additional,
            ),
            starttime=start.time().replace(microsecond=0) if start is not None else None,
            data_record_duration=duration,
            annotations=annotations,
        )
        edf.write(path)
    return path


def _start_of(record: Record) -> datetime.datetime | None:
    value = record.meta.get("start")
    if not value:
        return None
    try:
        return datetime.datetime.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"{record.name}: meta start {value!r} is not an ISO 8601 time") from None


def _finite(column: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    data = column.astype(np.float64)
    data[~np.isfinite(data)] = 0.0
    return data


def _rounded_range(low: float, high: float) -> tuple[float, float]:
    """Widen a physical range to values that EDF's 8-character header fields hold exactly."""
    for decimals in range(6, -1, -1):
        step = 10.0**-decimals
        lo = math.floor(low / step) * step
        hi = math.ceil(high / step) * step
        lo, hi = round(lo, decimals), round(hi, decimals)
        # Rounding the text may move an end inwards by a hair; the data must stay inside.
        lo = lo - step if lo > low else lo
        hi = hi + step if hi < high else hi
        if len(f"{lo:.{decimals}f}") <= 8 and len(f"{hi:.{decimals}f}") <= 8:
            return round(lo, decimals), round(hi, decimals)
    raise InputError(f"physical range {low:g}..{high:g} mV does not fit an EDF header")


def _record_duration(fs: float, path: Path) -> float:
    for duration in _RECORD_DURATIONS:
        if abs(fs * duration - round(fs * duration)) < 1e-9 and round(fs * duration) > 0:
            return duration
    raise InputError(f"{path}: fs={fs:g} Hz gives no whole number of samples per EDF data record")
