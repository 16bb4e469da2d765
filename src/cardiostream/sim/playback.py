"""Real recordings played as a live source, one after another, looping when asked.

Examples
--------
>>> from cardiostream.sim.playback import Playback, af_playlist
>>> source = Playback(af_playlist(), fs=250)
>>> source.read(500).shape
(500,)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream.errors import InputError
from cardiostream.record import Record

Float32Array = npt.NDArray[np.float32]

#: The bundled excerpts of atrial fibrillation.
AF_SAMPLES = ("mitdb-201-af", "mitdb-203-af", "cinc2017-A00004")


def af_playlist() -> list[Path]:
    """Headers of the bundled AF excerpts (two MITDB minutes, one CinC 2017 record)."""
    from cardiostream.samples import sample_path

    return [sample_path(name) for name in AF_SAMPLES]


def load_record(source: str | Path | Record) -> Record:
    """A record from a :class:`Record`, a file that :func:`cardiostream.read` opens, or the
    name of a bundled sample (a file of that name wins)."""
    if isinstance(source, Record):
        return source
    from cardiostream.io import read
    from cardiostream.samples import resolve

    return read(resolve(source))


def _resampled(x: npt.NDArray[np.float32], fs_in: float, fs_out: float) -> Float32Array:
    if fs_in == fs_out:
        return x
    from cardiostream.dsp.resample import resample

    missing = ~np.isfinite(x)
    if missing.any():
        # Resampling spreads a NaN over the filter's length: fill, resample, mark again.
        filled = np.where(missing, 0.0, x)
        y = resample(filled, fs_in, fs_out)
        idx = np.minimum((np.arange(y.shape[0]) * fs_in / fs_out).astype(np.int64), len(x) - 1)
        y[missing[idx]] = np.nan
    else:
        y = resample(x, fs_in, fs_out)
    return y.astype(np.float32)


class Playback:
    """Plays records as a live source: ``read(n)`` returns the next ``n`` samples.

    Parameters
    ----------
    sources : path, name, Record, or a sequence of them
        Records to play in turn (files :func:`cardiostream.read` opens, bundled sample
        names such as ``mitdb-201-af``, or records).
    loop : bool
        Start again with the first record after the last; otherwise (the default)
        :meth:`read` returns fewer samples at the end, then none.
    fs : float, optional
        Resample to this rate (default: the first record's rate, to which the others are
        resampled when theirs differs).
    lead : int, str or None
        The lead to play, by index or name; None plays every lead (``read`` then returns
        ``[n, leads]``, and every record must have as many leads).

    Raises
    ------
    InputError
        For no sources, a missing lead, or records with different numbers of leads.
    """

    def __init__(
        self,
        sources: str | Path | Record | Sequence[str | Path | Record],
        *,
        loop: bool = False,
        fs: float | None = None,
        lead: int | str | None = 0,
    ) -> None:
        items = [sources] if isinstance(sources, str | Path | Record) else list(sources)
        if not items:
            raise InputError("sources: give at least one record to play")
        records = [load_record(item) for item in items]
        self.fs = float(fs) if fs is not None else records[0].fs
        if not 50 <= self.fs <= 2000:
            raise InputError(f"fs: expected 50 to 2000 Hz, got {self.fs:g}")
        self.loop = loop
        self.names = [rec.name for rec in records]
        self.signals: list[Float32Array] = []
        for rec in records:
            if lead is None:
                x = rec.signal
                if x.shape[1] != records[0].signal.shape[1]:
                    raise InputError(f"{rec.name}: {x.shape[1]} leads, the first record has "
                                     f"{records[0].signal.shape[1]}; choose one lead")  # fmt: skip
            else:
                x = rec.lead(lead)
            if not len(x):
                raise InputError(f"{rec.name}: no samples to play")
            self.signals.append(_resampled(x, rec.fs, self.fs))
        first = records[0]
        if lead is None:
            self.leads: tuple[str, ...] = tuple(first.leads)
        else:
            self.leads = (first.leads[first.leads.index(lead) if isinstance(lead, str) else lead],)
        self._record = 0
        self._pos = 0
        self.samples = 0

    @property
    def current(self) -> str:
        """Name of the record playing now."""
        return self.names[self._record]

    @property
    def exhausted(self) -> bool:
        """Whether every record has been played (never, when looping)."""
        return self._record >= len(self.signals)

    def read(self, n: int) -> Float32Array:
        """The next ``n`` samples (fewer at the very end when not looping)."""
        if n < 0:
            raise InputError(f"n: expected a number of samples, got {n}")
        parts: list[Float32Array] = []
        need = n
        while need > 0 and not self.exhausted:
            x = self.signals[self._record]
            take = x[self._pos : self._pos + need]
            parts.append(take)
            need -= len(take)
            self._pos += len(take)
            if self._pos >= len(x):
                self._pos = 0
                self._record += 1
                if self.loop and self._record == len(self.signals):
                    self._record = 0
        shape = (0,) if len(self.leads) == 1 and self.signals[0].ndim == 1 else (0, len(self.leads))
        out = np.concatenate(parts) if parts else np.zeros(shape, np.float32)
        self.samples += len(out)
        return out

    def describe(self) -> dict[str, Any]:
        """What is playing: record, position, rate (for status lines)."""
        return {
            "mode": "playback",
            "record": None if self.exhausted else self.current,
            "position_s": round(self._pos / self.fs, 3),
            "fs": self.fs,
            "leads": list(self.leads),
        }
