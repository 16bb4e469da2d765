"""Compiled inner loops of the stateful filters.

A scipy call costs ~15-60 µs of fixed overhead, which dominates when 24 h of ECG arrives in
250-sample chunks; these loops cost ~1 µs per call. Each kernel walks the samples in order and
keeps its whole state in the arrays it is given, so any split of the input into chunks performs
the same floating-point operations in the same order as one pass (bit-equal outputs).

Every kernel applies the same missing-sample policy: a non-finite input is replaced by the
lead's last finite value (``hold``) for the state update and gives NaN at its output position;
a lead's state is started (``started``) at its first finite sample, in the steady state of a
signal that had been constant at that value forever.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np
import numpy.typing as npt

F = TypeVar("F", bound=Callable[..., Any])

Float2D = npt.NDArray[np.float64]


def _jit(func: F) -> F:
    return cast(F, numba.njit(cache=True, nogil=True)(func))


@numba.njit(cache=True, nogil=True)
def _two_sections(
    sos: Float2D, zi: npt.NDArray[np.float64], y: Float2D, c: int, first: int
) -> None:
    """Both sections of a two-section cascade over ``y[first:, c]`` in one pass, each sample
    through the first then the second: the operations of one section after the other, but
    the two recursions overlap instead of each waiting on its own latency in turn."""
    b00, b01, b02, a01, a02 = sos[0, 0], sos[0, 1], sos[0, 2], sos[0, 4], sos[0, 5]
    b10, b11, b12, a11, a12 = sos[1, 0], sos[1, 1], sos[1, 2], sos[1, 4], sos[1, 5]
    z00, z01 = zi[0, 0, c], zi[0, 1, c]
    z10, z11 = zi[1, 0, c], zi[1, 1, c]
    for i in range(first, y.shape[0]):
        v = y[i, c]
        u = b00 * v + z00
        z00 = b01 * v - a01 * u + z01
        z01 = b02 * v - a02 * u
        out = b10 * u + z10
        z10 = b11 * u - a11 * out + z11
        z11 = b12 * u - a12 * out
        y[i, c] = out
    zi[0, 0, c], zi[0, 1, c] = z00, z01
    zi[1, 0, c], zi[1, 1, c] = z10, z11


@_jit
def sos_kernel(
    sos: Float2D,
    zi_unit: Float2D,
    x: Float2D,
    zi: npt.NDArray[np.float64],
    hold: npt.NDArray[np.float64],
    started: npt.NDArray[np.bool_],
    y: Float2D,
) -> None:
    """Cascade of biquads in transposed direct form II (the form of ``scipy.signal.sosfilt``).

    ``x``/``y`` are ``[n, leads]``; ``zi`` is ``[sections, 2, leads]``; ``zi_unit`` is the
    steady state for a unit constant input (``sosfilt_zi``). Each section runs over the whole
    chunk with its state in registers; per sample this performs the same operations in the same
    order as running all sections sample by sample, so outputs do not depend on chunking.
    """
    n, n_leads = x.shape
    n_sec = sos.shape[0]
    for c in range(n_leads):
        first = 0
        if not started[c]:
            first = n
            for i in range(n):
                if np.isfinite(x[i, c]):
                    first = i
                    break
            for i in range(first):
                y[i, c] = np.nan
            if first == n:
                continue
            for s in range(n_sec):
                zi[s, 0, c] = zi_unit[s, 0] * x[first, c]
                zi[s, 1, c] = zi_unit[s, 1] * x[first, c]
            started[c] = True
        held = hold[c]
        any_missing = False
        for i in range(first, n):
            v = x[i, c]
            if np.isfinite(v):
                held = v
            else:
                any_missing = True
                v = held
            y[i, c] = v
        hold[c] = held
        if n_sec == 2:
            _two_sections(sos, zi, y, c, first)
            n_done = 2
        else:
            n_done = 0
        for s in range(n_done, n_sec):
            b0, b1, b2 = sos[s, 0], sos[s, 1], sos[s, 2]
            a1, a2 = sos[s, 4], sos[s, 5]
            z0, z1 = zi[s, 0, c], zi[s, 1, c]
            for i in range(first, n):
                v = y[i, c]
                out = b0 * v + z0
                z0 = b1 * v - a1 * out + z1
                z1 = b2 * v - a2 * out
                y[i, c] = out
            zi[s, 0, c] = z0
            zi[s, 1, c] = z1
        if any_missing:
            for i in range(first, n):
                if not np.isfinite(x[i, c]):
                    y[i, c] = np.nan


@_jit
def moving_average_kernel(
    x: Float2D,
    buf: Float2D,
    pos: int,
    acc: npt.NDArray[np.float64],
    hold: npt.NDArray[np.float64],
    started: npt.NDArray[np.bool_],
    y: Float2D,
) -> int:
    """Running mean over the last ``buf.shape[0]`` samples; returns the new ring position.

    ``buf`` is a ring of the last inputs shared by all leads (``pos`` is the global sample
    count modulo its length) and ``acc`` the running sum per lead. The sums are recomputed
    from the ring each time it wraps, so rounding cannot drift over a long recording; the
    wrap points depend only on the global sample count, so chunking does not change them.
    """
    n, n_leads = x.shape
    width = buf.shape[0]
    for i in range(n):
        for c in range(n_leads):
            v = x[i, c]
            missing = not np.isfinite(v)
            if missing:
                if not started[c]:
                    y[i, c] = np.nan
                    continue
                v = hold[c]
            else:
                if not started[c]:
                    for k in range(width):
                        buf[k, c] = v
                    acc[c] = width * v
                    started[c] = True
                hold[c] = v
            acc[c] += v - buf[pos, c]
            buf[pos, c] = v
            y[i, c] = np.nan if missing else acc[c] / width
        pos += 1
        if pos == width:
            pos = 0
            for c in range(n_leads):
                if started[c]:
                    total = 0.0
                    for k in range(width):
                        total += buf[k, c]
                    acc[c] = total
    return pos


@_jit
def hold_fill_kernel(
    x: Float2D,
    hold: npt.NDArray[np.float64],
    started: npt.NDArray[np.bool_],
    xf: Float2D,
    missing: npt.NDArray[np.bool_],
    start_at: npt.NDArray[np.int64],
) -> None:
    """Copy ``x`` to ``xf`` with missing samples replaced by the last finite value.

    Samples of a lead before its first finite one are back-filled with that first value (the
    steady-state convention), and ``start_at[c]`` receives the index in this chunk where lead
    ``c`` started, or -1 if it had started before or is still all missing.
    """
    n, n_leads = x.shape
    for c in range(n_leads):
        start_at[c] = -1
        for i in range(n):
            v = x[i, c]
            if np.isfinite(v):
                missing[i, c] = False
                if not started[c]:
                    started[c] = True
                    start_at[c] = i
                    for k in range(i):
                        xf[k, c] = v
                hold[c] = v
                xf[i, c] = v
            else:
                missing[i, c] = True
                xf[i, c] = hold[c]


@_jit
def fir_kernel(b: npt.NDArray[np.float64], ext: Float2D, y: Float2D) -> None:
    """Causal FIR by direct convolution: ``y[i] = sum_k b[k] * ext[i + len(b) - 1 - k]``."""
    n_taps = b.shape[0]
    m, n_leads = y.shape
    for c in range(n_leads):
        for i in range(m):
            acc = 0.0
            for k in range(n_taps):
                acc += b[k] * ext[i + n_taps - 1 - k, c]
            y[i, c] = acc


@numba.njit(cache=True, nogil=True, inline="always")
def _advance(q: int, r: int, up: int, dq: int, dr: int) -> tuple[int, int]:
    """``divmod(x + down, up)`` from ``(q, r) = divmod(x, up)`` and ``(dq, dr) = divmod(down,
    up)``, without a division (the floor division, as Python's, for any sign of ``x``)."""
    q += dq
    r += dr
    if r >= up:
        r -= up
        q += 1
    return q, r


@_jit
def polyphase_kernel(
    phases: Float2D,
    up: int,
    down: int,
    half_len: int,
    ext: Float2D,
    ext_missing: npt.NDArray[np.bool_],
    first: int,
    k0: int,
    y: Float2D,
) -> None:
    """Causal polyphase resampling of ``ext`` (global input indices ``first, first+1, ...``).

    Output ``k`` is ``sum_j h[j] * u[k * down - j]`` where ``u`` is the input zero-stuffed by
    ``up`` and ``phases[p, t] = h[p + t * up]``. It is NaN when either input sample that
    brackets its delayed time ``(k * down - half_len) / up`` is missing.

    Four outputs are summed side by side, each over its taps in order as one alone: a single
    sum waits on the adder's latency at every tap, four keep it busy. The outputs' input
    positions are stepped from one to the next rather than divided out each time.
    """
    n_taps = phases.shape[1]
    m, n_leads = y.shape
    dq, dr = divmod(down, up)
    pos = k0 * down
    # Newest input and phase of the output, and the input at or before its delayed time.
    i, p = divmod(pos, up)
    i0, c0 = divmod(pos - half_len, up)
    rows = np.empty(4, np.uint64)
    bases = np.empty(4, np.uint64)
    lows = np.empty(4, np.int64)
    highs = np.empty(4, np.int64)
    j = 0
    while j < m:
        block = min(4, m - j)
        for b in range(block):
            # Unsigned indices spare numba's negative-index checks (same arithmetic, ~2x
            # faster).
            rows[b] = np.uint64(p)
            bases[b] = np.uint64(i - first)
            lows[b] = i0 - first
            highs[b] = i0 - first + (0 if c0 == 0 else 1)
            i, p = _advance(i, p, up, dq, dr)
            i0, c0 = _advance(i0, c0, up, dq, dr)
        for c in range(n_leads):
            uc = np.uint64(c)
            if block == 4:
                r0, r1, r2, r3 = rows[0], rows[1], rows[2], rows[3]
                b0, b1, b2, b3 = bases[0], bases[1], bases[2], bases[3]
                acc0 = acc1 = acc2 = acc3 = 0.0
                for t in range(np.uint64(0), np.uint64(n_taps)):
                    acc0 += phases[r0, t] * ext[b0 - t, uc]
                    acc1 += phases[r1, t] * ext[b1 - t, uc]
                    acc2 += phases[r2, t] * ext[b2 - t, uc]
                    acc3 += phases[r3, t] * ext[b3 - t, uc]
                y[j, c] = acc0
                y[j + 1, c] = acc1
                y[j + 2, c] = acc2
                y[j + 3, c] = acc3
            else:
                for b in range(block):
                    row = rows[b]
                    base = bases[b]
                    acc = 0.0
                    for t in range(np.uint64(0), np.uint64(n_taps)):
                        acc += phases[row, t] * ext[base - t, uc]
                    y[j + b, c] = acc
            for b in range(block):
                if ext_missing[lows[b], c] or ext_missing[highs[b], c]:
                    y[j + b, c] = np.nan
        j += block
