"""Plain Parquet tables as records (store partitions are read by :mod:`cardiostream.io.store`)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from cardiostream.errors import InputError
from cardiostream.io.checks import column_names, foreign_errors
from cardiostream.io.layout import is_partition
from cardiostream.io.store import read_partition
from cardiostream.io.table import record_from_columns
from cardiostream.record import Record


def read_parquet(path: str | Path, *, fs: float | None = None) -> Record:
    """Read a Parquet file: a store partition's signal file, or a table like a CSV record.

    A plain table has a time column in seconds (or ``fs``) and one numeric column per lead,
    with the same naming rules as CSV (``II_mV``, ``II (uV)``, mV by default).

    Parameters
    ----------
    path : str or Path
        The ``.parquet`` file.
    fs : float, optional
        The sampling rate, when the table has no time column in seconds.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if is_partition(path):
        return read_partition(path)
    with foreign_errors(path, "reading Parquet"):
        table = pq.read_table(path)
    names = column_names(table, path)
    if not names:
        raise InputError(f"{path}: no columns")
    with foreign_errors(path, "reading Parquet columns"):
        columns = [table.column(i).to_numpy() for i in range(table.num_columns)]
    return record_from_columns(
        names, columns, path, name=path.stem, fs=fs, meta={"format": "parquet"}
    )
