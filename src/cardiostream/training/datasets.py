"""Datasets for the rhythm model: CinC 2017 for training, NSTDB noise for augmentation, and
labelled windows of annotated WFDB records (MITDB), cut by the reference labelling of
:mod:`cardiostream.evaluate.reference`.

Every signal is conditioned by :func:`cardiostream.rhythm.preprocess.preprocess`, the chain the
streaming engine runs live, so the network is trained on what it will see.

Classes
-------
The model's four classes, in output order, are :data:`CLASSES`: ``normal``, ``af``, ``other``,
``noise``. CinC 2017 labels map by :data:`CINC_CODES` (``N``, ``A``, ``O``, ``~``).

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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from rich.progress import Progress, TaskID

from cardiostream.errors import InputError
from cardiostream.evaluate.reference import EXCLUDED, Float64Array, Int64Array, rhythm_windows
from cardiostream.io import read
from cardiostream.progress import counted_bar
from cardiostream.rhythm.preprocess import MODEL_FS, Preprocessor
from cardiostream.rhythm.verdict import CLASSES

#: CinC 2017 reference codes to class indices.
CINC_CODES: dict[str, int] = {"N": 0, "A": 1, "O": 2, "~": 3}

#: Bumped when the cache layout or the loader's meaning changes.
_CACHE_VERSION = 1

#: The noise records of the MIT-BIH Noise Stress Test Database: baseline wander, muscle
#: artefact, electrode motion.
NSTDB_NOISE = ("bw", "ma", "em")

Float32Array = npt.NDArray[np.float32]


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

    def take(self, idx: npt.ArrayLike) -> tuple[list[Float32Array], Int64Array]:
        """The signals and labels of the records at ``idx``."""
        rows = np.asarray(idx, np.int64)
        return [self.signals[i] for i in rows], self.labels[rows]


def check_cinc_folder(folder: Path) -> None:
    """Check that ``folder`` is a CinC 2017 training folder (it holds ``REFERENCE.csv``).

    Raises
    ------
    InputError
        When it does not.
    """
    if not (folder / "REFERENCE.csv").is_file():
        raise InputError(f"{folder}: no REFERENCE.csv, not a CinC 2017 folder")


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
    with counted_bar("[bold]{task.description}", enabled=enabled) as bar:
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
