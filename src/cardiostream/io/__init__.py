"""Reading and writing records: WFDB, EDF/EDF+, CSV, Parquet, and the partitioned Parquet store.

``read``, ``detect_format`` and ``find_records`` load with the package; the format modules
(pyarrow, edfio) load when a name of theirs is first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from cardiostream.io.listing import find_records
from cardiostream.io.read import detect_format, read

if TYPE_CHECKING:
    from cardiostream.io.csv_format import read_csv, write_csv
    from cardiostream.io.edf_format import read_edf, write_edf
    from cardiostream.io.parquet_format import read_parquet
    from cardiostream.io.store import (
        ParquetStore,
        read_partition,
        safe_record_id,
        validate_record_id,
        write_store,
    )
    from cardiostream.io.store_convert import convert
    from cardiostream.io.wfdb_format import read_wfdb

#: Where each lazily loaded name lives.
_LAZY = {
    "convert": "store_convert",
    "read_csv": "csv_format",
    "write_csv": "csv_format",
    "read_edf": "edf_format",
    "write_edf": "edf_format",
    "read_parquet": "parquet_format",
    "ParquetStore": "store",
    "read_partition": "store",
    "safe_record_id": "store",
    "validate_record_id": "store",
    "write_store": "store",
    "read_wfdb": "wfdb_format",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"cardiostream.io.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'cardiostream.io' has no attribute {name!r}")


__all__ = [
    "ParquetStore",
    "convert",
    "detect_format",
    "find_records",
    "read",
    "read_csv",
    "read_edf",
    "read_parquet",
    "read_partition",
    "read_wfdb",
    "safe_record_id",
    "validate_record_id",
    "write_csv",
    "write_edf",
    "write_store",
]
