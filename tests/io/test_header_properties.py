"""Header parsing on generated input gives a value or an InputError, never anything else.

Seeded (``derandomize=True``) and bounded, so a run is the same every time.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cardiostream.errors import InputError
from cardiostream.evaluate.bench.fuzz import ODD_VALUES, check_record
from cardiostream.io import read
from cardiostream.io.units import foreign_unit, mv_per_unit, split_unit
from cardiostream.io.wfdb_checks import check_header, decode_annotations

SETTINGS = settings(
    derandomize=True,
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

#: Field values: the odd ones the fuzzer swaps in, plain numbers, and any short text.
_ODD = st.sampled_from([v.decode("latin-1") for v in ODD_VALUES])
_FIELD = st.one_of(
    _ODD,
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(alphabet=st.characters(codec="latin-1"), max_size=12),
)

_N = 360


def _read_or_refuse(path: Path) -> None:
    """Read ``path``: a sane record or an InputError of one line."""
    try:
        record = read(path)
    except InputError as exc:
        assert str(exc) and "\n" not in str(exc).strip()
        return
    check_record(record)


def _write_dat(folder: Path) -> None:
    ramp = (np.arange(_N * 2, dtype=np.int16) % 400 - 200).reshape(_N, 2)
    ramp.astype("<i2").tofile(folder / "rec.dat")


@SETTINGS
@given(st.lists(_FIELD, min_size=0, max_size=7))
def test_wfdb_record_line(tokens: list[str]) -> None:
    text = " ".join(tokens) + "\nrec.dat 16 200/mV 16 0 0 0 0 I\nrec.dat 16 200/mV 16 0 0 0 0 II\n"
    with contextlib.suppress(InputError):
        check_header(Path("rec.hea"), text)


@SETTINGS
@given(
    fs=_FIELD,
    n_samples=_FIELD,
    gain=_FIELD,
    fmt=st.sampled_from(["16", "212", "80", "8", "24", "32", "61", "0", "999", "x"]),
    baseline=_FIELD,
)
def test_wfdb_header_read(fs: str, n_samples: str, gain: str, fmt: str, baseline: str) -> None:
    header = f"rec 2 {fs} {n_samples}\n" + "".join(
        f"rec.dat {fmt} {gain}({baseline})/mV 16 0 0 0 0 {lead}\n" for lead in ("I", "II")
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "rec.hea").write_text(header, encoding="latin-1", errors="replace")
        _write_dat(folder)
        _read_or_refuse(folder / "rec.hea")


@SETTINGS
@given(st.from_regex(r"[1-9][0-9]{1,4}(\.[0-9]{0,3})?", fullmatch=True))
def test_wfdb_plain_decimal_rates_are_kept(fs: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "rec.hea").write_text(
            f"rec 2 {fs} {_N}\n"
            + "".join(f"rec.dat 16 200/mV 16 0 0 0 0 {lead}\n" for lead in ("I", "II"))
        )
        _write_dat(folder)
        assert read(folder / "rec.hea").fs == float(fs)


@SETTINGS
@given(st.binary(max_size=600))
def test_annotation_bytes(data: bytes) -> None:
    try:
        ann = decode_annotations(Path("rec.atr"), data)
    except InputError:
        return
    assert ann.sample.size == ann.symbol.size == len(ann.aux_note)


def _edf(fields: dict[str, str]) -> bytes:
    """A one-signal EDF file of 4 one-second records at 128 Hz, with ``fields`` swapped in."""
    spec = {
        "version": ("0", 8), "patient": ("X X X X", 80), "recording": ("Startdate X X X X", 80),
        "date": ("01.01.00", 8), "time": ("00.00.00", 8), "bytes": ("512", 8), "reserved": ("", 44),
        "records": ("4", 8), "duration": ("1", 8), "signals": ("1", 4), "label": ("ECG II", 16),
        "transducer": ("", 80), "unit": ("mV", 8), "physical_min": ("-5", 8),
        "physical_max": ("5", 8), "digital_min": ("-32768", 8), "digital_max": ("32767", 8),
        "prefiltering": ("", 80), "samples": ("128", 8), "signal_reserved": ("", 32),
    }  # fmt: skip
    head = b""
    for name, (value, width) in spec.items():
        text = fields.get(name, value).encode("latin-1", "replace")
        head += text.ljust(width, b" ")[:width]
    data = (np.sin(np.arange(4 * 128) / 10) * 20000).astype("<i2").tobytes()
    return head + data


_EDF_FIELDS = [
    "version", "date", "time", "bytes", "reserved", "records", "duration", "signals", "label",
    "unit", "physical_min", "physical_max", "digital_min", "digital_max", "samples",
]  # fmt: skip


@SETTINGS
@given(st.dictionaries(st.sampled_from(_EDF_FIELDS), _FIELD, min_size=1, max_size=3))
def test_edf_header_fields(fields: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rec.edf"
        path.write_bytes(_edf(fields))
        _read_or_refuse(path)


_NAME = st.one_of(
    _ODD,
    st.text(max_size=16),
    st.builds(
        lambda lead, sep, unit: f"{lead}{sep}{unit}",
        st.sampled_from(["II", "V1", "", " ", "[red]II[/]"]),
        st.sampled_from(["_", " (", " [", "-", ""]),
        st.sampled_from(["mV", "uV", "µV", "V", "nV", "kV", "degC", "mmHg", "%", "mV)", ""]),
    ),
)


@SETTINGS
@given(names=st.lists(_NAME, min_size=1, max_size=3), time=st.sampled_from(["time_s", "t", "x"]))
def test_csv_header_and_units(names: list[str], time: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rec.csv"
        header = ",".join([time, *(n.replace(",", ";").replace("\n", " ") for n in names)])
        rows = [f"{k / 250:.6f}," + ",".join("0.1" for _ in names) for k in range(300)]
        path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8", errors="replace")
        _read_or_refuse(path)


@SETTINGS
@given(st.text(max_size=24))
def test_unit_helpers(column: str) -> None:
    name, unit = split_unit(column)
    assert isinstance(name, str)
    assert unit is None or mv_per_unit(unit) is not None
    other = foreign_unit(column)
    assert other is None or isinstance(other, str)
