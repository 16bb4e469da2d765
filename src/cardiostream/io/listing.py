"""Finding records: the folder walk of ``convert``, ``classify`` and ``analyze``, and the
record lists of WFDB databases (their ``RECORDS`` file, else their headers)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from cardiostream.errors import InputError
from cardiostream.io.layout import ANNOTATION_SUFFIX, CSV_SUFFIXES, is_partition

__all__ = ["find_records", "list_annotated_records", "list_records", "walk_records"]


def find_records(folder: str | Path) -> list[Path]:
    """List the records under a folder, sorted: WFDB headers, EDF, CSV, Parquet, partitions.

    Store partitions count as one record each and are not entered; hidden folders
    (temporary partitions among them) are skipped, as are CSV annotation side files.
    """
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        base = Path(root)
        keep = []
        for d in sorted(dirs):
            if d.startswith("."):
                continue
            if is_partition(base / d):
                found.append(base / d)
            else:
                keep.append(d)
        dirs[:] = keep
        for name in sorted(files):
            lower = name.lower()
            if name.startswith(".") or lower.endswith(ANNOTATION_SUFFIX):
                continue
            if lower.endswith((".hea", ".edf", ".parquet", *CSV_SUFFIXES)):
                found.append(base / name)
    return sorted(found)


def walk_records(paths: Iterable[str | Path]) -> list[tuple[Path, bool]]:
    """Expand files and folders into the records to read, each with whether it was named.

    A folder gives the records :func:`find_records` finds in it; any other path is kept as
    it is. The flag tells a named path (an error when it is not a record) from one met while
    walking a folder (a side file such as ``REFERENCE.csv``, to pass over).

    Parameters
    ----------
    paths : iterable of str or Path
        Record files and folders, in the order given.

    Returns
    -------
    list of (Path, bool)
        Each path to read, and True when it was named rather than found in a folder.
    """
    found: list[tuple[Path, bool]] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += [(p, False) for p in find_records(path)]
        else:
            found.append((path, True))
    return found


def list_records(data_dir: str | Path) -> list[str]:
    """Names of the WFDB records of a folder: its ``RECORDS`` file, else every ``*.hea``."""
    folder = Path(data_dir)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder")
    listing = folder / "RECORDS"
    if listing.is_file():
        names = [ln.strip() for ln in listing.read_text().splitlines() if ln.strip()]
    else:
        names = sorted(p.stem for p in folder.glob("*.hea"))
    if not names:
        raise InputError(f"{folder}: no WFDB records (no RECORDS file and no .hea files)")
    return names


def list_annotated_records(data_dir: str | Path) -> list[Path]:
    """Headers of the annotated WFDB records of a folder.

    The folder's ``RECORDS`` file names them when present; otherwise every ``*.hea`` with an
    ``.atr`` file beside it, sorted.

    Raises
    ------
    InputError
        If the folder is missing or holds no annotated record.
    """
    folder = Path(data_dir)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder")
    if (folder / "RECORDS").is_file():
        return [folder / f"{name}.hea" for name in list_records(folder)]
    found = sorted(p for p in folder.glob("*.hea") if p.with_suffix(".atr").is_file())
    if not found:
        raise InputError(f"{folder}: no annotated WFDB records (no .hea with an .atr beside it)")
    return found
