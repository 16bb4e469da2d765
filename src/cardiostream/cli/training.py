"""The rhythm model's training, evaluation report and export."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from cardiostream.cli._common import ModelOption, _guard, app, console, err_console
from cardiostream.errors import InputError


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
            f"{summary['ece_after']:.3f}; written to {escape(str(out))}",
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
        console.print(f"written to {escape(str(training))}", highlight=False)

    _guard(body)


@app.command("fit-rr-fusion")
def fit_rr_fusion_command(
    training: Annotated[
        Path, typer.Option(help="Output folder of cardiostream train (window_oof.npz).")
    ] = Path("out/rhythm"),
    data: Annotated[Path, typer.Option(help="The CinC 2017 folder the run trained on.")] = Path(
        "../shared/data/cinc2017"
    ),
    model: Annotated[
        list[Path] | None,
        typer.Option(help="Also write the fusion into this model folder's model.json."),
    ] = None,
) -> None:
    """Fit the RR AF detector's fusion into the window verdict on a run's out-of-fold windows.

    What ``cardiostream train`` does after the heads, on its own; needs no torch.
    """

    def body() -> None:
        from cardiostream.training.datasets import check_cinc_folder
        from cardiostream.training.parallel import default_workers
        from cardiostream.training.rr_fusion import fit_rr_fusion

        check_cinc_folder(data)
        with _epoch_bars() as step:

            def stage(name: str, done: int, total: int) -> None:
                step(name, done, total, float("nan"))

            summary = fit_rr_fusion(training, data, model or [], stage, default_workers())
        head, fused = summary["head"], summary
        console.print(
            f"window verdicts, out of fold: CinC score {head['cinc_mean']:.3f} -> "
            f"{fused['cinc_mean']:.3f}, AF F1 {head['f1_mean'][1]:.3f} -> "
            f"{fused['f1_mean'][1]:.3f}; threshold {fused['threshold']:.2f}",
            highlight=False,
        )
        console.print(f"written to {escape(str(training))}", highlight=False)

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
        console.print(f"report written to {escape(str(path))}", highlight=False)

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
    model: ModelOption = None,
) -> None:
    """Write the rhythm network as ONNX, or as Core ML (needs coremltools; usually on macOS)."""

    def body() -> None:
        from cardiostream.training.export import FORMATS, export_model

        target = out if out is not None else Path(FORMATS.get(fmt, "rhythm"))
        path = export_model(fmt, target, model)
        console.print(f"wrote {escape(str(path))}", highlight=False)

    _guard(body)


@app.command("train-beats")
def train_beats(
    data: Annotated[Path, typer.Option(help="The MITDB folder (WFDB records with .atr).")],
    out: Annotated[
        Path, typer.Option(help="Where beats.json and the cross-validation report go.")
    ] = Path("out/beats"),
    seed: Annotated[int, typer.Option(help="Seed of the folds and initialisations.")] = 0,
    folds: Annotated[int, typer.Option(help="Folds of whole DS1 records.")] = 11,
    maxiter: Annotated[int, typer.Option(help="L-BFGS iterations per fit.")] = 300,
    records: Annotated[
        str | None, typer.Option(help="Comma-separated DS1 records (all 22 by default).")
    ] = None,
) -> None:
    """Train the AAMI beat classifier on MITDB DS1, every choice by leave-records-out
    cross-validation (DS2 is never read)."""

    def body() -> None:
        from cardiostream.evaluate.beat_classes import DS1, load_records
        from cardiostream.progress import counted_bar
        from cardiostream.training.beats import train_beat_model

        if not data.is_dir():
            raise InputError(f"{data}: no such folder")
        names = [n.strip() for n in records.split(",")] if records else list(DS1)
        if not set(names) <= set(DS1):
            raise InputError("--records: only DS1 records may train the beat classifier")
        if not 2 <= folds <= len(names):
            raise InputError(f"--folds: expected 2 to {len(names)}, got {folds}")
        with counted_bar("{task.description}", console=err_console) as bar:
            task = bar.add_task("reading DS1", total=len(names))
            recs = load_records(data, names, on_step=lambda _: bar.advance(task))
            fit = bar.add_task("fitting", total=None)

            def step(stage: str, done: int, total: int) -> None:
                bar.update(fit, description=stage, completed=done, total=total)

            result = train_beat_model(recs, folds=folds, seed=seed, maxiter=maxiter, progress=step)
        path = result.model.save(out)
        (out / "cv_report.json").write_text(json.dumps(result.report, indent=1) + "\n")
        gross = result.report["cv"]["gross"]
        console.print(
            f"model written to {escape(str(path))}; DS1 cross-validation: "
            + ", ".join(
                f"{c} Se {gross[c]['se'] or 0:.1f} +P {gross[c]['ppv'] or 0:.1f}" for c in "NSVF"
            ),
            highlight=False,
        )

    _guard(body)
