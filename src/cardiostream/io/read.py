"""``read(path)``: one entry point for every record format, chosen by extension or content."""

from __future__ import annotations

from pathlib import Path

from cardiostream.errors import InputError
from cardiostream.io.layout import CSV_SUFFIXES, PARTITION_PREFIX, is_partition
from cardiostream.io.wfdb_format import wfdb_stem
from cardiostream.record import Record

#: How the first bytes of a file betray its format when the extension does not.
_EDF_MAGIC = b"0       "
_PARQUET_MAGIC = b"PAR1"


def detect_format(path: str | Path) -> str:
    """Name the format of a record path: ``wfdb``, ``edf``, ``csv``, ``parquet`` or ``partition``.

    Raises
    ------
    InputError
        When the path does not exist or its format is not one of these.
    """
    path = Path(path)
    lower = path.name.lower()
    if path.is_dir():
        if is_partition(path):
            return "partition"
        if any(p.name.startswith(PARTITION_PREFIX) for p in path.iterdir()):
            raise InputError(f"{path}: a store folder; name a record (record=<id>)")
        raise InputError(f"{path}: a folder, not a record")
    if lower.endswith(".hea"):
        return "wfdb"
    if lower.endswith(".edf"):
        return "edf"
    if lower.endswith(CSV_SUFFIXES):
        return "csv"
    if lower.endswith(".parquet"):
        return "parquet"
    if wfdb_stem(path) is not None:
        return "wfdb"  # The path without extension, or a .dat/.mat beside its header.
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file")
    try:
        with path.open("rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror}") from None
    if head.startswith(_PARQUET_MAGIC):
        return "parquet"
    if head == _EDF_MAGIC:
        return "edf"
    raise InputError(f"{path}: unknown record format (expected WFDB .hea, .edf, .csv or .parquet)")


def read(
    path: str | Path,
    *,
    record: str | None = None,
    fs: float | None = None,
    annotator: str | None = None,
) -> Record:
    """Read an ECG record from a file, in millivolts.

    Parameters
    ----------
    path : str or Path
        A WFDB record (its ``.hea`` file, or the path without extension), an EDF/EDF+ file,
        a CSV file, a Parquet file, a store partition folder (``store/record=<id>``), or a
        store folder together with ``record``.
    record : str, optional
        The record id when ``path`` is a store folder.
    fs : float, optional
        The sampling rate of a CSV or Parquet table without a time column in seconds. For
        formats that state their rate it must agree (within 1 %).
    annotator : str, optional
        WFDB annotation file extension to read (``atr`` by default, when present).

    Returns
    -------
    Record
        ``signal`` float32 ``[n_samples, n_leads]`` in mV, ``fs``, ``leads``, ``name`` (the
        file stem), ``annotations`` (possibly empty) and ``meta``.

    Raises
    ------
    InputError
        For anything wrong with the input, with a one-line message naming the file or field.
    """
    # Each format's reader is imported when a file needs it: pyarrow and edfio are slow to
    # load and most programs read one format.
    if record is not None:
        from cardiostream.io.store import read_partition

        return read_partition(path, record)
    kind = detect_format(path)
    if kind != "wfdb" and annotator is not None:
        raise InputError(f"{path}: annotator applies to WFDB records only")
    if kind == "wfdb":
        from cardiostream.io.wfdb_format import read_wfdb

        result = read_wfdb(path, annotator=annotator)
    elif kind == "edf":
        from cardiostream.io.edf_format import read_edf

        result = read_edf(path)
    elif kind == "csv":
        from cardiostream.io.csv_format import read_csv

        return read_csv(path, fs=fs)
    elif kind == "parquet":
        from cardiostream.io.parquet_format import read_parquet

        return read_parquet(path, fs=fs)
    else:
        from cardiostream.io.store import read_partition

        result = read_partition(path)
    if fs is not None and abs(float(fs) - result.fs) > 0.01 * result.fs:
        raise InputError(f"{path}: fs={fs} given, but the record states {result.fs:g} Hz")
    return result
