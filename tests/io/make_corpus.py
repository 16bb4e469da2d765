"""Write ``tests/io/corpus``: one small folder per reported bad input, and what each must give.

Run ``python -m tests.io.make_corpus`` from the repository root to write the corpus again;
``tests/io/test_corpus.py`` checks that the files on disk are what this script writes, then
reads each through :func:`cardiostream.io.read` and the ``info`` and ``analyze`` commands.

Every case holds an 11 s excerpt of the bundled MITDB record 100 (or a few hundred bytes of
annotations beside it) with one thing wrong, in the format it was reported in.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

CORPUS = Path(__file__).resolve().parent / "corpus"
_SAMPLES = Path(__file__).resolve().parents[2] / "src" / "cardiostream" / "samples" / "data"

FS = 360
N_SAMPLES = 11 * FS


@dataclass(frozen=True)
class Case:
    """A bad input and what must come of it.

    Attributes
    ----------
    name : str
        The case's folder under ``corpus/``.
    entry : str
        The file given to the reader, inside the folder.
    refused : str or None
        A pattern the reader's one-line :class:`InputError` must match, or None when the
        file is legal and must read.
    analyze_exit : int
        The exit status of ``cardiostream analyze`` on it: 2 for a refusal, 0 for a legal
        file that analyses, 2 for a legal one the analysis refuses (a rate outside 50-20000
        Hz, say).
    analyze_message : str
        A pattern the one-line message of ``analyze`` must match when it exits 2.
    """

    name: str
    entry: str
    refused: str | None
    analyze_exit: int = 2
    analyze_message: str = ""


def _digital() -> npt.NDArray[np.int16]:
    """11 s of the bundled MITDB record 100, both leads, as stored (format 16)."""
    data = np.fromfile(_SAMPLES / "mitdb-100-nsr.dat", dtype="<i2").reshape(-1, 2)
    return data[:N_SAMPLES]


def _header(record_line: str, gain: str = "200", name: str = "rec", units: str = "mV") -> str:
    lines = [record_line]
    for lead in ("MLII", "V5"):
        lines.append(f"{name}.dat 16 {gain}(1024)/{units} 16 0 0 0 0 {lead}")
    return "\n".join(lines) + "\n"


def _wfdb(folder: Path, header: str, name: str = "rec") -> None:
    folder.mkdir(parents=True)
    (folder / f"{name}.hea").write_text(header, encoding="latin-1")
    _digital().astype("<i2").tofile(folder / f"{name}.dat")


def _words(*words: int) -> bytes:
    return b"".join(w.to_bytes(2, "little") for w in words)


def _note(text: bytes) -> bytes:
    """The words of an AUX field holding ``text``, padded to a whole word."""
    return _words((63 << 10) | len(text)) + text + b"\0" * (len(text) % 2)


def _edf(
    folder: Path,
    *,
    duration: bytes = b"1",
    physical: tuple[bytes, bytes] = (b"-10", b"10"),
    digital: tuple[bytes, bytes] = (b"-32768", b"32767"),
) -> None:
    """A one-signal EDF file with 11 data records of one second, built byte by byte."""
    folder.mkdir(parents=True)
    samples = _digital()[:, 0].astype(np.int64) - 1024
    records = 11

    def field(value: bytes, width: int) -> bytes:
        return value.ljust(width, b" ")[:width]

    head = (
        field(b"0", 8) + field(b"X X X X", 80) + field(b"Startdate X X X X", 80)
        + field(b"01.01.00", 8) + field(b"00.00.00", 8) + field(b"512", 8) + field(b"", 44)
        + field(str(records).encode(), 8) + field(duration, 8) + field(b"1", 4)
    )  # fmt: skip
    signal = (
        field(b"ECG MLII", 16) + field(b"AgAgCl", 80) + field(b"mV", 8)
        + field(physical[0], 8) + field(physical[1], 8)
        + field(digital[0], 8) + field(digital[1], 8)
        + field(b"", 80) + field(str(FS).encode(), 8) + field(b"", 32)
    )  # fmt: skip
    data = (samples * 32767 // 2000).astype("<i2").tobytes()
    (folder / "rec.edf").write_bytes(head + signal + data)


def _csv(
    folder: Path, header: bytes, *, step: float = 1 / FS, name: str = "rec.csv", rows: int = 600
) -> None:
    folder.mkdir(parents=True)
    mv = (_digital()[:rows].astype(np.float64) - 1024) / 200
    delimiter = b"\t" if name.endswith(".tsv") else b","
    lines = [header]
    for k, row in enumerate(mv):
        lines.append(
            delimiter.join([f"{k * step:.6f}".encode(), *(f"{v:.3f}".encode() for v in row)])
        )
    (folder / name).write_bytes(b"\n".join(lines) + b"\n")


def _atr_beside(folder: Path, atr: bytes) -> None:
    _wfdb(folder, _header(f"rec 2 {FS} {N_SAMPLES}"))
    (folder / "rec.atr").write_bytes(atr)


def _hello_atr() -> bytes:
    """What ``wfdb.wrann(..., sample=[0], symbol=['"'], aux_note=['## hello'])`` writes."""
    return _words(22 << 10) + _note(b"## hello") + _words(0)


def _nsr_atr() -> bytes:
    return (_SAMPLES / "mitdb-100-nsr.atr").read_bytes()


def _random_dat(folder: Path) -> None:
    _wfdb(folder, _header(f"rec 2 {FS} {N_SAMPLES}"))
    rng = np.random.default_rng(22)
    (folder / "rec.dat").write_bytes(rng.integers(0, 256, N_SAMPLES * 4, dtype=np.uint8).tobytes())


_FS_REFUSED = r"rec\.hea: record line: fs .* is not valid"
_RATE = r"rec\.{}: fs: expected 50 to 20000 Hz"
_GAIN = r"rec\.hea: lead 'MLII': adc gain"

#: The cases, and how to write each.
CASES: list[tuple[Case, Callable[[Path], None]]] = [
    *[
        (
            Case(f"wfdb-fs-{label}", "rec.hea", _FS_REFUSED),
            lambda f, fs=fs: _wfdb(f, _header(f"rec 2 {fs} {N_SAMPLES}")),
        )
        for label, fs in (("plus", "+360"), ("1e3", "1e3"), ("3.6e2", "3.6e2"), ("1e9", "1e9"))
    ],
    (
        Case("wfdb-fs-huge-plain", "rec.hea", None, 2, _RATE.format("hea")),
        lambda f: _wfdb(f, _header(f"rec 2 1000000000 {N_SAMPLES}")),
    ),
    *[
        (
            Case(f"wfdb-gain-{label}", "rec.hea", rf"{_GAIN} '{gain}' {problem}"),
            lambda f, gain=gain: _wfdb(f, _header(f"rec 2 {FS} {N_SAMPLES}", gain=gain)),
        )
        for label, gain, problem in (
            ("nan", "nan", "is not a number"),
            ("inf", "inf", "is not a number"),
            ("abc", "abc", "is not a number"),
            ("negative", "-200", "is negative"),
        )
    ],
    (
        Case("wfdb-atr-hello", "rec.hea", r"rec\.atr: annotations: definition note '## hello'"),
        lambda f: _atr_beside(f, _hello_atr()),
    ),
    (
        Case(
            "wfdb-atr-definitions-unended",
            "rec.hea",
            r"rec\.atr: annotations: label definitions with no end",
        ),
        lambda f: _atr_beside(
            f, _words(22 << 10) + _note(b"## annotation type definitions") + _words(0)
        ),
    ),
    (
        Case(
            "wfdb-atr-definition-unreadable",
            "rec.hea",
            r"rec\.atr: annotations: label definition 'no label here'",
        ),
        lambda f: _atr_beside(
            f,
            _words(22 << 10)
            + _note(b"## annotation type definitions")
            + _words(22 << 10)
            + _note(b"no label here")
            + _words(0),
        ),
    ),
    (
        Case("wfdb-atr-truncated", "rec.hea", r"rec\.atr: annotations: no end marker .*truncated"),
        lambda f: _atr_beside(f, _nsr_atr()[:104]),
    ),
    (
        Case("wfdb-atr-odd-length", "rec.hea", r"rec\.atr: annotations: odd length"),
        lambda f: _atr_beside(f, _nsr_atr()[:105]),
    ),
    (
        Case("wfdb-atr-note-past-end", "rec.hea", r"rec\.atr: annotations: malformed at byte 2"),
        lambda f: _atr_beside(f, _words((1 << 10) | 5, (63 << 10) | 200) + b"(AF" + b"\0"),
    ),
    (
        Case("wfdb-atr-valid", "rec.hea", None, 0),
        lambda f: _atr_beside(f, _nsr_atr()),
    ),
    (
        Case("wfdb-dat-random-bytes", "rec.hea", None, 0),
        _random_dat,
    ),
    (
        Case("wfdb-latin1-header", "rec.hea", None, 0),
        lambda f: _wfdb(f, _header(f"rec 2 {FS} {N_SAMPLES}") + "# patient: Jos\xe9\n"),
    ),
    (
        Case("edf-record-duration-huge", "rec.edf", None, 2, _RATE.format("edf")),
        lambda f: _edf(f, duration=b"99999999"),
    ),
    (
        Case(
            "edf-physical-not-a-number",
            "rec.edf",
            r"rec\.edf: signal .ECG MLII.: physical min is not a finite number",
        ),
        lambda f: _edf(f, physical=(b"abc", b"10")),
    ),
    (
        Case("edf-physical-equal", "rec.edf", r"rec\.edf: .*physical minimum equals"),
        lambda f: _edf(f, physical=(b"10", b"10")),
    ),
    (
        Case("edf-digital-inverted", "rec.edf", r"rec\.edf: .*digital minimum 32767 is not below"),
        lambda f: _edf(f, digital=(b"32767", b"-32768")),
    ),
    (
        Case("edf-valid", "rec.edf", None, 0),
        lambda f: _edf(f),
    ),
    (
        Case("csv-header-not-utf8", "rec.csv", r"rec\.csv: the header is not UTF-8"),
        lambda f: _csv(f, b"time_s,MLII_mV,V5 \xb5V"),
    ),
    (
        Case("tsv-header-not-utf8", "rec.tsv", r"rec\.tsv: the header is not UTF-8"),
        lambda f: _csv(f, b"time_s\tMLII_mV\tV5 \xe9", name="rec.tsv"),
    ),
    (
        Case("csv-unit-kV", "rec.csv", r"rec\.csv: column 'V5_kV': unit 'kV' is not an ECG unit"),
        lambda f: _csv(f, b"time_s,MLII_mV,V5_kV"),
    ),
    (
        Case("csv-unit-degC", "rec.csv", r"rec\.csv: column 'V5_degC': unit 'degC'"),
        lambda f: _csv(f, b"time_s,MLII_mV,V5_degC"),
    ),
    (
        Case("csv-time-step-1e6", "rec.csv", None, 2, _RATE.format("csv")),
        lambda f: _csv(f, b"time_s,MLII_mV,V5_mV", step=1e6),
    ),
    (
        Case("csv-markup-in-names", "[bold]rec[red].csv", None, 0),
        lambda f: _csv(
            f, b"time_s,[red]MLII[/]_mV,V5[/]_mV", name="[bold]rec[red].csv", rows=N_SAMPLES
        ),
    ),
]


def write_corpus(folder: Path = CORPUS) -> None:
    """Write every case into ``folder`` (emptied first) with a ``cases.json`` index."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for case, write in CASES:
        write(folder / case.name)
    index = [case.__dict__ for case, _ in CASES]
    (folder / "cases.json").write_text(json.dumps(index, indent=1) + "\n")


if __name__ == "__main__":
    write_corpus()
