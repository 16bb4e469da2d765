"""The Holter report of a recording: ``cardiostream holter``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from cardiostream.cli._common import RECORD_HELP, _guard, _record_path, app, err_console
from cardiostream.errors import InputError
from cardiostream.record import lead_selector
from cardiostream.report.holter.contract import report_json

FORMATS = ("pdf", "html", "json")


@app.command()
def holter(
    path: Annotated[Path, typer.Argument(help=RECORD_HELP)],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="The report file (default: <record>-holter.<format> here)."),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="pdf, html or json (default: from --out, else pdf)."),
    ] = None,
    lead: Annotated[str, typer.Option(help="Lead index or name.")] = "0",
) -> None:
    """The Holter report of a 24-48 h recording, in one pass of the engine: heart rate,
    ectopy, pauses, rate episodes, AF burden and episodes, HRV and the ECG strips."""

    def body() -> None:
        from cardiostream.progress import counted_bar
        from cardiostream.report.holter import holter_report
        from cardiostream.report.holter.collect import as_record

        kind = fmt or (out.suffix.lstrip(".").lower() if out is not None else "pdf")
        if kind not in FORMATS:
            raise InputError(f"--format: expected pdf, html or json, got {kind!r}")
        started = time.perf_counter()
        record, _ = as_record(_record_path(path))
        total_s = record.n_samples / record.fs
        with counted_bar("holter {task.description}", console=err_console) as bar:
            task = bar.add_task(record.name, total=round(total_s))

            def advance(done_s: float) -> None:
                bar.update(task, completed=round(done_s))

            result = holter_report(record, lead=lead_selector(lead), progress=advance)
        target = out or Path(f"{record.name}-holter.{kind}")
        report = result.report
        report["record"]["source"] = str(path)
        if kind == "json":
            target.write_text(report_json(report), encoding="utf-8")
        else:
            # The renderer (Jinja2, WeasyPrint: the report extra) loads only for these.
            from cardiostream.report.holter.render import render_html, render_pdf

            if kind == "html":
                target.write_text(render_html(report, result.strips), encoding="utf-8")
            else:
                target.write_bytes(render_pdf(report, result.strips))
        total = time.perf_counter() - started
        err_console.print(
            f"{target}: engine {report['timing']['engine_s']:.1f} s of {total:.1f} s "
            f"({report['record']['duration_s'] / 3600:.1f} h of ECG)",
            highlight=False,
        )

    _guard(body)


@app.command("holter-day")
def holter_day_command(
    out: Annotated[Path, typer.Argument(help="The EDF+ file to write (its truth goes beside it).")],
    hours: Annotated[
        float, typer.Option(min=1 / 3, max=48, help="Length in hours (20 minutes to 48 h).")
    ] = 24.0,
    seed: Annotated[int, typer.Option(help="Seed of the rhythm and the episodes' details.")] = 0,
) -> None:
    """Write a test recording for the Holter report: synthetic sinus rhythm with scripted
    VEBs, couplets, runs of VT, real AF, pauses, brady- and tachycardia and a noisy hour, as
    EDF+; what was put in, and when, goes to ``<out>.truth.json``."""

    def body() -> None:
        from cardiostream.io.edf_format import write_edf
        from cardiostream.record import Record
        from cardiostream.sim.holter_day import holter_day

        if out.suffix.lower() != ".edf":
            raise InputError(f"{out}: the test day is written as EDF+ (.edf)")
        with err_console.status(f"making {hours:g} h of ECG"):
            day = holter_day(hours * 3600.0, seed=seed)
            meta = {"start": day.start.isoformat(), "device": "cardiostream holter-day"}
            record = Record(day.signal[:, None], day.fs, ["ECG"], out.stem, meta=meta)
            write_edf(record, out)
        truth = {k: v for k, v in day.truth.items() if k not in ("beats_t", "beats_label")}
        truth["start"] = day.start.isoformat()
        truth_path = out.with_suffix(".truth.json")
        truth_path.write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
        err_console.print(f"{out} ({hours:g} h at {day.fs:g} Hz) and {truth_path}", highlight=False)

    _guard(body)
