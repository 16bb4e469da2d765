"""The engine's beat log (``keep_beats``): every decided beat, and no change to the output."""

from __future__ import annotations

import numpy as np

from cardiostream import StreamProcessor, read
from cardiostream.samples import sample_path


def _run(x: np.ndarray, fs: float, keep: bool, chunk: int) -> tuple[list[dict], StreamProcessor]:
    proc = StreamProcessor(fs, keep_beats=keep)
    out: list[dict] = []
    for lo in range(0, x.size, chunk):
        out += proc.push(x[lo : lo + chunk])
    return out, proc


def test_beat_log_changes_no_output_and_keeps_every_beat() -> None:
    rec = read(sample_path("mitdb-119-pvc"))  # one minute of bigeminy: V beats to log
    x = rec.lead(0)
    plain, p0 = _run(x, rec.fs, False, 997)
    logged, p1 = _run(x, rec.fs, True, 3001)
    assert p0.beat_log is None
    assert logged == plain
    # The log is no part of the state: a processor without it loads it and goes on alike.
    assert p1.state_dict() == p0.state_dict()
    log = p1.beat_log
    assert log is not None
    t, label = log.t_s, log.label
    assert len(log) == t.size == label.size == log.p.size == log.broken.size
    assert np.all(np.diff(t) > 0)
    # The windows' class counts hold exactly the logged beats of their spans.
    totals = [m for m in logged if m["type"] == "window"][-1]["beat_totals"]
    assert {c: int((label == c).sum()) for c in "NSVFQ"} == {c: totals[c] for c in "NSVFQ"}
    assert (label == "V").sum() > 20
