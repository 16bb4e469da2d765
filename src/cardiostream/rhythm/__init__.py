"""Rhythm: the causal CNN, its data, training, calibration and export.

The network and its training need torch (the ``train`` extra); nothing here imports it at
package import time.
"""

from cardiostream.rhythm.infer import Prediction, RhythmModel
from cardiostream.rhythm.verdict import CLASSES

__all__ = ["CLASSES", "Prediction", "RhythmModel"]
