"""Reviewers' notes in the Holter report: listed, and on the AF episodes they overlap.

The engine's numbers do not depend on the notes, but the notes change while a recording is
reviewed: a server computes a recording's report once and adds the notes of the moment with
:func:`with_annotations`, which gives what :func:`~.pipeline.holter_report` would have
given with the same notes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from cardiostream.report.holter.contract import AfEpisode, Annotation, HolterReport

if TYPE_CHECKING:
    from cardiostream.io.user_annotations import UserAnnotation

#: How a reviewer's rhythm kinds are named in the report.
KIND_NAMES = {"af": "AF", "other": "other rhythm", "noise": "noise", "normal": "normal rhythm"}


def episode_notes(start_s: float, end_s: float, notes: Sequence[Annotation]) -> list[str]:
    """The notes that overlap an episode, as its ``annotations`` list them.

    Parameters
    ----------
    start_s, end_s : float
        The episode, seconds from the recording's start.
    notes : sequence of Annotation
        Every note; a note without an end is a point in time.

    Returns
    -------
    list of str
        Each overlapping note's text, or its label when it has no text, in the given order.
    """
    return [
        n["note"] or n["label"]
        for n in notes
        if n["t_s"] <= end_s and (n["end_s"] if n["end_s"] is not None else n["t_s"]) >= start_s
    ]


def with_annotations(report: HolterReport, notes: Sequence[Annotation]) -> HolterReport:
    """A copy of ``report`` that lists ``notes`` and puts them on the AF episodes.

    Parameters
    ----------
    report : HolterReport
        A report; not changed (the parts that change are copied, the rest shared).
    notes : sequence of Annotation
        The notes, replacing any the report had.

    Returns
    -------
    HolterReport
    """
    af = report["af"]
    episodes: list[AfEpisode] = [
        {**e, "annotations": episode_notes(e["start_s"], e["end_s"], notes)} for e in af["episodes"]
    ]
    longest = af["longest"]
    # ``longest`` is one of the episodes: it stays the same entry of the new list.
    at = next((i for i, e in enumerate(af["episodes"]) if e is longest), None)
    if at is None and longest is not None:
        at = next((i for i, e in enumerate(af["episodes"]) if e == longest), None)
    return {
        **report,
        "af": {**af, "episodes": episodes, "longest": None if at is None else episodes[at]},
        "annotations": list(notes),
    }


def from_user_annotations(items: Iterable[UserAnnotation]) -> list[Annotation]:
    """Reviewers' annotations of a stored record as the report's notes.

    Parameters
    ----------
    items : iterable of UserAnnotation
        As :func:`cardiostream.io.user_annotations.load` gives them.

    Returns
    -------
    list of Annotation
        In start order; the label names the rhythm, the verdict and its author ("AF
        confirmed by dr-x"), the note is the reviewer's text. Rejected verdicts are kept: a
        detected episode a reviewer rejected is worth seeing beside it.
    """
    out: list[Annotation] = []
    for a in sorted(items, key=lambda a: (a.start_s, a.end_s)):
        label = f"{KIND_NAMES.get(a.kind, a.kind)} {a.status}"
        out.append(
            {
                "t_s": float(a.start_s),
                "end_s": float(a.end_s),
                "label": f"{label} by {a.author}" if a.author else label,
                "note": a.note,
            }
        )
    return out
