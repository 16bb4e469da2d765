"""The rhythm model's evaluation report: cross-validation, calibration, the external AF test on
MITDB, the ablation and the model's cost, as one markdown file with its figures.

The sections come from what ``cardiostream train`` wrote (``training.json``, ``oof.npz``), the
shipped model, MITDB when it is there, and an ablation table when one was run; a missing input
leaves its section saying how to produce it, never a made-up number.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from cardiostream.beats.model_files import write_model_json
from cardiostream.errors import InputError
from cardiostream.evaluate.classification import expected_calibration_error
from cardiostream.rhythm.infer import RhythmModel
from cardiostream.rhythm.verdict import CLASSES
from cardiostream.training.calibrate import calibrated
from cardiostream.training.figures import plot_ablation, plot_confusion, plot_reliability
from cardiostream.training.latency import latency_markdown, measure_latency
from cardiostream.training.record_trees_fit import PARAMS as TREE_PARAMS
from cardiostream.training.record_trees_fit import WINDOW_PARAMS as WINDOW_TREE_PARAMS


def _load_training(training_dir: Path) -> tuple[dict[str, Any], Any]:
    summary_path = training_dir / "training.json"
    oof_path = training_dir / "oof.npz"
    for path in (summary_path, oof_path):
        if not path.is_file():
            raise InputError(f"{path}: missing (run cardiostream train --out {training_dir})")
    return json.loads(summary_path.read_text()), np.load(oof_path)


def _reliability(logits: Any, labels: Any, temperature: float, path: Path) -> tuple[float, float]:
    """Draw the reliability diagram before and after scaling; return both ECEs."""
    raw = calibrated(logits, 1.0)
    scaled = calibrated(logits, temperature)
    ece_raw = expected_calibration_error(raw, labels)
    ece_scaled = expected_calibration_error(scaled, labels)
    plot_reliability(
        [("before", raw, ece_raw), (f"after, T = {temperature:.2f}", scaled, ece_scaled)],
        labels,
        path,
    )
    return ece_raw, ece_scaled


def cv_section(training_dir: Path, out_dir: Path) -> str:
    """Per-class F1, CinC score, confusion matrix and reliability diagram from the CV run."""
    summary, oof = _load_training(training_dir)
    labels = oof["labels"]
    logits = oof["logits"]
    temperature = float(summary["temperature"])
    plot_confusion(summary["confusion"], out_dir / "confusion.png")
    ece_raw, ece_scaled = _reliability(logits, labels, temperature, out_dir / "reliability.png")
    k = len(summary["folds"])
    cfg = summary.get("config", {})
    lines = [
        "## Cross-validation on CinC 2017 (development split)",
        "",
        f"Record-level stratified {k}-fold cross-validation over {labels.size:,} records, "
        f"{cfg.get('epochs', '?')} epochs per fold, seed {cfg.get('seed', '?')}. "
        "Each record's verdict is the mean of its one-second frames' probabilities "
        "(frames with a full 10 s of context).",
        "",
        "| class | F1 (mean ± sd over folds) | F1 pooled |",
        "|---|---:|---:|",
    ]
    for c, m, s, p in zip(
        CLASSES, summary["f1_mean"], summary["f1_sd"], summary["pooled_f1"], strict=True
    ):
        lines.append(f"| {c} | {m:.3f} ± {s:.3f} | {p:.3f} |")
    lines += [
        f"| **CinC score** (mean F1 of normal, AF, other) | **{summary['cinc_mean']:.3f} ± "
        f"{summary['cinc_sd']:.3f}** | {summary['pooled_cinc']:.3f} |",
        "",
        "Per fold: "
        + ", ".join(f"{f['cinc']:.3f}" for f in summary["folds"])
        + ". Targets: CinC score ≥ 0.85, AF F1 ≥ 0.90.",
        "",
        "![confusion](confusion.png)",
        "",
        "## Calibration and the uncertain state",
        "",
        f"Temperature scaling fitted on the out-of-fold logits: T = {temperature:.3f}. "
        f"Expected calibration error (15 bins, top class) {ece_raw:.3f} before, "
        f"**{ece_scaled:.3f} after** (target ≤ 0.03). The in-sample fit flatters the second "
        "figure slightly; a single scalar has little room to overfit 6,000 records.",
        "",
        f"Decision threshold {summary['threshold']:.2f}: the lowest calibrated top probability "
        "at which the confident out-of-fold verdicts are right at least 90 % of the time. "
        f"At it the model commits on {summary['coverage']:.1%} of the records, and those "
        f"verdicts are right {summary['confident_accuracy']:.1%} of the time; the rest are "
        "`uncertain` (with `raw_label` still the model's verdict).",
        "",
        "![reliability](reliability.png)",
        "",
    ]
    return "\n".join(lines) + "\n"


def _f1_rows(plain: dict[str, Any], head: dict[str, Any]) -> list[str]:
    """Table rows: each class's F1 (mean ± sd over folds) without and with a head, then the
    CinC score."""
    rows = [
        f"| {c} | {a:.3f} ± {sa:.3f} | {b:.3f} ± {sb:.3f} |"
        for c, a, sa, b, sb in zip(
            CLASSES, plain["f1_mean"], plain["f1_sd"], head["f1_mean"], head["f1_sd"], strict=True
        )
    ]
    rows.append(
        f"| **CinC score** | {plain['cinc_mean']:.3f} ± {plain['cinc_sd']:.3f} | "
        f"**{head['cinc_mean']:.3f} ± {head['cinc_sd']:.3f}** |"
    )
    return rows


def _head_run(training_dir: Path, key: str, oof_name: str) -> tuple[Any, Any, Any] | None:
    """A head's summary in ``training.json`` and its out-of-fold labels and logits, or None
    when the run fitted no such head."""
    summary = json.loads((training_dir / "training.json").read_text()).get(key)
    oof_path = training_dir / oof_name
    if summary is None or not oof_path.is_file():
        return None
    with np.load(oof_path) as z:
        return summary, z["labels"], z["head_logits"]


def _head_figures(run: tuple[Any, Any, Any], out_dir: Path, name: str, title: str) -> Any:
    """Draw a head's out-of-fold confusion and reliability (``confusion_<name>.png``,
    ``reliability_<name>.png``); returns its summary."""
    summary, labels, logits = run
    plot_confusion(summary["confusion"], out_dir / f"confusion_{name}.png", title)
    _reliability(logits, labels, float(summary["temperature"]), out_dir / f"reliability_{name}.png")
    return summary


def _sequence_line(summary: dict[str, Any]) -> list[str]:
    """The beat-sequence network's own out-of-fold score, when the run has one."""
    seq = summary.get("sequence")
    if not seq:
        return []
    return [
        "",
        f"The beat-sequence network alone ({len(seq['final'])} seeds averaged): CinC score "
        f"{seq['cinc_mean']:.3f} ± {seq['cinc_sd']:.3f} out of fold, AF F1 "
        f"{seq['f1_mean'][1]:.3f}.",
    ]


def _trees_lines(
    summary: dict[str, Any],
    params: dict[str, Any] = TREE_PARAMS,
    where: str = "evaluated from plain arrays: `rhythm/record_trees.py`",
) -> list[str]:
    """The head's network and its boosted trees scored apart, when the verdict blends them."""
    network, trees = summary.get("network"), summary.get("trees")
    if not network or not trees:
        return []

    def folds(part: dict[str, Any]) -> str:
        return ", ".join(f"{f['cinc']:.3f}" for f in part["folds"])

    depth = f" of depth {params['max_depth']} at most" if params.get("max_depth") else ""

    return [
        "",
        "The verdict averages the log-probabilities of the head's network and of boosted trees "
        "over the same inputs (scikit-learn's histogram gradient boosting, "
        f"{params['max_iter']} rounds of {params['max_leaf_nodes']}-leaf trees{depth} at a "
        f"rate of {params['learning_rate']:g}, {where}). Alone, out of "
        f"fold: the network {network['cinc_mean']:.3f} ± {network['cinc_sd']:.3f} (AF F1 "
        f"{network['f1_mean'][1]:.3f}; per fold {folds(network)}), the trees "
        f"{trees['cinc_mean']:.3f} ± {trees['cinc_sd']:.3f} (AF F1 {trees['f1_mean'][1]:.3f}; "
        f"per fold {folds(trees)}).",
    ]


def head_section(training_dir: Path, out_dir: Path) -> str:
    """The record verdict with the record head, beside the plain mean of the frames."""
    header = "## The record verdict: the record head\n"
    run = _head_run(training_dir, "record_head", "head_oof.npz")
    if run is None:
        return header + "\nNo record head was fitted (`cardiostream train` fits one).\n\n"
    summary = _head_figures(run, out_dir, "head", "Out-of-fold confusion, record head")
    temperature = float(summary["temperature"])
    plain = summary["plain"]
    lines = [
        header,
        "A record's verdict combines its voting frames (per class: log mean, highest and share "
        "of frames) with RR statistics of the whole record (rate, dispersion, successive "
        "differences, outliers, Poincaré shape, lag-1 and lag-2 correlation), their entropy "
        "(COSEn: whether the irregularity repeats itself, as ectopy's does and AF's does not) "
        "and the shape of its beats (how alike the QRS complexes are; whether a consistent P "
        "wave precedes them, which AF lacks) and what the beat classifier says of them (shares "
        "of V, S and F beats, the longest S and V runs; it learned from MITDB DS1 only) and "
        "what a beat-sequence network makes of the beats in order (a bidirectional GRU over "
        "one row per beat: the beat classifier's features and classes, the gate, the "
        "beat-interval AF probability, the beat's waveform; `rhythm/beat_sequence.py`) in a "
        "small network "
        f"(one hidden layer, L2 {summary['l2']:g}; `rhythm/record_head.py`). Its inputs for "
        "each record come from the fold networks that did not see the record, run through the "
        "exact inference path (raw file, quality, voting frames); the head is cross-fitted on "
        "the same folds, so every figure here is out-of-fold.",
        *_sequence_line(summary),
        *_trees_lines(summary),
        "",
        "| class | F1, mean of frames | F1, record head |",
        "|---|---:|---:|",
    ]
    lines += _f1_rows(plain, summary)
    lines += [
        "",
        "Per fold (head): " + ", ".join(f"{f['cinc']:.3f}" for f in summary["folds"]) + ".",
        "",
        f"Calibration: T = {temperature:.3f}, ECE {summary['ece_before']:.3f} before, "
        f"**{summary['ece_after']:.3f} after**. Threshold {summary['threshold']:.2f} (the same "
        f"90 % rule): the head commits on {summary['coverage']:.1%} of the records and is right "
        f"on {summary['confident_accuracy']:.1%} of those. `cardiostream classify` and "
        "`RhythmModel.predict` use the head on records of up to 61 s, the longest it was "
        "trained on; a longer record is judged from its per-second verdicts (an AF episode "
        "makes it AF, else the most frequent confident class). The per-second verdicts of a "
        "stream use the window head below.",
        "",
        "![confusion, record head](confusion_head.png) "
        "![reliability, record head](reliability_head.png)",
        "",
    ]
    return "\n".join(lines) + "\n"


#: Confidence from which an out-of-fold verdict against a record's label counts as a dispute.
DISPUTE_CONFIDENCE = (0.8, 0.9, 0.95)


def disputed_section(training_dir: Path) -> str:
    """Records whose out-of-fold record verdict confidently disagrees with their label."""
    header = "## Disputed labels\n\n"
    run = _head_run(training_dir, "record_head", "head_oof.npz")
    if run is None:
        return ""
    summary, labels, logits = run
    with np.load(training_dir / "head_oof.npz") as z:
        names = [str(n) for n in z["names"]]
    p = calibrated(np.asarray(logits), float(summary["temperature"]))
    verdict, confidence = p.argmax(1), p.max(1)
    against = verdict != np.asarray(labels)
    counts = ", ".join(
        f"{int(np.sum(against & (confidence >= c)))} at {c:.2f}" for c in DISPUTE_CONFIDENCE
    )
    pick = against & (confidence >= DISPUTE_CONFIDENCE[1])
    if not pick.any():
        return header + f"No record's out-of-fold verdict goes against its label with a " \
            f"calibrated confidence of 0.90 or more ({counts}).\n\n"  # fmt: skip
    table = np.zeros((len(CLASSES), len(CLASSES)), np.int64)
    np.add.at(table, (np.asarray(labels)[pick], verdict[pick]), 1)
    lines = [
        header + f"Records whose out-of-fold record verdict goes against their CinC label with "
        f"a calibrated confidence of at least 0.80, 0.90 and 0.95: {counts} (of "
        f"{len(names):,}). At 0.90, by label (rows) and verdict (columns):",
        "",
        "| label \\ verdict | " + " | ".join(CLASSES) + " |",
        "|---|" + "---:|" * len(CLASSES),
    ]
    lines += [
        f"| {c} | " + " | ".join(str(v) for v in row) + " |"
        for c, row in zip(CLASSES, table.tolist(), strict=True)
    ]
    order = np.flatnonzero(pick)[np.argsort(-confidence[pick])][:12]
    most = ", ".join(
        f"{names[i]} ({CLASSES[labels[i]]} → {CLASSES[verdict[i]]}, {confidence[i]:.2f})"
        for i in order
    )
    big = np.unravel_index(int(table.argmax()), table.shape)
    why = (
        ' CinC\'s "other" is anything neither normal nor AF, and its reason (a bundle branch '
        "block, a long PR interval, ST changes) a single short lead often does not show."
        if CLASSES[big[0]] == "other"
        else ""
    )
    lines += [
        "",
        f"The largest group: {CLASSES[big[0]]} records called {CLASSES[big[1]]} "
        f"({int(table[big])} of {int(pick.sum())}).{why} These are a model's disputes, not "
        "proven label errors; the most confident, to look at: " + most + ".",
        "",
    ]
    return "\n".join(lines) + "\n"


def window_section(training_dir: Path, out_dir: Path) -> str:
    """The per-second verdict with the window head, beside the network's frame alone."""
    header = "## The per-second verdict: the window head\n"
    run = _head_run(training_dir, "window_head", "window_oof.npz")
    if run is None:
        return header + "\nNo window head was fitted (`cardiostream fit-heads` fits one).\n\n"
    summary = _head_figures(
        run, out_dir, "window", "Out-of-fold confusion, 10 s windows, window head"
    )
    temperature = float(summary["temperature"])
    plain = summary["plain"]
    af = summary["af_windows"]
    lines = [
        header,
        "Every second, a stream reports its verdict on the 10 s that end there. The window head "
        "(`rhythm/window_head.py`) gives it from the network's frame for those 10 s (its "
        "log-probabilities) with the RR statistics and the beat shapes of the same 10 s, in the "
        f"record head's small network (L2 {summary['l2']:g}). It is fitted on the out-of-fold "
        f"frames of one second in {summary['step_s']} with a full 10 s of context "
        f"({summary['n_windows']:,} windows), each labelled with its record's class (so an "
        "'other' record's normal stretches count as 'other': the scores below understate "
        "both columns alike), cross-fitted on the records' folds.",
        *_trees_lines(
            summary,
            WINDOW_TREE_PARAMS,
            "the arrays of `rhythm/record_trees.py` walked in the window head's compiled loop",
        ),
        "",
        "| class | F1, network frame | F1, window head |",
        "|---|---:|---:|",
    ]
    lines += _f1_rows(plain, summary)
    lines += [
        f"| AF-window sensitivity | {af['frames']['sensitivity']:.1%} | "
        f"{af['head']['sensitivity']:.1%} |",
        f"| AF-window specificity | {af['frames']['specificity']:.1%} | "
        f"{af['head']['specificity']:.1%} |",
        "",
        f"Calibration: T = {temperature:.3f}, ECE {summary['ece_before']:.3f} before, "
        f"**{summary['ece_after']:.3f} after**. Threshold {summary['threshold']:.2f}: the 90 % "
        "rule applied, as for the frames, to records (the mean of each record's per-second "
        "verdicts), since the labels are the records'; against them no window threshold up "
        "to 0.80 makes 90 % of the confident windows right. At it the head commits on "
        f"{summary['coverage']:.1%} of the windows, and {summary['confident_accuracy']:.1%} "
        "of those agree with their record's label; the rest are `uncertain`.",
        "",
        "![confusion, window head](confusion_window.png) "
        "![reliability, window head](reliability_window.png)",
        "",
    ]
    return "\n".join(lines) + "\n"


def fusion_section(training_dir: Path) -> str:
    """What the RR-interval AF detector adds to the per-second verdict, out of fold on CinC."""
    header = "## The beat intervals' evidence: RR fusion\n\n"
    summary = _load_training(training_dir)[0].get("window_fusion")
    if summary is None:
        return header + "No fusion was fitted (`cardiostream fit-rr-fusion` fits one).\n\n"
    head = summary["head"]
    af = summary["af_windows"]
    lines = [
        header + "The RR-interval AF detector (`beats/af_rr.py`, trained on the 56 LTAFDB records; "
        "[its report](rr_af.md)) judges each beat from the 16 and 64 intervals before it, "
        "smoothed over the last few tens of beats. Its logit at the last beat confirmed by a "
        "window's end, and whether it had its 16 intervals by then, join the window head's "
        "calibrated log-probabilities in a multinomial logistic layer "
        "(`rhythm/rr_fusion.py`) penalised towards leaving the head's verdict as it is "
        f"(L2 {summary['l2']:g}, chosen by out-of-fold log-loss). It is cross-fitted on the "
        f"same {summary['n_windows']:,} out-of-fold CinC windows and folds as the window head; "
        f"the detector had its intervals for {summary['rr_known']:.1%} of them (CinC records "
        "last 9-61 s, so many windows see fewer than 17 beats). MITDB plays no part.",
        "",
        "| class | F1, window head | F1, with RR fusion |",
        "|---|---:|---:|",
    ]
    lines += _f1_rows(head, summary)
    lines += [
        f"| AF-window sensitivity | {af['head']['sensitivity']:.1%} | "
        f"{af['fused']['sensitivity']:.1%} |",
        f"| AF-window specificity | {af['head']['specificity']:.1%} | "
        f"{af['fused']['specificity']:.1%} |",
        f"| log-loss | {summary['head_log_loss']:.4f} | "
        f"{summary['log_loss'][str(summary['l2'])]:.4f} |",
        "",
        f"ECE {summary['ece']:.3f}. Threshold {summary['threshold']:.2f} by the window head's "
        f"rule; at it the fused verdict commits on {summary['coverage']:.1%} of the windows, "
        f"{summary['confident_accuracy']:.1%} of them agreeing with their record's label. On "
        "short CinC records the gain is small; the detector's longer memory matters on long "
        "recordings (the MITDB comparison below). The record head is not fused: the same layer "
        "over its verdict left the CinC score where it was (0.8149 and 0.8146 out of fold, "
        "without and with it), "
        "since a whole record's RR statistics are already among its inputs.",
        "",
    ]
    return "\n".join(lines) + "\n"


def _without_fusion(model: RhythmModel, folder: Path) -> RhythmModel:
    """The same model with its RR fusion left out (files copied into ``folder``)."""
    for f in model.folder.iterdir():
        if f.is_file():
            shutil.copy(f, folder / f.name)
    meta = json.loads((folder / "model.json").read_text())
    meta.pop("window_fusion", None)
    write_model_json(folder, "model.json", meta)
    return RhythmModel(folder)


def _fusion_comparison(plain: Any, fused: Any) -> str:
    """The engine on MITDB without and with the RR fusion, all records and DS2's AF records."""
    from cardiostream.evaluate.beat_classes import DS2
    from cardiostream.evaluate.mitdb_af import MitdbAfResult

    def subset(result: Any) -> Any:
        kept = [r for r in result.records if r.record in DS2 and r.reference]
        return MitdbAfResult(result.database, kept)

    def pct(x: float) -> str:
        return f"{100 * x:.1f} %"

    rows = [
        ("AF-window sensitivity", "windows", "se"),
        ("non-AF-window specificity", "windows", "sp"),
        ("AF-window sensitivity, uncertain withheld", "committed_windows", "se"),
        ("non-AF-window specificity, uncertain withheld", "committed_windows", "sp"),
        ("AF episode sensitivity (AF events)", "committed_episodes", "episode_se"),
        ("AF episode +P (AF events)", "committed_episodes", "episode_ppv"),
        ("AF duration sensitivity (AF events)", "committed_episodes", "duration_se"),
        ("windows left uncertain", "windows", "uncertain_fraction"),
    ]
    parts = [(plain, fused), (subset(plain), subset(fused))]
    lines = [
        "What the RR fusion changes on MITDB, in the same run: the engine without it and with "
        "it, over all 48 records and over the AF records of DS2 (the beat classifier's test "
        "half; " + ", ".join(r.record for r in parts[1][1].records) + "):",
        "",
        "| | all, without | all, with RR fusion | DS2 AF records, without | DS2, with |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, part, key in rows:
        cells = [pct(float(getattr(getattr(r, part), key))) for pair in parts for r in pair]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def mitdb_section(mitdb_dir: Path | None, out_dir: Path, model: RhythmModel) -> tuple[str, Any]:
    """The external AF test; a note when MITDB is not there."""
    header = "## External AF test: MIT-BIH Arrhythmia (never trained on)\n\n"
    if mitdb_dir is None or not mitdb_dir.is_dir():
        return header + "MITDB was not found; run `cardiostream evaluate --data DIR`.\n", None
    from cardiostream.evaluate.mitdb_af import evaluate_mitdb_af, to_json, to_markdown

    started = time.perf_counter()
    result = evaluate_mitdb_af(mitdb_dir, model=model, progress=True, verdicts="engine")
    seconds = time.perf_counter() - started
    text = header + (
        "Lead 0 of all 48 records at 360 Hz, resampled by the model's own chain. Windows: "
        "non-overlapping 10 s windows labelled from the reference rhythm intervals (AF: wholly "
        "inside AFIB; non-AF: wholly inside one other rhythm; atrial flutter, rhythm changes and "
        "missing samples excluded); the verdict on a window is the streaming engine's window "
        "ending there (`cardiostream analyze`): its top class (`raw_label`), and its reported "
        "`label` (uncertain withheld). Episodes of the top class: AF seconds, each placed "
        "at the centre of its 10 s window, joined across gaps under 10 s, episodes under 10 s "
        "dropped (rules fixed before looking at MITDB); episodes of the reported label: the "
        "engine's own AF events. EC57-style scoring with atrial flutter "
        f"time removed. Run time {seconds:.0f} s.\n\n"
    )
    text += to_markdown(result)
    if model.window_head is not None:
        frames = evaluate_mitdb_af(mitdb_dir, model=model, progress=True, verdicts="frames")
        text += "\n" + _verdicts_comparison(frames, result, model)
    if model.window_fusion is not None:
        with tempfile.TemporaryDirectory() as tmp:
            plain = _without_fusion(model, Path(tmp))
            before = evaluate_mitdb_af(mitdb_dir, model=plain, progress=True, verdicts="engine")
        text += "\n" + _fusion_comparison(before, result)
    try:
        from cardiostream.evaluate.mitdb_af import plot_af_timeline

        plot_af_timeline(result, out_dir / "mitdb_af_timeline.png")
        text += "\n![AF episodes on MITDB](mitdb_af_timeline.png)\n"
    except ImportError:
        pass
    return text + "\n", to_json(result)


def _verdicts_comparison(frames: Any, window: Any, model: RhythmModel) -> str:
    """The same tests on the network's frames alone and on the engine's windows."""

    def pct(x: float) -> str:
        return f"{100 * x:.1f} %"

    rows = [
        ("AF-window sensitivity", "windows", "se"),
        ("non-AF-window specificity", "windows", "sp"),
        ("AF episode sensitivity", "episodes", "episode_se"),
        ("AF episode +P", "episodes", "episode_ppv"),
        ("AF duration sensitivity", "episodes", "duration_se"),
        ("AF-window sensitivity, uncertain withheld", "committed_windows", "se"),
        ("non-AF-window specificity, uncertain withheld", "committed_windows", "sp"),
        ("AF episode sensitivity, uncertain withheld", "committed_episodes", "episode_se"),
        ("windows left uncertain", "windows", "uncertain_fraction"),
    ]

    def get(result: Any, part: str, name: str) -> float:
        return float(getattr(getattr(result, part), name))

    lines = [
        "The same tests on the network's frames alone, beside the engine's windows with the "
        "window head (the table above), in the same run; with uncertain withheld, the frames' "
        "episodes follow the 10 s rules and the engine's are its AF events:",
        "",
        f"| | network frames (threshold {model.threshold:.2f}) | "
        f"engine, window head (threshold {model.window_threshold:.2f}) |",
        "|---|---:|---:|",
    ]
    lines += [
        f"| {name} | {pct(get(frames, part, key))} | {pct(get(window, part, key))} |"
        for name, part, key in rows
    ]
    return "\n".join(lines) + "\n"


def ablation_section(ablation_json: Path | None, out_dir: Path) -> str:
    """Widths × window lengths from a saved ablation table."""
    header = "## Ablation: width and window length\n\n"
    if ablation_json is None or not ablation_json.is_file():
        return header + "No ablation table yet; run `cardiostream evaluate --run-ablation`.\n\n"
    data = json.loads(ablation_json.read_text())
    rows = data["rows"]
    plot_ablation(rows, out_dir / "ablation.png")
    lines = [
        header
        + f"Each variant trained for {rows[0]['epochs']} epochs on folds 2-5 of the same split "
        "and scored on fold 1 (so the absolute scores sit below the 5-fold figures above); "
        "latency is one ONNX Runtime call on one window, one thread.",
        "",
        "| width | window | parameters | receptive field (s) | CinC score | F1 AF | ONNX ms |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| x{r['width']:g} | {r['window_s']} s | {r['parameters']:,} | "
            f"{r['receptive_field_s']:.1f} | {r['cinc']:.3f} | {r['f1'][1]:.3f} | "
            f"{r['onnx_ms']:.3f} |"
        )
    lines += ["", "![ablation](ablation.png)", ""]
    return "\n".join(lines) + "\n"


def model_section(model: RhythmModel) -> str:
    """Size, receptive field and cost per window."""
    meta = model.meta
    net = meta.get("net", {})
    rows = measure_latency(model)
    return (
        "## The model and its cost\n\n"
        f"{meta.get('parameters', 0):,} parameters; {net.get('inputs', 2)} input channels "
        "(the filtered ECG at 250 Hz, the latest RR interval, its relative change); "
        f"widths {list(net.get('widths', []))}; one verdict per second over the last ~10 s. "
        "Weights: `rhythm.onnx` and `rhythm.pt` in `cardiostream/rhythm/weights/`.\n\n"
        + latency_markdown(rows)
        + "\nA streaming hop reuses the cached left context of every layer, so a verdict every "
        "second costs one second of computation, not a 10 s window.\n\n"
    )


def write_report(
    training_dir: str | Path,
    out_dir: str | Path,
    *,
    mitdb_dir: str | Path | None = None,
    ablation_json: str | Path | None = None,
    model_folder: str | Path | None = None,
) -> Path:
    """Write ``report.md`` and its figures into ``out_dir``; returns the report's path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = RhythmModel(model_folder)
    parts = [
        "# Rhythm model: evaluation report\n\n"
        "Produced by `cardiostream evaluate` from the cross-validation run, the shipped model "
        "and the data named below.\n\n",
        cv_section(Path(training_dir), out),
        head_section(Path(training_dir), out),
        disputed_section(Path(training_dir)),
        window_section(Path(training_dir), out),
        fusion_section(Path(training_dir)),
    ]
    mitdb_text, mitdb_json = mitdb_section(
        Path(mitdb_dir) if mitdb_dir is not None else None, out, model
    )
    parts.append(mitdb_text)
    parts.append(ablation_section(Path(ablation_json) if ablation_json else None, out))
    parts.append(model_section(model))
    path = out / "report.md"
    path.write_text("".join(parts))
    if mitdb_json is not None:
        (out / "mitdb_af.json").write_text(json.dumps(mitdb_json, indent=2) + "\n")
    return path
