"""``cardiostream evaluate-af``: the external AF test on an annotated database (MITDB)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cardiostream.cli._common import (
    JsonOption,
    ModelOption,
    RecordsOption,
    _guard,
    _names,
    app,
    console,
)
from cardiostream.errors import InputError


@app.command("evaluate-af")
def evaluate_af(
    data: Annotated[
        Path, typer.Option(help="A WFDB folder with .atr rhythm annotations (MITDB).")
    ] = Path("../shared/data/mitdb"),
    verdicts: Annotated[
        str,
        typer.Option(
            help="engine (the streaming engine's labels and AF events), window (its per-second "
            "verdicts offline) or frames (the network alone)."
        ),
    ] = "engine",
    records: RecordsOption = None,
    model: ModelOption = None,
    markdown: Annotated[
        Path | None, typer.Option(help="Write the per-record and gross tables as Markdown.")
    ] = None,
    json_out: JsonOption = None,
) -> None:
    """AF-window sensitivity and specificity, AF episodes and durations against the reference
    rhythm annotations, for the top class and for the reported label."""

    def body() -> None:
        from rich.markdown import Markdown

        from cardiostream.evaluate.mitdb_af import VERDICTS, evaluate_mitdb_af, to_json, to_markdown
        from cardiostream.rhythm.infer import RhythmModel

        if verdicts not in VERDICTS:
            raise InputError(f"--verdicts: expected one of {', '.join(VERDICTS)}, got {verdicts!r}")
        names = _names(records)
        result = evaluate_mitdb_af(data, model=RhythmModel(model), records=names, verdicts=verdicts)
        text = to_markdown(result)
        summary = text[text.index("| gross over records") :]
        console.print(Markdown(summary.split("\n\n")[0]))
        if markdown is not None:
            markdown.parent.mkdir(parents=True, exist_ok=True)
            markdown.write_text(text)
        if json_out is not None:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(to_json(result), indent=1) + "\n")

    _guard(body)


@app.command("evaluate-holter")
def evaluate_holter(
    data: Annotated[
        Path, typer.Option(help="A WFDB folder with .atr beat and rhythm annotations (MITDB).")
    ] = Path("../shared/data/mitdb"),
    records: RecordsOption = None,
    markdown: Annotated[
        Path | None, typer.Option(help="Write the per-record and total tables as Markdown.")
    ] = None,
    json_out: JsonOption = None,
) -> None:
    """The Holter report's AF seconds, ventricular beats and pauses of each record beside
    its reference annotations."""

    def body() -> None:
        from dataclasses import asdict

        from rich.markdown import Markdown

        from cardiostream.evaluate.holter_mitdb import evaluate_holter_mitdb, to_markdown
        from cardiostream.progress import counted_bar

        with counted_bar("Holter {task.description}", console=console) as bar:
            task = bar.add_task(data.name, total=None)

            def step(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            results = evaluate_holter_mitdb(data, _names(records), step)
        text = to_markdown(results)
        console.print(Markdown(text.split("\n\n")[1]))
        if markdown is not None:
            markdown.parent.mkdir(parents=True, exist_ok=True)
            markdown.write_text(text)
        if json_out is not None:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps([asdict(r) for r in results], indent=1) + "\n")

    _guard(body)
