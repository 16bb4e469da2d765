"""What the shipped rhythm model makes of the simulator's rhythms (the demo relies on it)."""

from __future__ import annotations

from collections import Counter

import pytest

from cardiostream import analyze
from cardiostream.sim.simulator import Simulator

FS = 250.0


def _labels(sim: Simulator, seconds: float = 40.0) -> Counter[str]:
    result = analyze(sim.read(round(seconds * FS)), FS)
    return Counter(w["label"] for w in result.windows)


@pytest.mark.parametrize("seed", [0, 1])
def test_spliced_real_af_is_called_af(seed: int) -> None:
    labels = _labels(Simulator(FS, "af", seed=seed))
    assert labels["af"] >= 0.6 * sum(labels.values()), labels


@pytest.mark.parametrize("hr", [60.0, 70.0, 80.0])
def test_synthetic_sinus_rhythm_is_called_normal(hr: float) -> None:
    labels = _labels(Simulator(FS, "nsr", hr_bpm=hr))
    assert labels["normal"] >= 0.6 * sum(labels.values()), labels
    assert labels["af"] == 0
