"""Signal processing: stream-exact filters, resampling and signal quality.

Every filter and the resampler is a function over a whole signal and a stateful class with
``process(chunk)``; chunked and whole-signal outputs are equal (see :mod:`.filters`).
"""

from cardiostream.dsp.filters import (
    BandpassFilter,
    BaselineFilter,
    ECGCleaner,
    FIRBandpassFilter,
    MovingAverage,
    NotchFilter,
    SOSFilter,
    StreamFilter,
    bandpass,
    clean_ecg,
    fir_bandpass,
    moving_average,
    notch,
    remove_baseline,
)
from cardiostream.dsp.quality import (
    REASONS,
    QualityConfig,
    SignalQuality,
    quality_windows,
    signal_quality,
    window_bounds,
    window_quality,
)
from cardiostream.dsp.resample import Resampler, rational_ratio, resample, resample_causal

__all__ = [
    "REASONS",
    "BandpassFilter",
    "BaselineFilter",
    "ECGCleaner",
    "FIRBandpassFilter",
    "MovingAverage",
    "NotchFilter",
    "QualityConfig",
    "Resampler",
    "SOSFilter",
    "SignalQuality",
    "StreamFilter",
    "bandpass",
    "clean_ecg",
    "fir_bandpass",
    "moving_average",
    "notch",
    "quality_windows",
    "rational_ratio",
    "remove_baseline",
    "resample",
    "resample_causal",
    "signal_quality",
    "window_bounds",
    "window_quality",
]
