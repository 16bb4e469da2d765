"""Order statistics by selection, compiled: the value a sort would put at a place, without
sorting. The beat features take a median a beat and the beat-interval AF detector a median
and a quartile a beat; sorting, a mispredicted branch a value, cost more than the rest of
their rows."""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@numba.njit(cache=True)
def select(a: FloatArray, lo: int, hi: int, k: int) -> float:  # pragma: no cover - compiled
    """Reorder ``a[lo:hi]`` (no NaN) so that ``a[k]`` is the value a sort would put there,
    none after it smaller, none before it larger; return it (quickselect, median-of-three
    pivots)."""
    hi -= 1
    while lo < hi:
        mid = (lo + hi) >> 1
        x, y, z = a[lo], a[mid], a[hi]
        if (x <= y) == (y <= z):
            p = mid
        elif (y <= x) == (x <= z):
            p = lo
        else:
            p = hi
        pivot = a[p]
        a[p] = a[hi]
        a[hi] = pivot
        store = lo
        # Branch-free Lomuto partition: the comparison is a coin toss the predictor loses.
        for i in range(lo, hi):
            v = a[i]
            a[i] = a[store]
            a[store] = v
            store += v < pivot
        a[hi] = a[store]
        a[store] = pivot
        if store == k:
            break
        if store < k:
            lo = store + 1
        else:
            hi = store - 1
    return float(a[k])
