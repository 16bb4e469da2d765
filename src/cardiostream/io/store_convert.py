"""``convert``: records from files and folders into the partitioned Parquet store."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from cardiostream.errors import InputError
from cardiostream.io.layout import is_partition
from cardiostream.io.listing import find_records
from cardiostream.io.store import ParquetStore, safe_record_id
from cardiostream.record import Record

_log = logging.getLogger(__name__)


def convert(
    sources: Sequence[str | Path],
    store_dir: str | Path,
    *,
    reader: Callable[[Path], Record] | None = None,
    on_skip: Callable[[Path, str], None] | None = None,
    progress: Callable[[int, int, Path], None] | None = None,
) -> list[str]:
    """Read records from files and folders and write them into a store.

    Files named directly must be readable records (else InputError). Folders are walked
    for records (WFDB headers, EDF, CSV, Parquet); a file there that turns out not to be a
    record (a ``REFERENCE.csv``, say) is skipped and reported through ``on_skip``.

    Parameters
    ----------
    sources : sequence of str or Path
        Record files and folders.
    store_dir : str or Path
        The store's folder, created when missing.
    reader : callable, optional
        Reads one record from a path; :func:`cardiostream.io.read.read` by default.
    on_skip : callable, optional
        Called with ``(path, reason)`` for each file in a folder that is skipped; by default
        the reason is logged as a warning.
    progress : callable, optional
        Called with ``(done, total, path)`` after each file, written or skipped.

    Returns
    -------
    list of str
        The record ids written, in order.
    """
    if reader is None:
        from cardiostream.io.read import read as reader_default

        reader = reader_default

    items: list[tuple[Path, bool]] = []
    for source in sources:
        source = Path(source)
        if source.is_dir() and not is_partition(source):
            items += [(p, False) for p in find_records(source)]
        else:
            items.append((source, True))
    store = ParquetStore(store_dir)
    written: dict[str, Path] = {}
    for done, (path, explicit) in enumerate(items, start=1):
        try:
            record = reader(path)
        except InputError as exc:
            if explicit:
                raise
            if on_skip is not None:
                on_skip(path, str(exc))
            else:
                _log.warning("skipped %s", exc)
        else:
            record_id = safe_record_id(record.name)
            if record_id in written:
                raise InputError(
                    f"{path}: record id {record_id!r} already taken by {written[record_id]}"
                )
            store.write(record, record_id)
            written[record_id] = path
        if progress is not None:
            progress(done, len(items), path)
    return list(written)
