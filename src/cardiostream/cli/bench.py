"""``cardiostream bench``: benchmarks that print a table, peers measured in the same run."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from cardiostream.cli._common import (
    JsonOption,
    RecordsOption,
    _folder,
    _guard,
    _names,
    app,
    console,
    err_console,
)
from cardiostream.errors import InputError

bench_app = typer.Typer(help="Benchmarks that print a table, peers measured in the same run.")
app.add_typer(bench_app, name="bench")


def _single_thread() -> None:
    # Benchmarks compare one core against one core.
    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    # numba read its settings when the package was imported, and reads them again at every
    # compilation: once its threads have started, a thread count that differs from the one
    # it started with is an error. Reading them now, before any thread starts, keeps the two
    # equal, so a kernel compiled mid-benchmark (a cold cache) does not stop it.
    from numba.core import config

    config.reload_config()  # type: ignore[no-untyped-call]


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
    records: RecordsOption = None,
    live_records: Annotated[int, typer.Option(help="Records also streamed 1 s at a time.")] = 4,
    peer_records: Annotated[int, typer.Option(help="Records the slow peers run on.")] = 4,
    json_out: JsonOption = None,
    markdown: Annotated[Path | None, typer.Option(help="Write the tables as Markdown.")] = None,
) -> None:
    """Speed of the whole pipeline (offline and live, where the time goes), peers beside."""
    _single_thread()

    def body() -> None:
        from cardiostream.evaluate.bench import pipeline as bench

        names = _names(records)
        _folder(data)
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
    json_out: JsonOption = None,
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


@bench_app.command("soak")
def bench_soak(
    streams: Annotated[int, typer.Option(help="Live 250 Hz streams at once.")] = 200,
    duration: Annotated[float, typer.Option(help="Seconds of load.")] = 300.0,
    speed: Annotated[float, typer.Option(help="Seconds of signal sent per second.")] = 1.0,
    abandon: Annotated[
        int, typer.Option(help="Stream ids started and dropped without stop during the load.")
    ] = 0,
    resume_ttl: Annotated[
        float, typer.Option("--resume-ttl", help="The server's resume window, in seconds.")
    ] = 30.0,
    interval: Annotated[float, typer.Option(help="Seconds between readings.")] = 10.0,
    kill_engine_at: Annotated[
        float | None,
        typer.Option(help="Kill the engine process this many seconds into the load."),
    ] = None,
    json_out: JsonOption = None,
    markdown: Annotated[Path | None, typer.Option(help="Write the tables as Markdown.")] = None,
) -> None:
    """Soak test of the server: samples sent, acknowledged and recorded, windows, and memory
    over a long run of live streams and abandoned stream ids."""

    def body() -> None:
        from cardiostream.evaluate.bench import soak as bench

        if streams < 0 or abandon < 0 or streams + abandon < 1:
            raise InputError("--streams, --abandon: 0 or more, and at least one stream in all")
        for name, value in (("--duration", duration), ("--speed", speed),
                            ("--interval", interval)):  # fmt: skip
            if not value > 0:
                raise InputError(f"{name}: must be positive, got {value:g}")
        if not 0 <= resume_ttl <= 3600:
            raise InputError(f"--resume-ttl: expected 0 to 3600 s, got {resume_ttl:g}")

        def say(text: str) -> None:
            err_console.print(escape(text), highlight=False)

        if kill_engine_at is not None and not 0 <= kill_engine_at < duration:
            raise InputError(f"--kill-engine-at: expected 0 to {duration:g} s (the load), "
                             f"got {kill_engine_at:g}")  # fmt: skip
        result = bench.run_soak(
            streams, duration, speed, abandon, resume_ttl, interval, say, kill_engine_at
        )
        _show_bench(bench.to_markdown(result), result.to_dict(), markdown, json_out)

    _guard(body)


def _need_records(data: Path, names: Sequence[str], which: str) -> None:
    """Refuse a folder that lacks any of the named WFDB records."""
    _folder(data)
    missing = [n for n in names if not (data / f"{n}.hea").is_file()]
    if missing:
        raise InputError(f"{data}: {which} records missing: {', '.join(missing)}")


@bench_app.command("beats")
def bench_beats(
    data: Annotated[Path, typer.Option(help="The MITDB folder (WFDB records with .atr).")],
    model: Annotated[
        Path | None, typer.Option(help="A beat model (beats.json or its folder).")
    ] = None,
    json_out: JsonOption = None,
    markdown: Annotated[Path | None, typer.Option(help="Write the tables as Markdown.")] = None,
) -> None:
    """AAMI beat classes on MITDB DS2 (inter-patient): Se and +P per class, the confusion
    matrix and per-record figures, with published results and the targets beside them."""

    def body() -> None:
        from cardiostream.beats.classes import load_beat_model
        from cardiostream.evaluate.beat_classes import DS2, run_beat_benchmark
        from cardiostream.progress import counted_bar

        _need_records(data, DS2, "DS2")
        beat_model = load_beat_model(model)
        with counted_bar("DS2 {task.description}", console=err_console) as bar:
            task = bar.add_task("", total=len(DS2))
            result = run_beat_benchmark(
                data, beat_model, on_step=lambda n: bar.update(task, advance=1, description=n)
            )
        _show_bench(result.markdown(), result.document(), markdown, json_out)

    _guard(body)


@bench_app.command("arrhythmias")
def bench_arrhythmias(
    data: Annotated[Path, typer.Option(help="The MITDB folder (WFDB records with .atr).")],
    json_out: JsonOption = None,
    markdown: Annotated[Path | None, typer.Option(help="Write the tables as Markdown.")] = None,
) -> None:
    """Arrhythmia events (VT, SVT, bigeminy, trigeminy, idioventricular rhythm, sinus
    bradycardia) scored against MITDB's rhythm annotations, EC57 style: episode Se and +P
    and duration figures, DS2 (the beat classifier's test half) and DS1, per record."""

    def body() -> None:
        from cardiostream.evaluate.arrhythmia_episodes import run_arrhythmia_benchmark
        from cardiostream.evaluate.beat_classes import DS1, DS2
        from cardiostream.progress import counted_bar

        names = (*DS2, *DS1)
        _need_records(data, names, "MITDB")
        with counted_bar("MITDB {task.description}", console=err_console) as bar:
            task = bar.add_task("", total=len(names))
            result = run_arrhythmia_benchmark(
                data, names, on_step=lambda n: bar.update(task, advance=1, description=n)
            )
        _show_bench(result.markdown(), result.document(), markdown, json_out)

    _guard(body)


@bench_app.command("alarms")
def bench_alarms(
    data: Annotated[Path, typer.Option(help="The MITDB folder (WFDB records with .atr).")],
    records: RecordsOption = None,
    json_out: JsonOption = None,
    markdown: Annotated[Path | None, typer.Option(help="Write the tables as Markdown.")] = None,
) -> None:
    """The server's alarms replayed over MITDB and a scripted simulator scenario: alarm
    state changes per hour by rhythm, onset-to-alarm delays for AF, VT and pauses (asystole,
    lead-off, noise and HR limits in the scenario), and false alarms per hour."""

    def body() -> None:
        from cardiostream.evaluate.alarms import run_alarm_benchmark
        from cardiostream.evaluate.beat_classes import DS1, DS2
        from cardiostream.progress import counted_bar

        paced = ("102", "104", "107", "217")
        names = tuple(_names(records) or sorted((*DS1, *DS2, *paced)))
        _need_records(data, names, "MITDB")
        with counted_bar("alarms {task.description}", console=err_console) as bar:
            task = bar.add_task("", total=len(names) + 1)
            result = run_alarm_benchmark(
                data, names, on_step=lambda n: bar.update(task, advance=1, description=n)
            )
        _show_bench(result.markdown(), result.document(), markdown, json_out)

    _guard(body)


@bench_app.command("rpeaks")
def bench_rpeaks(
    data: Annotated[Path, typer.Option(help="A WFDB database folder with .atr beats (MITDB).")],
    records: RecordsOption = None,
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
    skip_vf: Annotated[
        bool,
        typer.Option(
            help="Leave the ventricular flutter and fibrillation episodes (from [ to ]) out "
            "of the scoring, reference beats and detections alike, as EC57 does."
        ),
    ] = False,
    max_seconds: Annotated[
        float | None, typer.Option(help="Use only the first seconds of each record.")
    ] = None,
    repeat: Annotated[int, typer.Option(help="Time each call up to this many times.")] = 3,
    json_out: JsonOption = None,
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

        names = _names(records)
        _folder(data)
        wanted = _names(detectors)
        specs, skipped = bench.default_detectors(wanted)
        for name, why in skipped.items():
            err_console.print(f"{escape(name)} skipped: {escape(why)}", highlight=False)
        result = bench.run_rpeak_benchmark(
            data,
            specs,
            records=names,
            lead=lead,
            max_seconds=max_seconds,
            beat_symbols=BEAT_SYMBOLS if flutter else BEAT_SYMBOLS_NO_FLUTTER,
            repeat=repeat,
            console=err_console,
            skip_vf=skip_vf,
        )
        console.print(bench.summary_table(result))
        if worst and "cardiostream" in specs:
            console.print(bench.record_table(result, "cardiostream", worst=worst))
        bench.write_outputs(result, json_path=json_out, markdown_path=markdown)
        if plot is not None:
            from cardiostream.evaluate.bench.plot import plot_benchmark

            plot_benchmark(result, plot)
            err_console.print(f"figure written to {escape(str(plot))}", highlight=False)

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


@bench_app.command("cluster")
def bench_cluster(
    data: Annotated[
        Path | None,
        typer.Option(
            help="A folder holding mitdb/ ($CARDIOSTREAM_DATA, else ../shared/data, by "
            "default); the bundled samples, tiled, without one."
        ),
    ] = None,
    samples: Annotated[
        bool, typer.Option("--samples", help="Run the bundled samples even where MITDB is.")
    ] = False,
    tile: Annotated[int, typer.Option(help="Times the bundled samples are repeated.")] = 20,
    workers: Annotated[
        str, typer.Option(help="Comma-separated sizes of the local clusters.")
    ] = "1,2",
    machines: Annotated[
        str, typer.Option(help="Comma-separated machine counts of the projection.")
    ] = "1,4,16,64",
    per_machine: Annotated[
        int | None, typer.Option(help="Workers a machine of the projection runs (its cores).")
    ] = None,
    json_out: JsonOption = None,
    markdown: Annotated[Path | None, typer.Option(help="Write the tables as Markdown.")] = None,
) -> None:
    """Archives over Dask: the same records in one process and on local clusters of 1 and 2
    workers (records/s, x real time, ratios, per worker), and what N machines would carry."""
    _single_thread()

    def body() -> None:
        from cardiostream.evaluate.bench import cluster as bench

        sizes = _numbers(workers, "--workers", 1)
        counts = _numbers(machines, "--machines", 1)
        if tile < 1:
            raise InputError("--tile: 1 or more")
        if per_machine is not None and per_machine < 1:
            raise InputError("--per-machine: 1 or more")
        if data is not None:
            _folder(data)
        source, paths = bench.bench_records(data, tile, samples=samples)
        with err_console.status("benchmark") as status:
            result = bench.run_cluster_benchmark(
                paths,
                source,
                workers=sizes,
                workers_per_machine=per_machine or os.cpu_count() or 1,
                machines=tuple(counts),
                progress=lambda text: status.update(text),
            )
        _show_bench(bench.to_markdown(result), result.to_dict(), markdown, json_out)

    _guard(body)


@bench_app.command("fuzz")
def bench_fuzz(
    files: Annotated[int, typer.Option(help="How many corrupted files to read.")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the corruptions.")] = 0,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    timeout: Annotated[
        float, typer.Option(help="Seconds a read may take before it counts as a hang.")
    ] = 10.0,
    keep: Annotated[
        Path | None, typer.Option(help="Keep the valid files and every failing case here.")
    ] = None,
    json_out: JsonOption = None,
    markdown: Annotated[Path | None, typer.Option(help="Write the tables as Markdown.")] = None,
) -> None:
    """Corrupted files through every reader: clean reads, clean refusals, hangs, tracebacks.

    Exits with 1 when a file hangs a reader or raises anything but a one-line refusal.
    """

    def body() -> None:
        from cardiostream.evaluate.bench import fuzz

        with err_console.status("fuzzing") as status:
            result = fuzz.run_fuzz(
                files,
                seed=seed,
                workers=workers,
                timeout_s=timeout,
                keep=keep,
                progress=lambda done, total: status.update(f"fuzzing: {done}/{total} files"),
            )
        _show_bench(fuzz.to_markdown(result), result.to_dict(), markdown, json_out)
        if result.failures():
            raise typer.Exit(1)

    _guard(body)


@bench_app.command("redis")
def bench_redis(
    redis: Annotated[
        str | None, typer.Option("--redis", help="A Redis URL; a local redis-server if none.")
    ] = None,
    streams: Annotated[int, typer.Option(help="Simulated 250 Hz streams.")] = 100,
    seconds: Annotated[int, typer.Option(help="Seconds of each stream per phase.")] = 30,
    workers: Annotated[str, typer.Option(help="Comma-separated numbers of workers.")] = "1,2",
    shards: Annotated[int, typer.Option(help="Shards the streams are spread over.")] = 8,
    json_out: JsonOption = None,
    markdown: Annotated[Path | None, typer.Option(help="Write the tables as Markdown.")] = None,
) -> None:
    """Live streams through Redis Streams and worker processes: throughput, latency from
    append to result, and Redis memory per stream, for each number of workers."""

    def body() -> None:
        from cardiostream.serve import redis_bench as bench

        counts = _numbers(workers, "--workers", 1)
        if streams < 1 or seconds < 2 or shards < max(counts):
            raise InputError("--streams: 1 or more; --seconds: 2 or more; "
                             "--shards: at least the largest number of workers")  # fmt: skip

        def say(text: str) -> None:
            err_console.print(escape(text), highlight=False)

        result = bench.run_redis_benchmark(redis, streams, seconds, counts, shards, say)
        _show_bench(bench.to_markdown(result), result.to_dict(), markdown, json_out)

    _guard(body)
