"""Annotations as one flat table (kind, sample, end, label) for CSV side files and the store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from cardiostream.errors import InputError
from cardiostream.io.checks import foreign_errors
from cardiostream.record import BEAT_SYMBOLS, Annotations, BeatTable, RhythmTable


def annotation_table(annotations: Annotations) -> pa.Table:
    """Flatten beats and rhythm intervals into one table: ``kind, sample, end, label``."""
    beats, rhythms = annotations.beats, annotations.rhythms
    kind = ["beat"] * len(beats) + ["rhythm"] * len(rhythms)
    sample = np.concatenate([beats.sample, rhythms.start]).astype(np.int64)
    end = np.concatenate([beats.sample + 1, rhythms.end]).astype(np.int64)
    label = [str(s) for s in beats.symbol] + [str(s) for s in rhythms.label]
    return pa.table(
        {
            "kind": pa.array(kind, pa.string()),
            "sample": pa.array(sample, pa.int64()),
            "end": pa.array(end, pa.int64()),
            "label": pa.array(label, pa.string()),
        }
    )


def annotations_from_table(table: pa.Table, where: str | Path, n_samples: int) -> Annotations:
    """Rebuild Annotations from a ``kind, sample, end, label`` table."""
    missing = {"kind", "sample", "end", "label"} - set(table.column_names)
    if missing:
        raise InputError(f"{where}: annotation table lacks columns {sorted(missing)}")
    with foreign_errors(where, "reading annotations"):
        kind = np.asarray(table.column("kind").to_pylist(), dtype=object)
        sample = table.column("sample").to_numpy().astype(np.int64)
        end = table.column("end").to_numpy().astype(np.int64)
        label = np.asarray([str(x) for x in table.column("label").to_pylist()], dtype=str)
    beat = kind == "beat"
    rhythm = kind == "rhythm"
    unknown = set(kind[~(beat | rhythm)].tolist())
    if unknown:
        raise InputError(f"{where}: unknown annotation kinds {sorted(map(str, unknown))}")
    outside = beat & ((sample < 0) | (sample >= n_samples))
    outside |= rhythm & ((sample < 0) | (end <= sample) | (end > n_samples))
    if outside.any():
        row = int(np.argmax(outside))
        raise InputError(
            f"{where}: annotation row {row + 1} ({kind[row]} {sample[row]}..{end[row]}) lies "
            f"outside the record (samples 0..{n_samples})"
        )
    symbols = label[beat]
    if not set(symbols.tolist()) <= BEAT_SYMBOLS:
        raise InputError(
            f"{where}: beat labels outside the beat symbols: {set(symbols) - BEAT_SYMBOLS}"
        )
    return Annotations(
        beats=BeatTable(sample[beat], symbols.astype("<U1")),
        rhythms=RhythmTable(sample[rhythm], end[rhythm], label[rhythm]),
    )
