"""Scoring of the pipeline's outputs against reference annotations, and benchmarks.

:mod:`cardiostream.evaluate.rpeaks` scores R-peak detections beat by beat;
:mod:`cardiostream.evaluate.bench.rpeaks` runs detectors over a WFDB database and tabulates
accuracy and speed.
"""

from cardiostream.evaluate.rpeaks import (
    BEAT_SYMBOLS_NO_FLUTTER,
    BeatScore,
    MatchResult,
    gross_score,
    match_beats,
    reference_beats,
    score_records,
    score_rpeaks,
    score_table,
)

__all__ = [
    "BEAT_SYMBOLS_NO_FLUTTER",
    "BeatScore",
    "MatchResult",
    "gross_score",
    "match_beats",
    "reference_beats",
    "score_records",
    "score_rpeaks",
    "score_table",
]
