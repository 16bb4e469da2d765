"""Rhythm verdicts on many records: read and conditioned one at a time, predicted in blocks.

Memory stays flat for thousands of records, and a record the model refuses is reported and
listed, not fatal. A record longer than :data:`~cardiostream.rhythm.infer.RECORD_HEAD_MAX_S`
is judged from its windows as soon as it is read, alone (one pass of the network over it),
so long recordings are neither held in a block nor padded into a batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cardiostream.errors import InputError
from cardiostream.rhythm.infer import Prediction, PreparedRecord, RhythmModel, is_long
from cardiostream.rhythm.verdict import CLASSES, UNCERTAIN

__all__ = ["BLOCK", "COLUMNS", "BatchResult", "classify_paths"]

#: Records predicted together.
BLOCK = 256
#: The columns of :meth:`BatchResult.rows` (``cardiostream classify --format csv``).
COLUMNS = (
    "record",
    "label",
    "raw_label",
    *(f"p_{c}" for c in CLASSES),
    "af_burden",
    "af_episodes",
)


@dataclass
class BatchResult:
    """Verdicts of the records that were read, in the order found.

    Attributes
    ----------
    names : list of str
        Record names.
    predictions : list of Prediction or None
        Each record's verdict; None for a record the model refused.
    """

    names: list[str] = field(default_factory=list)
    predictions: list[Prediction | None] = field(default_factory=list)

    def rows(self) -> list[list[Any]]:
        """One row of :data:`COLUMNS` per record: ``record, label, raw_label, p_normal, p_af,
        p_other, p_noise, af_burden, af_episodes``.

        ``af_burden`` and ``af_episodes`` (their number) are those of a record judged from its
        windows (longer than :data:`~cardiostream.rhythm.infer.RECORD_HEAD_MAX_S`), None for
        one the record head judged. A refused record is still listed: ``uncertain``, an empty
        raw verdict, NaN probabilities and None.
        """
        return [
            [
                name,
                p.label,
                p.raw_label,
                *(p.probabilities[c] for c in CLASSES),
                p.af_burden,
                None if p.af_episodes is None else len(p.af_episodes),
            ]
            if p is not None
            else [name, UNCERTAIN, "", *([float("nan")] * len(CLASSES)), None, None]
            for name, p in zip(self.names, self.predictions, strict=True)
        ]

    def documents(self) -> list[dict[str, Any]]:
        """Plain data for JSON per record; a refused record is marked ``"error": true``."""
        return [
            {"record": n, **p.to_dict()}
            if p is not None
            else {"record": n, "label": UNCERTAIN, "raw_label": None, "error": True}
            for n, p in zip(self.names, self.predictions, strict=True)
        ]


def classify_paths(
    found: Sequence[tuple[Path, bool]],
    model: RhythmModel,
    *,
    lead: int = 0,
    fs: float | None = None,
    block: int = BLOCK,
    on_refused: Callable[[str, InputError], None] | None = None,
    on_step: Callable[[Path], None] | None = None,
    on_passed_over: Callable[[InputError], None] | None = None,
) -> BatchResult:
    """Classify records one by one, predicting ``block`` of them at a time.

    Parameters
    ----------
    found : sequence of (Path, bool)
        Paths to read, each with whether it was named (see
        :func:`cardiostream.io.listing.walk_records`). A named path that is not a record is
        an error; one met while walking a folder is passed over.
    model : RhythmModel
        The model that conditions and classifies.
    lead : int
        Lead index of every record.
    fs : float, optional
        Sampling rate of tables without a time column, passed to
        :func:`cardiostream.io.read` (a record that states its rate must agree).
    block : int
        Records predicted at once.
    on_refused : callable, optional
        Called with ``(name, error)`` for a record the model refused.
    on_step : callable, optional
        Called with each path before it is read.
    on_passed_over : callable, optional
        Called with the error of each path met while walking a folder that is not read as
        a record (a side file such as ``REFERENCE.csv``, or a broken record).

    Returns
    -------
    BatchResult
        Every record read, with its verdict or None.

    Raises
    ------
    InputError
        When a named path cannot be read as a record.
    """
    from cardiostream.io import read

    result = BatchResult()
    waiting: list[PreparedRecord] = []
    slots: list[int] = []

    def flush() -> None:
        for slot, p in zip(slots, model.predict_prepared(waiting), strict=True):
            result.predictions[slot] = p
        waiting.clear()
        slots.clear()

    for path, named in found:
        if on_step is not None:
            on_step(path)
        try:
            rec = read(path, fs=fs)
        except InputError as exc:
            if named:
                raise
            if on_passed_over is not None:
                on_passed_over(exc)
            continue
        result.names.append(rec.name)
        result.predictions.append(None)
        try:
            prepared = model.prepare(rec.lead(lead), rec.fs)
        except InputError as exc:
            if on_refused is not None:
                on_refused(rec.name, exc)
        else:
            if is_long(prepared):
                result.predictions[-1] = model.predict_prepared([prepared])[0]
            else:
                waiting.append(prepared)
                slots.append(len(result.predictions) - 1)
        del rec
        if len(waiting) >= block:
            flush()
    flush()
    return result
