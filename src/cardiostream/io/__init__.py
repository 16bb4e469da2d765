"""Reading and writing records: WFDB, EDF/EDF+, CSV, Parquet, and the partitioned Parquet store."""

from cardiostream.io.csv_format import read_csv, write_csv
from cardiostream.io.edf_format import read_edf, write_edf
from cardiostream.io.listing import find_records
from cardiostream.io.parquet_format import read_parquet
from cardiostream.io.read import detect_format, read
from cardiostream.io.store import (
    ParquetStore,
    convert,
    read_partition,
    safe_record_id,
    validate_record_id,
    write_store,
)
from cardiostream.io.wfdb_format import read_wfdb

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
