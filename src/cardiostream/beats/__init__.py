"""Heartbeats: the causal R-peak detector, heart-rate variability, and each beat's AAMI class
(its features in :mod:`~cardiostream.beats.features`, the classifier in
:mod:`~cardiostream.beats.classes`, the per-beat quality gate in
:mod:`~cardiostream.beats.gate`)."""

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
from cardiostream.beats.gate import DEFAULT_GATE, GATE_REASONS, BeatQualityGate, GateConfig
from cardiostream.beats.hrv import hrv
from cardiostream.dsp.pacing import PacingConfig, PacingSpikeDetector, pacing_spikes

__all__ = [
    "AAMI",
    "CLASSES",
    "DEFAULT_GATE",
    "FEATURES",
    "GATE_REASONS",
    "BeatClassifier",
    "BeatFeatureExtractor",
    "BeatModel",
    "BeatQualityGate",
    "Beats",
    "DetectorParams",
    "GateConfig",
    "PacingConfig",
    "PacingSpikeDetector",
    "RPeakDetector",
    "beat_features",
    "classify_beats",
    "detect_rpeaks",
    "hrv",
    "load_beat_model",
    "pacing_spikes",
]
