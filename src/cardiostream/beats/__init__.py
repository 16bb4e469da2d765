"""Heartbeats: the causal R-peak detector, heart-rate variability, and each beat's AAMI class
(its features in :mod:`~cardiostream.beats.features`, the classifier in
:mod:`~cardiostream.beats.classes`)."""

from cardiostream.beats.classes import (
    AAMI,
    CLASSES,
    BeatClassifier,
    BeatModel,
    Beats,
    classify_beats,
    load_beat_model,
)
from cardiostream.beats.detector import DetectorParams, RPeakDetector, detect_rpeaks
from cardiostream.beats.features import FEATURES, BeatFeatureExtractor, beat_features
from cardiostream.beats.hrv import hrv

__all__ = [
    "AAMI",
    "CLASSES",
    "FEATURES",
    "BeatClassifier",
    "BeatFeatureExtractor",
    "BeatModel",
    "Beats",
    "DetectorParams",
    "RPeakDetector",
    "beat_features",
    "classify_beats",
    "detect_rpeaks",
    "hrv",
    "load_beat_model",
]
