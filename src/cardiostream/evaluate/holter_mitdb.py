"""The Holter report's figures against MITDB's reference annotations, record by record.

For each annotated record, :func:`holter_record` runs :func:`~cardiostream.report.holter.
holter_report` and sets its AF time, ventricular beat count and pauses beside the reference:

AF
    Reference: the seconds inside ``(AFIB`` rhythm intervals. Report: ``af.af_s`` (the seconds
    of windows labelled ``af``).
V beats
    Reference: beats whose symbol is AAMI class V. Report: ``ventricular.total``.
Pauses
    Reference: RR intervals of 2.0 s or more between consecutive annotated beats (AAMI
    classes N, S, V, F, Q). A reference pause is found when the report lists one within
    :data:`PAUSE_TOLERANCE_S` of its start; a reported pause with no reference one within the
    same distance is extra.

The report counts analysable time only and the reference all of it, so a record with much
unusable signal differs for that reason too; its analysable share is in the table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cardiostream.beats.classes import aami_class
from cardiostream.errors import InputError
from cardiostream.io import read
from cardiostream.report.holter import holter_report

#: A reported pause matches a reference one starting within this many seconds.
PAUSE_TOLERANCE_S = 0.15
#: Reference RR intervals of at least this many seconds are pauses.
PAUSE_S = 2.0


@dataclass(frozen=True)
class HolterRecordResult:
    """One record's report figures beside its reference."""

    record: str
    duration_s: float
    analysable_s: float
    af_ref_s: float
    af_report_s: float
    v_ref: int
    v_report: int
    pauses_ref: int
    pauses_found: int
    pauses_report: int
    pauses_extra: int


def _reference_pauses(t: np.ndarray) -> np.ndarray:
    rr = np.diff(t)
    return t[:-1][rr >= PAUSE_S]


def holter_record(path: str | Path) -> HolterRecordResult:
    """Report one annotated record and compare it with its reference (see the module notes).

    Raises
    ------
    InputError
        If the record has no reference beat annotations.
    """
    rec = read(path)
    beats, rhythms = rec.annotations.beats, rec.annotations.rhythms
    if len(beats.sample) == 0:
        raise InputError(f"{path}: no reference beat annotations")
    classes = np.asarray([aami_class(s) for s in beats.symbol.tolist()], dtype=object)
    is_beat = np.asarray([c is not None for c in classes])
    t = beats.sample[is_beat] / rec.fs
    af_ref = sum(
        int(e - s) for s, e, lab in zip(rhythms.start, rhythms.end, rhythms.label, strict=True)
        if "AFIB" in str(lab)
    ) / rec.fs  # fmt: skip
    rep = holter_report(rec).report
    ref_pauses = _reference_pauses(t)
    found = np.asarray([p["at_s"] for p in rep["pauses"]["pause_list"]], np.float64)

    def near(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if a.size == 0 or b.size == 0:
            return np.zeros(a.size, bool)
        return np.asarray(np.abs(a[:, None] - b[None, :]).min(1) <= PAUSE_TOLERANCE_S)

    return HolterRecordResult(
        record=rec.name,
        duration_s=rec.duration,
        analysable_s=float(rep["record"]["analysable_s"]),
        af_ref_s=float(af_ref),
        af_report_s=float(rep["af"]["af_s"]),
        v_ref=int(np.count_nonzero(classes[is_beat] == "V")),
        v_report=int(rep["ventricular"]["total"]),
        pauses_ref=int(ref_pauses.size),
        pauses_found=int(near(ref_pauses, found).sum()),
        pauses_report=int(found.size),
        pauses_extra=int((~near(found, ref_pauses)).sum()),
    )


def evaluate_holter_mitdb(
    folder: str | Path,
    records: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[HolterRecordResult]:
    """:func:`holter_record` on every record of ``folder`` (or the named ones), in order."""
    root = Path(folder)
    names = list(records) if records else sorted(p.stem for p in root.glob("*.hea"))
    if not names:
        raise InputError(f"{root}: no WFDB records (.hea) here")
    out = []
    for i, name in enumerate(names):
        out.append(holter_record(root / name))
        if progress is not None:
            progress(i + 1, len(names))
    return out


def _pct(x: float) -> str:
    return "–" if not math.isfinite(x) else f"{100 * x:.1f}"


def gross(results: Sequence[HolterRecordResult]) -> dict[str, Any]:
    """Totals over the records, and the ratios of the totals."""
    total = {k: sum(getattr(r, k) for r in results) for k in asdict(results[0]) if k != "record"}
    af = [r for r in results if r.af_ref_s > 0 or r.af_report_s > 0]
    return {
        **total,
        "af_ratio": total["af_report_s"] / total["af_ref_s"] if total["af_ref_s"] else math.nan,
        "af_records": len(af),
        "v_ratio": total["v_report"] / total["v_ref"] if total["v_ref"] else math.nan,
        "pause_se": (
            total["pauses_found"] / total["pauses_ref"] if total["pauses_ref"] else math.nan
        ),
    }


def to_markdown(results: Sequence[HolterRecordResult]) -> str:
    """A per-record table and the totals, in Markdown."""
    lines = [
        "| record | analysable % | AF ref (s) | AF report (s) | V ref | V report | "
        "pauses ref | found | reported | extra |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.record} | {_pct(r.analysable_s / r.duration_s)} | {r.af_ref_s:.0f} | "
            f"{r.af_report_s:.0f} | {r.v_ref} | {r.v_report} | {r.pauses_ref} | "
            f"{r.pauses_found} | {r.pauses_report} | {r.pauses_extra} |"
        )
    g = gross(results)
    intro = (
        f"The Holter report (`cardiostream holter`, lead 0) of {len(results)} records beside "
        "their reference annotations (`cardiostream evaluate-holter`). AF: seconds in "
        "`(AFIB` intervals against the report's seconds of windows labelled AF (analysable "
        "time only); V: AAMI class V beats against the report's ventricular total; pauses: "
        f"reference RR intervals of {PAUSE_S:g} s or more, found when the report lists one "
        f"starting within {PAUSE_TOLERANCE_S:g} s."
    )
    summary = [
        "| over the records | reference | report | report / reference |",
        "|---|---:|---:|---:|",
        f"| AF seconds | {g['af_ref_s']:.0f} | {g['af_report_s']:.0f} | {_pct(g['af_ratio'])} % |",
        f"| ventricular beats | {g['v_ref']} | {g['v_report']} | {_pct(g['v_ratio'])} % |",
        f"| pauses ≥ {PAUSE_S:g} s found | {g['pauses_ref']} | {g['pauses_found']} | "
        f"{_pct(g['pause_se'])} % |",
        f"| pauses reported with no reference one | | {g['pauses_extra']} | |",
    ]
    return "\n".join([intro, "", *summary, "", *lines]) + "\n"
