"""WFDB records: a `.hea` header with `.dat` or `.mat` signal files and `.atr` annotations."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream.errors import InputError
from cardiostream.io.checks import check_fs, check_signal, foreign_errors
from cardiostream.io.units import mv_per_unit
from cardiostream.io.wfdb_checks import RecordLine, check_header, decode_annotations
from cardiostream.record import BEAT_SYMBOLS, Annotations, BeatTable, Record, RhythmTable

#: Bytes per sample of each WFDB storage format (212 packs two samples into three bytes,
#: 310 and 311 pack three into four).
_BYTES_PER_SAMPLE: dict[str, float] = {
    "8": 1,
    "80": 1,
    "16": 2,
    "61": 2,
    "160": 2,
    "212": 1.5,
    "24": 3,
    "32": 4,
    "310": 4 / 3,
    "311": 4 / 3,
}

#: The digital value that marks a missing sample in each format (WFDB "invalid" samples).
_INVALID: dict[str, int] = {
    "80": -128,
    "16": -32768,
    "61": -32768,
    "160": -32768,
    "212": -2048,
    "24": -(2**23),
    "32": -(2**31),
    "310": -512,
    "311": -512,
}

#: WFDB's documented default gain for a header that leaves the ADC gain at 0 (uncalibrated).
_DEFAULT_GAIN = 200.0


def wfdb_stem(path: str | Path) -> Path | None:
    """Return the record path without extension when ``path`` names a WFDB record, else None.

    A record is named by its ``.hea`` file, by the path without extension, or by its
    ``.dat``/``.mat`` signal file when the header lies next to it.
    """
    text = str(path)
    if text.lower().endswith(".hea"):
        return Path(text[:-4])
    if Path(text + ".hea").is_file():
        return Path(text)
    if text.lower().endswith((".dat", ".mat")) and Path(text[:-4] + ".hea").is_file():
        return Path(text[:-4])
    return None


def read_wfdb(path: str | Path, *, annotator: str | None = None) -> Record:
    """Read a WFDB record in millivolts, with its beat and rhythm annotations.

    Parameters
    ----------
    path : str or Path
        The ``.hea`` file, or the record path without extension.
    annotator : str, optional
        Extension of the annotation file to read (``"atr"``, ``"qrs"``, ...). By default
        ``.atr`` is read when it exists; a named annotator must exist.

    Returns
    -------
    Record
        Float32 signal ``[n_samples, n_leads]`` in mV, missing samples as NaN. Channels whose
        unit is not a voltage are left out and listed in ``meta["dropped_signals"]``.

    Raises
    ------
    InputError
        When a file is missing, truncated or disagrees with the header, or when the
        header or annotations cannot be parsed.
    """
    import wfdb  # pandas comes with it: import only when a WFDB file is read

    stem = wfdb_stem(path)
    if stem is None:
        raise InputError(f"{path}: no such WFDB record (expected a .hea header)")
    hea = Path(str(stem) + ".hea")
    if not hea.is_file():
        raise InputError(f"{hea}: no such file")
    _check_header(hea)
    with foreign_errors(hea, "reading the WFDB header"):
        header = wfdb.rdheader(str(stem))
    fs = check_fs(header.fs, hea, "sampling frequency")
    if isinstance(header, wfdb.MultiRecord):
        _check_segments(stem.parent, hea, header, fs)
        signal, units, leads, gains = _read_multi_segment(stem, hea)
    else:
        signal, units, leads, gains = _read_single_segment(stem, hea, header)

    keep: list[int] = []
    dropped: list[str] = []
    for j, unit in enumerate(units):
        # WFDB's default unit, when a header gives none, is the millivolt.
        factor = mv_per_unit(unit) if unit else 1.0
        if factor is None:
            dropped.append(f"{leads[j]} ({unit})")
            continue
        keep.append(j)
        if factor != 1.0:
            signal[:, j] *= np.float32(factor)
    if not keep:
        raise InputError(f"{hea}: no signal has a voltage unit (units: {units})")
    if len(keep) < signal.shape[1]:
        signal = np.ascontiguousarray(signal[:, keep])
    check_signal(signal, hea)

    meta: dict[str, Any] = {
        "source": str(hea),
        "format": "wfdb",
        "units": [units[j] or "mV" for j in keep],
        "comments": list(header.comments or []),
    }
    if dropped:
        meta["dropped_signals"] = dropped
    if any(gains[j] == 0 for j in keep):
        meta["uncalibrated"] = f"ADC gain 0 in the header; {_DEFAULT_GAIN:g} per mV assumed"
    if header.base_date is not None or header.base_time is not None:
        meta["start"] = " ".join(str(x) for x in (header.base_date, header.base_time) if x)

    annotations = _read_annotations(stem, annotator, signal.shape[0])
    return Record(
        signal=signal,
        fs=fs,
        leads=[leads[j] for j in keep],
        name=stem.name,
        annotations=annotations,
        meta=meta,
    )


def _check_header(hea: Path) -> RecordLine | None:
    """Check the header's record line and signal gains before wfdb parses it.

    wfdb falls back to 250 Hz when the sampling frequency does not parse (``+360``, say) and
    drops a lead whose gain does not parse, which would silently give a wrong time axis or
    analyse another lead, so the header is checked here first.

    Returns
    -------
    RecordLine or None
        The number of signals and the sampling frequency the record line states.
    """
    with foreign_errors(hea, "reading the WFDB header"):
        text = hea.read_text(encoding="latin-1")
    return check_header(hea, text)


def _check_segments(folder: Path, hea: Path, header: Any, fs: float) -> None:
    """Check each segment header of a multi-segment record as strictly as a record's own.

    wfdb reads a segment whose gain does not parse without that lead, and a segment at
    another rate as if it were at the record's, so each segment's header is checked here
    and the rate it states compared with the record's. The record's number of signals must
    be that of its widest segment (the layout header of a variable layout): wfdb makes room
    for as many as the record line declares.
    """
    n_sig = int(header.n_sig or 0)
    widest = 0
    for name in header.seg_name or []:
        if not name or name == "~":
            continue  # A gap: no header of its own.
        segment = folder / f"{name}.hea"
        if not segment.is_file():
            raise InputError(f"{segment}: no such file (a segment named by {hea.name})")
        line = _check_header(segment)
        if line is None:
            raise InputError(f"{segment}: no record line (a segment named by {hea.name})")
        if line.fs is not None and line.fs != fs:
            raise InputError(
                f"{segment}: sampling frequency {line.fs:g} Hz, the record ({hea.name}) "
                f"states {fs:g} Hz"
            )
        if line.n_sig > n_sig:
            raise InputError(
                f"{segment}: {line.n_sig} signals, the record ({hea.name}) declares {n_sig}"
            )
        widest = max(widest, line.n_sig)
    if widest < n_sig:
        raise InputError(
            f"{hea}: the record line declares {n_sig} signals, its segments hold at most {widest}"
        )


def _read_single_segment(
    stem: Path, hea: Path, header: Any
) -> tuple[npt.NDArray[np.float32], list[str], list[str], list[float]]:
    """Read the digital samples and convert them to float32 physical units (not yet mV)."""
    import wfdb  # pandas comes with it: import only when a WFDB file is read

    n_sig = int(header.n_sig or 0)
    if n_sig <= 0:
        raise InputError(f"{hea}: the header declares no signals")
    described = len(header.file_name or [])
    if described != n_sig:
        raise InputError(
            f"{hea}: the record line declares {n_sig} signals, {described} signal lines follow"
        )
    if header.sig_len is not None and int(header.sig_len) == 0:
        raise InputError(f"{hea}: the header declares 0 samples (empty record)")
    fmts = [str(f) for f in header.fmt]
    _check_signal_files(stem.parent, hea, header)
    # 24- and 32-bit formats do not fit in int16.
    res = 64 if "32" in fmts else 32 if "24" in fmts else 16
    with foreign_errors(hea, "reading the WFDB signal"):
        rec = wfdb.rdrecord(str(stem), physical=False, return_res=res)
    digital = np.asarray(rec.d_signal)
    if digital.ndim != 2 or digital.shape[1] != n_sig:
        raise InputError(
            f"{hea}: the header declares {n_sig} signals, the data file gave {digital.shape}"
        )
    if header.sig_len is not None and digital.shape[0] != int(header.sig_len):
        raise InputError(
            f"{hea}: the header declares {header.sig_len} samples, the data file gave "
            f"{digital.shape[0]}"
        )
    wide = res > 16
    signal = np.empty(digital.shape, np.float32)
    gains: list[float] = []
    for j in range(n_sig):
        gain = float(rec.adc_gain[j] or 0.0)
        gains.append(gain)
        baseline = float(rec.baseline[j] or 0)
        column = digital[:, j]
        # Subtract in float64 for wide formats, where float32 would lose integer precision.
        if wide:
            signal[:, j] = (column.astype(np.float64) - baseline) / (gain or _DEFAULT_GAIN)
        else:
            divisor = np.float32(gain or _DEFAULT_GAIN)
            signal[:, j] = (column.astype(np.float32) - np.float32(baseline)) / divisor
        invalid = _INVALID.get(fmts[j])
        if invalid is not None:
            signal[column == invalid, j] = np.nan
    units = [str(u) if u else "" for u in (rec.units or [""] * n_sig)]
    leads = _lead_names(rec.sig_name, n_sig)
    return signal, units, leads, gains


def _read_multi_segment(
    stem: Path, hea: Path
) -> tuple[npt.NDArray[np.float32], list[str], list[str], list[float]]:
    """Read a multi-segment record; wfdb joins the segments and marks gaps as NaN."""
    import wfdb  # pandas comes with it: import only when a WFDB file is read

    with foreign_errors(hea, "reading the WFDB multi-segment record"):
        rec = wfdb.rdrecord(str(stem), physical=True, m2s=True)
    physical = np.asarray(rec.p_signal, dtype=np.float32)
    if physical.ndim != 2:
        raise InputError(f"{hea}: the record holds no signal")
    n_sig = physical.shape[1]
    units = [str(u) if u else "" for u in (rec.units or [""] * n_sig)]
    gains = [float(g or 0.0) for g in (rec.adc_gain or [_DEFAULT_GAIN] * n_sig)]
    return physical, units, _lead_names(rec.sig_name, n_sig), gains


def _lead_names(names: list[str] | None, n_sig: int) -> list[str]:
    """Return the channel names, numbering unnamed channels."""
    names = list(names or [])
    return [str(names[j]) if j < len(names) and names[j] else f"ch{j}" for j in range(n_sig)]


def _check_signal_files(folder: Path, hea: Path, header: Any) -> None:
    """Compare each signal file's size with what the header declares.

    wfdb silently returns fewer samples for a truncated file and misreads a file whose
    header has the wrong number of signals, so the sizes are checked first.
    """
    if header.sig_len is None:
        return  # The header lets the file length decide.
    by_file: dict[str, list[int]] = defaultdict(list)
    for j, name in enumerate(header.file_name):
        by_file[str(name)].append(j)
    for name, channels in by_file.items():
        data = folder / name
        if not data.is_file():
            raise InputError(f"{data}: no such file (named by {hea.name})")
        fmt = str(header.fmt[channels[0]])
        per_sample = _BYTES_PER_SAMPLE.get(fmt)
        if per_sample is None:
            raise InputError(f"{hea}: unsupported WFDB signal format {fmt!r}")
        spf = sum(int((header.samps_per_frame or [1] * (j + 1))[j] or 1) for j in channels)
        offset = int((header.byte_offset or [0] * (channels[0] + 1))[channels[0]] or 0)
        expected = offset + math.ceil(int(header.sig_len) * spf * per_sample)
        size = data.stat().st_size
        frame = math.ceil(spf * per_sample)
        if size < expected:
            held = max(0, int((size - offset) / (spf * per_sample)))
            raise InputError(
                f"{data}: truncated: {hea.name} declares {header.sig_len} samples of "
                f"{len(channels)} signal(s) ({expected} bytes), the file holds {size} bytes "
                f"(~{held} samples)"
            )
        if size >= expected + frame:
            raise InputError(
                f"{data}: holds {size} bytes but {hea.name} declares {header.sig_len} samples "
                f"of {len(channels)} signal(s) ({expected} bytes): wrong length or signal count"
            )


def _read_annotations(stem: Path, annotator: str | None, n_samples: int) -> Annotations:
    """Read beats and rhythm intervals from an annotation file next to the record.

    The file is decoded from its bytes here (:func:`decode_annotations`), not by
    ``wfdb.rdann``, which reads a truncated file in part and loops forever on some malformed
    ones; the decoder gives the same annotations for a well-formed file and always ends.
    """
    extension = annotator or "atr"
    ann_path = Path(f"{stem}.{extension}")
    if not ann_path.is_file():
        if annotator is not None:
            raise InputError(f"{ann_path}: no such annotation file")
        return Annotations()
    with foreign_errors(ann_path, "reading the annotations"):
        data = ann_path.read_bytes()
    ann = decode_annotations(ann_path, data)
    return Annotations(
        beats=beats_from_symbols(ann.sample, ann.symbol, n_samples),
        rhythms=rhythms_from_aux(ann.sample, ann.aux_note, n_samples),
    )


def beats_from_symbols(
    samples: npt.NDArray[np.int64], symbols: npt.NDArray[np.str_], n_samples: int
) -> BeatTable:
    """Keep the annotations whose symbol is a beat (``record.BEAT_SYMBOLS``) inside the record."""
    if samples.size == 0:
        return BeatTable.empty()
    keep = np.isin(symbols, sorted(BEAT_SYMBOLS)) & (samples >= 0) & (samples < n_samples)
    return BeatTable(samples[keep].astype(np.int64), symbols[keep].astype("<U1"))


def rhythms_from_aux(samples: npt.NDArray[np.int64], aux: list[str], n_samples: int) -> RhythmTable:
    """Turn WFDB rhythm changes (aux notes ``(AFIB``, ``(N``, ...) into intervals.

    Each interval runs from its change to the next change of label or the record's end;
    repeated changes to the same label are merged.
    """
    starts: list[int] = []
    labels: list[str] = []
    for sample, note in zip(samples.tolist(), aux, strict=True):
        if not note or not note.startswith("("):
            continue
        label = note[1:].split("\x00", 1)[0].strip()
        if not label:
            continue
        at = min(max(int(sample), 0), n_samples)
        if starts and starts[-1] == at:
            labels[-1] = label  # Two changes at one sample: the later one holds.
            continue
        if labels and labels[-1] == label:
            continue
        starts.append(at)
        labels.append(label)
    if not starts:
        return RhythmTable.empty()
    # Collapse a label that now equals its predecessor after same-sample replacement.
    merged_s: list[int] = []
    merged_l: list[str] = []
    for s, lab in zip(starts, labels, strict=True):
        if merged_l and merged_l[-1] == lab:
            continue
        merged_s.append(s)
        merged_l.append(lab)
    start = np.asarray(merged_s, dtype=np.int64)
    end = np.append(start[1:], np.int64(n_samples)).astype(np.int64)
    keep = end > start
    return RhythmTable(start[keep], end[keep], np.asarray(merged_l, dtype=str)[keep])
