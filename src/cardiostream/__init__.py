"""cardiostream: real-time ECG analysis, identical live and offline.

The public API re-exported here is the stable surface; see the README for a tour.
"""

from typing import TYPE_CHECKING, Any

from cardiostream import samples
from cardiostream.beats import DetectorParams, RPeakDetector, detect_rpeaks, hrv
from cardiostream.dsp import ECGCleaner, Resampler, clean_ecg, resample, signal_quality
from cardiostream.errors import InputError
from cardiostream.io import read
from cardiostream.record import Annotations, BeatTable, Record, RhythmTable
from cardiostream.rhythm import Prediction, RhythmModel
from cardiostream.stream import EventConfig, StreamProcessor, analyze

if TYPE_CHECKING:
    from cardiostream.beats.af_rr import AFBeatDetector, af_from_beats
    from cardiostream.beats.classes import classify_beats
    from cardiostream.io import ParquetStore, convert

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # The store needs pyarrow, which is slow to load: it comes when first used.
    if name in ("ParquetStore", "convert"):
        from cardiostream import io

        return getattr(io, name)
    if name in ("af_from_beats", "AFBeatDetector"):
        from cardiostream.beats import af_rr

        return getattr(af_rr, name)
    if name == "classify_beats":
        from cardiostream.beats.classes import classify_beats

        return classify_beats
    raise AttributeError(f"module 'cardiostream' has no attribute {name!r}")


__all__ = [
    "AFBeatDetector",
    "Annotations",
    "BeatTable",
    "DetectorParams",
    "ECGCleaner",
    "EventConfig",
    "InputError",
    "ParquetStore",
    "Prediction",
    "RPeakDetector",
    "Record",
    "Resampler",
    "RhythmModel",
    "RhythmTable",
    "StreamProcessor",
    "__version__",
    "af_from_beats",
    "analyze",
    "classify_beats",
    "clean_ecg",
    "convert",
    "detect_rpeaks",
    "hrv",
    "read",
    "resample",
    "samples",
    "signal_quality",
]
