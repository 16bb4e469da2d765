"""Names and shapes on disk that finding and reading records need, without the readers:
the store's partition layout and the suffixes of CSV records. Light on purpose (no pyarrow),
so that ``import cardiostream`` stays quick."""

from __future__ import annotations

from pathlib import Path

#: A store partition is a folder named ``record=<id>``.
PARTITION_PREFIX = "record="
SIGNAL_FILE = "part-0.parquet"
ANNOTATION_FILE = "annotations.parquet"
META_FILE = "meta.json"
USER_ANNOTATION_FILE = "user_annotations.json"
USER_ANNOTATION_JOURNAL = "user_annotations.journal"
#: Files that a rewrite of a partition carries over: added beside the record, not from it.
KEPT_FILES = (USER_ANNOTATION_FILE, USER_ANNOTATION_JOURNAL)

#: File name endings read as CSV records.
CSV_SUFFIXES = (".csv", ".tsv", ".csv.gz", ".tsv.gz")
#: Suffix of the side file that holds a CSV record's annotations.
ANNOTATION_SUFFIX = ".annotations.csv"


def is_partition(path: Path) -> bool:
    """Tell whether ``path`` is a store partition folder or its signal file."""
    folder = path.parent if path.name == SIGNAL_FILE else path
    return folder.name.startswith(PARTITION_PREFIX) and (folder / META_FILE).is_file()
