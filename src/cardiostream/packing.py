"""Arrays in saved states: plain JSON data that holds them exactly and compactly.

A streaming object's ``state_dict()`` is plain Python data (it travels as JSON in the
server's checkpoints), and a float written as JSON text takes about three times its bytes.
:func:`pack` keeps an array as its dtype, shape and bytes in base64 instead.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import numpy.typing as npt


def pack(a: npt.NDArray[Any]) -> dict[str, Any]:
    """An array as plain JSON data: dtype, shape and its bytes in base64 (exact and compact)."""
    return {
        "dtype": a.dtype.str,
        "shape": list(a.shape),
        "data": base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii"),
    }


def unpack(d: dict[str, Any], dtype: Any, shape: tuple[int, ...] | None) -> npt.NDArray[Any]:
    """The array of :func:`pack`, checked against the expected dtype and shape (-1: any).

    Raises
    ------
    ValueError
        If the dtype or shape differ from those expected, or the data does not fit them.
    """
    want = np.dtype(dtype)
    if np.dtype(d["dtype"]) != want:
        raise ValueError(f"dtype {d['dtype']} is not {want.str}")
    a = np.frombuffer(base64.b64decode(d["data"]), want).copy()
    got = tuple(int(n) for n in d["shape"])
    a = a.reshape(got)
    if shape is not None and (
        len(got) != len(shape) or any(s not in (-1, g) for s, g in zip(shape, got, strict=True))
    ):
        raise ValueError(f"shape {got} is not {shape}")
    return a
