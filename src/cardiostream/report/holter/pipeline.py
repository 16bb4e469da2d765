"""The Holter report of a recording: read it, one pass of the engine, the numbers."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from cardiostream.record import Record
from cardiostream.report.holter.collect import as_record, collect
from cardiostream.report.holter.contract import Annotation, HolterReport, StripSignal
from cardiostream.report.holter.summary import build_report


class HolterResult(NamedTuple):
    """The report's numbers (the JSON) and the samples of its strips (for HTML and PDF)."""

    report: HolterReport
    strips: dict[str, StripSignal]


def holter_report(
    record_or_path: Record | str | Path,
    *,
    lead: int | str = 0,
    progress: Callable[[float], None] | None = None,
    annotations: Sequence[Annotation] | None = None,
) -> HolterResult:
    """The Holter report of a recording, in one pass of the streaming engine.

    Parameters
    ----------
    record_or_path : Record, str or Path
        A :class:`~cardiostream.record.Record`, or a file :func:`cardiostream.read` reads
        (EDF, WFDB, CSV, Parquet; a bundled sample's name).
    lead : int or str
        The lead analysed, by index or name.
    progress : callable, optional
        Called with the seconds of signal done, after every block of about 10 minutes.
    annotations : sequence of Annotation, optional
        A reviewer's notes, listed in the report.

    Returns
    -------
    HolterResult

    Raises
    ------
    InputError
        For a file that cannot be read, a lead that does not exist, or a recording too
        short for a report.
    """
    started = time.perf_counter()
    record, source = as_record(record_or_path)
    collected = collect(record, lead=lead, source=source, progress=progress)
    report, strips = build_report(
        collected,
        record,
        annotations=list(annotations or ()),
        total_s=time.perf_counter() - started,
    )
    return HolterResult(report, strips)
