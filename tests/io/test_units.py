"""Units of ECG channels."""

from __future__ import annotations

import pytest

from cardiostream.io.units import foreign_unit, mv_per_unit, split_unit


@pytest.mark.parametrize(
    ("unit", "factor"),
    [("mV", 1.0), ("uV", 1e-3), ("\u00b5V", 1e-3), ("\u03bcV", 1e-3), ("V", 1e3), ("MV", 1.0)],
)
def test_mv_per_unit(unit: str, factor: float) -> None:
    assert mv_per_unit(unit) == factor


@pytest.mark.parametrize("unit", ["mmHg", "", "NU", "bpm"])
def test_not_a_voltage(unit: str) -> None:
    assert mv_per_unit(unit) is None


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ("II_mV", ("II", "mV")),
        ("II (uV)", ("II", "uV")),
        ("V1 [mV]", ("V1", "mV")),
        ("aVR_V", ("aVR", "V")),
        ("V1", ("V1", None)),
        ("V", ("V", None)),
        ("lead_II", ("lead_II", None)),
        ("ECG mV", ("ECG", "mV")),
    ],
)
def test_split_unit(column: str, expected: tuple[str, str | None]) -> None:
    assert split_unit(column) == expected


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ("II_kV", "kV"),
        ("II (kV)", "kV"),
        ("temp_degC", "degC"),
        ("skin [\u00b0C]", "\u00b0C"),
        ("HR bpm", "bpm"),
        ("II_mV", None),
        ("II", None),
        ("ECG_A", None),
        ("lead_II", None),
        ("kV", None),
    ],
)
def test_foreign_unit(column: str, expected: str | None) -> None:
    assert foreign_unit(column) == expected
