"""Commands on single records: describe, convert, R peaks, a quick look; the bundled samples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from cardiostream.cli._common import (
    RECORD_HELP,
    RECORDS_HELP,
    FsOption,
    _err_progress,
    _guard,
    _record_path,
    _resolve,
    _stdout,
    app,
    console,
    err_console,
)
from cardiostream.errors import InputError
from cardiostream.record import lead_selector


@app.command()
def info(
    path: Annotated[
        Path,
        typer.Argument(
            help="A record (WFDB .hea, EDF, CSV, Parquet or store partition), or a bundled "
            "sample's name."
        ),
    ],
    fs: FsOption = None,
) -> None:
    """Describe a record: format, rate, duration, leads, annotations, missing samples."""

    def body() -> None:
        import numpy as np

        from cardiostream.io import detect_format, read

        path_ = _record_path(path)
        rec = read(path_, fs=fs)
        beats, rhythms = rec.annotations.beats, rec.annotations.rhythms
        nan_share = float(np.mean(~np.isfinite(rec.signal))) if rec.signal.size else 0.0
        console.print(f"[bold]{escape(rec.name)}[/]  ({detect_format(path_)})", highlight=False)
        console.print(f"  sampling rate  {rec.fs:g} Hz")
        console.print(f"  duration       {rec.duration:.1f} s ({rec.n_samples} samples)")
        console.print(f"  leads          {escape(', '.join(rec.leads))}")
        console.print(f"  missing        {100 * nan_share:.2f} % of samples")
        console.print(f"  beats          {len(beats)} annotated")
        if len(rhythms):
            labels = sorted(set(rhythms.label.tolist()))
            console.print(f"  rhythms        {len(rhythms)} intervals: {escape(', '.join(labels))}")
        for key, value in rec.meta.items():
            if isinstance(value, str | int | float):
                console.print(f"  {key:<14} {escape(str(value))}", highlight=False)

    _guard(body)


@app.command()
def convert(
    sources: Annotated[list[Path], typer.Argument(help=RECORDS_HELP)],
    store: Annotated[Path, typer.Option("--store", help="The Parquet store to write into.")],
    fs: FsOption = None,
) -> None:
    """Write records into the partitioned Parquet store (one partition per record, zstd)."""

    def body() -> None:
        from cardiostream.io import convert as convert_records
        from cardiostream.io import read

        skipped: list[str] = []
        with _err_progress() as progress:
            task = progress.add_task("converting", total=None)

            def step(done: int, total: int, current: Path) -> None:
                progress.update(task, completed=done, total=total, description=current.name)

            ids = convert_records(
                [_record_path(s) for s in sources],
                store,
                reader=lambda p: read(p, fs=fs),
                on_skip=lambda p, why: skipped.append(f"{p}: {why}"),
                progress=step,
            )
        for line in skipped:
            err_console.print(f"skipped {escape(line)}", highlight=False)
        console.print(
            f"wrote {len(ids)} record(s) to {escape(str(store))}: {escape(', '.join(ids))}",
            highlight=False,
        )

    _guard(body)


@app.command()
def rpeaks(
    path: Annotated[Path, typer.Argument(help=RECORD_HELP)],
    lead: Annotated[str, typer.Option(help="Lead index or name.")] = "0",
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    out: Annotated[Path | None, typer.Option(help="Write here instead of standard output.")] = None,
    fs: FsOption = None,
) -> None:
    """Detect R peaks causally and print them (sample index and time in seconds)."""

    def body() -> None:
        from cardiostream.beats import RPeakDetector, detect_rpeaks
        from cardiostream.io import read

        if fmt not in ("csv", "json"):
            raise InputError(f"--format: expected csv or json, got {fmt!r}")
        rec = read(_record_path(path), fs=fs)
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
            _stdout(text)
        else:
            out.write_text(text)
            err_console.print(
                f"{len(peaks)} R peaks written to {escape(str(out))}", highlight=False
            )

    _guard(body)


@app.command()
def report(
    path: Annotated[Path | None, typer.Argument(help=RECORD_HELP)] = None,
    sample: Annotated[str | None, typer.Option(help="A bundled sample instead of a file.")] = None,
    lead: Annotated[str, typer.Option(help="Lead index or name.")] = "0",
    plot: Annotated[Path | None, typer.Option(help="Write a figure (PNG, SVG or PDF).")] = None,
    fs: FsOption = None,
) -> None:
    """Read a record, clean it, find the beats; print HR, HRV and signal quality."""

    def body() -> None:
        from cardiostream.io import read
        from cardiostream.report.quicklook import plot_quicklook, print_quicklook, quicklook

        rec = read(_resolve(path, sample), fs=fs)
        result = quicklook(rec, lead_selector(lead))
        print_quicklook(result, console)
        if plot is not None:
            plot_quicklook(result, plot)
            console.print(f"figure written to {escape(str(plot))}", highlight=False)

    _guard(body)


@app.command()
def samples() -> None:
    """List the ECG excerpts bundled with the package."""

    def body() -> None:
        from rich.table import Table

        from cardiostream.samples import SAMPLES, sample_path

        table = Table(
            "name",
            "rhythm",
            "seconds",
            "source",
            title="bundled samples (PhysioNet)",
            caption="Any command that reads a record takes a sample's name for its file.",
        )
        for info in SAMPLES.values():
            table.add_row(info.name, info.rhythm, f"{info.duration_s:g}", info.source)
        console.print(table)
        # The paths whole, on lines of their own: a table cell would wrap them.
        for info in SAMPLES.values():
            console.print(
                f"{info.name:<16} {sample_path(info.name)}", highlight=False, soft_wrap=True
            )

    _guard(body)
