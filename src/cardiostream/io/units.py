"""Physical units of ECG channels, and their conversion to millivolts."""

from __future__ import annotations

import re

# Spellings seen in WFDB headers, EDF headers and CSV column suffixes. The micro sign comes
# in two code points (U+00B5 and U+03BC) depending on the writer.
_TO_MV: dict[str, float] = {
    "mv": 1.0,
    "millivolt": 1.0,
    "millivolts": 1.0,
    "uv": 1e-3,
    "\u00b5v": 1e-3,
    "\u03bcv": 1e-3,
    "microvolt": 1e-3,
    "microvolts": 1e-3,
    "nv": 1e-6,
    "v": 1e3,
    "volt": 1e3,
    "volts": 1e3,
}

# Units that a column suffix may name but that no ECG lead is in: a kilovolt is a voltage, yet
# an ECG in kV would be a million times too large to be real. Taking such a column as mV (the
# default for a column without a unit) would read temperatures or pressures as an ECG. Only
# spellings that cannot be part of a lead name are listed, so ``ECG_A`` stays a lead.
_NOT_ECG: frozenset[str] = frozenset(
    {
        "kv",
        "kilovolt",
        "kilovolts",
        "degc",
        "degf",
        "\u00b0c",
        "\u00b0f",
        "celsius",
        "fahrenheit",
        "bpm",
        "mmhg",
        "kpa",
        "hz",
        "ohm",
        "kohm",
        "%",
    }
)

# A trailing unit on a column name: ``II_mV``, ``II (uV)``, ``II [mV]``, ``II mV``.
_SUFFIX = re.compile(
    r"^(?P<name>.*?)(?:[\s_]*[(\[](?P<bracketed>[^)\]]+)[)\]]|[_\s]+(?P<plain>[^\s_]+))\s*$"
)


def mv_per_unit(unit: str) -> float | None:
    """Return how many millivolts one ``unit`` is, or None when ``unit`` is not a voltage.

    Parameters
    ----------
    unit : str
        A unit as written by a file format (``mV``, ``uV``, ``µV``, ``V``), any case.

    Returns
    -------
    float or None
        The factor that turns values in ``unit`` into millivolts.
    """
    return _TO_MV.get(unit.strip().lower())


def split_unit(column: str) -> tuple[str, str | None]:
    """Split a column name such as ``II_mV`` or ``II (uV)`` into a lead name and a voltage unit.

    Parameters
    ----------
    column : str
        The column name from a table header.

    Returns
    -------
    name : str
        The lead name without its unit suffix (the whole column name when it has none).
    unit : str or None
        The voltage unit of the suffix (``mV``, ``uV``, ``V``), None when there is none.
    """
    match = _SUFFIX.match(column)
    if match is not None and match.group("name").strip():
        unit = (match.group("bracketed") or match.group("plain") or "").strip()
        if mv_per_unit(unit) is not None:
            return match.group("name").strip(), unit
    return column.strip(), None


def foreign_unit(column: str) -> str | None:
    """Return the unit suffix of a column name when it is a unit no ECG lead is in.

    Parameters
    ----------
    column : str
        The column name from a table header, such as ``II_kV`` or ``temp (degC)``.

    Returns
    -------
    str or None
        The suffix as written (``kV``, ``degC``), None when the column has no suffix, a voltage
        suffix that suits an ECG, or a suffix that is not a known unit.
    """
    match = _SUFFIX.match(column)
    if match is None or not match.group("name").strip():
        return None
    unit = (match.group("bracketed") or match.group("plain") or "").strip()
    return unit if unit.lower() in _NOT_ECG else None
