"""CSV records: a time column and one column per lead, with optional annotation side file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from cardiostream.errors import InputError
from cardiostream.io.annotation_table import annotation_table, annotations_from_table
from cardiostream.io.checks import column_names, foreign_errors
from cardiostream.io.layout import ANNOTATION_SUFFIX
from cardiostream.io.table import record_from_columns
from cardiostream.record import Annotations, Record


def annotation_path(path: str | Path) -> Path:
    """Return the annotation side file of a CSV record: ``rec.csv`` -> ``rec.annotations.csv``."""
    path = Path(path)
    return path.with_name(csv_stem(path) + ANNOTATION_SUFFIX)


def csv_stem(path: Path) -> str:
    """Return the record name of a CSV file (``rec.csv``, ``rec.csv.gz`` -> ``rec``)."""
    name = path.name
    for suffix in (".gz", ".bz2", ".zst"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name.rsplit(".", 1)[0] if "." in name else name


def header_delimiter(line: str) -> str:
    """The delimiter of a CSV file, from its header line: a comma if there is one, else a tab,
    else a semicolon (what spreadsheets write where the decimal mark is a comma), else a
    comma (a single column)."""
    for delimiter in (",", "\t", ";"):
        if delimiter in line:
            return delimiter
    return ","


def decimal_comma(line: str, delimiter: str) -> bool:
    """Whether a data line of a file separated by ``delimiter`` writes its numbers with a
    decimal comma (``0,512``): only where the comma is not the delimiter."""
    if delimiter == ",":
        return False
    return any(_COMMA_NUMBER.fullmatch(cell.strip()) for cell in line.split(delimiter))


#: Data lines looked at for a decimal comma.
_SNIFF_LINES = 20

_COMMA_NUMBER = re.compile(r"[-+]?\d*,\d+(?:[eE][-+]?\d+)?")


def _head(path: Path, lines: int) -> list[str]:
    """The first ``lines`` lines of a file (fewer if it is shorter), decoded leniently."""
    out: list[str] = []
    with path.open("rb") as f:
        for _ in range(lines):
            raw = f.readline(65536)
            if not raw:
                break
            out.append(raw.decode("utf-8-sig", "replace"))
    return out


def _read_table(path: Path) -> pa.Table:
    delimiter, comma = ",", False
    if path.name.lower().endswith((".tsv", ".tsv.gz")):
        delimiter = "\t"
    if path.suffix.lower() in (".csv", ".tsv"):  # compressed: pyarrow decompresses, as is
        head = _head(path, 1 + _SNIFF_LINES)
        if head and path.suffix.lower() == ".csv":
            delimiter = header_delimiter(head[0])
        # A whole number (a first time of 0, a sample of 0) shows no decimal mark: look on.
        comma = any(decimal_comma(line, delimiter) for line in head[1:])
    parse = pacsv.ParseOptions(delimiter=delimiter)
    convert = pacsv.ConvertOptions(decimal_point="," if comma else ".")
    with foreign_errors(path, "reading CSV"):
        return pacsv.read_csv(str(path), parse_options=parse, convert_options=convert)


def read_csv(path: str | Path, *, fs: float | None = None) -> Record:
    """Read a CSV record: a header row, a time column and one column per lead.

    Parameters
    ----------
    path : str or Path
        The CSV file (``.csv``, ``.tsv``, optionally ``.gz``).
    fs : float, optional
        The sampling rate. Without it the rate comes from a time column in seconds (named
        ``time``, ``t``, ``time_s``, ``seconds``; ``time_ms`` in milliseconds), which must be
        uniform. A ``sample``/``index`` column is accepted but needs ``fs``.

    Returns
    -------
    Record
        Lead columns become leads; a unit suffix (``II_mV``, ``II (uV)``, ``II_V``) sets the
        unit, mV by default. Annotations come from ``<name>.annotations.csv`` when present.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    table = _read_table(path)
    names = column_names(table, path)
    if not names:
        raise InputError(f"{path}: no columns")
    if all(_is_number(n) for n in names):
        raise InputError(f"{path}: the first line must be a header naming the columns")
    columns = [table.column(i).to_numpy() for i in range(table.num_columns)]
    side = annotation_path(path)
    n_rows = table.num_rows
    annotations = read_annotation_csv(side, n_rows) if side.is_file() else Annotations()
    return record_from_columns(
        names,
        columns,
        path,
        name=csv_stem(path),
        fs=fs,
        annotations=annotations,
        meta={"format": "csv"},
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def write_csv(record: Record, path: str | Path) -> Path:
    """Write a record as CSV: ``time_s`` then ``<lead>_mV`` columns, float32 values exact.

    Annotations, when the record has any, go to ``<name>.annotations.csv`` next to it with
    columns ``kind`` (``beat`` or ``rhythm``), ``sample``, ``end``, ``label``.

    Parameters
    ----------
    record : Record
        The record to write.
    path : str or Path
        The CSV file to create (overwritten when it exists).

    Returns
    -------
    Path
        The CSV file written.
    """
    path = Path(path)
    n = record.n_samples
    arrays: dict[str, Any] = {"time_s": np.arange(n, dtype=np.float64) / record.fs}
    for j, lead in enumerate(record.leads):
        arrays[f"{lead}_mV"] = record.signal[:, j]
    with foreign_errors(path, "writing CSV"):
        # pyarrow prints float32 with the shortest text that reads back to the same float32.
        pacsv.write_csv(pa.table(arrays), str(path))
        side = annotation_path(path)
        if record.annotations:
            pacsv.write_csv(annotation_table(record.annotations), str(side))
        elif side.exists():
            side.unlink()
    return path


def read_annotation_csv(path: Path, n_samples: int) -> Annotations:
    """Read an annotation side file written by :func:`write_csv` (or saved again by a
    spreadsheet, with semicolons)."""
    head = _head(path, 1)
    delimiter = header_delimiter(head[0]) if head else ","
    with foreign_errors(path, "reading CSV annotations"):
        table = pacsv.read_csv(
            str(path),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(
                column_types={"kind": pa.string(), "label": pa.string()},
                strings_can_be_null=False,
            ),
        )
    column_names(table, path)
    return annotations_from_table(table, path, n_samples)
