"""Datasets for the rhythm model: CinC 2017 for training, NSTDB noise for augmentation, and
labelled windows of annotated WFDB records (MITDB) for external evaluation.

Every signal is conditioned by :func:`cardiostream.rhythm.preprocess.preprocess`, the chain the
streaming engine runs live, so the network is trained on what it will see.

Classes
-------
The model's four classes, in output order, are :data:`CLASSES`: ``normal``, ``af``, ``other``,
``noise``. CinC 2017 labels map by :data:`CINC_CODES` (``N``, ``A``, ``O``, ``~``).

Window labels of annotated records
----------------------------------
:func:`rhythm_windows` labels a window ``[t - window_s, t)`` of a record from its reference
rhythm intervals (WFDB ``(AFIB``, ``(N``, ... aux notes) and beat symbols:

* ``af`` (1): the window lies entirely inside one ``AFIB`` interval (beats do not matter).
* ``normal`` (0): the window lies entirely inside one ``N`` (sinus rhythm) interval and has at
  least one beat, all of them in :data:`NORMAL_BEATS` (``N``, and the bundle-branch-block beats
  ``L`` and ``R``, which are conducted sinus beats with a wide QRS).
* ``other`` (2): the window lies entirely inside one interval of any other rhythm (``B``, ``T``,
  ``VT``, ``SVTA``, ``SBR``, ``BII``, ``IVR``, ``NOD``, ``P``, ``PREX``, ``VFL``, ``AB``, ...),
  or inside ``N`` with an ectopic or escape beat (``A``, ``V``, ``F``, ``J``, ``a``, ``S``,
  ``E``, ``e``, ``j``, ``n``, ``/``, ``f``, ``r``, ``!``, ``B``); such ``N`` windows have at
  least one beat.
* excluded (-1): the window overlaps atrial flutter (``AFL``, neither AF nor clearly other),
  spans a rhythm change or time before the first rhythm annotation, holds a missing sample in
  the chosen lead, is an ``N`` window without beats or with an unclassifiable beat (``Q``,
  ``?``) and no ectopic one.

``noise`` is never assigned: reference rhythm annotations do not grade signal quality.
Times are on the record's own clock; the model's output lags it by the preprocessing delay.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from cardiostream.errors import InputError
from cardiostream.io import read
from cardiostream.record import Record
from cardiostream.rhythm.preprocess import MODEL_FS, Preprocessor

#: The model's classes, in the order of its outputs.
CLASSES: tuple[str, ...] = ("normal", "af", "other", "noise")

#: CinC 2017 reference codes to class indices.
CINC_CODES: dict[str, int] = {"N": 0, "A": 1, "O": 2, "~": 3}

#: Label of a window that takes no part in scoring.
EXCLUDED = -1

#: Beat symbols that keep an ``N`` window normal: sinus beats, with or without bundle-branch
#: block.
NORMAL_BEATS: frozenset[str] = frozenset("NLR")

#: Beat symbols that say nothing about the rhythm: an ``N`` window with these (and no ectopic
#: beat) is excluded rather than called normal or other.
UNKNOWN_BEATS: frozenset[str] = frozenset("Q?")

#: Rhythm label of atrial fibrillation, of atrial flutter and of sinus rhythm in WFDB.
AF_RHYTHM, AFL_RHYTHM, NORMAL_RHYTHM = "AFIB", "AFL", "N"

#: Bumped when the cache layout or the loader's meaning changes.
_CACHE_VERSION = 1

#: The noise records of the MIT-BIH Noise Stress Test Database: baseline wander, muscle
#: artefact, electrode motion.
NSTDB_NOISE = ("bw", "ma", "em")

Int64Array = npt.NDArray[np.int64]
Float32Array = npt.NDArray[np.float32]
Float64Array = npt.NDArray[np.float64]


@dataclass
class CincDataset:
    """CinC 2017 records, conditioned for the rhythm model.

    Attributes
    ----------
    names : list of str
        Record names in ``REFERENCE.csv`` order.
    labels : ndarray of int64
        Class index per record (see :data:`CLASSES`).
    signals : list of ndarray of float32
        One 1-D signal per record at :data:`~cardiostream.rhythm.preprocess.MODEL_FS`.
    fs : float
        Sampling rate of ``signals`` (250 Hz).
    """

    names: list[str]
    labels: Int64Array
    signals: list[Float32Array]
    fs: float = MODEL_FS

    def __len__(self) -> int:
        return len(self.names)

    def class_counts(self) -> dict[str, int]:
        """Number of records per class name."""
        counts = np.bincount(self.labels, minlength=len(CLASSES))
        return {name: int(n) for name, n in zip(CLASSES, counts, strict=True)}


def read_reference(path: str | Path) -> tuple[list[str], Int64Array]:
    """Read a CinC 2017 ``REFERENCE.csv`` (no header, ``record,code`` per line).

    Raises
    ------
    InputError
        If the file is missing, a line is malformed, a code is not in :data:`CINC_CODES`, or a
        record is listed twice.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    names: list[str] = []
    labels: list[int] = []
    for lineno, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not "".join(row).strip():
            continue
        if len(row) != 2:
            raise InputError(f"{path}: line {lineno}: expected 'record,label', got {row}")
        name, code = row[0].strip(), row[1].strip()
        if code not in CINC_CODES:
            raise InputError(
                f"{path}: line {lineno}: label {code!r} is not one of {sorted(CINC_CODES)}"
            )
        names.append(name)
        labels.append(CINC_CODES[code])
    if not names:
        raise InputError(f"{path}: no records listed")
    if len(set(names)) != len(names):
        raise InputError(f"{path}: a record is listed more than once")
    return names, np.asarray(labels, dtype=np.int64)


@contextmanager
def _progress(enabled: bool, description: str, total: int) -> Iterator[tuple[Progress, TaskID]]:
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, disable=not enabled) as bar:
        yield bar, bar.add_task(description, total=total)


def load_cinc(
    data_dir: str | Path, *, limit: int | None = None, progress: bool = True
) -> CincDataset:
    """Read and condition the CinC 2017 records listed in ``REFERENCE.csv``.

    Parameters
    ----------
    data_dir : str or Path
        Folder with ``REFERENCE.csv`` and the WFDB records (``.hea``/``.mat``).
    limit : int, optional
        Read only the first ``limit`` records of ``REFERENCE.csv`` (for quick runs).
    progress : bool
        Show a progress bar.

    Returns
    -------
    CincDataset
        Lead 0 of every record at 250 Hz, float32, missing samples as 0.

    Raises
    ------
    InputError
        If ``REFERENCE.csv`` or a listed record is missing or malformed.
    """
    data_dir = Path(data_dir)
    names, labels = read_reference(data_dir / "REFERENCE.csv")
    if limit is not None:
        if limit < 1:
            raise InputError(f"limit: must be a positive number of records, got {limit}")
        names, labels = names[:limit], labels[:limit]
    signals: list[Float32Array] = []
    chains: dict[float, Preprocessor] = {}  # Building the filters costs more than running them.
    with _progress(progress, "CinC 2017", len(names)) as (bar, task):
        for name in names:
            record = read(data_dir / f"{name}.hea")
            chain = chains.setdefault(record.fs, Preprocessor(record.fs))
            chain.reset()
            signals.append(chain.process(record.lead(0)))
            bar.advance(task)
    return CincDataset(names=names, labels=labels, signals=signals)


def cinc_cache_key(data_dir: str | Path, *, limit: int | None = None) -> str:
    """Hash of what decides a cached dataset: ``REFERENCE.csv``, the preprocessing settings of a
    300 Hz record, ``limit`` and the cache version."""
    ref = Path(data_dir) / "REFERENCE.csv"
    try:
        content = ref.read_bytes()
    except OSError as exc:
        raise InputError(f"{ref}: cannot read: {exc.strerror}") from None
    settings = {"version": _CACHE_VERSION, "limit": limit, "chain": Preprocessor(300.0).config}
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    digest.update(content)
    return digest.hexdigest()[:16]


def cached_cinc(
    data_dir: str | Path,
    cache_dir: str | Path,
    *,
    limit: int | None = None,
    progress: bool = True,
) -> CincDataset:
    """:func:`load_cinc` through an on-disk cache.

    The cache is one compressed ``.npz`` (``cinc2017-<key>.npz``, key from
    :func:`cinc_cache_key`) holding the names, labels, all signals concatenated and their
    offsets. A changed ``REFERENCE.csv`` or preprocessing setting gives a new key, so a stale
    cache is never read; it is written atomically, so an interrupted build leaves none.

    Parameters
    ----------
    data_dir : str or Path
        The CinC 2017 folder.
    cache_dir : str or Path
        Where the cache lives; created when missing.
    limit, progress
        As for :func:`load_cinc`.
    """
    cache_dir = Path(cache_dir)
    path = cache_dir / f"cinc2017-{cinc_cache_key(data_dir, limit=limit)}.npz"
    if path.is_file():
        return _read_cache(path)
    data = load_cinc(data_dir, limit=limit, progress=progress)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{cache_dir}: cannot create the cache folder: {exc.strerror}") from None
    lengths = np.array([s.size for s in data.signals], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".cinc2017-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(
                f,
                names=np.asarray(data.names, dtype=str),
                labels=data.labels,
                signals=np.concatenate(data.signals) if data.signals else np.zeros(0, np.float32),
                offsets=offsets,
                fs=np.float64(data.fs),
            )
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a cache is meant to be shared.
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return data


def _read_cache(path: Path) -> CincDataset:
    try:
        with np.load(path, allow_pickle=False) as z:
            names = [str(n) for n in z["names"]]
            labels = np.asarray(z["labels"], dtype=np.int64)
            flat = np.asarray(z["signals"], dtype=np.float32)
            offsets = np.asarray(z["offsets"], dtype=np.int64)
            fs = float(z["fs"])
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(f"{path}: unreadable dataset cache ({exc}); delete it") from None
    if offsets.size != len(names) + 1 or labels.size != len(names) or offsets[-1] != flat.size:
        raise InputError(f"{path}: inconsistent dataset cache; delete it")
    signals = np.split(flat, offsets[1:-1])
    return CincDataset(names=names, labels=labels, signals=signals, fs=fs)


def stratified_folds(labels: npt.ArrayLike, k: int = 5, seed: int = 0) -> Int64Array:
    """Assign each record to one of ``k`` folds, keeping the class mix of every fold.

    Records of each class are shuffled and dealt out in turn, class after class, so each class
    and the folds' sizes differ by at most one record between folds.

    Parameters
    ----------
    labels : array_like of int, shape (n,)
        Class of each record.
    k : int
        Number of folds, 2 to ``n``.
    seed : int
        Seed of the shuffle; the same seed gives the same folds.

    Returns
    -------
    ndarray of int64, shape (n,)
        Fold index in ``0..k-1`` of each record.
    """
    y = np.asarray(labels)
    if y.ndim != 1 or (y.size and not np.issubdtype(y.dtype, np.integer)):
        raise InputError(f"labels: expected a 1-D array of class indices, got {y.dtype} {y.shape}")
    if int(k) != k or not 2 <= k <= max(y.size, 2):
        raise InputError(f"k: number of folds must be an integer in 2..{y.size}, got {k}")
    rng = np.random.default_rng(seed)
    order = np.concatenate(
        [rng.permutation(np.flatnonzero(y == c)) for c in np.unique(y)] or [np.zeros(0, np.int64)]
    )
    folds = np.empty(y.size, dtype=np.int64)
    folds[order] = np.arange(order.size) % int(k)
    return folds


def load_noise(nstdb_dir: str | Path) -> dict[str, Float32Array]:
    """Read the noise records of the MIT-BIH Noise Stress Test Database, conditioned.

    Parameters
    ----------
    nstdb_dir : str or Path
        Folder with ``bw``, ``ma`` and possibly ``em`` (WFDB records).

    Returns
    -------
    dict of str to ndarray of float32, shape (n_samples, 2)
        Both leads of each noise record found, at 250 Hz. The chain is linear, so adding this
        to a conditioned ECG equals conditioning the noisy ECG (the 0.5 Hz high-pass takes out
        most of ``bw``, as it would live).

    Raises
    ------
    InputError
        If none of the noise records is present.
    """
    nstdb_dir = Path(nstdb_dir)
    noise: dict[str, Float32Array] = {}
    for name in NSTDB_NOISE:
        header = nstdb_dir / f"{name}.hea"
        if header.is_file():
            record = read(header)
            noise[name] = Preprocessor(record.fs).process(record.signal)
    if not noise:
        raise InputError(f"{nstdb_dir}: none of the NSTDB noise records {NSTDB_NOISE} found")
    return noise


@dataclass
class RhythmWindows:
    """Labelled windows of one record (see the module notes for the rules).

    Attributes
    ----------
    record : str
        The record's name.
    start_s, end_s : ndarray of float64
        Window bounds in seconds on the record's clock.
    label : ndarray of int64
        Class index (:data:`CLASSES`) or :data:`EXCLUDED`.
    af_fraction : ndarray of float64
        Fraction of the window inside ``AFIB`` intervals.
    """

    record: str
    start_s: Float64Array
    end_s: Float64Array
    label: Int64Array
    af_fraction: Float64Array = field(default_factory=lambda: np.zeros(0))

    def __len__(self) -> int:
        return int(self.end_s.size)

    def counts(self) -> dict[str, int]:
        """Number of windows per class name, and ``excluded``."""
        out = {name: int(np.sum(self.label == i)) for i, name in enumerate(CLASSES)}
        out["excluded"] = int(np.sum(self.label == EXCLUDED))
        return out


def _intervals(record: Record, label: str) -> list[tuple[float, float]]:
    rhythms = record.annotations.rhythms
    out: list[tuple[float, float]] = []
    for a, b, lab in zip(
        rhythms.start.tolist(), rhythms.end.tolist(), rhythms.label.tolist(), strict=True
    ):
        if lab != label or b <= a:
            continue
        if out and out[-1][1] == a / record.fs:
            out[-1] = (out[-1][0], b / record.fs)  # Contiguous repeats form one episode.
        else:
            out.append((a / record.fs, b / record.fs))
    return out


def af_episodes(record: Record) -> list[tuple[float, float]]:
    """AF episodes ``(start_s, end_s)`` from the record's ``AFIB`` rhythm intervals."""
    return _intervals(record, AF_RHYTHM)


def afl_intervals(record: Record) -> list[tuple[float, float]]:
    """Atrial flutter intervals ``(start_s, end_s)``, to leave out of AF scoring."""
    return _intervals(record, AFL_RHYTHM)


def _count_before(cumulative: Int64Array, positions: Int64Array, t: Int64Array) -> Int64Array:
    """Number of flagged items at sorted ``positions`` below each ``t`` (via a cumulative sum)."""
    return cumulative[np.searchsorted(positions, t, side="left")]


def rhythm_windows(
    record: Record,
    lead: int | str = 0,
    window_s: float = 10.0,
    hop_s: float | None = None,
) -> RhythmWindows:
    """Label the windows of an annotated record for rhythm evaluation.

    Parameters
    ----------
    record : Record
        A record with reference rhythm (and beat) annotations, such as an MITDB record.
    lead : int or str
        The lead whose missing samples exclude a window.
    window_s : float
        Window length in seconds.
    hop_s : float, optional
        Time between window ends; ``window_s`` (non-overlapping windows) by default, 1.0 for
        the model's frame rate.

    Returns
    -------
    RhythmWindows
        Windows ``[t - window_s, t)`` for ``t = window_s, window_s + hop_s, ...`` up to the
        record's end, labelled by the rules of the module notes.
    """
    if not np.isfinite(window_s) or window_s <= 0:
        raise InputError(f"window_s: must be a positive number of seconds, got {window_s}")
    hop = window_s if hop_s is None else hop_s
    if not np.isfinite(hop) or hop <= 0:
        raise InputError(f"hop_s: must be a positive number of seconds, got {hop_s}")
    fs = record.fs
    n_windows = int(np.floor((record.duration - window_s) / hop + 1e-9)) + 1
    n_windows = max(n_windows, 0)
    end_s = window_s + hop * np.arange(n_windows, dtype=np.float64)
    start_s = end_s - window_s
    a = np.round(start_s * fs).astype(np.int64)
    b = np.minimum(np.round(end_s * fs).astype(np.int64), record.n_samples)

    rhythms = record.annotations.rhythms
    order = np.argsort(rhythms.start, kind="stable")
    starts = rhythms.start[order].astype(np.int64)
    ends = rhythms.end[order].astype(np.int64)
    labels = np.asarray(rhythms.label, dtype=str)[order]
    # The first interval ending after sample a holds the window when it starts at or before a
    # and reaches b (intervals are disjoint; an interval per window, no change inside).
    window_rhythm = np.full(n_windows, "", dtype=labels.dtype if labels.size else "<U1")
    if starts.size:
        idx = np.minimum(np.searchsorted(ends, a, side="right"), starts.size - 1)
        inside = (starts[idx] <= a) & (ends[idx] >= b)
        window_rhythm[inside] = labels[idx[inside]]

    af = labels == AF_RHYTHM
    af_fraction = (_covered(starts[af], ends[af], b) - _covered(starts[af], ends[af], a)) / (
        np.maximum(b - a, 1)
    )

    beats = record.annotations.beats
    beat_pos = beats.sample.astype(np.int64)
    symbols = np.asarray(beats.symbol, dtype=str)
    unknown = np.isin(symbols, sorted(UNKNOWN_BEATS))
    ectopic = ~np.isin(symbols, sorted(NORMAL_BEATS)) & ~unknown
    n_beats = np.searchsorted(beat_pos, b) - np.searchsorted(beat_pos, a)
    cum_ectopic = np.concatenate([[0], np.cumsum(ectopic)]).astype(np.int64)
    cum_unknown = np.concatenate([[0], np.cumsum(unknown)]).astype(np.int64)
    n_ectopic = _count_before(cum_ectopic, beat_pos, b) - _count_before(cum_ectopic, beat_pos, a)
    n_unknown = _count_before(cum_unknown, beat_pos, b) - _count_before(cum_unknown, beat_pos, a)

    missing = ~np.isfinite(record.lead(lead))
    cum_missing = np.concatenate([[0], np.cumsum(missing)]).astype(np.int64)
    has_missing = cum_missing[b] > cum_missing[a]

    label = np.full(n_windows, EXCLUDED, dtype=np.int64)
    known = (window_rhythm != "") & ~has_missing & (window_rhythm != AFL_RHYTHM)
    label[known & (window_rhythm == AF_RHYTHM)] = CLASSES.index("af")
    sinus = known & (window_rhythm == NORMAL_RHYTHM) & (n_beats > 0)
    label[sinus & (n_ectopic == 0) & (n_unknown == 0)] = CLASSES.index("normal")
    label[sinus & (n_ectopic > 0)] = CLASSES.index("other")
    other_rhythm = known & ~np.isin(window_rhythm, [AF_RHYTHM, NORMAL_RHYTHM])
    label[other_rhythm] = CLASSES.index("other")
    return RhythmWindows(
        record=record.name,
        start_s=start_s,
        end_s=end_s,
        label=label,
        af_fraction=af_fraction,
    )


def _covered(starts: Int64Array, ends: Int64Array, t: Int64Array) -> Float64Array:
    """Samples before each ``t`` covered by the disjoint intervals ``[starts, ends)``."""
    if starts.size == 0:
        return np.zeros(t.shape, dtype=np.float64)
    order = np.argsort(starts)
    s, e = starts[order], ends[order]
    full = np.concatenate([[0], np.cumsum(e - s)])
    k = np.searchsorted(s, t, side="right")  # intervals starting at or before t
    last = np.maximum(k - 1, 0)
    covered = full[last] + np.clip(t - s[last], 0, e[last] - s[last])
    return np.where(k > 0, covered, 0).astype(np.float64)


@dataclass
class WindowDataset:
    """Labelled, conditioned windows of annotated WFDB records, ready for the network.

    Attributes
    ----------
    x : ndarray of float32, shape (n_windows, window_s * 250)
        Each window of the conditioned lead at :data:`~cardiostream.rhythm.preprocess.MODEL_FS`.
    labels : ndarray of int64
        Class index per window (never :data:`EXCLUDED`: those are left out).
    records : list of str
        The record of each window.
    start_s : ndarray of float64
        Start of each window on its record's clock.
    """

    x: Float32Array
    labels: Int64Array
    records: list[str]
    start_s: Float64Array

    def __len__(self) -> int:
        return int(self.labels.size)

    def class_counts(self) -> dict[str, int]:
        """Number of windows per class name."""
        counts = np.bincount(self.labels, minlength=len(CLASSES))
        return {name: int(n) for name, n in zip(CLASSES, counts, strict=True)}


def load_windows(
    paths: list[str | Path],
    *,
    lead: int | str = 0,
    window_s: float = 10.0,
    hop_s: float | None = None,
    progress: bool = True,
) -> WindowDataset:
    """Cut annotated WFDB records into labelled windows at the model's rate.

    Each record is conditioned once by the model's own causal chain (resampling to 250 Hz and
    filtering), then cut into windows labelled by :func:`rhythm_windows` (rhythm intervals
    and the per-beat purity rule for ``normal``); excluded windows are left out.

    Parameters
    ----------
    paths : list of path
        WFDB header files (or record paths without extension) with ``.atr`` annotations.
    lead : int or str
        The lead to use.
    window_s, hop_s : float
        Window length and the time between window starts (``window_s`` by default).
    progress : bool
        Show a progress bar.
    """
    n = round(window_s * MODEL_FS)
    xs: list[Float32Array] = []
    labels: list[Int64Array] = []
    names: list[str] = []
    starts: list[Float64Array] = []
    with _progress(progress, "windows", len(paths)) as (bar, task):
        for path in paths:
            record = read(path)
            windows = rhythm_windows(record, lead=lead, window_s=window_s, hop_s=hop_s)
            keep = np.flatnonzero(windows.label != EXCLUDED)
            ecg = Preprocessor(record.fs).process(record.lead(lead))
            first = np.round(windows.start_s[keep] * MODEL_FS).astype(np.int64)
            inside = first + n <= ecg.size
            keep, first = keep[inside], first[inside]
            if keep.size:
                xs.append(ecg[first[:, None] + np.arange(n)])
                labels.append(windows.label[keep])
                names += [record.name] * keep.size
                starts.append(windows.start_s[keep])
            bar.advance(task)
    if not xs:
        return WindowDataset(
            np.zeros((0, n), np.float32), np.zeros(0, np.int64), [], np.zeros(0, np.float64)
        )
    return WindowDataset(np.concatenate(xs), np.concatenate(labels), names, np.concatenate(starts))
