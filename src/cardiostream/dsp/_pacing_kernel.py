"""The compiled core of the pacing-spike detector (:mod:`cardiostream.dsp.pacing`).

The vectorised tests built a dozen temporaries the length of each chunk; a spike candidate
is rare, so one pass that tests each centre and looks around only the candidates is cheaper.
A live push is one call (:func:`push_kernel`: append, judge, keep the tail, in place).
"""

from __future__ import annotations

import numba as nb
import numpy as np
import numpy.typing as npt


@nb.njit(cache=True)
def _pulse(x: npt.NDArray[np.float64], i: int, w: int) -> float:
    """Height of ``x[i]`` over the mean of its neighbours ``w`` away (NaN if one is)."""
    return float(abs((x[i] - x[i - w]) + (x[i] - x[i + w])) / 2)


@nb.njit(cache=True)
def pacing_spikes_kernel(
    x: npt.NDArray[np.float64],
    first: int,
    last: int,
    w1: int,
    w2: int,
    ctx: int,
    min_height: float,
    min_symmetry: float,
    min_narrowness: float,
    floor: float,
    out: npt.NDArray[np.int64],
) -> int:
    """The pacing spikes among the centres ``first`` .. ``last - 1`` of ``x``, into ``out``.

    The tests of :mod:`cardiostream.dsp.pacing`, in the same arithmetic; every centre has
    ``ctx + w2`` samples on both sides. Returns how many were found.
    """
    found = 0
    for k in range(first, last):
        left = x[k] - x[k - w1]
        right = x[k] - x[k + w1]
        # NaN fails every comparison, as in the vectorised tests. The height first: almost
        # every sample fails it, so the branch is predictable.
        peak = abs(left + right) / 2
        if not peak >= min_height:
            continue
        same = (left > 0 and right > 0) or (left < 0 and right < 0) or (left == right == 0)
        if not same:
            continue
        small = min(abs(left), abs(right))
        large = max(abs(left), abs(right))
        if not small >= min_symmetry * large:
            continue
        # The highest within +- w2: strictly above those before, at least those after.
        top = True
        for j in range(k - w2, k):
            if not _pulse(x, j, w1) < peak:
                top = False
                break
        if top:
            for j in range(k + 1, k + w2 + 1):
                if not _pulse(x, j, w1) <= peak:
                    top = False
                    break
        if not top:
            continue
        broad = -np.inf
        for j in range(k - ctx, k + ctx + 1):
            p2 = abs(x[j] - (x[j - w2] + x[j + w2]) / 2)
            if np.isnan(p2):
                broad = np.nan
                break
            broad = max(broad, p2)
        if not peak >= min_narrowness * (broad + floor):
            continue
        out[found] = k
        found += 1
    return found


@nb.njit(cache=True)
def push_kernel(
    buf: npt.NDArray[np.float64],
    size: int,
    x: npt.NDArray[np.float64],
    start: int,
    w1: int,
    w2: int,
    ctx: int,
    min_height: float,
    min_symmetry: float,
    min_narrowness: float,
    floor: float,
) -> npt.NDArray[np.int64]:
    """One push of :class:`~cardiostream.dsp.pacing.PacingSpikeDetector` in place.

    ``buf`` holds the ``size`` samples kept (from the stream index ``start`` on) and room for
    ``x``, which is appended, non-finite samples as NaN. The centres not judged yet that
    have their whole span are judged; the last ``2 (ctx + w2)`` samples are moved to the
    start of ``buf``. Returns the spikes found, as stream indices.
    """
    reach = ctx + w2
    total = size + x.size
    for i in range(x.size):
        v = x[i]
        buf[size + i] = v if np.isfinite(v) else np.nan
    # Centres up to size - reach - 1 were judged by the previous push; the tail keeps
    # exactly what the next centres need.
    first = max(reach, size - reach)
    last = total - reach
    if last > first:
        out = np.empty((last - first) // (w2 + 1) + 1, np.int64)
        count = pacing_spikes_kernel(
            buf, first, last, w1, w2, ctx, min_height, min_symmetry, min_narrowness, floor, out
        )
        found = out[:count] + start
    else:
        found = np.zeros(0, np.int64)
    kept = min(total, 2 * reach)
    shift = total - kept
    if shift > 0:
        for i in range(kept):  # forwards: the target lies before the source
            buf[i] = buf[shift + i]
    return found
