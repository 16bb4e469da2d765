"""An [n_leads, n_samples] array given where [n_samples, n_leads] is expected is refused, by
every entry point that takes several leads, instead of read as thousands of leads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import cardiostream as cs
from cardiostream.dsp.resample import resample_causal
from cardiostream.errors import InputError

FS = 250.0

ENTRY_POINTS: dict[str, Callable[[np.ndarray], Any]] = {
    "clean_ecg": lambda x: cs.clean_ecg(x, FS),
    "resample_causal": lambda x: resample_causal(x, FS, 125.0),
    "StreamProcessor.push": lambda x: cs.StreamProcessor(FS).push(x),
    "analyze": lambda x: cs.analyze(x, FS),
}


@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_a_transposed_array_is_refused(name: str) -> None:
    rng = np.random.default_rng(0)
    leads = rng.normal(0, 0.1, (2, int(20 * FS)))
    with pytest.raises(InputError, match="transpose"):
        ENTRY_POINTS[name](leads)
    ENTRY_POINTS[name](leads.T)  # the right way round


def test_a_short_chunk_of_many_leads_is_still_a_chunk() -> None:
    # Three samples of twelve leads: fewer samples than leads, and no mistake.
    cs.clean_ecg(np.zeros((3, 12)), FS)
