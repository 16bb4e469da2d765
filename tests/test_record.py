"""Leads as typed on a command line or in a query."""

from __future__ import annotations

import numpy as np
import pytest

from cardiostream.errors import InputError
from cardiostream.record import Record, lead_selector


@pytest.mark.parametrize(("text", "expected"), [("0", 0), ("-1", -1), ("12", 12), ("II", "II")])
def test_lead_selector_reads_indices_and_names(text: str, expected: int | str) -> None:
    assert lead_selector(text) == expected


@pytest.mark.parametrize("text", ["²", "--1", "-", "1.5", "١", " 1", "+1", ""])
def test_lead_selector_takes_anything_else_as_a_name(text: str) -> None:
    assert lead_selector(text) == text


@pytest.mark.parametrize("text", ["²", "--1"])
def test_odd_lead_fails_as_an_unknown_name(text: str) -> None:
    rec = Record(name="r", signal=np.zeros((10, 2), np.float32), fs=250.0, leads=["I", "II"])
    with pytest.raises(InputError, match="no lead"):
        rec.lead(lead_selector(text))
