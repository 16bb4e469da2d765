"""Heartbeats: the causal R-peak detector and heart-rate variability."""

from cardiostream.beats.detector import DetectorParams, RPeakDetector, detect_rpeaks
from cardiostream.beats.hrv import hrv

__all__ = ["DetectorParams", "RPeakDetector", "detect_rpeaks", "hrv"]
