from __future__ import annotations

import numpy as np
import pytest

from cardiostream.serve.disclosure import Disclosure


def line(t: float, values: list[float | None], peaks: list[float] = (), beats=()) -> dict:  # type: ignore[assignment]
    return {"type": "display", "t": t, "fs": 125.0, "lead": "II",
            "leads": {"II": values, "V1": [0.0] * len(values)},
            "peaks": list(peaks), "beats": [list(b) for b in beats]}  # fmt: skip


def test_keeps_the_last_seconds_in_order() -> None:
    d = Disclosure(seconds=2.0)
    for k in range(5):  # five half-second lines, values = their sample indices
        vals = [float(k * 62 + i) for i in range(62)]
        d.add(line(k * 62 / 125, vals, peaks=[k * 62 / 125 + 0.1], beats=[(k * 62 / 125, "N")]))
    tr = d.last(10.0)
    assert tr.samples.size == 250 and tr.fs == 125.0
    np.testing.assert_array_equal(tr.samples, np.arange(310 - 250, 310, dtype=np.float32))
    assert tr.t0 == pytest.approx(60 / 125)
    assert all(p >= tr.t0 for p in tr.peaks) and len(tr.peaks) == 4
    one = d.last(1.0)
    assert one.samples.size == 125 and one.t0 == pytest.approx((310 - 125) / 125)


def test_gaps_are_nan_and_a_jump_starts_afresh() -> None:
    d = Disclosure(seconds=4.0)
    d.add(line(0.0, [1.0, None, 3.0]))
    assert np.isnan(d.last(1.0).samples[1])
    d.add(line(100.0, [5.0, 6.0]))  # not contiguous: a reconnect
    tr = d.last(4.0)
    assert tr.t0 == 100.0 and tr.samples.tolist() == [5.0, 6.0]


def test_zero_seconds_keeps_nothing() -> None:
    d = Disclosure(seconds=0.0)
    d.add(line(0.0, [1.0, 2.0]))
    assert d.last(5.0).samples.size == 0
    with pytest.raises(ValueError):
        Disclosure(seconds=float("nan"))
