"""Strict checks of WFDB headers, made before wfdb reads them, and the annotation decoder.

wfdb's parsers are lenient: a record line it cannot parse gets a default sampling rate of
250 Hz, a signal line it cannot parse loses its lead, a truncated annotation file gives fewer
annotations, and some annotation files make it loop forever. These checks refuse such files
with an :class:`InputError` that names the file and the field instead. Annotation files are
decoded here from their bytes (:func:`decode_annotations`), in one bounded pass, so no foreign
loop can hang on them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from cardiostream.errors import InputError
from cardiostream.io.checks import check_fs

#: A plain unsigned decimal (``360``, ``128.5``, ``.5``): what the WFDB header format allows
#: for the sampling and counter frequencies.
_DECIMAL = r"(?:\d+\.?\d*|\.\d+)"
_NAME = re.compile(r"[-\w]+(?:/\d+)?")
_COUNT = re.compile(r"\d+")
_FS = re.compile(_DECIMAL)
_FS_SPEC = re.compile(rf"(?P<fs>{_DECIMAL})(?:/{_DECIMAL}(?:\(-?{_DECIMAL}\))?)?")
# The forms wfdb's own header parser accepts for the base time and date.
_BASE_TIME = re.compile(r"\d{,2}:?\d{,2}:?\d{,2}\.?\d{,6}")
_BASE_DATE = re.compile(r"\d{,2}/?\d{,2}/?\d{,4}")
#: A gain as wfdb's signal-line parser reads it whole: digits, a point, a lower-case exponent.
_GAIN = re.compile(rf"{_DECIMAL}(?:e[+-]?\d+)?")
_GAIN_SPEC = re.compile(r"(?P<gain>[^(/]*)(?:\([^)]*\))?(?:/.*)?")
_INTEGER = re.compile(r"-?\d+")
_SEGMENT = re.compile(r"[-\w]*~?")
#: Each field of a signal line before the description, as wfdb's parser can read it whole:
#: file, format (with samples per frame, skew, byte offset), gain (with baseline and units;
#: its number is checked apart), ADC resolution, ADC zero, initial value, checksum, block size.
_SIGNAL_FIELDS = (
    ("file name", re.compile(r"~?[-\w]*\.?\w*")),
    ("format", re.compile(r"\d+(?:x\d+)?(?::\d+)?(?:\+\d+)?")),
    ("adc gain", re.compile(r"[^(/]*(?:\(-?\d+\))?(?:/[\w^\-?%/]*)?")),
    ("adc resolution", re.compile(r"\d+")),
    ("adc zero", _INTEGER),
    ("initial value", _INTEGER),
    ("checksum", _INTEGER),
    ("block size", re.compile(r"\d+")),
)

# Annotation codes of the MIT format that are not annotations themselves.
_SKIP, _NUM, _SUB, _CHN, _AUX = 59, 60, 61, 62, 63
_NOTE = 22  # The code wfdb reads file-level definitions from (at sample 0).
_TIME_RESOLUTION = re.compile(r"## time resolution: (?P<fs>\d+\.?\d*)")
_CUSTOM_LABEL = re.compile(r"(?P<label_store>\d+) (?P<symbol>\S+) (?P<description>.+)")


class RecordLine(NamedTuple):
    """What a header's record line states: its number of signals and sampling frequency."""

    n_sig: int
    fs: float | None


def check_header(hea: Path, text: str) -> RecordLine | None:
    """Check the record line and the signal gains of a WFDB header.

    Parameters
    ----------
    hea : Path
        The header file, named in error messages.
    text : str
        Its content.

    Returns
    -------
    RecordLine or None
        The number of signals and the sampling frequency (None when it states none) of the
        record line; None for a header with no record line.

    Raises
    ------
    InputError
        When the record line does not follow
        ``name[/segments] n_sig [fs[/counter_freq[(base_counter)]] [n_samples [base_time
        [base_date]]]]`` with a positive plain decimal ``fs``, or when a signal's ADC gain is
        not a finite, non-negative number.
    """
    lines = [tokens for line in text.splitlines() if (tokens := line.split("#", 1)[0].split())]
    if not lines:
        return None  # wfdb's own parser reports an empty header.
    record, signals = lines[0], lines[1:]
    fs = _check_record_line(hea, record)
    if "/" in record[0]:
        # The lines that follow name segments, which are headers of their own.
        n_seg = int(record[0].split("/", 1)[1])
        if n_seg != len(signals):
            # wfdb makes room for every declared segment: 2**32 of them exhaust memory.
            raise InputError(
                f"{hea}: the record line declares {n_seg} segments, {len(signals)} segment "
                f"lines follow"
            )
        for tokens in signals:
            if len(tokens) != 2 or not _SEGMENT.fullmatch(tokens[0]) or not tokens[1].isdigit():
                raise InputError(
                    f"{hea}: segment line {' '.join(tokens)[:60]!r} is not valid (a segment "
                    f"name and its number of samples)"
                )
        return RecordLine(int(record[1]), fs)
    for j, tokens in enumerate(signals[: int(record[1])]):
        _check_signal_line(hea, j, tokens)
    return RecordLine(int(record[1]), fs)


def _check_record_line(hea: Path, tokens: list[str]) -> float | None:
    """Check each field of the record line; return the sampling frequency it states."""
    fields = ("name", "number of signals", "fs", "number of samples", "base time", "base date")
    if len(tokens) > len(fields):
        raise InputError(
            f"{hea}: the record line has {len(tokens)} fields, at most {len(fields)} are defined "
            f"(name, signals, fs, samples, base time, base date)"
        )
    patterns = (_NAME, _COUNT, _FS_SPEC, _COUNT, _BASE_TIME, _BASE_DATE)
    fs: float | None = None
    if len(tokens) < 2:
        raise InputError(f"{hea}: the record line {' '.join(tokens)!r} has no number of signals")
    for token, field, pattern in zip(tokens, fields, patterns, strict=False):
        match = pattern.fullmatch(token)
        if match is None:
            if field == "fs" and _FS.fullmatch(token.split("/", 1)[0]):
                field = "counter frequency"
            raise InputError(
                f"{hea}: record line: {field} {token!r} is not valid"
                + (" (a plain positive decimal such as 360 or 128.5)" if field == "fs" else "")
            )
        if field == "fs":
            fs = check_fs(float(match["fs"]), hea, "record line: fs")
    return fs


def _check_signal_line(hea: Path, j: int, tokens: list[str]) -> None:
    """Check the fields of signal ``j``'s line, each against the WFDB header format.

    wfdb's parser matches every field optionally, so a field it cannot read (``1e3`` as the
    ADC resolution, a deleted gain) shifts the rest of the line into the lead's name and
    leaves the baseline at its default.
    """
    lead = " ".join(tokens[8:]) or f"signal {j}"
    for k, (token, (field, pattern)) in enumerate(zip(tokens[:8], _SIGNAL_FIELDS, strict=False)):
        if pattern.fullmatch(token) is None:
            raise InputError(
                f"{hea}: lead {lead!r}: {field} {token!r} (field {k + 1} of the signal line) "
                f"is not valid"
            )
    if len(tokens) >= 3:
        _check_gain(hea, lead, tokens[2])


def _check_gain(hea: Path, lead: str, token: str) -> None:
    """Check the ADC gain of a lead: a gain of 0 means uncalibrated and is allowed."""
    spec = _GAIN_SPEC.fullmatch(token)
    text = spec["gain"] if spec is not None else token
    if text == "":
        return
    if _GAIN.fullmatch(text) is None:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        problem = "is negative" if value < 0 else "is not a number"
        raise InputError(f"{hea}: lead {lead!r}: adc gain {text!r} {problem}")
    if not math.isfinite(float(text)):
        raise InputError(f"{hea}: lead {lead!r}: adc gain {text!r} is not finite")


#: The symbol of each standard MIT annotation code (WFDB's ``ecgcodes.h``); codes not listed
#: are undefined and read as an empty symbol, which is no beat.
STANDARD_SYMBOLS: dict[int, str] = {
    0: " ", 1: "N", 2: "L", 3: "R", 4: "a", 5: "V", 6: "F", 7: "J", 8: "A", 9: "S", 10: "E",
    11: "j", 12: "/", 13: "Q", 14: "~", 16: "|", 18: "s", 19: "T", 20: "*", 21: "D", 22: '"',
    23: "=", 24: "p", 25: "B", 26: "^", 27: "t", 28: "+", 29: "u", 30: "?", 31: "!", 32: "[",
    33: "]", 34: "e", 35: "n", 36: "@", 37: "x", 38: "f", 39: "(", 40: ")", 41: "r",
}  # fmt: skip


@dataclass(frozen=True)
class _Annotation:
    sample: int
    code: int
    aux: str


@dataclass(frozen=True)
class AnnotationArrays:
    """The annotations of an MIT-format file, as ``wfdb.rdann`` would return them.

    Attributes
    ----------
    sample : ndarray of int64
        The sample of each annotation.
    symbol : ndarray of str
        Its symbol: the standard one of its code, or the file's own label definition.
    aux_note : list of str
        Its note (``""`` when it has none).
    """

    sample: npt.NDArray[np.int64]
    symbol: npt.NDArray[np.str_]
    aux_note: list[str]


def check_annotation_bytes(path: Path, data: bytes) -> None:
    """Walk an MIT-format annotation file and refuse it when it is malformed or cut short.

    Parameters
    ----------
    path : Path
        The annotation file, named in error messages.
    data : bytes
        Its content.

    Raises
    ------
    InputError
        As :func:`decode_annotations`.
    """
    decode_annotations(path, data)


def decode_annotations(path: Path, data: bytes) -> AnnotationArrays:
    """Decode an MIT-format annotation file, refusing it when it is malformed or cut short.

    The file is a sequence of 16-bit little-endian words, each a 6-bit code and a 10-bit time
    difference or length; a zero word ends it. The walk is one pass over the words with no
    step that can stay in place, so it ends on any input, in time linear in the file's size.
    It gives what ``wfdb.rdann`` gives for a well-formed file (the definition notes at sample
    0 removed, custom labels applied) and refuses a file that wfdb would read only in part,
    misread, or not finish reading.

    Parameters
    ----------
    path : Path
        The annotation file, named in error messages.
    data : bytes
        Its content.

    Returns
    -------
    AnnotationArrays
        The annotations in file order.

    Raises
    ------
    InputError
        When the file does not end with the end marker right after its last annotation, when
        a field runs past the end or appears twice in one annotation, or when its definition
        notes cannot be read.
    """
    annotations = _walk(path, data)
    labels = _check_definitions(path, annotations)
    symbols = {**STANDARD_SYMBOLS, **labels}
    # As wfdb: the definition notes (notes at sample 0) and code 0 are not annotations.
    kept = [a for a in annotations if a.code != 0 and not (a.sample == 0 and a.code == _NOTE)]
    return AnnotationArrays(
        sample=np.array([a.sample for a in kept], dtype=np.int64),
        symbol=np.array([symbols.get(a.code, "") for a in kept], dtype=str),
        aux_note=[a.aux for a in kept],
    )


def _walk(path: Path, data: bytes) -> list[_Annotation]:
    """Read the annotations of a file word by word; each step moves forward."""
    if len(data) % 2:
        raise InputError(f"{path}: annotations: odd length ({len(data)} bytes), truncated")
    words = [data[k] | (data[k + 1] << 8) for k in range(0, len(data), 2)]
    n = len(words)
    annotations: list[_Annotation] = []
    sample = 0
    i = 0

    def fail(at: int, why: str) -> InputError:
        return InputError(f"{path}: annotations: malformed at byte {2 * at} ({why})")

    while True:
        if i >= n:
            raise InputError(
                f"{path}: annotations: no end marker after {len(annotations)} annotations "
                f"({len(data)} bytes): truncated"
            )
        if words[i] == 0:
            if i != n - 1:
                raise fail(i, f"{2 * (n - 1 - i)} bytes after the end marker")
            break
        code, low = words[i] >> 10, words[i] & 0x3FF
        if code == _SKIP:
            if i + 3 >= n or words[i + 3] == 0:
                raise fail(i, "a skip with no annotation after it")
            skip = (words[i + 1] << 16) | words[i + 2]
            sample += skip - (1 << 32) if skip >= 1 << 31 else skip
            i += 3
            continue
        if code > _SKIP:
            raise fail(i, f"field code {code} with no annotation before it")
        sample += low
        at = i
        i += 1
        aux = ""
        seen: set[int] = set()
        while i < n and words[i] >> 10 > _SKIP:
            field, length = words[i] >> 10, words[i] & 0x3FF
            if field in seen:
                # wfdb would give this annotation two values and shift every later one.
                raise fail(i, f"field code {field} twice in the annotation at byte {2 * at}")
            seen.add(field)
            i += 1
            if field != _AUX:
                continue
            # wfdb reads the length from the low byte only.
            if length > 0xFF:
                raise fail(i - 1, f"note length {length} over 255")
            end = i + (length + 1) // 2
            if end >= n:
                raise fail(i - 1, f"a {length}-byte note runs past the end of the file")
            aux = data[2 * i : 2 * i + length].decode("latin-1")
            i = end
        annotations.append(_Annotation(sample, code, aux))
    return annotations


def _check_definitions(path: Path, annotations: list[_Annotation]) -> dict[int, str]:
    """Read the definition notes (``## ...`` at sample 0) as wfdb does; refuse what it cannot.

    wfdb reads one note per note annotation at sample 0, by position in the file, and loops
    forever on a ``## `` note it does not recognise, so its walk is repeated here with a bound.

    Returns
    -------
    dict of int to str
        The symbol of each label the file defines.
    """
    count = sum(1 for a in annotations if a.sample == 0 and a.code == _NOTE)
    labels: dict[int, str] = {}
    has_fs = False
    i = 0
    while i < count:
        note = annotations[i].aux
        if not note.startswith("## "):
            i += 1
            continue
        match = _TIME_RESOLUTION.search(note)
        if not has_fs and match is not None:
            has_fs = float(match["fs"]) != 0
            i += 1
            continue
        if note != "## annotation type definitions":
            raise InputError(
                f"{path}: annotations: definition note {note[:40]!r} (annotation {i}) "
                f"cannot be read"
            )
        i += 1
        while i < len(annotations) and annotations[i].aux != "## end of definitions":
            label = _CUSTOM_LABEL.search(annotations[i].aux)
            if label is None:
                raise InputError(
                    f"{path}: annotations: label definition {annotations[i].aux[:40]!r} "
                    f"(annotation {i}) cannot be read"
                )
            labels[int(label["label_store"])] = label["symbol"]
            i += 1
        if i >= len(annotations):
            raise InputError(f"{path}: annotations: label definitions with no end")
        i += 1
    return labels
