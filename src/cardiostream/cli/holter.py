"""The Holter report of a recording: ``cardiostream holter``."""

from __future__ import annotations

import importlib
import json
import math
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from cardiostream.cli._common import RECORD_HELP, _guard, _record_path, app, err_console
from cardiostream.errors import InputError
from cardiostream.record import lead_selector

FORMATS = ("pdf", "html", "json")


def _clean(x: Any) -> Any:
    """The report with NaN and infinity as null, as every JSON of the package has them."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    return x


def report_json(report: Any) -> str:
    """The report as the JSON ``--format json`` writes."""
    return json.dumps(_clean(report), indent=1, ensure_ascii=False) + "\n"


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
            # render_html(report, strips) -> str and render_pdf(report, strips) -> bytes;
            # imported by name: the renderer (matplotlib, templates) loads only for them.
            render = importlib.import_module("cardiostream.report.holter.render")
            if kind == "html":
                target.write_text(render.render_html(report, result.strips), encoding="utf-8")
            else:
                target.write_bytes(render.render_pdf(report, result.strips))
        total = time.perf_counter() - started
        err_console.print(
            f"{target}: engine {report['timing']['engine_s']:.1f} s of {total:.1f} s "
            f"({report['record']['duration_s'] / 3600:.1f} h of ECG)",
            highlight=False,
        )

    _guard(body)
