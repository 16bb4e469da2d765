"""Record and annotation types shared by every stage of the data flow."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream.errors import InputError

#: Annotation symbols that mark a QRS complex: exactly the codes for which WFDB's ``isqrs`` is
#: true, ventricular flutter waves (``!``) included.
BEAT_SYMBOLS: frozenset[str] = frozenset("NLRaVFJASEj/QB?!enfr")

_INDEX = re.compile(r"-?[0-9]+", re.ASCII)


@dataclass(frozen=True)
class BeatTable:
    """Beat annotations: one row per annotated beat.

    Attributes
    ----------
    sample : ndarray of int64
        Sample index of each beat.
    symbol : ndarray of str
        The annotation symbol (``N``, ``V``, ``A``, ...).
    """

    sample: npt.NDArray[np.int64]
    symbol: npt.NDArray[np.str_]

    def __len__(self) -> int:
        return int(self.sample.size)

    @classmethod
    def empty(cls) -> BeatTable:
        """Return a table with no beats."""
        return cls(np.zeros(0, np.int64), np.zeros(0, dtype="<U1"))


@dataclass(frozen=True)
class RhythmTable:
    """Rhythm intervals: ``[start, end)`` in samples, with a label such as ``AFIB`` or ``N``.

    Attributes
    ----------
    start, end : ndarray of int64
        First sample of the interval and one past its last sample.
    label : ndarray of str
        The rhythm label without the leading parenthesis of WFDB ``aux_note`` (``AFIB``, ``N``).
    """

    start: npt.NDArray[np.int64]
    end: npt.NDArray[np.int64]
    label: npt.NDArray[np.str_]

    def __len__(self) -> int:
        return int(self.start.size)

    @classmethod
    def empty(cls) -> RhythmTable:
        """Return a table with no intervals."""
        z = np.zeros(0, np.int64)
        return cls(z, z.copy(), np.zeros(0, dtype="<U1"))


@dataclass(frozen=True)
class Annotations:
    """Reference annotations of a record (may be empty)."""

    beats: BeatTable = field(default_factory=BeatTable.empty)
    rhythms: RhythmTable = field(default_factory=RhythmTable.empty)

    def __bool__(self) -> bool:
        return len(self.beats) > 0 or len(self.rhythms) > 0


@dataclass
class Record:
    """An ECG recording in physical units.

    Attributes
    ----------
    signal : ndarray of float32, shape (n_samples, n_leads)
        The ECG in millivolts. Missing samples are NaN.
    fs : float
        Sampling rate in Hz.
    leads : list of str
        One name per column of ``signal``.
    name : str
        The record's name (the file stem for files).
    annotations : Annotations
        Reference beats and rhythm intervals, empty when the source has none.
    meta : dict
        Anything else the source said (start time, device, comments).
    """

    signal: npt.NDArray[np.float32]
    fs: float
    leads: list[str]
    name: str
    annotations: Annotations = field(default_factory=Annotations)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        sig = np.asarray(self.signal)
        if sig.ndim == 1:
            sig = sig[:, None]
        if sig.ndim != 2:
            raise InputError(
                f"{self.name}: signal must be 2-D [n_samples, n_leads], got {sig.ndim}-D"
            )
        self.signal = np.ascontiguousarray(sig, dtype=np.float32)
        if not np.isfinite(self.fs) or self.fs <= 0:
            raise InputError(f"{self.name}: sampling rate must be positive, got fs={self.fs}")
        self.fs = float(self.fs)
        if len(self.leads) != self.signal.shape[1]:
            raise InputError(
                f"{self.name}: {len(self.leads)} lead names for "
                f"{self.signal.shape[1]} signal columns"
            )

    @property
    def n_samples(self) -> int:
        """Number of samples per lead."""
        return int(self.signal.shape[0])

    @property
    def duration(self) -> float:
        """Duration in seconds."""
        return self.n_samples / self.fs

    def lead(self, lead: int | str = 0) -> npt.NDArray[np.float32]:
        """Return one lead as a 1-D array, by index or by name."""
        if isinstance(lead, str):
            if lead not in self.leads:
                raise InputError(f"{self.name}: no lead {lead!r}; leads are {self.leads}")
            idx = self.leads.index(lead)
        else:
            idx = lead
            if not -len(self.leads) <= idx < len(self.leads):
                raise InputError(
                    f"{self.name}: lead index {idx} out of range 0..{len(self.leads) - 1}"
                )
        return self.signal[:, idx]


def lead_selector(text: str) -> int | str:
    """A lead as typed on a command line or in a query: an index (``"0"``, ``"-1"``) or a name.

    Parameters
    ----------
    text : str
        The lead as typed.

    Returns
    -------
    int or str
        An index when ``text`` is an ASCII decimal integer with at most one leading minus sign,
        otherwise ``text`` itself, taken as a lead name (an unknown one fails where it is used).
    """
    # str.isdigit() is also true for "²" and other digits int() refuses, and "--1" would pass a
    # strip of the signs: match the ASCII form int() is sure to accept.
    return int(text) if _INDEX.fullmatch(text) else text
