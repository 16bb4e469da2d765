from __future__ import annotations

from typing import Any

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


def _displays(config_s: float, watched_from: int | None, frames: int = 8) -> list[Any]:
    """The display lines a two-lead stream's 1 s frames give in the engine, with a dashboard
    of its token open from frame ``watched_from`` (None: never)."""
    import json

    from cardiostream import read
    from cardiostream.samples import sample_path
    from cardiostream.serve.config import ServeConfig
    from cardiostream.serve.hub import Hub

    record = read(sample_path("mitdb-100-nsr"))
    hub = Hub(ServeConfig(auth=False, disclosure_s=config_s))
    hub.open("o", "bed", record.fs, ("MLII", "V5"), 0)
    n = int(record.fs)
    out = []
    for k in range(frames):
        if k == watched_from:
            hub.watch("o", True)
        x = np.ascontiguousarray(record.signal[k * n : (k + 1) * n, :2], dtype=np.float64)
        out += [json.loads(text) for kind, text in hub.push("o", "bed", x.tobytes()).lines
                if kind == "display"]  # fmt: skip
    return out


def test_every_frame_is_drawn_while_a_trace_is_kept_watched_or_not() -> None:
    lines = _displays(120.0, watched_from=4)
    assert len(lines) == 8
    assert [sorted(d["leads"]) for d in lines] == [["MLII"]] * 4 + [["MLII", "V5"]] * 4
    # One continuous trace of the analysed lead, whoever watched.
    ends = [d["t"] + len(d["leads"]["MLII"]) / d["fs"] for d in lines]
    np.testing.assert_allclose([d["t"] for d in lines[1:]], ends[:-1], atol=1e-6)
    assert sum(len(d["peaks"]) for d in lines[:4]) >= 3


def test_nothing_is_drawn_unwatched_when_no_trace_is_kept() -> None:
    lines = _displays(0.0, watched_from=4)
    assert [sorted(d["leads"]) for d in lines] == [["MLII", "V5"]] * 4
