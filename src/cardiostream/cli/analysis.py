"""Rhythm and the streaming engine over records: ``classify``, ``analyze``, ``stream``."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from cardiostream.cli._common import (
    RECORDS_HELP,
    AfMinOption,
    FsOption,
    ModelOption,
    _af_min,
    _console_line,
    _err_progress,
    _flush_stdout,
    _guard,
    _passed_over,
    _record_path,
    _stdout,
    _warm,
    app,
    console,
    err_console,
)
from cardiostream.errors import InputError
from cardiostream.record import lead_selector

if TYPE_CHECKING:
    from cardiostream.cluster.archive import Options
    from cardiostream.stream.analyze import Analysis
    from cardiostream.stream.events import EventConfig
    from cardiostream.stream.messages import Message


@app.command()
def classify(
    paths: Annotated[list[Path], typer.Argument(help=RECORDS_HELP)],
    fmt: Annotated[str, typer.Option("--format", help="csv, json or table.")] = "table",
    lead: Annotated[int, typer.Option(help="Lead index.")] = 0,
    backend: Annotated[str, typer.Option(help="onnx, cpu, cuda or mps.")] = "onnx",
    model: ModelOption = None,
    fs: FsOption = None,
) -> None:
    """Rhythm verdict per record: normal, af, other, noise, or uncertain; with probabilities.
    Records over 61 s are judged from their per-second windows, with their AF burden and
    episodes."""

    def body() -> None:
        from cardiostream.io.listing import walk_records
        from cardiostream.rhythm.batch import COLUMNS, classify_paths
        from cardiostream.rhythm.infer import RhythmModel
        from cardiostream.rhythm.verdict import CLASSES

        if fmt not in ("csv", "json", "table"):
            raise InputError(f"--format: expected csv, json or table, got {fmt!r}")
        rhythm = RhythmModel(model, backend=backend)
        files = walk_records(_record_path(p) for p in paths)
        # Several inputs: one that cannot be read is named and the others go on, as in a
        # folder; a single named file that cannot be read is the command's error.
        several = len(files) > 1
        batch = [(p, named and not several) for p, named in files]
        named_paths = {p for p, named in files if named}
        current: list[Path] = []
        failed = 0

        def step(path: Path) -> None:
            current[:] = [path]  # the path that a passed-over error is about
            bar.advance(task)

        def passed_over(exc: InputError) -> None:
            nonlocal failed
            _passed_over(exc)
            if not current or current[0] in named_paths or not _side_file(current[0]):
                failed += 1

        def refused(name: str, exc: InputError) -> None:
            nonlocal failed
            if len(files) == 1 and files[0][1]:
                # One named file: a wrong option (a lead it lacks) is the command's error.
                raise InputError(f"{files[0][0]}: {exc}")
            failed += 1
            err_console.print(f"{escape(str(name))}: not classified: {escape(str(exc))}")

        with _err_progress() as bar:
            task = bar.add_task("classifying", total=len(files))
            result = classify_paths(
                batch,
                rhythm,
                lead=lead,
                fs=fs,
                on_refused=refused,
                on_step=step,
                on_passed_over=passed_over,
            )
        text_rows = result.rows()
        probs = slice(3, 3 + len(CLASSES))
        if fmt == "csv":
            lines = [",".join(COLUMNS)]
            lines += [
                ",".join(
                    [
                        *map(str, r[:3]),
                        # A refused record has no probabilities: empty cells, not nan.
                        *("" if math.isnan(v) else f"{v:.4f}" for v in r[probs]),
                        "" if r[-2] is None else f"{r[-2]:.4f}",
                        "" if r[-1] is None else str(r[-1]),
                    ]
                )
                for r in text_rows
            ]
            _stdout("\n".join(lines) + "\n")
        elif fmt == "json":
            _stdout(json.dumps(result.documents()) + "\n")
        else:
            from rich.table import Table

            # AF burden and episodes for records judged from their windows (over 61 s).
            table = Table("record", "label", "raw", *CLASSES, "AF burden", "AF episodes")
            for r in text_rows:
                table.add_row(
                    *(escape(str(v)) for v in r[:3]),
                    *(f"{v:.2f}" for v in r[probs]),
                    "-" if r[-2] is None else f"{100 * r[-2]:.1f} %",
                    "-" if r[-1] is None else str(r[-1]),
                )
            console.print(table)
        _exit_on_failures(failed, len(files), "classified")

    _guard(body)


def _jsonl(obj: Mapping[str, Any]) -> str:
    # The engine emits None for missing measures, so strict JSON needs no NaN handling here.
    return json.dumps(obj, allow_nan=False, separators=(", ", ": "))


def _af_events(af_min_s: float) -> EventConfig:
    """The engine's episode rules with ``--af-min-s``, checked."""
    from cardiostream.stream.events import EventConfig

    return EventConfig(min_duration_s=_af_min(af_min_s))


@app.command()
def analyze(
    paths: Annotated[list[Path], typer.Argument(help=RECORDS_HELP)],
    fmt: Annotated[str, typer.Option("--format", help="table, json, jsonl or csv.")] = "table",
    out: Annotated[
        Path | None,
        typer.Option(
            help="Also write <record>.jsonl and <record>.csv here. Records that share a "
            "name are told apart by their folders below the one common to them, joined with "
            "__ (p1__rec, p2__rec), and by their format where that is not enough "
            "(p1__rec_csv, p1__rec_edf); the summary's output column says which is which."
        ),
    ] = None,
    summary: Annotated[
        Path | None,
        typer.Option(
            help="Write the per-file summary (.csv or .json), with each file's path and "
            "the name of its files under --out."
        ),
    ] = None,
    lead: Annotated[str, typer.Option(help="Lead index or name.")] = "0",
    hop: Annotated[int, typer.Option(help="Seconds between windows.")] = 1,
    window: Annotated[int, typer.Option(help="Window length in seconds (10 to 600).")] = 10,
    af_min_s: AfMinOption = 30.0,
    model: ModelOption = None,
    fs: FsOption = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            metavar="[local|tcp://HOST:PORT]",
            help="Spread the records over a Dask cluster: local (also when the option is "
            "given without a value) starts one on this machine, tcp://HOST:PORT joins a "
            "running scheduler. The output is the same.",
        ),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Workers of --cluster local (one per core by default).")
    ] = None,
) -> None:
    """Windows every second, AF episodes and a summary for whole recordings (the streaming
    engine run offline: the same lines as `cardiostream stream`)."""

    def body() -> None:
        from rich.progress import BarColumn, TextColumn, TimeRemainingColumn

        from cardiostream.io import read
        from cardiostream.io.listing import walk_records
        from cardiostream.stream.analyze import CSV_COLUMNS, analyze

        events = _af_events(af_min_s)
        if fmt not in ("table", "json", "jsonl", "csv"):
            raise InputError(f"--format: expected table, json, jsonl or csv, got {fmt!r}")
        if summary is not None and summary.suffix not in (".csv", ".json"):
            raise InputError(f"--summary: {summary}: expected a .csv or .json file name")
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
        if workers is not None and (cluster != "local" or workers < 1):
            raise InputError("--workers: only with --cluster local, and 1 or more")
        files = walk_records(_record_path(p) for p in paths)
        run = _Run(files, out, fmt)
        if cluster is not None:
            from cardiostream.cluster.archive import Options

            named_model = None if model is None else str(model)
            options = Options(lead, hop, window, named_model, fs, af_min_s)
            if fmt == "csv":
                _stdout(",".join(CSV_COLUMNS) + "\n")
            _analyze_on_cluster(cluster, workers, run, options)
            _finish(run, summary)
            return
        # Load the compiled kernels first, so the first file's timing is the engine's alone.
        _warm(model)
        if fmt == "csv":
            _stdout(",".join(CSV_COLUMNS) + "\n")
        columns = (TextColumn("{task.description}"), BarColumn(), TimeRemainingColumn())
        with _interruptible(run, summary), _err_progress(*columns) as bar:
            task = bar.add_task("analysing", total=len(files))
            for i, (path, named) in enumerate(files):
                try:
                    rec = read(path, fs=fs)
                except (InputError, OSError) as exc:
                    if named and len(files) == 1:
                        raise
                    run.not_read(i, exc)
                    bar.advance(task)
                    continue
                sub = bar.add_task(f"  {rec.name}", total=rec.duration)

                def advance(seconds: float, sub: Any = sub) -> None:
                    bar.update(sub, completed=seconds)

                try:
                    result = analyze(
                        rec,
                        lead=lead_selector(lead),
                        hop_s=hop,
                        window_s=window,
                        model=model,
                        events=events,
                        progress=advance,
                    )
                except InputError as exc:
                    if named and len(files) == 1:
                        # The engine names the field at fault; the file is named here.
                        if str(exc).startswith(str(path)):
                            raise
                        raise InputError(f"{path}: {exc}") from exc
                    run.not_analysed(i, rec.name, str(exc))
                    bar.remove_task(sub)
                    bar.advance(task)
                    continue
                bar.remove_task(sub)
                bar.advance(task)
                run.analysed(i, result)
        _finish(run, summary)

    _guard(body)


@contextlib.contextmanager
def _interruptible(run: _Run, summary: Path | None) -> Iterator[None]:
    """Ctrl-C or SIGTERM: the records finished keep their files, and the summary is written
    with what finished and ``not_reached`` for the rest (total ``partial``) before the
    command ends as interrupted (exit 130)."""
    import signal
    import threading

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    main = threading.current_thread() is threading.main_thread()
    before = signal.signal(signal.SIGTERM, stop) if main else None
    try:
        yield
    except KeyboardInterrupt:
        run.interrupted()
        if summary is not None:
            write_summary(summary, [*run.rows(), run.total()])
        raise
    finally:
        if main:
            signal.signal(signal.SIGTERM, before)


def output_names(paths: Sequence[Path]) -> list[str]:
    """The stem of each record's files under ``analyze --out``, unique within the run.

    A record keeps its own name (``rec`` for ``p1/rec.csv``) where no other input has it.
    Records that share a name are told apart by their folders below the folder common to
    them, joined with ``__`` (``p1__rec``, ``p2__rec``), and where that is not enough (one
    folder holding ``rec.csv`` and ``rec.edf``) by their format too (``p1__rec_csv``,
    ``p1__rec_edf``). A name that is still taken gets ``~2``, ``~3``, ... in input order.
    The names depend on the paths alone, not on which records could be read.

    Parameters
    ----------
    paths : sequence of Path
        The inputs of the run, in order.

    Returns
    -------
    list of str
        One stem per path.
    """
    keys = [_record_key(p) for p in paths]
    names = list(keys)
    for key, n in Counter(keys).items():
        if n < 2:
            continue
        group = [i for i, k in enumerate(keys) if k == key]
        # Absolute, not resolved: a folder of symbolic links keeps its own names.
        parents = [Path(os.path.abspath(paths[i])).parent for i in group]
        common = Path(os.path.commonpath(parents))
        by_folder = {
            i: "__".join([*parent.relative_to(common).parts, key])
            for i, parent in zip(group, parents, strict=True)
        }
        shared = Counter(by_folder.values())
        for i, name in by_folder.items():
            if shared[name] > 1:
                fmt = paths[i].name[len(key) :].strip(".").lower().replace(".", "_")
                name = f"{name}_{fmt or 'dir'}"
            names[i] = name
    taken: set[str] = set()
    for i, name in enumerate(names):
        if name in taken:
            n = 2
            while f"{name}~{n}" in taken or f"{name}~{n}" in names:
                n += 1
            names[i] = f"{name}~{n}"
        taken.add(names[i])
    return names


def _record_key(path: Path) -> str:
    """The name a record will have, from its path alone (a store partition's after the
    ``record=``, a CSV file's without its compression suffix)."""
    from cardiostream.io.csv_format import csv_stem
    from cardiostream.io.layout import CSV_SUFFIXES, PARTITION_PREFIX, SIGNAL_FILE, is_partition

    if is_partition(path):
        folder = path.parent if path.name == SIGNAL_FILE else path
        return folder.name[len(PARTITION_PREFIX) :]
    if path.name.lower().endswith(CSV_SUFFIXES):
        return csv_stem(path)
    return path.stem


#: Files that sit beside the records of well-known databases and are not signals (the
#: labels of the PhysioNet/CinC 2017 challenge): met in a folder, they are passed over
#: without counting as failures.
SIDE_FILES = ("reference.csv",)


def _side_file(path: Path) -> bool:
    """Whether ``path`` is one of the :data:`SIDE_FILES`."""
    return path.name.lower() in SIDE_FILES


class _Run:
    """What came of each input of an ``analyze`` run, in input order, and where its lines
    go: standard output in the chosen format, and the record's files under ``--out``."""

    def __init__(self, files: list[tuple[Path, bool]], out: Path | None, fmt: str) -> None:
        self.files = files
        self.out = out
        self.fmt = fmt
        self.names = output_names([p for p, _ in files])
        self.done: dict[int, Analysis] = {}
        #: Inputs that came to nothing: their status (``not_read``, ``not_analysed``,
        #: ``not_reached`` after an interruption) and why.
        self.failed: dict[int, tuple[str, str]] = {}
        #: Side files met in a folder (:func:`_side_file`): named, but not failures.
        self.skipped: dict[int, str] = {}

    def analysed(self, i: int, result: Analysis) -> None:
        """Input ``i`` was analysed: write its lines."""
        self.done[i] = result
        _write_analysis(result, self.fmt, self.out, len(self.files) > 1, self.names[i])

    def not_read(self, i: int, exc: Exception) -> None:
        """Input ``i`` could not be read as a record: say so, go on."""
        if isinstance(exc, OSError) and exc.strerror:
            message = f"{exc.filename or self.files[i][0]}: {exc.strerror}"
        else:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        _passed_over(InputError(message))
        path, named = self.files[i]
        if not named and _side_file(path):
            self.skipped[i] = message
        else:
            self.failed[i] = ("not_read", message)

    def not_analysed(self, i: int, name: str, message: str) -> None:
        """The engine refused input ``i`` (record ``name``): say so, go on."""
        err_console.print(f"{escape(name)}: not analysed: {escape(message)}", soft_wrap=True)
        self.failed[i] = ("not_analysed", message)

    def interrupted(self) -> None:
        """The run was stopped: the inputs it did not finish are ``not_reached``."""
        for i in range(len(self.files)):
            if i not in self.done and i not in self.failed and i not in self.skipped:
                self.failed[i] = ("not_reached", "interrupted before it was analysed")

    def analyses(self) -> list[Analysis]:
        """The analyses, in input order."""
        return [self.done[i] for i in sorted(self.done)]

    def rows(self) -> list[dict[str, Any]]:
        """The summary's rows, one per input in input order: its figures, path, output name
        and status (``analysed``); an input that failed has its status and error only."""
        rows = []
        for i, (path, _) in enumerate(self.files):
            if i in self.done:
                output = None if self.out is None else self.names[i]
                row = {**self.done[i].summary(), "path": str(path), "output": output}
                rows.append({**row, "status": "analysed", "error": None})
            elif i in self.failed or i in self.skipped:
                status, error = self.failed.get(i) or ("skipped", self.skipped[i])
                rows.append(
                    {"record": _record_key(path), "path": str(path), "output": None,
                     "status": status, "error": error}
                )  # fmt: skip
        return rows

    def total(self) -> dict[str, Any]:
        """The total row: the figures over the analysed inputs, ``complete`` or ``partial``."""
        from cardiostream.stream.analyze import total_summary

        row: dict[str, Any] = {**total_summary(self.analyses()), "path": None, "output": None}
        if self.failed:
            error = f"{len(self.failed)} of {len(self.files)} inputs not analysed"
            return {**row, "status": "partial", "error": error}
        return {**row, "status": "complete", "error": None}


#: The summary's columns after the engine's figures: the input, its files under --out, and
#: what came of it (``analysed``, ``not_read``, ``not_analysed``, ``not_reached`` after an
#: interruption, ``skipped`` for a side
#: file; the total row ``complete`` or ``partial``) with the error that stopped it.
RUN_COLUMNS = ("path", "output", "status", "error")

#: Exit code of ``analyze`` and ``classify`` when some inputs could not be read or analysed
#: and the others were (their results are all written); none at all is bad input, 2.
EXIT_PARTIAL = 1


def write_summary(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write ``analyze --summary``: JSON as the rows are, or CSV of
    :data:`~cardiostream.stream.analyze.SUMMARY_COLUMNS`, the windows of each label and
    :data:`RUN_COLUMNS` (a value that holds a comma or a quote is quoted)."""
    from cardiostream.rhythm.verdict import LABELS
    from cardiostream.stream.analyze import SUMMARY_COLUMNS

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".json":
        path.write_text(json.dumps(rows, indent=1) + "\n")
        return
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow([*SUMMARY_COLUMNS, *(f"n_{k}" for k in LABELS), *RUN_COLUMNS])
    for t in rows:
        beats = t.get("beats") or {}
        labels = t.get("labels") or {}
        writer.writerow(
            [beats.get(c[6:]) if c.startswith("beats_") else t.get(c) for c in SUMMARY_COLUMNS]
            + [labels.get(k) for k in LABELS]
            + [t.get(c) for c in RUN_COLUMNS]
        )
    path.write_text(text.getvalue())


def _finish(run: _Run, summary: Path | None) -> None:
    """Write the summary file and print the JSON document or the tables; then, when inputs
    failed, say how many and exit with :data:`EXIT_PARTIAL` (2 when none was analysed)."""
    done = run.analyses()
    rows = run.rows()
    analysed = [r for r in rows if r["status"] == "analysed"]
    total = run.total()
    if summary is not None:
        write_summary(summary, rows + ([total] if done else []))
    if run.fmt == "json":
        doc = {
            "records": [{**r, "events": a.events} for r, a in zip(analysed, done, strict=True)],
            "failed": [r for r in rows if r["status"] != "analysed"],
            "total": total,
        }
        _stdout(json.dumps(doc) + "\n")
    elif run.fmt == "table":
        _summary_table(analysed + ([total] if done else []))
    _exit_on_failures(len(run.failed), len(run.files), "analysed")


def _exit_on_failures(failed: int, total: int, verb: str) -> None:
    """With failed inputs, say how many on the error console and exit: 2 when nothing was
    done, else :data:`EXIT_PARTIAL`."""
    if not failed:
        return
    err_console.print(
        f"[bold red]error:[/] {failed} of {total} inputs could not be {verb} (named above)",
        highlight=False,
        soft_wrap=True,
    )
    raise typer.Exit(2 if failed == total else EXIT_PARTIAL)


def _analyze_on_cluster(cluster: str, workers: int | None, run: _Run, options: Options) -> None:
    """``analyze`` over a Dask cluster: the records' outcomes come back in order and are
    reported as one process reports them (a record that cannot be read or analysed is named
    on the error console and the others go on)."""
    from contextlib import closing

    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

    from cardiostream.cluster.archive import connect, map_records

    files = run.files
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with (
        connect(cluster, n_workers=workers, model=options.model) as client,
        _err_progress(*columns, TimeRemainingColumn()) as bar,
    ):
        task = bar.add_task("analysing on the cluster", total=len(files))
        # Closed here, not when collected: it cancels what is queued while the client is open.
        outcomes = map_records(client, files, options, on_done=lambda _: bar.advance(task))
        with closing(outcomes):
            for i, o in enumerate(outcomes):
                if o.read_error is not None:
                    if o.named and len(files) == 1:
                        raise o.read_error
                    run.not_read(i, o.read_error)
                    continue
                if o.analysis is None:
                    message = str(o.error)
                    if o.named and len(files) == 1 and not o.failed:
                        if message.startswith(str(o.path)):
                            raise InputError(message)
                        raise InputError(f"{o.path}: {message}")
                    run.not_analysed(i, o.name, message)
                    continue
                run.analysed(i, o.analysis)


def _write_analysis(result: Analysis, fmt: str, out: Path | None, several: bool, name: str) -> None:
    """Print one recording's lines in ``fmt``; write them into ``out`` as ``<name>.jsonl``
    and ``<name>.csv``."""
    from cardiostream.stream.analyze import CSV_COLUMNS, csv_line, window_rows

    lines = [_jsonl(x) for x in result.lines]
    if fmt == "jsonl":
        if several:
            _stdout(_jsonl({"type": "record", "record": result.name}) + "\n")
        _stdout("".join(line + "\n" for line in lines))
    elif fmt == "csv":
        _stdout("".join(csv_line(r) + "\n" for r in window_rows(result)))
    if out is not None:
        rows = "".join(csv_line(r) + "\n" for r in window_rows(result))
        texts = {
            out / f"{name}.jsonl": "".join(line + "\n" for line in lines),
            out / f"{name}.csv": ",".join(CSV_COLUMNS) + "\n" + rows,
        }
        # Both written under temporary names first, so that an interrupted run leaves a
        # record's pair of files whole or not at all (nearly: the renames are two steps).
        for target, text in texts.items():
            target.with_name(f".{target.name}.part").write_text(text)
        for target in texts:
            os.replace(target.with_name(f".{target.name}.part"), target)


def _span(seconds: float) -> str:
    """A duration for the summary table: seconds, minutes or hours."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def _summary_table(totals: list[dict[str, Any]]) -> None:
    from rich.table import Table

    # The AF burden is the share of windows labelled af, episodes or not (a 30 s AF record
    # has a burden and no episode, since an episode needs 30 s).
    columns = ("record", "duration", "time (s)", "x real time", "usable", "AF burden (windows)")
    table = Table(*columns, "AF episodes", "mean HR")
    beats = Table(
        *("record", "N", "S", "V", "F", "Q", "V burden", "S burden", "couplets V/S"),
        *("longest run", "pauses", "arrhythmia episodes"),
        title="Beats and arrhythmias",
    )

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.1f} %"

    for t in totals:
        hours = t["duration_s"] / 3600
        table.add_row(
            escape(t["record"]),
            f"{hours:.2f} h" if hours >= 1 else f"{t['duration_s'] / 60:.1f} min",
            f"{t['processing_s']:.3f}",
            "-" if t["real_time_factor"] is None else f"{t['real_time_factor']:,.0f}",
            pct(t["usable_fraction"]),
            pct(t["af_burden"]),
            f"{t['af_episodes']}" + (f" ({_span(t['af_episode_s'])})" if t["af_episodes"] else ""),
            "-" if t["mean_hr_bpm"] is None else f"{t['mean_hr_bpm']:.0f}",
        )
        longest = t["longest_pause_s"]
        episodes = ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in t["arrhythmias"].items() if n)
        beats.add_row(
            escape(t["record"]),
            *(f"{n:,}" for n in t["beats"].values()),
            pct(t["v_burden"]),
            pct(t["s_burden"]),
            f"{t['veb_couplets']}/{t['sveb_couplets']}",
            f"{t['longest_run_beats']} beats" if t["longest_run_beats"] else "-",
            f"{t['pauses']}" + (f" (longest {longest:.1f} s)" if longest is not None else ""),
            episodes or "-",
        )
    console.print(table)
    console.print(beats)


@app.command()
def stream(
    path: Annotated[
        Path,
        typer.Argument(help="A record file, played as a live source, or a bundled sample's name."),
    ],
    speed: Annotated[str, typer.Option(help="1 (real time), 10, any factor, or max.")] = "1",
    fmt: Annotated[str, typer.Option("--format", help="console or jsonl.")] = "console",
    lead: Annotated[str, typer.Option(help="Lead index or name.")] = "0",
    chunk: Annotated[float, typer.Option(help="Seconds of signal per pushed chunk.")] = 0.25,
    af_min_s: AfMinOption = 30.0,
    model: ModelOption = None,
    fs: FsOption = None,
) -> None:
    """Play a recording through the streaming engine at a given pace: a line per second
    (time, heart rate, rhythm, quality) and AF events as they happen."""

    def body() -> None:
        import time

        from cardiostream.io import read
        from cardiostream.stream.processor import StreamProcessor

        if fmt not in ("console", "jsonl"):
            raise InputError(f"--format: expected console or jsonl, got {fmt!r}")
        try:
            factor = math.inf if speed == "max" else float(speed)
        except ValueError:
            raise InputError(f"--speed: expected a number or max, got {speed!r}") from None
        if not factor > 0:
            raise InputError(f"--speed: must be positive, got {speed!r}")
        if not 0.001 <= chunk <= 60:
            raise InputError(f"--chunk: expected 0.001 to 60 s, got {chunk:g}")
        events = _af_events(af_min_s)
        rec = read(_record_path(path), fs=fs)
        signal = rec.lead(lead_selector(lead))
        _warm(model)  # so that the first seconds play at their pace, not after a compile
        proc = StreamProcessor(rec.fs, model=model, events=events)
        step = max(round(chunk * rec.fs), 1)
        started = time.monotonic()

        def show(items: list[Message]) -> None:
            for item in items:
                if fmt == "jsonl":
                    _stdout(_jsonl(item) + "\n")
                else:
                    console.print(_console_line(item), highlight=False)
            if fmt == "jsonl" and items:
                _flush_stdout()

        for lo in range(0, signal.size, step):
            show(proc.push(signal[lo : lo + step]))
            if math.isfinite(factor):
                due = started + (lo + step) / rec.fs / factor
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
        show(proc.flush())

    _guard(body)
