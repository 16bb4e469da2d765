"""Checks shared by the readers: sampling rate, signal content, foreign exceptions."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream.errors import InputError


def one_line(exc: BaseException) -> str:
    """Return the first non-empty line of an exception's message, or its type name."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__


@contextmanager
def foreign_errors(where: str | Path, doing: str) -> Iterator[None]:
    """Turn any exception other than InputError raised inside the block into an InputError.

    Third-party readers (wfdb, edfio, pyarrow) raise whatever they like, often with a
    traceback-sized message; the user must see one line naming the file instead.

    Parameters
    ----------
    where : str or Path
        The file or field the block works on; it starts the message.
    doing : str
        What the block does, e.g. ``"reading the header"``.
    """
    try:
        yield
    except InputError:
        raise
    except MemoryError:
        raise
    except Exception as exc:
        raise InputError(f"{where}: error {doing}: {one_line(exc)}") from exc


def check_fs(fs: float, where: str | Path, field: str = "fs") -> float:
    """Return ``fs`` as a float, or raise InputError when it is not a positive finite number."""
    try:
        value = float(fs)
    except (TypeError, ValueError):
        raise InputError(f"{where}: {field} must be a number, got {fs!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"{where}: {field} must be positive, got {fs!r}")
    return value


def check_signal(signal: npt.NDArray[np.float32], where: str | Path) -> npt.NDArray[np.float32]:
    """Raise InputError when a signal is empty or entirely missing; return it unchanged."""
    if signal.ndim != 2 or signal.shape[0] == 0 or signal.shape[1] == 0:
        raise InputError(f"{where}: the signal is empty (shape {tuple(signal.shape)})")
    if not np.isfinite(signal).any():
        raise InputError(f"{where}: the signal has no finite samples (all NaN)")
    return signal


def column_names(table: Any, path: str | Path) -> list[str]:
    """Return a table's column names, or raise InputError when the header is not UTF-8.

    pyarrow reads the header as bytes and decodes a name only when asked for it, so a header
    in another encoding fails here, outside the read, with a UnicodeDecodeError.

    Parameters
    ----------
    table : pyarrow.Table
        The table read from ``path``.
    path : str or Path
        The file, named in errors.

    Returns
    -------
    list of str
        The column names.
    """
    try:
        return [str(n) for n in table.column_names]
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: the header is not UTF-8 text (byte {exc.object[exc.start]:#04x} at "
            f"position {exc.start} of a column name); save the file as UTF-8"
        ) from None
