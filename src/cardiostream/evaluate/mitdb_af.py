"""External test of the rhythm model's AF detection on annotated WFDB records (MITDB).

The model never trains on the MIT-BIH Arrhythmia Database, so this is a test on unseen
patients, recorders and annotators. Each record is read at its own rate (lead 0), the model
gives its calibrated per-second verdicts over the whole record (it resamples itself;
:meth:`~cardiostream.rhythm.infer.RhythmModel.window_probabilities`, the window head's when
the model has one, as the live engine reports them), and two tests are scored from them:

Window test
    Non-overlapping 10 s windows labelled by
    :func:`cardiostream.training.datasets.rhythm_windows`: ``af`` windows lie wholly in AF,
    non-AF windows (``normal`` and ``other``) wholly in one other rhythm; windows in atrial
    flutter, across a rhythm change or with missing samples are left out. The verdict on the
    window ending at ``t`` is the frame ending at ``t``, which judges the same 10 s; AF is
    called when ``af`` has the largest probability (the model's own verdict). Reported: AF
    window sensitivity, non-AF window specificity, and the share of windows whose calibrated
    top probability is below the model's window threshold (the live engine calls those
    ``uncertain``).
Episode test
    Per-second AF verdicts (largest probability ``af``) become episodes by
    :func:`cardiostream.evaluate.af_episodes.frames_to_episodes` with its fixed defaults and
    are scored against the reference ``AFIB`` intervals by
    :func:`~cardiostream.evaluate.af_episodes.score_episodes`, atrial flutter left out.

Both tests are scored twice: on the model's verdict (its most probable class) and on the
label the package reports, where a second whose calibrated top probability is below the
threshold is ``uncertain`` and so not an AF call.

Gross figures sum counts and durations over records and take ratios last. Times are on the
record's clock; the model's output lags it by the preprocessing delay (40 ms at 360 Hz),
which is negligible at these scales.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream.errors import InputError
from cardiostream.evaluate.af_episodes import (
    LENGTH_BINS,
    LENGTH_NAMES,
    EpisodeScore,
    Interval,
    frames_to_episodes,
    gross,
    score_episodes,
)
from cardiostream.evaluate.reference import af_episodes, afl_intervals, rhythm_windows
from cardiostream.io import read
from cardiostream.io.listing import list_annotated_records
from cardiostream.progress import counted_bar
from cardiostream.record import Record
from cardiostream.rhythm.infer import RhythmModel
from cardiostream.rhythm.verdict import CLASSES, UNCERTAIN, decide_many
from cardiostream.stream.analyze import analyze

__all__ = [
    "MitdbAfResult",
    "RecordAfResult",
    "WindowCounts",
    "evaluate_mitdb_af",
    "evaluate_record",
    "plot_af_timeline",
    "to_json",
    "to_markdown",
]

#: Length of the test windows, in seconds: the model's own window.
WINDOW_S = 10.0

#: The lead the model is tested on.
LEAD = 0

_AF = CLASSES.index("af")
_NON_AF = (CLASSES.index("normal"), CLASSES.index("other"))


@dataclass(frozen=True)
class WindowCounts:
    """Outcome of the window test.

    Attributes
    ----------
    tp, fn : int
        AF windows called AF, and not.
    tn, fp : int
        Non-AF windows not called AF, and called AF.
    uncertain_af, uncertain_non_af : int
        AF and non-AF windows whose calibrated top probability is below the threshold.
    excluded : int
        Windows left out (flutter, rhythm change, missing samples, no frame for them).
    """

    tp: int = 0
    fn: int = 0
    tn: int = 0
    fp: int = 0
    uncertain_af: int = 0
    uncertain_non_af: int = 0
    excluded: int = 0

    @property
    def n_af(self) -> int:
        """AF windows scored."""
        return self.tp + self.fn

    @property
    def n_non_af(self) -> int:
        """Non-AF windows scored."""
        return self.tn + self.fp

    @property
    def n_scored(self) -> int:
        """Windows scored."""
        return self.n_af + self.n_non_af

    @property
    def se(self) -> float:
        """AF window sensitivity ``tp / n_af`` (NaN without AF windows)."""
        return self.tp / self.n_af if self.n_af else math.nan

    @property
    def sp(self) -> float:
        """Non-AF window specificity ``tn / n_non_af`` (NaN without non-AF windows)."""
        return self.tn / self.n_non_af if self.n_non_af else math.nan

    @property
    def uncertain_fraction(self) -> float:
        """Share of scored windows below the model's threshold."""
        n = self.uncertain_af + self.uncertain_non_af
        return n / self.n_scored if self.n_scored else math.nan

    def __add__(self, other: WindowCounts) -> WindowCounts:
        return WindowCounts(
            *(getattr(self, f.name) + getattr(other, f.name) for f in fields(WindowCounts))
        )

    def to_dict(self) -> dict[str, Any]:
        """Counts and ratios; NaN becomes ``None``."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(WindowCounts)}
        for key in ("se", "sp", "uncertain_fraction"):
            out[key] = _json_float(getattr(self, key))
        return out


@dataclass
class RecordAfResult:
    """Both tests on one record.

    Attributes
    ----------
    record : str
        Record name.
    duration_s : float
        Length of the record.
    windows : WindowCounts
        The window test.
    episodes : EpisodeScore
        The episode test.
    reference, detected, excluded : list of (float, float)
        Reference AF episodes, detected ones, and atrial flutter intervals, in seconds.
    time_s : float
        Seconds spent on the record (reading, model, scoring).
    committed_windows, committed_episodes : WindowCounts, EpisodeScore
        The same tests on the label the package reports: AF only where ``af`` is the most
        probable class *and* its calibrated probability reaches the threshold (an
        ``uncertain`` second is not an AF call).
    """

    record: str
    duration_s: float
    windows: WindowCounts
    episodes: EpisodeScore
    reference: list[Interval] = field(default_factory=list)
    detected: list[Interval] = field(default_factory=list)
    excluded: list[Interval] = field(default_factory=list)
    time_s: float = 0.0
    committed_windows: WindowCounts = field(default_factory=lambda: WindowCounts())
    committed_episodes: EpisodeScore | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {
            "record": self.record,
            "duration_s": self.duration_s,
            "windows": self.windows.to_dict(),
            "episodes": self.episodes.to_dict(),
            "committed_windows": self.committed_windows.to_dict(),
            "committed_episodes": (
                self.committed_episodes.to_dict() if self.committed_episodes else None
            ),
            "reference": [list(e) for e in self.reference],
            "detected": [list(e) for e in self.detected],
            "excluded": [list(e) for e in self.excluded],
            "time_s": self.time_s,
        }


@dataclass
class MitdbAfResult:
    """Outcome of :func:`evaluate_mitdb_af`.

    Attributes
    ----------
    database : str
        Name of the data folder.
    records : list of RecordAfResult
        One entry per record, in evaluation order.
    settings : dict
        Window length, episode rules, the model's folder and threshold.
    elapsed_s : float
        Wall-clock time of the whole run.
    """

    database: str
    records: list[RecordAfResult]
    settings: dict[str, Any] = field(default_factory=dict)
    elapsed_s: float = 0.0

    @property
    def windows(self) -> WindowCounts:
        """Window counts summed over records."""
        total = WindowCounts()
        for r in self.records:
            total = total + r.windows
        return total

    @property
    def episodes(self) -> EpisodeScore:
        """Episode counts and durations summed over records."""
        return gross(r.episodes for r in self.records)

    @property
    def committed_windows(self) -> WindowCounts:
        """Window counts of the committed label, summed over records."""
        total = WindowCounts()
        for r in self.records:
            total = total + r.committed_windows
        return total

    @property
    def committed_episodes(self) -> EpisodeScore:
        """Episode counts of the committed label, summed over records."""
        return gross(r.committed_episodes for r in self.records if r.committed_episodes)

    @property
    def duration_s(self) -> float:
        """Total length of the records."""
        return float(sum(r.duration_s for r in self.records))


def _resolve(folder: Path, records: Sequence[str | Path]) -> list[Path]:
    paths: list[Path] = []
    for item in records:
        given = Path(item)
        header = given if given.suffix == ".hea" else Path(f"{given}.hea")
        if not header.is_absolute() and not header.is_file():
            header = folder / header
        if not header.is_file():
            raise InputError(f"{header}: record header not found")
        paths.append(header)
    return paths


#: The per-second verdicts the tests can score: the streaming engine's own windows and AF
#: events (``engine``: what a user of the package sees), the model's per-second verdicts as a
#: stream reports them computed offline (``window``: the window head's when it has one, the
#: committed label by the rule without the engine's quality check), or the network's frames
#: alone (``frames``), for comparison.
VERDICTS = ("engine", "window", "frames")


def evaluate_record(
    path: str | Path, model: RhythmModel, verdicts: str = "window"
) -> RecordAfResult:
    """Run the window and episode tests on one annotated record (see the module notes), on
    the ``verdicts`` of :data:`VERDICTS`.

    Raises
    ------
    InputError
        If the record cannot be read or has no reference rhythm annotations.
    """
    started = time.perf_counter()
    record = read(path)
    if len(record.annotations.rhythms) == 0:
        raise InputError(f"{path}: no reference rhythm annotations")
    if verdicts not in VERDICTS:
        raise InputError(f"verdicts: expected one of {', '.join(VERDICTS)}, got {verdicts!r}")
    events: list[Interval] | None = None
    if verdicts == "engine":
        end_s, verdict, committed_af, unsure_s, events = _engine_verdicts(record, model)
    else:
        if verdicts == "window":
            end_s, probs = model.window_probabilities(record.lead(LEAD), record.fs)
            threshold = model.window_threshold
        else:
            end_s, probs = model.frame_probabilities(record.lead(LEAD), record.fs)
            threshold = model.threshold
        # No quality or beat count here: the rule on the probabilities alone.
        decided = decide_many(probs, threshold, min_beats=0)
        verdict = decided.top
        committed_af = decided.committed & (verdict == _AF)
        unsure_s = ~decided.committed

    windows = rhythm_windows(record, lead=LEAD, window_s=WINDOW_S)
    # The frame ending where a window ends judges exactly that window.
    idx = np.minimum(np.searchsorted(end_s, windows.end_s - 1e-6), max(end_s.size - 1, 0))
    has_frame = (end_s.size > 0) & (np.abs(end_s[idx] - windows.end_s) < 1e-6)
    is_af = has_frame & (windows.label == _AF)
    non_af = has_frame & np.isin(windows.label, _NON_AF)
    unsure = unsure_s[idx]

    def window_counts(called_af: np.ndarray) -> WindowCounts:
        return WindowCounts(
            tp=int(np.sum(is_af & called_af)),
            fn=int(np.sum(is_af & ~called_af)),
            tn=int(np.sum(non_af & ~called_af)),
            fp=int(np.sum(non_af & called_af)),
            uncertain_af=int(np.sum(is_af & unsure)),
            uncertain_non_af=int(np.sum(non_af & unsure)),
            excluded=int(np.sum(~(is_af | non_af))),
        )

    counts = window_counts(verdict[idx] == _AF)
    committed = window_counts(committed_af[idx])

    reference = af_episodes(record)
    flutter = afl_intervals(record)

    def episodes(is_af_frame: np.ndarray) -> list[Interval]:
        return [
            (a, min(b, record.duration))
            for a, b in frames_to_episodes(end_s, is_af_frame)
            if a < record.duration
        ]

    detected = episodes(verdict == _AF)
    score = score_episodes(reference, detected, duration_s=record.duration, excluded=flutter)
    committed_episodes = episodes(committed_af) if events is None else events
    committed_score = score_episodes(
        reference, committed_episodes, duration_s=record.duration, excluded=flutter
    )
    return RecordAfResult(
        record=record.name,
        duration_s=float(record.duration),
        windows=counts,
        episodes=score,
        reference=reference,
        detected=detected,
        excluded=flutter,
        time_s=time.perf_counter() - started,
        committed_windows=committed,
        committed_episodes=committed_score,
    )


def _engine_verdicts(
    record: Record, model: RhythmModel
) -> tuple[
    npt.NDArray[np.float64],
    npt.NDArray[np.int64],
    npt.NDArray[np.bool_],
    npt.NDArray[np.bool_],
    list[Interval],
]:
    """The streaming engine on one lead of a record: each window's end, top class, whether its
    label is ``af`` and whether it is ``uncertain``, and the AF episodes of its events."""
    lines = analyze(record, lead=LEAD, model=model.folder).lines
    windows = [w for w in lines if w["type"] == "window"]
    end_s = np.array([w["t_end"] for w in windows], np.float64)
    top = np.array([CLASSES.index(w["raw_label"]) for w in windows], np.int64)
    labels = [w["label"] for w in windows]
    committed_af = np.array([lab == "af" for lab in labels], np.bool_)
    unsure = np.array([lab == UNCERTAIN for lab in labels], np.bool_)
    events = [
        (float(e["start_s"]), min(float(e["end_s"]), record.duration))
        for e in lines
        if e["type"] == "event" and e.get("kind") == "af"
    ]
    return end_s, top, committed_af, unsure, events


def evaluate_mitdb_af(
    data_dir: str | Path,
    model: RhythmModel | None = None,
    records: Sequence[str | Path] | None = None,
    progress: bool = True,
    verdicts: str = "window",
) -> MitdbAfResult:
    """Test the rhythm model's AF detection on the annotated records of a folder.

    Parameters
    ----------
    data_dir : str or Path
        Folder of WFDB records with ``.atr`` reference annotations (MITDB).
    model : RhythmModel, optional
        The model to test; the shipped one by default.
    records : sequence of str or Path, optional
        Record names in ``data_dir`` (``"201"``) or header paths; by default the ``RECORDS``
        file's list, else every annotated record (:func:`list_annotated_records`).
    progress : bool
        Show a progress bar over records.
    verdicts : {"window", "frames"}
        Score the per-second verdicts a stream reports (the window head's, with its
        threshold), or the network's frames alone (with the frames' threshold).

    Returns
    -------
    MitdbAfResult
        Per-record and gross figures of the window and episode tests.

    Raises
    ------
    InputError
        If the folder or a record is missing, unreadable or without rhythm annotations.
    """
    started = time.perf_counter()
    folder = Path(data_dir)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder")
    paths = list_annotated_records(folder) if records is None else _resolve(folder, records)
    if not paths:
        raise InputError("records: no records to evaluate")
    model = model if model is not None else RhythmModel()
    results: list[RecordAfResult] = []
    with counted_bar("[bold]AF test {task.fields[record]}", enabled=progress) as bar:
        task = bar.add_task("records", total=len(paths), record="")
        for path in paths:
            bar.update(task, record=path.stem)
            results.append(evaluate_record(path, model, verdicts))
            bar.advance(task)
    settings = {
        "window_s": WINDOW_S,
        "lead": LEAD,
        "episode_rules": {"window_s": WINDOW_S, "close_gap_s": 10.0, "min_duration_s": 10.0},
        "verdict": "argmax",
        "verdicts": verdicts,
        "model": str(model.folder),
        "threshold": model.threshold if verdicts == "frames" else model.window_threshold,
    }
    if verdicts == "engine":
        settings["committed_episodes"] = "the engine's AF events (EventConfig defaults)"
    return MitdbAfResult(
        database=folder.name,
        records=results,
        settings=settings,
        elapsed_s=time.perf_counter() - started,
    )


# --------------------------------------------------------------------------- outputs


def _json_float(x: float) -> float | None:
    return x if math.isfinite(x) else None


def to_json(result: MitdbAfResult) -> dict[str, Any]:
    """Settings, gross and per-record figures as plain data (NaN as ``None``)."""
    return {
        "database": result.database,
        "n_records": len(result.records),
        "duration_s": result.duration_s,
        "elapsed_s": result.elapsed_s,
        "settings": dict(result.settings),
        "gross": {
            "windows": result.windows.to_dict(),
            "episodes": result.episodes.to_dict(),
            "committed_windows": result.committed_windows.to_dict(),
            "committed_episodes": result.committed_episodes.to_dict(),
        },
        "records": [r.to_dict() for r in result.records],
    }


def _pct(x: float) -> str:
    return "–" if math.isnan(x) else f"{100 * x:.1f}"


def _row(cells: Iterable[object]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _ratio(found: int, total: int) -> float:
    return found / total if total else math.nan


def to_markdown(result: MitdbAfResult) -> str:
    """A per-record table and a gross summary, in Markdown.

    Percentages have one decimal; ``–`` marks a figure without a denominator (no AF in the
    record, no detection).
    """
    head = (
        "record",
        "min",
        "AF win",
        "win Se %",
        "non-AF win",
        "FP win",
        "win Sp %",
        "uncertain %",
        "ref ep",
        "det ep",
        "ep Se %",
        "ep +P %",
        "dur Se %",
        "dur +P %",
    )
    lines = [_row(head), _row("---:" if i else "---" for i in range(len(head)))]
    for r in result.records:
        w, e = r.windows, r.episodes
        lines.append(
            _row(
                (
                    r.record,
                    f"{r.duration_s / 60:.1f}",
                    w.n_af,
                    _pct(w.se),
                    w.n_non_af,
                    w.fp,
                    _pct(w.sp),
                    _pct(w.uncertain_fraction),
                    e.n_ref,
                    e.n_det,
                    _pct(e.episode_se),
                    _pct(e.episode_ppv),
                    _pct(e.duration_se),
                    _pct(e.duration_ppv),
                )
            )
        )
    w, e = result.windows, result.episodes
    cw, ce = result.committed_windows, result.committed_episodes
    unsure = w.uncertain_af + w.uncertain_non_af

    def both(raw: str, raw_n: str, com: str, com_n: str) -> tuple[str, str]:
        return f"{raw} ({raw_n})", f"{com} ({com_n})"

    summary = [
        _row(("gross over records", "top class (raw_label)", "reported label")),
        _row(("---", "---:", "---:")),
        _row(
            (
                "AF-window sensitivity",
                *both(_pct(w.se), f"{w.tp}/{w.n_af}", _pct(cw.se), f"{cw.tp}/{cw.n_af}"),
            )
        ),
        _row(
            (
                "non-AF-window specificity",
                *both(_pct(w.sp), f"{w.tn}/{w.n_non_af}", _pct(cw.sp), f"{cw.tn}/{cw.n_non_af}"),
            )
        ),
        _row(
            (
                "AF episode sensitivity",
                *both(
                    _pct(e.episode_se),
                    f"{e.tp_se}/{e.n_ref}",
                    _pct(ce.episode_se),
                    f"{ce.tp_se}/{ce.n_ref}",
                ),
            )
        ),
        *(
            _row(
                (
                    f"AF episode sensitivity, reference {LENGTH_NAMES[name]}",
                    *both(
                        _pct(_ratio(*e.found_by_length(name))),
                        "{}/{}".format(*e.found_by_length(name)),
                        _pct(_ratio(*ce.found_by_length(name))),
                        "{}/{}".format(*ce.found_by_length(name)),
                    ),
                )
            )
            for name, _, _ in LENGTH_BINS
        ),
        _row(
            (
                "AF episode +P",
                *both(
                    _pct(e.episode_ppv),
                    f"{e.tp_ppv}/{e.n_det}",
                    _pct(ce.episode_ppv),
                    f"{ce.tp_ppv}/{ce.n_det}",
                ),
            )
        ),
        _row(
            (
                "AF duration sensitivity",
                *both(
                    _pct(e.duration_se),
                    f"{e.overlap_s / 60:.0f}/{e.ref_s / 60:.0f} min",
                    _pct(ce.duration_se),
                    f"{ce.overlap_s / 60:.0f}/{ce.ref_s / 60:.0f} min",
                ),
            )
        ),
        _row(
            (
                "AF duration +P",
                *both(
                    _pct(e.duration_ppv),
                    f"{e.overlap_s / 60:.0f}/{e.det_s / 60:.0f} min",
                    _pct(ce.duration_ppv),
                    f"{ce.overlap_s / 60:.0f}/{ce.det_s / 60:.0f} min",
                ),
            )
        ),
        _row(
            (
                "windows left uncertain",
                f"{_pct(w.uncertain_fraction)} ({unsure}/{w.n_scored})",
                "",
            )
        ),
    ]
    intro = (
        f"{len(result.records)} records of {result.database}, "
        f"{result.duration_s / 3600:.1f} h, lead {result.settings.get('lead', LEAD)}; "
        f"{w.excluded} windows of {WINDOW_S:g} s left out (flutter, rhythm change, "
        "missing samples)."
    )
    return "\n".join([intro, "", *summary, "", *lines]) + "\n"


def plot_af_timeline(
    result: MitdbAfResult, path: str | Path, records: Sequence[str] | None = None
) -> Path:
    """Draw reference and detected AF episodes of each record as bars over time (PNG).

    Parameters
    ----------
    result : MitdbAfResult
        The test's outcome.
    path : str or Path
        Where the PNG goes; its folder is created.
    records : sequence of str, optional
        Which records to draw; by default those with reference or detected AF.

    Returns
    -------
    Path
        The file written.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    chosen = [
        r
        for r in result.records
        if (r.record in records if records is not None else (r.reference or r.detected))
    ]
    fig = Figure(figsize=(8.0, 1.0 + 0.32 * max(len(chosen), 1)), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for row, r in enumerate(reversed(chosen)):
        for spans, offset, colour in (
            (r.excluded, 0.0, "0.75"),
            (r.reference, 0.18, "tab:red"),
            (r.detected, -0.18, "tab:blue"),
        ):
            bars = [(a / 60, (b - a) / 60) for a, b in spans]
            height = 0.3 if colour != "0.75" else 0.7
            ax.broken_barh(bars, (row + offset - height / 2, height), facecolors=colour)
        ax.plot([0, r.duration_s / 60], [row - 0.45] * 2, color="0.85", lw=0.6)
    ax.set_yticks(range(len(chosen)), [r.record for r in reversed(chosen)])
    ax.set_ylim(-0.6, max(len(chosen), 1) - 0.4)
    ax.set_xlim(0, max((r.duration_s for r in chosen), default=60.0) / 60)
    ax.set_xlabel("time (min)")
    ax.set_title(f"AF episodes on {result.database}")
    fig.legend(
        handles=[
            Patch(color="tab:red", label="reference AF"),
            Patch(color="tab:blue", label="detected AF"),
            Patch(color="0.75", label="atrial flutter (not scored)"),
        ],
        loc="lower center",
        ncol=3,
        frameon=False,
        fontsize="small",
    )
    # Keep a fixed strip (in inches) under the axes for the legend, whatever the row count.
    fig.tight_layout(rect=(0.0, 0.3 / fig.get_figheight(), 1.0, 1.0))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    return out
