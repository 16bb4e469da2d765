"""Benchmark of R-peak detectors on a WFDB database: accuracy and speed side by side.

Every detector gets the same signal (one lead, physical units) of every record. Only the
detection call is timed; reading, type conversion and scoring are not. Each detector is called
once on a short excerpt before any timing so that just-in-time compilation and first-import
work stay out of the figures; that first call is timed on its own and reported as
``first_call_s``. Detections are scored against the heartbeats of the reference annotations
with :mod:`cardiostream.evaluate.rpeaks` (whole records, ±150 ms, gross sums).

The speed figure is *times real time*: the total duration of the signals divided by the total
time spent in detection calls. Figures are meant for one core: :func:`run_rpeak_benchmark`
limits numba and the BLAS/OpenMP pools to one thread while it runs (via ``threadpoolctl``), and
the command line also sets ``NUMBA_NUM_THREADS=1`` and ``OMP_NUM_THREADS=1`` before the
benchmark imports its peers, which binds the pools those libraries create at import time.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import importlib.metadata
import json
import math
import platform
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from rich import box
from rich.console import Console
from rich.table import Table

from cardiostream.errors import InputError
from cardiostream.evaluate.rpeaks import BeatScore, gross_score, match_beats, reference_beats
from cardiostream.io.listing import list_records
from cardiostream.progress import counted_bar
from cardiostream.record import BEAT_SYMBOLS, BeatTable

__all__ = [
    "PROJECT_DETECTOR",
    "BenchResult",
    "DetectorResult",
    "DetectorSpec",
    "default_detectors",
    "markdown_table",
    "record_table",
    "run_rpeak_benchmark",
    "summary_table",
    "write_outputs",
]

#: Name of the project's own detector in results and tables.
PROJECT_DETECTOR = "cardiostream"

#: Length of the excerpt used for the untimed warm-up call, in seconds.
WARMUP_SECONDS = 10.0

Detector = Callable[[npt.NDArray[Any], float], npt.ArrayLike]


@dataclass(frozen=True)
class DetectorSpec:
    """A detector and the sample type it is given.

    Attributes
    ----------
    fn : callable
        ``fn(signal, fs) -> sample indices`` of R peaks in a 1-D signal in mV.
    dtype : numpy dtype
        Type of the signal handed to ``fn``; the conversion happens outside the timed call.
    """

    fn: Detector
    dtype: type[np.floating[Any]] = np.float64


@dataclass
class DetectorResult:
    """Scores and timings of one detector over the benchmark records.

    Attributes
    ----------
    scores : dict of str to BeatScore
        Per-record counts, in benchmark order.
    times : dict of str to float
        Seconds spent in the detection call, per record.
    first_call_s : float
        Duration of the untimed warm-up call (includes any just-in-time compilation or
        loading from numba's cache); near zero if the detector already ran in this process.
    """

    scores: dict[str, BeatScore] = field(default_factory=dict)
    times: dict[str, float] = field(default_factory=dict)
    first_call_s: float = math.nan

    @property
    def gross(self) -> BeatScore:
        """Gross score: TP, FP and FN summed over records."""
        return gross_score(self.scores.values())

    @property
    def total_time_s(self) -> float:
        """Total seconds spent in detection calls."""
        return float(sum(self.times.values()))


@dataclass
class BenchResult:
    """Outcome of :func:`run_rpeak_benchmark`.

    Attributes
    ----------
    database : str
        Name of the data folder.
    records : list of str
        Records in benchmark order.
    durations : dict of str to float
        Seconds of signal per record (after ``max_seconds``).
    detectors : dict of str to DetectorResult
        One entry per detector that ran.
    skipped : dict of str to str
        Detectors that could not run, with the reason.
    tolerance_s, lead, max_seconds, beat_symbols :
        The settings of the run (``beat_symbols`` as one sorted string).
    skip_vf : bool
        Whether ventricular flutter and fibrillation episodes were left out of the scoring.
    info : dict
        Versions and thread settings, for the record.
    """

    database: str
    records: list[str]
    durations: dict[str, float]
    detectors: dict[str, DetectorResult]
    skipped: dict[str, str]
    tolerance_s: float
    lead: int
    max_seconds: float | None
    beat_symbols: str = "".join(sorted(BEAT_SYMBOLS))
    info: dict[str, Any] = field(default_factory=dict)
    skip_vf: bool = False

    @property
    def total_duration_s(self) -> float:
        """Total seconds of signal over all records."""
        return float(sum(self.durations.values()))

    def x_real_time(self, name: str) -> float:
        """Signal duration divided by detection time for detector ``name``."""
        t = self.detectors[name].total_time_s
        return self.total_duration_s / t if t > 0 else math.inf

    def worst_records(self, name: str, n: int = 10) -> list[str]:
        """The ``n`` records where detector ``name`` has the lowest F1 (ties: most errors)."""
        scores = self.detectors[name].scores

        def key(rec: str) -> tuple[float, int]:
            s = scores[rec]
            f1 = s.f1 if not math.isnan(s.f1) else 1.0
            return (f1, -(s.fp + s.fn))

        return sorted(scores, key=key)[:n]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary: settings, gross and per-record figures per detector."""
        dets: dict[str, Any] = {}
        for name, res in self.detectors.items():
            dets[name] = {
                "gross": res.gross.to_dict(),
                "total_time_s": res.total_time_s,
                "x_real_time": _finite_or_none(self.x_real_time(name)),
                "first_call_s": _finite_or_none(res.first_call_s),
                "per_record": {
                    rec: {**s.to_dict(), "time_s": res.times[rec]} for rec, s in res.scores.items()
                },
            }
        return {
            "database": self.database,
            "records": list(self.records),
            "n_records": len(self.records),
            "durations_s": dict(self.durations),
            "total_duration_s": self.total_duration_s,
            "tolerance_s": self.tolerance_s,
            "lead": self.lead,
            "max_seconds": self.max_seconds,
            "beat_symbols": self.beat_symbols,
            "skip_vf": self.skip_vf,
            "n_reference_beats": _n_reference(self),
            "detectors": dets,
            "skipped": dict(self.skipped),
            "info": dict(self.info),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BenchResult:
        """Rebuild a result from :meth:`to_dict` output (for example a saved JSON file)."""
        try:
            dets: dict[str, DetectorResult] = {}
            for name, d in data["detectors"].items():
                res = DetectorResult(first_call_s=_none_to_nan(d.get("first_call_s")))
                for rec, row in d["per_record"].items():
                    res.scores[rec] = BeatScore(int(row["tp"]), int(row["fp"]), int(row["fn"]))
                    res.times[rec] = float(row["time_s"])
                dets[name] = res
            return cls(
                database=str(data["database"]),
                records=[str(r) for r in data["records"]],
                durations={str(k): float(v) for k, v in data["durations_s"].items()},
                detectors=dets,
                skipped={str(k): str(v) for k, v in data.get("skipped", {}).items()},
                tolerance_s=float(data["tolerance_s"]),
                lead=int(data["lead"]),
                max_seconds=data.get("max_seconds"),
                beat_symbols=str(data.get("beat_symbols", "".join(sorted(BEAT_SYMBOLS)))),
                info=dict(data.get("info", {})),
                skip_vf=bool(data.get("skip_vf", False)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"benchmark result: missing or malformed field {exc}") from None


def _n_reference(result: BenchResult) -> int | None:
    """Reference beats over all records (the same for every detector)."""
    for res in result.detectors.values():
        return sum(s.n_reference for s in res.scores.values())
    return None


def _finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _none_to_nan(x: Any) -> float:
    return math.nan if x is None else float(x)


# --------------------------------------------------------------------------- detectors


def _project_detector() -> DetectorSpec:
    module = importlib.import_module("cardiostream.beats.detector")
    fn: Detector = module.detect_rpeaks
    # The project's reader yields float32, so that is what its detector is benchmarked on.
    return DetectorSpec(fn, np.float32)


def _sleepecg_detector() -> DetectorSpec:
    sleepecg = importlib.import_module("sleepecg")

    def detect(sig: npt.NDArray[Any], fs: float) -> npt.ArrayLike:
        out: npt.ArrayLike = sleepecg.detect_heartbeats(sig, fs)
        return out

    return DetectorSpec(detect)


def _neurokit_detector() -> DetectorSpec:
    nk = importlib.import_module("neurokit2")

    def detect(sig: npt.NDArray[Any], fs: float) -> npt.ArrayLike:
        rate = int(fs) if float(fs).is_integer() else fs
        # NeuroKit's own pipeline (ecg_process) finds peaks on the cleaned signal.
        cleaned = nk.ecg_clean(sig, sampling_rate=rate)
        _, info = nk.ecg_peaks(cleaned, sampling_rate=rate)
        out: npt.ArrayLike = info["ECG_R_Peaks"]
        return out

    return DetectorSpec(detect)


def _xqrs_detector() -> DetectorSpec:
    processing = importlib.import_module("wfdb.processing")

    def detect(sig: npt.NDArray[Any], fs: float) -> npt.ArrayLike:
        out: npt.ArrayLike = processing.xqrs_detect(sig, fs, verbose=False)
        return out

    return DetectorSpec(detect)


_DEFAULT_FACTORIES: dict[str, Callable[[], DetectorSpec]] = {
    PROJECT_DETECTOR: _project_detector,
    "sleepecg": _sleepecg_detector,
    "NeuroKit2": _neurokit_detector,
    "wfdb XQRS": _xqrs_detector,
}


def default_detectors(
    names: Sequence[str] | None = None,
) -> tuple[dict[str, DetectorSpec], dict[str, str]]:
    """Build the standard detectors, importing each only now.

    Parameters
    ----------
    names : sequence of str, optional
        Which of ``cardiostream``, ``sleepecg``, ``NeuroKit2`` and ``wfdb XQRS`` to build
        (case-insensitive); all by default.

    Returns
    -------
    detectors : dict of str to DetectorSpec
        Those that could be imported.
    skipped : dict of str to str
        Those that could not, with the import error; the peers are development dependencies.
    """
    by_lower = {k.lower(): k for k in _DEFAULT_FACTORIES}
    wanted = list(_DEFAULT_FACTORIES) if names is None else []
    for n in names or []:
        if n.lower() not in by_lower:
            known = ", ".join(_DEFAULT_FACTORIES)
            raise InputError(f"detectors: unknown detector {n!r}; known are {known}")
        wanted.append(by_lower[n.lower()])
    specs: dict[str, DetectorSpec] = {}
    skipped: dict[str, str] = {}
    for name in wanted:
        try:
            specs[name] = _DEFAULT_FACTORIES[name]()
        except (ImportError, AttributeError) as exc:
            skipped[name] = f"not importable ({type(exc).__name__}: {exc})"
    return specs, skipped


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class _Loaded:
    signal: npt.NDArray[np.float64]
    fs: float
    reference: npt.NDArray[np.int64]
    #: The ventricular flutter and fibrillation episodes, ``[start, end]`` samples (rows).
    vf: npt.NDArray[np.int64]


def vf_episodes(
    samples: npt.ArrayLike, symbols: Sequence[str], n_samples: int
) -> npt.NDArray[np.int64]:
    """The ventricular flutter and fibrillation episodes of an annotation list: from each
    ``[`` to the next ``]`` (or the end of the record when none follows), as rows of
    ``[start, end]`` samples; an ``]`` without a ``[`` before it closes an episode open since
    the start. EC57 leaves these spans out of beat-by-beat scoring."""
    at = np.asarray(samples, np.int64)
    rows: list[tuple[int, int]] = []
    start: int | None = None
    seen = False  # a '[' or ']' came before
    for s, sym in zip(at.tolist(), symbols, strict=True):
        if sym == "[" and start is None:
            start = s
        elif sym == "]" and (start is not None or not seen):
            rows.append((0 if start is None else start, s))
            start = None
        seen = seen or sym in ("[", "]")
    if start is not None:
        rows.append((start, n_samples))
    return np.array(rows, np.int64).reshape(-1, 2)


def outside(points: npt.ArrayLike, spans: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The sample indices of ``points`` outside every ``[start, end]`` row of ``spans``."""
    p = np.asarray(points, np.int64)
    if spans.size == 0 or p.size == 0:
        return p
    inside = np.zeros(p.size, np.bool_)
    for a, b in spans.tolist():
        inside |= (p >= a) & (p <= b)
    return p[~inside]


def _load(
    folder: Path,
    name: str,
    lead: int,
    annotator: str,
    max_seconds: float | None,
    symbols: frozenset[str],
) -> _Loaded:
    import wfdb

    path = folder / name
    header_file, ann_file = Path(f"{path}.hea"), Path(f"{path}.{annotator}")
    if not header_file.is_file():
        raise InputError(f"{header_file}: record header not found")
    if not ann_file.is_file():
        raise InputError(f"{ann_file}: reference annotations not found")
    try:
        header = wfdb.rdheader(str(path))
        if not 0 <= lead < header.n_sig:
            raise InputError(f"{path}.hea: lead {lead} out of range 0..{header.n_sig - 1}")
        fs = float(header.fs)
        sampto = header.sig_len
        if max_seconds is not None:
            sampto = min(sampto, round(max_seconds * fs))
        rec = wfdb.rdrecord(str(path), channels=[lead], physical=True, sampto=sampto)
        ann = wfdb.rdann(str(path), annotator, sampto=sampto)
    except InputError:
        raise
    except Exception as exc:  # wfdb raises a mix of ValueError, OSError and others
        raise InputError(f"{path}: cannot read record ({type(exc).__name__}: {exc})") from None
    signal = np.ascontiguousarray(rec.p_signal[:, 0], dtype=np.float64)
    samples = np.asarray(ann.sample, dtype=np.int64)
    keep = samples < signal.size
    table = BeatTable(samples[keep], np.asarray(ann.symbol, dtype=str)[keep])
    vf = vf_episodes(samples[keep], list(np.asarray(ann.symbol, dtype=str)[keep]), signal.size)
    return _Loaded(signal, fs, reference_beats(table, symbols), vf)


# --------------------------------------------------------------------------- threads


@contextlib.contextmanager
def _one_thread() -> Iterator[dict[str, Any]]:
    """Limit numba and the native thread pools to one thread for the duration."""
    info: dict[str, Any] = {}
    stack = contextlib.ExitStack()
    with stack:
        try:
            from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

            stack.enter_context(threadpool_limits(limits=1))
            info["threadpoolctl"] = "limited to 1"
        except ImportError:
            info["threadpoolctl"] = "not installed"
        try:
            import numba

            before = numba.get_num_threads()
            numba.set_num_threads(1)
            stack.callback(numba.set_num_threads, before)
            info["numba_threads"] = 1
        except ImportError:
            info["numba_threads"] = None
        yield info


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "machine": platform.machine()}
    for pkg in ("cardiostream", "numpy", "numba", "wfdb", "sleepecg", "neurokit2"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            out[pkg] = importlib.metadata.version(pkg)
    return out


# --------------------------------------------------------------------------- the run


def _call(spec: DetectorSpec, sig: npt.NDArray[Any], fs: float) -> tuple[npt.ArrayLike, float]:
    """Run one detection with the garbage collector paused, as ``timeit`` does."""
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        out = spec.fn(sig, fs)
        elapsed = time.perf_counter() - t0
    finally:
        if gc_was_on:
            gc.enable()
    return out, elapsed


def _timed(
    spec: DetectorSpec, loaded: _Loaded, repeat: int, budget_s: float
) -> tuple[npt.ArrayLike, float]:
    """Output of the first call and the fastest time of up to ``repeat`` calls.

    The fastest of several calls is the least disturbed by other work on the machine. Calls
    stop early once they have used ``budget_s`` in all, so slow detectors run once.
    """
    out: npt.ArrayLike = np.zeros(0, np.int64)
    best = math.inf
    spent = 0.0
    for i in range(repeat):
        # A fresh copy each time: a detector that filters in place must not feed the next.
        sig = np.array(loaded.signal, dtype=spec.dtype, order="C", copy=True)
        result, elapsed = _call(spec, sig, loaded.fs)
        if i == 0:
            out = result
        best = min(best, elapsed)
        spent += elapsed
        if spent >= budget_s:
            break
    return out, best


def _as_peaks(out: npt.ArrayLike, name: str, record: str) -> npt.NDArray[np.int64]:
    peaks = np.asarray(out)
    if peaks.ndim != 1:
        raise InputError(f"detector {name!r} on {record}: returned a {peaks.ndim}-D array")
    return peaks.astype(np.int64, copy=False)


def run_rpeak_benchmark(
    data_dir: str | Path,
    detectors: Mapping[str, Detector | DetectorSpec] | None = None,
    records: Sequence[str] | None = None,
    lead: int = 0,
    progress: bool = True,
    *,
    max_seconds: float | None = None,
    tolerance_s: float = 0.15,
    annotator: str = "atr",
    beat_symbols: Iterable[str] = BEAT_SYMBOLS,
    repeat: int = 1,
    repeat_budget_s: float = 2.0,
    console: Console | None = None,
    skip_vf: bool = False,
) -> BenchResult:
    """Run R-peak detectors over the records of a WFDB folder and score them.

    Parameters
    ----------
    data_dir : str or Path
        Folder of WFDB records with reference annotations (MITDB layout).
    detectors : mapping of name to callable or DetectorSpec, optional
        ``fn(signal, fs) -> peak samples``. A bare callable gets float64 samples. Default:
        :func:`default_detectors` (the project's detector and the peers that are installed).
    records : sequence of str, optional
        Record names; default all of ``data_dir`` (see :func:`list_records`).
    lead : int, optional
        Signal column to use. Default 0.
    progress : bool, optional
        Show a progress bar over records x detectors. Default True.
    max_seconds : float, optional
        Use only the first ``max_seconds`` of each record (and the beats inside it).
    tolerance_s : float, optional
        Matching window for scoring. Default 0.15.
    annotator : str, optional
        Extension of the reference annotation files. Default ``atr``.
    beat_symbols : iterable of str, optional
        Annotation symbols that count as reference beats; default
        :data:`cardiostream.record.BEAT_SYMBOLS` (flutter waves included, see
        :mod:`cardiostream.evaluate.rpeaks`).
    repeat : int, optional
        Time each detection up to this many times and keep the fastest (steadier on a busy
        machine); the peaks of the first call are scored. Default 1.
    repeat_budget_s : float, optional
        Stop repeating a record's detection once its calls have used this many seconds.
    console : rich Console, optional
        Where the progress bar goes; default standard error.
    skip_vf : bool, optional
        Leave the ventricular flutter and fibrillation episodes (from ``[`` to ``]``) out of
        the scoring, reference beats and detections alike, as EC57 asks. Default False.

    Returns
    -------
    BenchResult
        Per-record and gross scores, detection times, skipped detectors.
    """
    folder = Path(data_dir)
    names = list_records(folder) if records is None else [str(r) for r in records]
    if not names:
        raise InputError("records: empty list of records")
    if max_seconds is not None and not (math.isfinite(max_seconds) and max_seconds > 0):
        raise InputError(f"max_seconds: must be a positive number, got {max_seconds}")
    if repeat < 1:
        raise InputError(f"repeat: must be at least 1, got {repeat}")
    symbols = frozenset(beat_symbols)
    if not symbols:
        raise InputError("beat_symbols: empty set of beat symbols")
    skipped: dict[str, str] = {}
    if detectors is None:
        specs, skipped = default_detectors()
    else:
        specs = {
            k: (v if isinstance(v, DetectorSpec) else DetectorSpec(v)) for k, v in detectors.items()
        }
    if not specs:
        raise InputError("detectors: none to run")

    results = {name: DetectorResult() for name in specs}
    durations: dict[str, float] = {}
    console = console or Console(stderr=True)
    bar = counted_bar("[bold]R peaks[/] {task.description}", enabled=progress, console=console)
    with _one_thread() as thread_info, bar:
        task = bar.add_task("warm-up", total=len(names) * len(specs))
        for i, rec in enumerate(names):
            loaded = _load(folder, rec, lead, annotator, max_seconds, symbols)
            durations[rec] = loaded.signal.size / loaded.fs
            if i == 0:
                # Untimed first calls on an excerpt: compilation and lazy imports happen here.
                excerpt = loaded.signal[: max(1, round(WARMUP_SECONDS * loaded.fs))]
                for name, spec in specs.items():
                    bar.update(task, description=f"warm-up {name}")
                    sig = np.array(excerpt, dtype=spec.dtype, order="C", copy=True)
                    results[name].first_call_s = _call(spec, sig, loaded.fs)[1]
            for name, spec in specs.items():
                bar.update(task, description=f"{rec} {name}")
                out, elapsed = _timed(spec, loaded, repeat, repeat_budget_s)
                peaks = _as_peaks(out, name, rec)
                reference = loaded.reference
                if skip_vf:
                    reference, peaks = outside(reference, loaded.vf), outside(peaks, loaded.vf)
                match = match_beats(reference, peaks, loaded.fs, tolerance_s)
                results[name].scores[rec] = match.score
                results[name].times[rec] = elapsed
                bar.advance(task)
        bar.update(task, description="done")
    return BenchResult(
        database=folder.resolve().name,
        records=names,
        durations=durations,
        detectors=results,
        skipped=skipped,
        tolerance_s=tolerance_s,
        lead=lead,
        max_seconds=max_seconds,
        beat_symbols="".join(sorted(symbols)),
        info={
            "versions": _versions(),
            "threads": thread_info,
            "warmup_s": WARMUP_SECONDS,
            "repeat": repeat,
        },
        skip_vf=skip_vf,
    )


# --------------------------------------------------------------------------- rendering


def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:.2f}"


def _speed(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:,.0f}"


def _summary_rows(result: BenchResult) -> list[list[str]]:
    rows = []
    first_time = next(iter(result.detectors.values())).total_time_s if result.detectors else 0.0
    for name, res in result.detectors.items():
        g = res.gross
        ratio = res.total_time_s / first_time if first_time > 0 else math.nan
        rows.append(
            [
                name,
                _pct(g.se),
                _pct(g.ppv),
                _pct(g.f1),
                str(g.tp),
                str(g.fp),
                str(g.fn),
                f"{res.total_time_s:.3f}",
                _speed(result.x_real_time(name)),
                "n/a" if math.isnan(ratio) else f"{ratio:,.2f}",
                "n/a" if math.isnan(res.first_call_s) else f"{res.first_call_s:.3f}",
            ]
        )
    return rows


_SUMMARY_HEADER = [
    "detector",
    "Se %",
    "PPV %",
    "F1 %",
    "TP",
    "FP",
    "FN",
    "time s",
    "× real time",
    "time ratio",
    "1st call s",
]


def _caption(result: BenchResult) -> str:
    hours = result.total_duration_s / 3600
    cut = f", first {result.max_seconds:g} s of each" if result.max_seconds else ""
    n_ref = _n_reference(result)
    beats = f"{n_ref:,} reference beats" if n_ref is not None else "no detectors"
    if "!" not in result.beat_symbols:
        beats += " (flutter waves not counted)"
    if result.skip_vf:
        beats += ", ventricular flutter and fibrillation episodes left out (EC57)"
    repeat = int(result.info.get("repeat", 1))
    timing = f", fastest of up to {repeat} calls" if repeat > 1 else ""
    return (
        f"{result.database}: {len(result.records)} records{cut}, {hours:.2f} h, lead "
        f"{result.lead}, {beats}; ±{1000 * result.tolerance_s:.0f} ms, whole records, gross; "
        f"one thread; time = detection call only{timing}"
    )


def summary_table(result: BenchResult) -> Table:
    """Rich table with one row per detector: gross Se, PPV, F1, errors, time, speed.

    TP is left out to fit 80 columns; :func:`markdown_table` and the JSON have it.
    """
    table = Table(
        title="R-peak detection", caption=_caption(result), box=box.SIMPLE_HEAD, pad_edge=False
    )
    keep = [i for i, col in enumerate(_SUMMARY_HEADER) if col != "TP"]
    short = {"× real time": "× RT", "time ratio": "ratio", "1st call s": "1st s"}
    for i in keep:
        col = _SUMMARY_HEADER[i]
        table.add_column(short.get(col, col), justify="left" if i == 0 else "right", no_wrap=True)
    table.caption = (
        f"{table.caption}\n× RT: times real time (signal duration / detection time); "
        "ratio: detection time over the first row's; "
        "1st s: untimed first call, with compilation"
    )
    for row in _summary_rows(result):
        table.add_row(*(row[i] for i in keep))
    for name, why in result.skipped.items():
        table.add_row(f"[dim]{name}[/]", *(["—"] * (len(keep) - 1)))
        table.caption = f"{table.caption}\n{name} skipped: {why}"
    return table


def record_table(result: BenchResult, detector: str, worst: int | None = None) -> Table:
    """Rich table of per-record scores of one detector.

    Parameters
    ----------
    result : BenchResult
    detector : str
        Name of a detector in ``result``.
    worst : int, optional
        Show only this many records with the lowest F1, worst first; default all, in order.
    """
    if detector not in result.detectors:
        raise InputError(
            f"detector: {detector!r} not in the result ({', '.join(result.detectors)})"
        )
    res = result.detectors[detector]
    names = result.worst_records(detector, worst) if worst is not None else list(res.scores)
    title = f"{detector}: {'worst ' + str(worst) + ' records by F1' if worst else 'per record'}"
    table = Table(title=title, box=box.SIMPLE_HEAD)
    for i, col in enumerate(["record", "beats", "TP", "FP", "FN", "Se %", "PPV %", "F1 %", "ms"]):
        table.add_column(col, justify="left" if i == 0 else "right")
    for rec in names:
        s = res.scores[rec]
        table.add_row(
            rec,
            str(s.n_reference),
            str(s.tp),
            str(s.fp),
            str(s.fn),
            _pct(s.se),
            _pct(s.ppv),
            _pct(s.f1),
            f"{1000 * res.times[rec]:.1f}",
        )
    return table


def markdown_table(result: BenchResult) -> str:
    """The summary as a Markdown table with a one-line description under it (for the README)."""
    lines = [
        "| " + " | ".join(_SUMMARY_HEADER) + " |",
        "| --- | " + " | ".join(["---:"] * (len(_SUMMARY_HEADER) - 1)) + " |",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in _summary_rows(result)]
    lines += ["", _caption(result) + "; time ratio: detection time over the first row's."]
    lines += [f"{name} skipped: {why}." for name, why in result.skipped.items()]
    return "\n".join(lines) + "\n"


def write_outputs(
    result: BenchResult,
    json_path: str | Path | None = None,
    markdown_path: str | Path | None = None,
) -> None:
    """Write :meth:`BenchResult.to_dict` as JSON and/or :func:`markdown_table` as Markdown."""
    if json_path is not None:
        Path(json_path).write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    if markdown_path is not None:
        Path(markdown_path).write_text(markdown_table(result))
