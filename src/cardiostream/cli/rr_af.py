"""AF from beat times: ``cardiostream rr-af``, its training (``train-rr-af``) and its benchmark
(``bench rr-af``)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.markup import escape

from cardiostream.cli._common import JsonOption, _folder, _guard, _stdout, app, console, err_console
from cardiostream.cli.bench import _show_bench, _single_thread, bench_app
from cardiostream.errors import InputError

#: The header of ``--format csv``.
CSV_HEADER = "time_s,af,p_af"
COLUMNS = ("time_s", "rr_ms")


def read_beats_csv(path: Path) -> tuple[np.ndarray[Any, np.dtype[np.float64]], bool]:
    """The beat times of a CSV file with a ``time_s`` (beat times, s) or ``rr_ms`` (RR
    intervals, ms) column, and whether they came from intervals; InputError on bad input."""
    from cardiostream.beats.af_rr import beat_times_from_rr, check_beat_times
    from cardiostream.io.csv_format import decimal_comma, header_delimiter

    try:
        # utf-8-sig: spreadsheets put a byte-order mark before the header.
        with path.open(newline="", encoding="utf-8-sig") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read ({exc})") from None
    text_lines = text.splitlines()
    first = next((line for line in text_lines if line.strip()), "")
    delimiter = header_delimiter(first)
    rows = list(csv.reader(text_lines, delimiter=delimiter))
    # Blank lines are skipped; errors name a value by its line in the file.
    numbered = [(n, r) for n, r in enumerate(rows, start=1) if any(c.strip() for c in r)]
    if not numbered:
        raise InputError(f"{path}: empty file")
    header = [c.strip() for c in numbered[0][1]]
    lower = [c.lower() for c in header]
    column = next((c for c in COLUMNS if c in lower), None)
    if column is None:
        if header and _is_number(header[0]):
            raise InputError(
                f"{path}: the first line must name the column, time_s (beat times, s) or "
                f"rr_ms (RR intervals, ms); it holds the number {header[0]}"
            )
        raise InputError(f"{path}: no time_s or rr_ms column (header: {delimiter.join(header)})")
    # A whole number shows no decimal mark: look at the first lines.
    comma = any(decimal_comma(delimiter.join(r), delimiter) for _, r in numbered[1:21])
    i = lower.index(column)
    values: list[float] = []
    lines: list[int] = []
    for line, row in numbered[1:]:
        cell = row[i].strip() if i < len(row) else ""
        try:
            v = float(cell.replace(",", ".") if comma else cell)
        except ValueError:
            raise InputError(f"{path}: line {line}, {column}: not a number ({cell!r})") from None
        if not math.isfinite(v):
            raise InputError(f"{path}: line {line}, {column}: not a finite number ({cell!r})")
        if column == "rr_ms" and not v > 0:
            raise InputError(f"{path}: line {line}, rr_ms: {cell} is not a positive interval")
        if column == "time_s" and values and not v > values[-1]:
            raise InputError(
                f"{path}: line {line}, time_s: {cell} is not after the beat before it "
                f"({values[-1]:g}, line {lines[-1]}); times must increase strictly"
            )
        values.append(v)
        lines.append(line)
    if not values:
        raise InputError(f"{path}: no beats under {column}")
    _check_unit(path, column, values)
    try:
        if column == "rr_ms":
            return beat_times_from_rr(values), True
        return check_beat_times(values, column), False
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None


#: The median interval between beats that a heart gives, in ms: 150 (400 bpm) to 5,000
#: (12 bpm). Outside them the values are in another unit, or not beats.
MEDIAN_RR_MS = (150.0, 5000.0)


def _check_unit(path: Path, column: str, values: list[float]) -> None:
    """InputError when the median interval is no heart's: most likely a wrong unit (RR in
    seconds under ``rr_ms``, beat times in milliseconds under ``time_s``)."""
    lo, hi = MEDIAN_RR_MS
    if column == "rr_ms":
        median = float(np.median(values))
        if median < lo:
            raise InputError(
                f"{path}: rr_ms: median interval {median:g} ms, not a heart beat; "
                "were these seconds?"
            )
        if median > hi:
            raise InputError(
                f"{path}: rr_ms: median interval {median:g} ms, not a heart beat "
                f"(expected {lo:g} to {hi:,.0f} ms)"
            )
    elif len(values) > 1:
        median = float(np.median(np.diff(values)))
        if median > hi / 1000:
            raise InputError(
                f"{path}: time_s: median interval {median:g} s between beats, not a heart "
                "beat; were these milliseconds?"
            )


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", "."))
    except ValueError:
        return False
    return True


@app.command("rr-af")
def rr_af(
    path: Annotated[Path, typer.Argument(help="A CSV file with a time_s or rr_ms column.")],
    fmt: Annotated[str, typer.Option("--format", help="csv, summary or json.")] = "csv",
    model: Annotated[
        Path | None, typer.Option(help="An RR AF model (rr_af.json or its folder).")
    ] = None,
    timing: Annotated[
        str,
        typer.Option(
            help="How the beats were timed: ecg (R peaks) or pulse (a PPG watch, a pulse "
            "oximeter: 10-30 ms less exact); picks the shipped model."
        ),
    ] = "ecg",
) -> None:
    """AF from beat times alone: each beat's AF call and probability, or the AF burden and
    episodes.

    The file gives beat times in seconds (time_s) or successive RR intervals in milliseconds
    (rr_ms: a beat at 0, then one at the end of each interval, one output row per interval).
    The decision is causal: a beat is decided from itself and the 64 intervals before it.

    A file whose median interval is no heart's is refused as in the wrong unit: under rr_ms
    below 150 or above 5,000 ms, under time_s above 5 s.
    """

    def body() -> None:
        from cardiostream.beats._af_rr_kernel import MIN_RR
        from cardiostream.beats.af_rr import af_from_beats

        if fmt not in ("csv", "summary", "json"):
            raise InputError(f"--format: expected csv, summary or json, got {fmt!r}")
        if timing not in ("ecg", "pulse"):
            raise InputError(f"--timing: expected ecg or pulse, got {timing!r}")
        t, from_rr = read_beats_csv(path)
        result = af_from_beats(t, model, timing="pulse" if timing == "pulse" else "ecg")
        start = 1 if from_rr else 0
        if fmt == "csv":
            lines = [CSV_HEADER]
            lines += [
                f"{ti:.3f},{int(a)},{p:.4f}"
                for ti, a, p in zip(
                    result.time_s[start:].tolist(),
                    result.af[start:].tolist(),
                    result.p_af[start:].tolist(),
                    strict=True,
                )
            ]
            _stdout("\n".join(lines) + "\n")
            return
        episodes = result.episodes()
        # The detector gives p_af 0 exactly to the beats it could not judge yet (fewer than
        # MIN_RR intervals since the start or a gap).
        judged = result.p_af[start:] > 0
        # Without a beat that had its 16 intervals, "no AF" would be a verdict never made.
        burden = result.burden() if judged.any() else math.nan
        doc: dict[str, Any] = {
            "file": str(path),
            "beats": len(result) - start,
            "judged_beats": int(judged.sum()),
            "duration_s": float(t[-1] - t[0]) if t.size else 0.0,
            "af_beats": int(result.af[start:].sum()),
            "af_burden": None if math.isnan(burden) else burden,
            "episodes": [
                {"start_s": round(a, 3), "end_s": round(b, 3), "duration_s": round(b - a, 3)}
                for a, b in episodes
            ],
        }
        if fmt == "json":
            _stdout(json.dumps(doc) + "\n")
            return
        if not judged.any():
            console.print(
                f"{escape(path.name)}: {doc['beats']} beats over {doc['duration_s']:.0f} s: too "
                f"few to judge (AF is judged from a beat's {MIN_RR} intervals before it, "
                "without a gap over 3 s)",
                highlight=False,
            )
            return
        console.print(
            f"{escape(path.name)}: {doc['beats']} beats over {doc['duration_s']:.0f} s "
            f"({doc['judged_beats']} judged), AF burden {100 * burden:.1f} %, "
            f"{len(episodes)} AF episode(s)",
            highlight=False,
        )
        for e in doc["episodes"]:
            console.print(
                f"  AF {e['start_s']:.1f} s to {e['end_s']:.1f} s ({e['duration_s']:.0f} s)",
                highlight=False,
            )

    _guard(body)


def _jitter_list(text: str) -> tuple[float, ...]:
    """``--jitter-ms``: comma-separated milliseconds (0 to 200; 0 is a copy without noise), or
    'none'."""
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"--jitter-ms: expected numbers and commas, got {text!r}") from None
    if not all(0 <= v <= 200 for v in values):
        raise InputError(f"--jitter-ms: each value must be 0 to 200, got {text!r}")
    return tuple(v / 1000 for v in values)


@app.command("train-rr-af")
def train_rr_af_command(
    data: Annotated[
        Path, typer.Option(help="The Long-Term AF Database folder (.atr and .qrs annotations).")
    ] = Path("../shared/data/ltafdb"),
    out: Annotated[
        Path, typer.Option(help="Where rr_af.json and the cross-validation report go.")
    ] = Path("out/rr_af"),
    seed: Annotated[int, typer.Option(help="Seed of the folds, sampling and initialisation.")] = 0,
    folds: Annotated[int, typer.Option(help="Folds of whole records.")] = 5,
    hidden: Annotated[int, typer.Option(help="Hidden units (0: logistic regression).")] = 12,
    maxiter: Annotated[int, typer.Option(help="L-BFGS iterations per fit.")] = 400,
    limit: Annotated[int | None, typer.Option(help="Use only the first N records.")] = None,
    jitter_ms: Annotated[
        str,
        typer.Option(
            help="Beat-time noise (ms, comma-separated) of extra training copies of each "
            "record's reviewed beats; 0 is a copy without noise. 0 (the default) trains the "
            "ECG model (rr_af.json); 10,25 with --hidden 24 the pulse model "
            "(rr_af_pulse.json), whose beats a pulse sensor times; none, no copies."
        ),
    ] = "0",
    restart_beats: Annotated[
        int,
        typer.Option(
            help="The extra copies start afresh every this many beats, so that the model "
            "learns a stream's first minute, and under their noise (0: never).",
        ),
    ] = 1000,
    ectopy: Annotated[
        int,
        typer.Option(
            help="Extra training copies of each record's reviewed beats with premature beats "
            "(bigeminy, trigeminy, couplets, isolated) put into their stretches outside AF.",
        ),
    ] = 0,
) -> None:
    """Train the RR-interval AF detector on LTAFDB, cross-validated by record (reviewed and
    automated beats); write the model and cv_report.json."""

    def body() -> None:
        from cardiostream.evaluate.rr_af import ltafdb_records, read_ltafdb_record
        from cardiostream.progress import counted_bar
        from cardiostream.training.af_rr import FitConfig, train_rr_af

        jitter = _jitter_list(jitter_ms)
        if restart_beats < 0 or 0 < restart_beats < 100:
            raise InputError(f"--restart-beats: 0 or at least 100, got {restart_beats}")
        names = ltafdb_records(_folder(data))[:limit]
        if not 2 <= folds <= len(names):
            raise InputError(f"--folds: expected 2 to {len(names)}, got {folds}")
        if ectopy < 0:
            raise InputError(f"--ectopy: 0 or more, got {ectopy}")
        if hidden < 0 or maxiter < 1:
            raise InputError("--hidden: 0 or more; --maxiter: 1 or more")
        with counted_bar("{task.description}", console=err_console) as bar:
            task = bar.add_task("reading LTAFDB", total=len(names))
            records = []
            for name in names:
                records.append(read_ltafdb_record(data, name))
                bar.advance(task)
            fit = bar.add_task("fitting", total=folds + 1)

            def step(stage: str, done: int, total: int) -> None:
                bar.update(fit, description=stage, completed=done, total=total)

            cfg = FitConfig(hidden=hidden, maxiter=maxiter, seed=seed, jitter_s=jitter,
                            restart_beats=restart_beats, ectopy=ectopy)  # fmt: skip
            result = train_rr_af(records, folds=folds, cfg=cfg, progress=step)
        path = result.model.save(out)
        (out / "cv_report.json").write_text(json.dumps(result.report, indent=1) + "\n")
        g = result.report["gross"]
        console.print(
            f"model written to {escape(str(path))}; cross-validation by record: reviewed beats "
            f"Se {g['atr']['se']:.1f} Sp {g['atr']['sp']:.1f}, automated beats "
            f"Se {g['qrs']['se']:.1f} Sp {g['qrs']['sp']:.1f} "
            f"(alpha {result.report['alpha']:g}, threshold {result.report['threshold']:.2f}); "
            "reviewed beats with noise on their times: "
            + ", ".join(
                f"{j['sigma_ms']:g} ms Se {j['se']:.1f} Sp {j['sp']:.1f}"
                for j in result.report["jitter"]
            )
            + "; with premature beats put in: "
            + f"Se {result.report['ectopy']['se']:.1f} Sp {result.report['ectopy']['sp']:.1f}"
            + "; a stream's first verdicts (its 17th to 64th beats): "
            + ", ".join(
                f"{j['sigma_ms']:g} ms Se {j['se']:.1f} Sp {j['sp']:.1f}"
                for j in result.report["start"]
            ),
            highlight=False,
        )

    _guard(body)


def _cv_report(path: Path) -> dict[str, Any]:
    """A ``train-rr-af`` cross-validation report, or InputError naming the file."""
    if not path.is_file():
        raise InputError(f"{path}: no such file (run cardiostream train-rr-af first)")
    try:
        report: dict[str, Any] = json.loads(path.read_text())
        report["gross"]["atr"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not a train-rr-af report ({exc})") from None
    return report


@bench_app.command("rr-af")
def bench_rr_af(
    cv: Annotated[Path, typer.Option(help="cv_report.json of cardiostream train-rr-af.")] = Path(
        "out/rr_af/cv_report.json"
    ),
    ltafdb: Annotated[Path, typer.Option(help="The LTAFDB folder (for the speed test).")] = Path(
        "../shared/data/ltafdb"
    ),
    mitdb: Annotated[Path, typer.Option(help="The MITDB folder (the external test).")] = Path(
        "../shared/data/mitdb"
    ),
    speed_records: Annotated[int, typer.Option(help="LTAFDB records timed.")] = 8,
    model: Annotated[
        Path | None, typer.Option(help="An RR AF model (default: the shipped ECG model).")
    ] = None,
    pulse_cv: Annotated[
        Path | None,
        typer.Option(
            help="cv_report.json of the pulse model's training (train-rr-af --jitter-ms "
            "10,25 --hidden 24): adds its figures beside the ECG model's."
        ),
    ] = None,
    pulse_model: Annotated[
        Path | None, typer.Option(help="A pulse model (default: the shipped one).")
    ] = None,
    json_out: JsonOption = None,
    markdown: Annotated[Path | None, typer.Option(help="Write the report as Markdown.")] = None,
) -> None:
    """AF from beat times: LTAFDB cross-validation (from the training's report), MITDB
    external test on reference and detected beats, speed; published figures beside."""
    _single_thread()

    def body() -> None:
        from cardiostream.beats.af_rr import load_rr_af_model
        from cardiostream.evaluate.rr_af import (
            evaluate_mitdb,
            ltafdb_records,
            measure_speed,
            to_markdown,
        )

        report = _cv_report(cv)
        pulse_report = _cv_report(pulse_cv) if pulse_cv is not None else None
        shipped = load_rr_af_model(model)
        names = ltafdb_records(_folder(ltafdb))[: max(1, speed_records)]
        _folder(mitdb)
        with err_console.status("benchmark") as status:
            result = evaluate_mitdb(
                mitdb,
                shipped,
                progress=lambda text, i, n: status.update(f"{text} ({i + 1}/{n})"),
            )
            pulse = None
            if pulse_report is not None:
                pulse = {
                    "cv": {k: v for k, v in pulse_report.items() if k != "grid"},
                    "mitdb": evaluate_mitdb(
                        mitdb,
                        load_rr_af_model(pulse_model, timing="pulse"),
                        progress=lambda text, i, n: status.update(
                            f"pulse model, {text} ({i + 1}/{n})"
                        ),
                    ),
                }
            status.update("speed")
            speed = measure_speed(ltafdb, names, shipped)
        doc = {
            "cv": {k: v for k, v in report.items() if k != "grid"},
            "mitdb": result,
            "speed": speed,
            "pulse": pulse,
        }
        _show_bench(to_markdown(report, result, speed, pulse), doc, markdown, json_out)

    _guard(body)
