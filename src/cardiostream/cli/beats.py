"""AAMI beat classes of a record: ``cardiostream beats``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cardiostream.cli._common import (
    RECORD_HELP,
    FsOption,
    _guard,
    _record_path,
    _stdout,
    app,
    console,
)
from cardiostream.errors import InputError
from cardiostream.record import lead_selector

#: The columns of ``--format csv``: the first eight are fixed (tools read them by position);
#: ``reason`` says why a beat was gated to Q, empty where the label is the model's.
CSV_HEADER = "sample,time_s,label,p_n,p_s,p_v,p_f,p_q,reason"


@app.command()
def beats(
    path: Annotated[Path, typer.Argument(help=RECORD_HELP)],
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    lead: Annotated[str, typer.Option(help="Lead index or name.")] = "0",
    model: Annotated[
        Path | None, typer.Option(help="A beat model (beats.json or its folder).")
    ] = None,
    fs: FsOption = None,
) -> None:
    """Every detected beat with its AAMI class (N, S, V, F, Q) and calibrated probabilities.

    A beat on unusable signal, or with a pacemaker spike before it, is labelled Q with a
    reason (missing_samples, lead_off, flat, clipping, high_frequency_noise, no_beats,
    paced); its probabilities stay the model's.
    """

    def body() -> None:
        from cardiostream.beats.classes import CLASSES, classify_beats, load_beat_model
        from cardiostream.io import read

        if fmt not in ("table", "csv", "json"):
            raise InputError(f"--format: expected table, csv or json, got {fmt!r}")
        rec = read(_record_path(path), fs=fs)
        result = classify_beats(rec.lead(lead_selector(lead)), rec.fs, model=load_beat_model(model))
        rows = [
            (int(s), s / rec.fs, str(label), [float(v) for v in p], str(why))
            for s, label, p, why in zip(
                result.sample, result.label, result.probabilities, result.reason, strict=True
            )
        ]
        if fmt == "csv":
            lines = [CSV_HEADER]
            lines += [
                f"{s},{t:.3f},{label}," + ",".join(f"{v:.4f}" for v in p) + f",{why}"
                for s, t, label, p, why in rows
            ]
            _stdout("\n".join(lines) + "\n")
        elif fmt == "json":
            doc = {
                "record": rec.name,
                "fs": rec.fs,
                "classes": list(CLASSES),
                "beats": [
                    {"sample": s, "time_s": round(t, 3), "label": label, "p": p, "reason": why}
                    for s, t, label, p, why in rows
                ],
            }
            _stdout(json.dumps(doc) + "\n")
        else:
            from rich.table import Table

            counts = {c: int((result.label == c).sum()) for c in CLASSES}
            table = Table("sample", "time s", "class", *(f"p {c}" for c in CLASSES), "reason")
            for s, t, label, p, why in rows:
                style = {"V": "bold red", "S": "yellow", "F": "magenta", "Q": "dim"}.get(label)
                shown = f"[{style}]{label}[/]" if style else label
                table.add_row(str(s), f"{t:.3f}", shown, *(f"{v:.2f}" for v in p), why)
            console.print(table)
            console.print(
                f"{rec.name}: {len(rows)} beats, "
                + ", ".join(f"{c} {n}" for c, n in counts.items())
                + f" ({int((result.reason != '').sum())} gated to Q)",
                highlight=False,
            )

    _guard(body)
