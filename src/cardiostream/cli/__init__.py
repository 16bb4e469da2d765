"""The ``cardiostream`` command.

Every command exits 0 on success and 2 with a one-line message on bad input, never with a
traceback. Heavy imports happen inside the commands so that ``--help`` stays instant.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from cardiostream.errors import InputError
from cardiostream.record import lead_selector

app = typer.Typer(
    name="cardiostream",
    help="Real-time ECG analysis: records, filters, R peaks, HRV and signal quality.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(help="Benchmarks that print a table, peers measured in the same run.")
app.add_typer(bench_app, name="bench")

# Tables stay whole when the output goes to a file or a pipe (rich assumes 80 columns there).
console = Console(width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 120)

T = TypeVar("T")


def _fail(message: str) -> None:
    # Escaped: messages quote things like 'cardiostream[train]' that rich would take as markup.
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _guard(func: Callable[[], T]) -> T:
    """Run a command body, turning bad input into a one-line message and exit code 2."""
    try:
        return func()
    except InputError as exc:
        _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        _fail(f"{exc.filename}: {exc.strerror}")
    except KeyboardInterrupt:
        err_console.print("interrupted")
        raise typer.Exit(130) from None
    raise AssertionError("unreachable")


def _resolve(path: Path | None, sample: str | None) -> Path:
    if (path is None) == (sample is None):
        raise InputError("give either a FILE or --sample NAME")
    if sample is not None:
        from cardiostream.samples import sample_path

        return sample_path(sample)
    assert path is not None
    return path


@app.command()
def info(
    path: Annotated[Path, typer.Argument(help="A record: WFDB .hea, EDF, CSV, Parquet or store.")],
) -> None:
    """Describe a record: format, rate, duration, leads, annotations, missing samples."""

    def body() -> None:
        import numpy as np

        from cardiostream.io import detect_format, read

        rec = read(path)
        beats, rhythms = rec.annotations.beats, rec.annotations.rhythms
        nan_share = float(np.mean(~np.isfinite(rec.signal))) if rec.signal.size else 0.0
        console.print(f"[bold]{rec.name}[/]  ({detect_format(path)})", highlight=False)
        console.print(f"  sampling rate  {rec.fs:g} Hz")
        console.print(f"  duration       {rec.duration:.1f} s ({rec.n_samples} samples)")
        console.print(f"  leads          {', '.join(rec.leads)}")
        console.print(f"  missing        {100 * nan_share:.2f} % of samples")
        console.print(f"  beats          {len(beats)} annotated")
        if len(rhythms):
            labels = sorted(set(rhythms.label.tolist()))
            console.print(f"  rhythms        {len(rhythms)} intervals: {', '.join(labels)}")
        for key, value in rec.meta.items():
            if isinstance(value, str | int | float):
                console.print(f"  {key:<14} {value}", highlight=False)

    _guard(body)


@app.command()
def convert(
    sources: Annotated[list[Path], typer.Argument(help="Record files or folders (walked).")],
    store: Annotated[Path, typer.Option("--store", help="The Parquet store to write into.")],
) -> None:
    """Write records into the partitioned Parquet store (one partition per record, zstd)."""

    def body() -> None:
        from rich.progress import Progress

        from cardiostream.io import convert as convert_records

        skipped: list[str] = []
        with Progress(console=err_console, transient=True) as progress:
            task = progress.add_task("converting", total=None)

            def step(done: int, total: int, current: Path) -> None:
                progress.update(task, completed=done, total=total, description=current.name)

            ids = convert_records(
                list(sources),
                store,
                on_skip=lambda p, why: skipped.append(f"{p}: {why}"),
                progress=step,
            )
        for line in skipped:
            err_console.print(f"skipped {line}", highlight=False)
        console.print(f"wrote {len(ids)} record(s) to {store}: {', '.join(ids)}", highlight=False)

    _guard(body)


@app.command()
def rpeaks(
    path: Annotated[Path, typer.Argument(help="A record file.")],
    lead: Annotated[str, typer.Option(help="Lead index or name.")] = "0",
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    out: Annotated[Path | None, typer.Option(help="Write here instead of standard output.")] = None,
) -> None:
    """Detect R peaks causally and print them (sample index and time in seconds)."""

    def body() -> None:
        from cardiostream.beats import RPeakDetector, detect_rpeaks
        from cardiostream.io import read

        if fmt not in ("csv", "json"):
            raise InputError(f"--format: expected csv or json, got {fmt!r}")
        rec = read(path)
        signal = rec.lead(lead_selector(lead))
        peaks = detect_rpeaks(signal, rec.fs)
        if fmt == "csv":
            lines = ["sample,time_s"] + [f"{p},{p / rec.fs:.4f}" for p in peaks]
            text = "\n".join(lines) + "\n"
        else:
            doc = {
                "record": rec.name,
                "fs": rec.fs,
                "lead": rec.leads[rec.leads.index(lead)]
                if lead in rec.leads
                else rec.leads[int(lead)],
                "delay_s": RPeakDetector(rec.fs).delay_s,
                "rpeaks": peaks.tolist(),
                "times_s": [round(p / rec.fs, 4) for p in peaks.tolist()],
            }
            text = json.dumps(doc) + "\n"
        if out is None:
            sys.stdout.write(text)
        else:
            out.write_text(text)
            err_console.print(f"{len(peaks)} R peaks written to {out}", highlight=False)

    _guard(body)


@app.command()
def report(
    path: Annotated[Path | None, typer.Argument(help="A record file.")] = None,
    sample: Annotated[str | None, typer.Option(help="A bundled sample instead of a file.")] = None,
    lead: Annotated[str, typer.Option(help="Lead index or name.")] = "0",
    plot: Annotated[Path | None, typer.Option(help="Write a figure (PNG, SVG or PDF).")] = None,
) -> None:
    """Read a record, clean it, find the beats; print HR, HRV and signal quality."""

    def body() -> None:
        from cardiostream.io import read
        from cardiostream.report.quicklook import plot_quicklook, print_quicklook, quicklook

        rec = read(_resolve(path, sample))
        result = quicklook(rec, lead_selector(lead))
        print_quicklook(result, console)
        if plot is not None:
            plot_quicklook(result, plot)
            console.print(f"figure written to {plot}", highlight=False)

    _guard(body)


@app.command()
def samples() -> None:
    """List the ECG excerpts bundled with the package."""

    def body() -> None:
        from rich.table import Table

        from cardiostream.samples import SAMPLES

        table = Table("name", "rhythm", "seconds", "source", title="bundled samples (PhysioNet)")
        for info in SAMPLES.values():
            table.add_row(info.name, info.rhythm, f"{info.duration_s:g}", info.source)
        console.print(table)

    _guard(body)


@app.command()
def classify(
    paths: Annotated[list[Path], typer.Argument(help="Record files or folders (walked).")],
    fmt: Annotated[str, typer.Option("--format", help="csv, json or table.")] = "table",
    lead: Annotated[int, typer.Option(help="Lead index.")] = 0,
    backend: Annotated[str, typer.Option(help="onnx, cpu, cuda or mps.")] = "onnx",
    model: Annotated[
        Path | None, typer.Option(help="A model folder instead of the shipped one.")
    ] = None,
) -> None:
    """Rhythm verdict per record: normal, af, other, noise, or uncertain; with probabilities."""

    def body() -> None:
        from rich.progress import Progress

        from cardiostream.io.listing import walk_records
        from cardiostream.rhythm.batch import ORDER, classify_paths
        from cardiostream.rhythm.infer import RhythmModel

        if fmt not in ("csv", "json", "table"):
            raise InputError(f"--format: expected csv, json or table, got {fmt!r}")
        rhythm = RhythmModel(model, backend=backend)
        files = walk_records(paths)

        def refused(name: str, exc: InputError) -> None:
            err_console.print(f"{name}: not classified: {escape(str(exc))}")

        with Progress(console=err_console, transient=True) as bar:
            task = bar.add_task("classifying", total=len(files))
            result = classify_paths(
                files, rhythm, lead=lead, on_refused=refused, on_step=lambda _: bar.advance(task)
            )
        text_rows = result.rows()
        if fmt == "csv":
            lines = ["record,label,raw_label,p_normal,p_af,p_other,p_noise"]
            lines += [",".join([*map(str, r[:3]), *(f"{v:.4f}" for v in r[3:])]) for r in text_rows]
            sys.stdout.write("\n".join(lines) + "\n")
        elif fmt == "json":
            sys.stdout.write(json.dumps(result.documents()) + "\n")
        else:
            from rich.table import Table

            table = Table("record", "label", "raw", *ORDER)
            for r in text_rows:
                table.add_row(*map(str, r[:3]), *(f"{v:.2f}" for v in r[3:]))
            console.print(table)

    _guard(body)


def _jsonl(obj: dict[str, Any]) -> str:
    # The engine emits None for missing measures, so strict JSON needs no NaN handling here.
    return json.dumps(obj, allow_nan=False, separators=(", ", ": "))


@app.command()
def analyze(
    paths: Annotated[list[Path], typer.Argument(help="Record files or folders (walked).")],
    fmt: Annotated[str, typer.Option("--format", help="table, json, jsonl or csv.")] = "table",
    out: Annotated[
        Path | None, typer.Option(help="Also write <record>.jsonl and <record>.csv here.")
    ] = None,
    summary: Annotated[
        Path | None, typer.Option(help="Write the per-file summary (.csv or .json).")
    ] = None,
    lead: Annotated[str, typer.Option(help="Lead index or name.")] = "0",
    hop: Annotated[int, typer.Option(help="Seconds between windows.")] = 1,
    window: Annotated[int, typer.Option(help="Window length in seconds (10 to 600).")] = 10,
    model: Annotated[
        Path | None, typer.Option(help="A model folder instead of the shipped one.")
    ] = None,
) -> None:
    """Windows every second, AF episodes and a summary for whole recordings (the streaming
    engine run offline: the same lines as `cardiostream stream`)."""

    def body() -> None:
        import numpy as np
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        from cardiostream.io import read
        from cardiostream.io.listing import walk_records
        from cardiostream.stream.analyze import (
            CSV_COLUMNS,
            Analysis,
            analyze,
            total_summary,
            window_rows,
            write_summary,
        )

        if fmt not in ("table", "json", "jsonl", "csv"):
            raise InputError(f"--format: expected table, json, jsonl or csv, got {fmt!r}")
        if summary is not None and summary.suffix not in (".csv", ".json"):
            raise InputError(f"--summary: {summary}: expected a .csv or .json file name")
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
        files = walk_records(paths)
        done: list[Analysis] = []
        # Load the compiled kernels first, so the first file's timing is the engine's alone.
        analyze(np.zeros(3000), 250.0, model=model)
        if fmt == "csv":
            sys.stdout.write(",".join(CSV_COLUMNS) + "\n")
        columns = (TextColumn("{task.description}"), BarColumn(), TimeRemainingColumn())
        with Progress(*columns, console=err_console, transient=True) as bar:
            task = bar.add_task("analysing", total=len(files))
            for path, named in files:
                try:
                    rec = read(path)
                except InputError:
                    if named:
                        raise
                    bar.advance(task)
                    continue  # a non-record file met while walking a folder
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
                        progress=advance,
                    )
                except InputError as exc:
                    if named and len(files) == 1:
                        raise
                    err_console.print(f"{rec.name}: not analysed: {escape(str(exc))}")
                    bar.remove_task(sub)
                    bar.advance(task)
                    continue
                bar.remove_task(sub)
                bar.advance(task)
                done.append(result)
                _write_analysis(result, fmt, out, len(files) > 1, window_rows)
        totals = [a.summary() for a in done] + ([total_summary(done)] if done else [])
        if summary is not None:
            write_summary(summary, totals)
        if fmt == "json":
            doc = {
                "records": [{**a.summary(), "events": a.events} for a in done],
                "total": total_summary(done),
            }
            sys.stdout.write(json.dumps(doc) + "\n")
        elif fmt == "table":
            _summary_table(totals)

    _guard(body)


def _write_analysis(
    result: Any, fmt: str, out: Path | None, several: bool, rows: Callable[[Any], list[Any]]
) -> None:
    from cardiostream.stream.analyze import CSV_COLUMNS, csv_line

    lines = [_jsonl(x) for x in result.lines]
    if fmt == "jsonl":
        if several:
            sys.stdout.write(_jsonl({"type": "record", "record": result.name}) + "\n")
        sys.stdout.write("".join(line + "\n" for line in lines))
    elif fmt == "csv":
        sys.stdout.write("".join(csv_line(r) + "\n" for r in rows(result)))
    if out is not None:
        (out / f"{result.name}.jsonl").write_text("".join(line + "\n" for line in lines))
        text = ",".join(CSV_COLUMNS) + "\n" + "".join(csv_line(r) + "\n" for r in rows(result))
        (out / f"{result.name}.csv").write_text(text)


def _summary_table(totals: list[dict[str, Any]]) -> None:
    from rich.table import Table

    columns = ("record", "duration", "time (s)", "x real time", "usable", "AF burden")
    table = Table(*columns, "episodes", "mean HR")

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.1f} %"

    for t in totals:
        hours = t["duration_s"] / 3600
        table.add_row(
            t["record"],
            f"{hours:.2f} h" if hours >= 1 else f"{t['duration_s'] / 60:.1f} min",
            f"{t['processing_s']:.3f}",
            "-" if t["real_time_factor"] is None else f"{t['real_time_factor']:,.0f}",
            pct(t["usable_fraction"]),
            pct(t["af_burden"]),
            str(t["af_episodes"]),
            "-" if t["mean_hr_bpm"] is None else f"{t['mean_hr_bpm']:.0f}",
        )
    console.print(table)


@app.command()
def stream(
    path: Annotated[Path, typer.Argument(help="A record file, played as a live source.")],
    speed: Annotated[str, typer.Option(help="1 (real time), 10, any factor, or max.")] = "1",
    fmt: Annotated[str, typer.Option("--format", help="console or jsonl.")] = "console",
    lead: Annotated[str, typer.Option(help="Lead index or name.")] = "0",
    chunk: Annotated[float, typer.Option(help="Seconds of signal per pushed chunk.")] = 0.25,
    model: Annotated[
        Path | None, typer.Option(help="A model folder instead of the shipped one.")
    ] = None,
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
        rec = read(path)
        signal = rec.lead(lead_selector(lead))
        proc = StreamProcessor(rec.fs, model=model)
        step = max(round(chunk * rec.fs), 1)
        started = time.monotonic()

        def show(items: list[dict[str, Any]]) -> None:
            for item in items:
                if fmt == "jsonl":
                    sys.stdout.write(_jsonl(item) + "\n")
                else:
                    console.print(_console_line(item), highlight=False)
            if fmt == "jsonl" and items:
                sys.stdout.flush()

        for lo in range(0, signal.size, step):
            show(proc.push(signal[lo : lo + step]))
            if math.isfinite(factor):
                due = started + (lo + step) / rec.fs / factor
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
        show(proc.flush())

    _guard(body)


@app.command()
def simulate(
    to: Annotated[str, typer.Option("--to", help="The server's ws://HOST:PORT/v1/stream.")],
    mode: Annotated[str, typer.Option(help="nsr, af, noise, leadoff or rate.")] = "nsr",
    hr: Annotated[float, typer.Option(help="Sinus heart rate, bpm.")] = 70.0,
    fs: Annotated[float, typer.Option(help="Sampling rate, Hz.")] = 250.0,
    token: Annotated[
        str | None, typer.Option(help="Bearer token (else $CARDIOSTREAM_TOKEN).")
    ] = None,
    stream_id: Annotated[str, typer.Option("--id", help="Stream id; the same id resumes.")] = "sim",
    synthetic_af: Annotated[
        bool, typer.Option("--synthetic-af", help="Synthetic AF instead of real recordings.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the simulation.")] = 0,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds of signal.")
    ] = None,
    speed: Annotated[float, typer.Option(help="How many times faster than real time.")] = 1.0,
    noise_dir: Annotated[
        Path | None,
        typer.Option(
            help="NSTDB folder for noise (default: $CARDIOSTREAM_DATA/nstdb or "
            "../shared/data/nstdb, else synthetic noise)."
        ),
    ] = None,
) -> None:
    """Stream a simulated ECG to a server, a line per window; control lines switch its mode."""

    def body() -> None:
        from cardiostream.sim import MODES, Simulator

        sim = Simulator(fs, mode, hr, seed, noise_dir, real_af=not synthetic_af)
        err_console.print(f"simulating {mode} at {fs:g} Hz to {to} as {stream_id}", highlight=False)
        if mode == "noise":
            err_console.print(f"noise: {sim.noise_source}", highlight=False)
        _send_live(sim, to, token, stream_id, speed, duration, list(MODES))

    _guard(body)


@app.command()
def play(
    files: Annotated[list[str], typer.Argument(help="Record files or bundled sample names.")],
    to: Annotated[str, typer.Option("--to", help="The server's ws://HOST:PORT/v1/stream.")],
    token: Annotated[
        str | None, typer.Option(help="Bearer token (else $CARDIOSTREAM_TOKEN).")
    ] = None,
    stream_id: Annotated[
        str, typer.Option("--id", help="Stream id; the same id resumes.")
    ] = "play",
    lead: Annotated[str, typer.Option(help="Lead index or name, or all.")] = "0",
    speed: Annotated[float, typer.Option(help="How many times faster than real time.")] = 1.0,
    loop: Annotated[
        bool, typer.Option("--loop/--no-loop", help="Start again after the last.")
    ] = True,
) -> None:
    """Stream records to a server as a live source, in turn, a line per window."""

    def body() -> None:
        from cardiostream.sim import Playback

        source = Playback(files, loop=loop, lead=None if lead == "all" else lead_selector(lead))
        err_console.print(f"playing {', '.join(source.names)} to {to} as {stream_id}",
                          highlight=False)  # fmt: skip
        _send_live(source, to, token, stream_id, speed, None, None)

    _guard(body)


def _send_live(
    source: Any,
    to: str,
    token: str | None,
    stream_id: str,
    speed: float,
    duration: float | None,
    controls: list[str] | None,
) -> None:
    """Run the sender; print windows and events as they come back (Ctrl-C sends stop)."""
    import asyncio

    from cardiostream.serve.config import TOKEN_ENV, token_from_env
    from cardiostream.sim import StreamRefused, TokenRefused, send

    if not to.startswith(("ws://", "wss://")):
        raise InputError(f"--to: expected ws://HOST:PORT/v1/stream, got {to!r}")
    if not speed > 0:
        raise InputError(f"--speed: must be positive, got {speed:g}")
    key = token_from_env(token)

    def show(item: dict[str, Any]) -> None:
        if item["type"] in ("window", "event_open", "event", "gap"):
            console.print(_console_line(item), highlight=False)

    def status(text: str) -> None:
        err_console.print(escape(text), highlight=False)

    try:
        result = asyncio.run(send(source, to, token=key, stream_id=stream_id, speed=speed,
                                  controls=controls, stop_after_s=duration, on_item=show,
                                  on_status=status))  # fmt: skip
    except StreamRefused as exc:
        hint = f" (give --token or set {TOKEN_ENV})" if isinstance(exc, TokenRefused) else ""
        raise InputError(f"{exc}{hint}") from None
    err_console.print(f"sent {result.sent / source.fs:.1f} s, the server acknowledged "
                      f"{result.acknowledged / source.fs:.1f} s", highlight=False)  # fmt: skip


_LABEL_STYLE = {
    "normal": "green",
    "af": "bold red",
    "other": "yellow",
    "noise": "magenta",
    "uncertain": "dim",
}


def _console_line(item: dict[str, Any]) -> str:
    kind = item["type"]
    if kind == "window":
        hr = item["heart_rate_bpm"]
        q = item["quality"]
        label = item["label"]
        style = _LABEL_STYLE[label]
        p_top = item["probabilities"][item["raw_label"]]
        quality = "ok" if q["usable"] else ", ".join(q["reasons"]) or "unusable"
        if q["usable"] and q["reasons"]:
            quality = "ok (" + ", ".join(q["reasons"]) + ")"
        hr_text = "  --" if hr is None else f"{hr:4.0f}"
        return (
            f"{item['t_end']:9.1f} s  HR {hr_text} bpm  [{style}]{label:<9}[/]"
            f" p={p_top:.2f}  quality {escape(quality)}"
        )
    if kind == "event_open":
        return f"[bold red]AF episode started[/] at {item['start_s']:.1f} s"
    if kind == "event":
        reason = f" ({item['reason']})" if "reason" in item else ""
        conf = item["confidence"]
        conf_text = "-" if conf is None else f"{conf:.2f}"
        return (
            f"[bold red]AF episode[/] {item['start_s']:.1f}-{item['end_s']:.1f} s, "
            f"confidence {conf_text}{reason}"
        )
    return f"[cyan]{kind}[/] {escape(json.dumps(item))}"


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    token: Annotated[
        str | None,
        typer.Option(help="Bearer token(s), comma-separated (else $CARDIOSTREAM_TOKEN, else new)."),
    ] = None,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="No token (only on a loopback address).")
    ] = False,
    store: Annotated[
        Path | None, typer.Option(help="Parquet store for the records API (and --record).")
    ] = None,
    record: Annotated[bool, typer.Option(help="Record live streams into the store.")] = False,
    max_streams: Annotated[int, typer.Option(help="Live streams at once.")] = 2000,
    model: Annotated[
        Path | None, typer.Option(help="A model folder instead of the shipped one.")
    ] = None,
) -> None:
    """Serve REST predictions, live WebSocket streams and stored recordings (OpenAPI at /docs)."""

    def body() -> None:
        from cardiostream.serve import TOKEN_ENV, ServeConfig, new_token, run
        from cardiostream.serve.config import tokens_from_env

        tokens = tokens_from_env(token)
        created = not tokens and not no_auth
        if created:
            tokens = [new_token()]
        config = ServeConfig(
            tokens=tokens,
            auth=not no_auth,
            host=host,
            store=store,
            record=record,
            max_streams=max_streams,
            model=model,
        )
        where = f"http://{host}:{port}"
        if created:
            err_console.print(
                f"access token (new): {tokens[0]}\n"
                f"use it as:  curl -H 'Authorization: Bearer {tokens[0]}' {where}/healthz\n"
                f"set {TOKEN_ENV} or --token to keep one across restarts",
                highlight=False,
            )
        err_console.print(f"serving on {where} (API docs at {where}/docs)", highlight=False)
        if tokens:
            err_console.print(f"dashboard: {where}/?token={tokens[0]}", highlight=False)
        else:
            err_console.print(f"dashboard: {where}/", highlight=False)
        run(config, port=port)

    _guard(body)


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port (0: any free one).")] = 8000,
    token: Annotated[
        str | None, typer.Option(help="Access token (else $CARDIOSTREAM_TOKEN, else new).")
    ] = None,
    store: Annotated[
        Path | None,
        typer.Option(help="Parquet store for the recordings browser (else a temporary one)."),
    ] = None,
) -> None:
    """Start the server, its dashboard and six live patients (sinus rhythm, real AF, noise,
    lead-off every minute, one you steer, ectopic beats); print the dashboard's URL and token.
    Ctrl-C or SIGTERM stops everything."""

    def body() -> None:
        import asyncio

        from cardiostream.serve import new_token
        from cardiostream.serve.config import token_from_env
        from cardiostream.serve.demo import run_demo

        key = token_from_env(token) or new_token()

        def say(line: str) -> None:
            print(line, flush=True)

        asyncio.run(run_demo(host, port, key, store, say))

    _guard(body)


@app.command()
def control(
    stream_id: Annotated[str, typer.Argument(help="The live stream to steer.")],
    mode: Annotated[str, typer.Option(help="The mode to switch to (one of its controls).")],
    hr: Annotated[float | None, typer.Option(help="Heart rate (bpm), where it applies.")] = None,
    server: Annotated[str, typer.Option(help="The server's base URL.")] = ("http://127.0.0.1:8000"),
    token: Annotated[
        str | None, typer.Option(help="Bearer token (else $CARDIOSTREAM_TOKEN).")
    ] = None,
) -> None:
    """Switch a steerable source (``cardiostream simulate``, the demo's patients) to another
    mode while it streams; its verdict follows within about 10 s, through ``uncertain``."""

    def body() -> None:
        from cardiostream.serve.client import send_control
        from cardiostream.serve.config import token_from_env

        command: dict[str, Any] = {"mode": mode}
        if hr is not None:
            command["hr_bpm"] = hr
        answer = send_control(server, stream_id, command, token_from_env(token))
        err_console.print(
            f"{stream_id}: switching to {answer['queued']['mode']}; the window needs up to "
            "10 s to fill with the new rhythm, and the verdict passes through uncertain",
            highlight=False,
        )

    _guard(body)


@contextmanager
def _epoch_bars() -> Iterator[Callable[[str, int, int, float], None]]:
    """Progress bars of training: one per stage (fold, variant), advanced every epoch; a
    stage without a loss counts records (the heads' evidence) or fits (the heads' cross-fit)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[what]} {task.completed}/{task.total}{task.fields[loss]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console) as bar:
        tasks: dict[str, Any] = {}

        def step(stage: str, epoch: int, total: int, loss: float) -> None:
            counts_epochs = math.isfinite(loss)
            if stage not in tasks:
                what = "epoch" if counts_epochs else "fit" if stage.endswith("fits") else "record"
                tasks[stage] = bar.add_task(stage, total=total, what=what, loss="")
            shown = f" loss {loss:.3f}" if counts_epochs else ""
            bar.update(tasks[stage], completed=epoch, loss=shown)

        yield step


@app.command()
def train(
    data: Annotated[Path, typer.Option(help="The CinC 2017 folder (REFERENCE.csv and records).")],
    out: Annotated[
        Path, typer.Option(help="Where the model, its ONNX graph and figures go.")
    ] = Path("out/rhythm"),
    noise: Annotated[
        Path | None,
        typer.Option(help="NSTDB folder for noise augmentation (default: beside data)."),
    ] = None,
    cache: Annotated[Path, typer.Option(help="Cache of the preprocessed records.")] = Path(
        "out/cache"
    ),
    seed: Annotated[int, typer.Option(help="Seed of folds, initialisation and augmentation.")] = 0,
    folds: Annotated[int, typer.Option(help="Cross-validation folds.")] = 5,
    epochs: Annotated[int, typer.Option(help="Epochs per training run.")] = 60,
    record_loss: Annotated[
        float,
        typer.Option(help="Weight of the record-verdict loss beside the per-second loss (0-1)."),
    ] = 0.0,
    warp: Annotated[
        float,
        typer.Option(help="Random time stretch of half the crops, up to exp(±WARP) (0-0.5)."),
    ] = 0.0,
    limit: Annotated[int | None, typer.Option(help="Use only the first N records.")] = None,
    final: Annotated[bool, typer.Option(help="Train the final model on every record.")] = True,
) -> None:
    """Cross-validate the rhythm network on CinC 2017, calibrate it, train the final model."""

    def body() -> None:
        try:
            from cardiostream.training.cv import run_training
            from cardiostream.training.train import TrainConfig
        except ImportError as exc:
            raise InputError(
                f"training needs the train extra (torch): pip install 'cardiostream[train]' ({exc})"
            ) from None
        from cardiostream.training.datasets import cached_cinc, check_cinc_folder, load_noise

        check_cinc_folder(data)
        if not 0.0 <= record_loss <= 1.0:
            raise InputError(f"--record-loss: expected 0 to 1, got {record_loss:g}")
        if not 0.0 <= warp <= 0.5:
            raise InputError(f"--warp: expected 0 to 0.5, got {warp:g}")
        noise_dir = noise if noise is not None else data.parent / "nstdb"
        dataset = cached_cinc(data, cache, limit=limit, progress=True)
        noise_records = load_noise(noise_dir) if noise_dir.is_dir() else None
        cfg = TrainConfig(epochs=epochs, seed=seed, record_loss=record_loss, warp=warp)
        with _epoch_bars() as step:
            summary = run_training(
                dataset,
                out,
                cfg,
                k=folds,
                noise=noise_records,
                progress=step,
                final=final,
                raw_dir=data,
            )
        f1 = summary["f1_mean"]
        sd = summary["f1_sd"]
        console.print(
            f"CV ({folds} folds): CinC score {summary['cinc_mean']:.3f} "
            f"± {summary['cinc_sd']:.3f}; "
            + ", ".join(
                f"F1 {c} {m:.3f} ± {s:.3f}"
                for c, m, s in zip(summary["classes"], f1, sd, strict=True)
            )
        )
        _print_heads(summary)
        console.print(
            f"temperature {summary['temperature']:.2f}: ECE {summary['ece_before']:.3f} -> "
            f"{summary['ece_after']:.3f}; written to {out}",
            highlight=False,
        )

    _guard(body)


def _print_heads(summary: dict[str, Any]) -> None:
    for key, what in (("record_head", "records"), ("window_head", "10 s windows")):
        head = summary.get(key)
        if head is not None:
            console.print(
                f"{key.replace('_', ' ')} ({what}): CinC score {head['cinc_mean']:.3f} "
                f"± {head['cinc_sd']:.3f} (without it {head['plain']['cinc_mean']:.3f}); "
                + ", ".join(
                    f"F1 {c} {m:.3f}"
                    for c, m in zip(summary["classes"], head["f1_mean"], strict=True)
                )
                + f"; threshold {head['threshold']:.2f}, coverage {head['coverage']:.1%}",
                highlight=False,
            )


@app.command("fit-heads")
def fit_heads_command(
    training: Annotated[
        Path, typer.Option(help="Output folder of cardiostream train (oof.npz, folds/).")
    ] = Path("out/rhythm"),
    data: Annotated[Path, typer.Option(help="The CinC 2017 folder the run trained on.")] = Path(
        "../shared/data/cinc2017"
    ),
) -> None:
    """Refit the record and window heads of a training run on its folds' out-of-fold output.

    What ``cardiostream train`` does last, on its own: for a run whose networks are kept.
    """

    def body() -> None:
        try:
            from cardiostream.training.heads import fit_heads
        except ImportError as exc:
            raise InputError(
                f"fitting the heads needs the train extra (torch): "
                f"pip install 'cardiostream[train]' ({exc})"
            ) from None
        if not (training / "oof.npz").is_file():
            raise InputError(f"{training}: no oof.npz, not the output of cardiostream train")
        from cardiostream.training.datasets import check_cinc_folder

        check_cinc_folder(data)
        with _epoch_bars() as step:

            def stage(name: str, done: int, total: int) -> None:
                step(name, done, total, float("nan"))

            fit_heads(training, data, stage)
        summary = json.loads((training / "training.json").read_text())
        _print_heads(summary)
        console.print(f"written to {training}", highlight=False)

    _guard(body)


@app.command()
def evaluate(
    training: Annotated[
        Path, typer.Option(help="Output folder of cardiostream train (training.json, oof.npz).")
    ] = Path("out/rhythm"),
    data: Annotated[
        Path, typer.Option(help="Folder holding mitdb/ (and cinc2017/, nstdb/ for the ablation).")
    ] = Path("../shared/data"),
    out: Annotated[Path, typer.Option(help="Where report.md and its figures go.")] = Path(
        "docs/rhythm"
    ),
    model: Annotated[
        Path | None, typer.Option(help="Model folder (default: the shipped weights).")
    ] = None,
    run_ablation: Annotated[
        bool, typer.Option(help="Train the ablation variants first (slow: about 30 min).")
    ] = False,
    ablation_epochs: Annotated[int, typer.Option(help="Epochs per ablation variant.")] = 16,
    cache: Annotated[Path, typer.Option(help="Cache of the preprocessed CinC records.")] = Path(
        "out/cache"
    ),
) -> None:
    """Write the rhythm model's evaluation report (markdown and figures) into docs/."""

    def body() -> None:
        from cardiostream.training.report import write_report

        ablation_json = out / "ablation.json"
        if run_ablation:
            _run_ablation(data, cache, ablation_json, ablation_epochs)
        path = write_report(
            training,
            out,
            mitdb_dir=data / "mitdb",
            ablation_json=ablation_json,
            model_folder=model,
        )
        console.print(f"report written to {path}", highlight=False)

    _guard(body)


def _run_ablation(data: Path, cache: Path, path: Path, epochs: int) -> None:
    try:
        from cardiostream.training.ablation import default_variants, run_ablation
        from cardiostream.training.train import TrainConfig
    except ImportError as exc:
        raise InputError(
            f"the ablation trains networks and needs the train extra (torch) ({exc})"
        ) from None
    from cardiostream.training.datasets import cached_cinc, check_cinc_folder, load_noise

    cinc = data / "cinc2017"
    check_cinc_folder(cinc)
    dataset = cached_cinc(cinc, cache, progress=True)
    noise = load_noise(data / "nstdb") if (data / "nstdb").is_dir() else None
    with _epoch_bars() as step:
        rows = run_ablation(
            dataset, TrainConfig(epochs=epochs), default_variants(), noise=noise, progress=step
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"rows": rows}, indent=2) + "\n")


@app.command()
def export(
    fmt: Annotated[str, typer.Argument(metavar="FORMAT", help="onnx or coreml.")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="File or folder to write (default: rhythm.onnx or rhythm.mlpackage here)."
        ),
    ] = None,
    model: Annotated[
        Path | None, typer.Option(help="A model folder instead of the shipped one.")
    ] = None,
) -> None:
    """Write the rhythm network as ONNX, or as Core ML (needs coremltools; usually on macOS)."""

    def body() -> None:
        from cardiostream.training.export import FORMATS, export_model

        target = out if out is not None else Path(FORMATS.get(fmt, "rhythm"))
        path = export_model(fmt, target, model)
        console.print(f"wrote {path}", highlight=False)

    _guard(body)


def _single_thread() -> None:
    # Benchmarks compare one core against one core.
    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def _show_bench(
    text: str, doc: dict[str, Any], markdown: Path | None, json_out: Path | None
) -> None:
    """Print a benchmark's Markdown tables; write them and its JSON where asked."""
    from rich.markdown import Markdown

    console.print(Markdown(text))
    if markdown is not None:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(text)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(doc, indent=1) + "\n")


@bench_app.command("pipeline")
def bench_pipeline(
    data: Annotated[Path, typer.Option(help="A WFDB database folder (MITDB).")],
    records: Annotated[
        str | None, typer.Option(help="Comma-separated record names; all by default.")
    ] = None,
    live_records: Annotated[int, typer.Option(help="Records also streamed 1 s at a time.")] = 4,
    peer_records: Annotated[int, typer.Option(help="Records the slow peers run on.")] = 4,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the results as JSON.")
    ] = None,
    markdown: Annotated[Path | None, typer.Option(help="Write the tables as Markdown.")] = None,
) -> None:
    """Speed of the whole pipeline (offline and live, where the time goes), peers beside."""
    _single_thread()

    def body() -> None:
        from cardiostream.evaluate.bench import pipeline as bench

        if not data.is_dir():
            raise InputError(f"{data}: no such folder")
        names = [r.strip() for r in records.split(",")] if records else None
        with err_console.status("benchmark") as status:
            result = bench.run_pipeline_benchmark(
                data,
                names,
                live_records=live_records,
                peer_records=peer_records,
                progress=lambda text: status.update(text),
            )
        _show_bench(bench.to_markdown(result), result.to_dict(), markdown, json_out)

    _guard(body)


def _numbers(text: str, option: str, minimum: int) -> list[int]:
    """A comma-separated list of whole numbers, at least one, none below ``minimum``."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"{option}: expected numbers, got {text!r}") from None
    if not values or min(values) < minimum:
        raise InputError(f"{option}: at least one number, each {minimum} or more")
    return values


@bench_app.command("serve")
def bench_serve(
    streams: Annotated[
        str, typer.Option(help="Comma-separated numbers of concurrent 250 Hz streams.")
    ] = "100,250,500,1000",
    seconds: Annotated[int, typer.Option(help="Seconds each load level runs.")] = 30,
    predict: Annotated[int, typer.Option(help="Sequential /v1/predict requests.")] = 100,
    dashboards: Annotated[
        str, typer.Option(help="Comma-separated numbers of dashboards watching 16 streams.")
    ] = "0",
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the results as JSON.")
    ] = None,
    markdown: Annotated[Path | None, typer.Option(help="Write the tables as Markdown.")] = None,
) -> None:
    """Load test of the server on loopback: REST latency, then N live streams at once."""

    def body() -> None:
        from cardiostream.evaluate.bench import serve as bench

        levels = _numbers(streams, "--streams", 1)
        watching = _numbers(dashboards, "--dashboards", 0)
        if seconds < 2:
            raise InputError("--seconds: 2 or more")
        with err_console.status("benchmark") as status:
            result = bench.run_serve_benchmark(
                levels,
                seconds,
                predict,
                progress=lambda text: status.update(text),
                dashboards=watching,
            )
        _show_bench(bench.to_markdown(result), result.to_dict(), markdown, json_out)

    _guard(body)


@bench_app.command("rpeaks")
def bench_rpeaks(
    data: Annotated[Path, typer.Option(help="A WFDB database folder with .atr beats (MITDB).")],
    records: Annotated[
        str | None, typer.Option(help="Comma-separated record names; all by default.")
    ] = None,
    lead: Annotated[int, typer.Option(help="Lead index.")] = 0,
    detectors: Annotated[
        str | None,
        typer.Option(help="Comma-separated detectors; default: cardiostream and every peer."),
    ] = None,
    flutter: Annotated[
        bool,
        typer.Option(
            help="Count ventricular flutter waves (!) as beats, as WFDB's isqrs does; "
            "--no-flutter gives the classic 109,494-beat MITDB reference."
        ),
    ] = True,
    max_seconds: Annotated[
        float | None, typer.Option(help="Use only the first seconds of each record.")
    ] = None,
    repeat: Annotated[int, typer.Option(help="Time each call up to this many times.")] = 3,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the results as JSON.")
    ] = None,
    markdown: Annotated[Path | None, typer.Option(help="Write the summary as Markdown.")] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Draw per-record F1 and speed (PNG, SVG, PDF).")
    ] = None,
    worst: Annotated[int, typer.Option(help="Also list this many worst records.")] = 8,
) -> None:
    """Accuracy (±150 ms, gross) and speed of R-peak detectors on the same records."""
    _single_thread()

    def body() -> None:
        from cardiostream.evaluate import BEAT_SYMBOLS_NO_FLUTTER
        from cardiostream.evaluate.bench import rpeaks as bench
        from cardiostream.record import BEAT_SYMBOLS

        if not data.is_dir():
            raise InputError(f"{data}: no such folder")
        names = [r.strip() for r in records.split(",")] if records else None
        wanted = [d.strip() for d in detectors.split(",")] if detectors else None
        specs, skipped = bench.default_detectors(wanted)
        for name, why in skipped.items():
            err_console.print(f"{name} skipped: {why}", highlight=False)
        result = bench.run_rpeak_benchmark(
            data,
            specs,
            records=names,
            lead=lead,
            max_seconds=max_seconds,
            beat_symbols=BEAT_SYMBOLS if flutter else BEAT_SYMBOLS_NO_FLUTTER,
            repeat=repeat,
            console=err_console,
        )
        console.print(bench.summary_table(result))
        if worst and "cardiostream" in specs:
            console.print(bench.record_table(result, "cardiostream", worst=worst))
        bench.write_outputs(result, json_path=json_out, markdown_path=markdown)
        if plot is not None:
            from cardiostream.evaluate.bench.plot import plot_benchmark

            plot_benchmark(result, plot)
            err_console.print(f"figure written to {plot}", highlight=False)

    _guard(body)


@bench_app.command("store")
def bench_store(
    hours: Annotated[float, typer.Option(help="Length of the long record, in hours.")] = 24.0,
) -> None:
    """Reading a 15 s slice from the Parquet store: a long record against a short one."""
    _single_thread()

    def body() -> None:
        from rich.table import Table

        from cardiostream.evaluate.bench.store import bench_store_slice

        figures: dict[str, Any] = bench_store_slice(hours=(hours, 1.0))
        table = Table(
            title=f"{figures['slice_s']:g} s slice of one lead from the Parquet store",
            caption=f"{figures['n_leads']} leads at {figures['fs']:g} Hz, "
            f"{figures['row_group_seconds']:g} s row groups; cold = first read of the record "
            "(reads its footer), warm = later reads",
        )
        columns: dict[str, Callable[[dict[str, Any]], str]] = {
            "record (h)": lambda r: f"{r['hours']:g}",
            "file MB": lambda r: f"{r['file_bytes'] / 1e6:.1f}",
            "row groups": lambda r: str(r["row_groups"]),
            "cold ms": lambda r: f"{r['cold_ms']:.2f}",
            "warm ms": lambda r: f"{r['warm_ms']:.2f}",
            "warm KB read": lambda r: f"{r['warm_bytes'] / 1e3:.1f}",
            "row groups read": lambda r: str(r["row_groups_read"]),
        }
        for name in columns:
            table.add_column(name, justify="right")
        for row in figures["records"]:
            table.add_row(*[cell(row) for cell in columns.values()])
        console.print(table)

    _guard(body)


def main() -> None:
    """Entry point of the ``cardiostream`` script."""
    app()
