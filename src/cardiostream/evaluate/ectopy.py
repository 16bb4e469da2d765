"""Premature beats put into a regular rhythm's beat times: the classic false AF of an
RR-interval detector, made to order.

A record's stretches outside AF are cut into blocks of :data:`BLOCK` beats, and each block gets
one pattern (none, isolated premature beats, bigeminy, trigeminy, quadrigeminy, or isolated
beats with couplets), one kind (ventricular: the premature beat takes the place of a sinus beat
and the next one comes on time, a full compensatory pause; or atrial: the sinus node is reset and
the next beat comes about one cycle after the premature one) and one coupling interval (0.45 to
0.8 of the cycle, a few percent apart from beat to beat). Only beats whose neighbours are
labelled not AF and whose cycle is steady (the two intervals around them within 20 % of each
other) are made premature, so AF and atrial flutter are left as they are and the labels stay
those of the beats. Used to train the beat-interval AF detector to tell ectopy from AF, and to
measure that out of fold (``train-rr-af --ectopy``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Beats per block with one pattern.
BLOCK = 300
#: Patterns and their shares of blocks.
PATTERNS: tuple[tuple[str, float], ...] = (
    ("none", 0.25),
    ("isolated", 0.30),
    ("bigeminy", 0.15),
    ("trigeminy", 0.10),
    ("quadrigeminy", 0.05),
    ("couplets", 0.15),
)
#: Share of blocks whose premature beats are ventricular (the rest atrial).
VENTRICULAR = 0.6
#: Coupling interval, a share of the cycle before it.
COUPLING = (0.45, 0.8)
#: Spread of a block's coupling from beat to beat (ventricular, atrial).
COUPLING_SD = (0.02, 0.04)
#: An atrial premature beat's next cycle, a share of the cycle before it.
RESET = (1.0, 1.15)
#: Cycles (s) around which a beat may be made premature.
CYCLE_S = (0.3, 2.0)


def _steady(t: FloatArray, label: IntArray) -> npt.NDArray[np.bool_]:
    """Beats that may be made premature: neighbours not AF, both intervals around it steady."""
    n = t.size
    ok = np.zeros(n, bool)
    if n < 3:
        return ok
    rr = np.diff(t)
    before, after = rr[:-1], rr[1:]
    inner = (
        (label[:-2] == 0)
        & (label[1:-1] == 0)
        & (label[2:] == 0)
        & (before >= CYCLE_S[0])
        & (before <= CYCLE_S[1])
        & (np.abs(after / before - 1.0) < 0.2)
    )
    ok[1:-1] = inner
    return ok


def _chosen(pattern: str, n: int, rng: np.random.Generator) -> tuple[IntArray, IntArray]:
    """Positions in a block of ``n`` beats made premature, and those that start a couplet."""
    pos = np.arange(n)
    none = np.empty(0, np.int64)
    if pattern == "isolated":
        return pos[rng.random(n) < rng.uniform(0.03, 0.3)], none
    if pattern in ("bigeminy", "trigeminy", "quadrigeminy"):
        every = {"bigeminy": 2, "trigeminy": 3, "quadrigeminy": 4}[pattern]
        return pos[(pos + int(rng.integers(every))) % every == 0], none
    if pattern == "couplets":
        isolated = pos[rng.random(n) < rng.uniform(0.03, 0.15)]
        couplets = pos[rng.random(n) < rng.uniform(0.01, 0.05)]
        return isolated, couplets
    return none, none


def ectopic_times(t: FloatArray, label: IntArray, rng: np.random.Generator) -> FloatArray:
    """Beat times ``t`` (s, increasing, labels 1 AF, 0 not, -1 left out) with premature beats
    put into their steady stretches outside AF; one time per beat, still increasing."""
    t = np.asarray(t, np.float64)
    n = t.size
    steady = _steady(t, np.asarray(label))
    rr = np.diff(t, prepend=t[0] - 1.0) if n else t.copy()
    gap = np.zeros(n)
    shift = np.zeros(n + 1)
    taken = np.zeros(n + 2, bool)
    names = [p for p, _ in PATTERNS]
    shares = np.array([s for _, s in PATTERNS])
    for start in range(0, n, BLOCK):
        size = min(BLOCK, n - start)
        pattern = names[int(rng.choice(len(names), p=shares))]
        ventricular = bool(rng.random() < VENTRICULAR)
        coupling = rng.uniform(*COUPLING)
        sd = COUPLING_SD[0] if ventricular else COUPLING_SD[1]
        single, couplets = _chosen(pattern, size, rng)
        for k in np.union1d(single, couplets):
            i = start + int(k)
            pair = bool(np.isin(k, couplets)) and ventricular
            last = i + 1 if pair else i
            if last + 1 >= n or not steady[i : last + 1].all() or taken[i - 1 : last + 2].any():
                continue
            taken[i : last + 1] = True
            cycle = rr[i]
            f = float(np.clip(rng.normal(coupling, sd), COUPLING[0] - 0.05, COUPLING[1] + 0.05))
            gap[i] = f * cycle
            if pair:
                gap[i + 1] = float(np.clip(rng.normal(coupling, sd), 0.4, 0.85)) * cycle
            if not ventricular:
                # The sinus node restarts: the next beat about one cycle after the premature one.
                g = rng.uniform(*RESET)
                shift[i + 1] += (f + g) * cycle - (rr[i] + rr[i + 1])
    moved = t + np.cumsum(shift[:n])
    # In order, so that a couplet's second beat follows its first.
    for j in np.flatnonzero(taken[:n]):
        moved[j] = moved[j - 1] + gap[j]
    return moved
