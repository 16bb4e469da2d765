"""The report of MITDB 201 (AF, VEBs, sinus pauses) against its reference annotations.

Tolerances, and why:
- AF seconds within 10 % of the rhythm annotations' AFIB time: each episode's edges are
  blurred by the 10 s windows (201 has several short episodes), and the report counts
  analysable time only (a dozen seconds of 201 are not).
- V beats within 10 % of the annotated V beats: the beat classifier's V Se and +P targets
  are 90 and 95 %.
- Pauses: every annotated RR of 2.05 s or more is reported within 50 ms of its time and
  length (the engine measures between its own R peaks; below 2.05 s an RR may fall either
  side of 2.0 s). A missed beat makes an extra pause: at most 4 of them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cardiostream import read
from cardiostream.beats.classes import aami_class
from cardiostream.report.holter import holter_report


def test_mitdb_201_against_its_annotations(shared_data: Path) -> None:
    rec = read(shared_data / "mitdb" / "201")
    rep = holter_report(rec).report
    beats, rhythms = rec.annotations.beats, rec.annotations.rhythms
    classes = np.asarray([aami_class(s) for s in beats.symbol.tolist()], dtype=object)
    is_beat = classes != None  # noqa: E711  # elementwise over an object array
    t = beats.sample[is_beat] / rec.fs
    ref_v = int(np.count_nonzero(classes[is_beat] == "V"))
    ref_af = (
        sum(
            int(e - s)
            for s, e, lab in zip(rhythms.start, rhythms.end, rhythms.label, strict=True)
            if "AFIB" in lab
        )
        / rec.fs
    )
    assert ref_af > 500 and ref_v > 150  # the record is what the test needs

    assert abs(rep["af"]["af_s"] - ref_af) <= 0.10 * ref_af
    assert abs(rep["ventricular"]["total"] - ref_v) <= 0.10 * ref_v

    rr = np.diff(t)
    ref = [(float(t[i]), float(rr[i])) for i in np.flatnonzero(rr >= 2.05)]
    found = rep["pauses"]["pause_list"]
    for at, length in ref:
        near = [p for p in found if abs(p["at_s"] - at) <= 0.05]
        assert near, f"pause of {length:.2f} s at {at:.2f} s not reported"
        assert near[0]["rr_s"] == pytest.approx(length, abs=0.05)
    assert len(found) <= int(np.count_nonzero(rr >= 2.0)) + 4
    assert rep["pauses"]["n_3s"] == int(np.count_nonzero(rr >= 3.0))
