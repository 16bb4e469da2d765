"""The model card that ships beside the weights, written from the training summary."""

from __future__ import annotations

from typing import Any

from cardiostream.rhythm.verdict import CLASSES


def model_card(summary: dict[str, Any]) -> str:
    """Markdown model card: data, classes, inputs, CV scores, calibration, limits, licence."""
    cfg = summary.get("config", {})
    net = cfg.get("net", {})
    counts = summary.get("class_counts", {})
    f1 = "\n".join(
        f"| {c} | {m:.3f} ± {s:.3f} |"
        for c, m, s in zip(CLASSES, summary["f1_mean"], summary["f1_sd"], strict=True)
    )
    data_line = ", ".join(f"{k} {v:,}" for k, v in counts.items()) if counts else "see below"
    head = summary.get("record_head")
    head_text = ""
    if head:
        trees = head.get("trees")
        trees_text = (
            " Gradient-boosted trees over the same inputs (`record_trees`) are averaged into its"
            f" log-probabilities (network alone {head['network']['cinc_mean']:.3f}, trees alone"
            f" {trees['cinc_mean']:.3f})."
            if trees
            else ""
        )
        head_f1 = ", ".join(
            f"{c} {m:.3f} ± {s:.3f}"
            for c, m, s in zip(CLASSES, head["f1_mean"], head["f1_sd"], strict=True)
        )
        head_text = f"""
### The record verdict with the record head

A record's verdict goes through the record head (`record_head` in `model.json`): its voting
frames, the RR statistics of the whole record, their entropy (COSEn), the shape of its beats
(QRS likeness, P waves), the beat classes and the beat-sequence network's verdict in a small
network, cross-fitted on the same folds.{trees_text}
Out-of-fold F1: {head_f1}; CinC score **{head["cinc_mean"]:.3f} ± {head["cinc_sd"]:.3f}**.
Temperature {head["temperature"]:.3f}, ECE {head["ece_before"]:.3f} before,
{head["ece_after"]:.3f} after; threshold {head["threshold"]:.2f}, at which it commits on
{head["coverage"]:.1%} of records and is right on {head["confident_accuracy"]:.1%} of those.
"""
    window = summary.get("window_head")
    if window:
        window_f1 = ", ".join(
            f"{c} {m:.3f}" for c, m in zip(CLASSES, window["f1_mean"], strict=True)
        )
        window_trees = (
            " Gradient-boosted trees over the same inputs (`window_trees`) are averaged into"
            f" its log-probabilities (network alone {window['network']['cinc_mean']:.3f}, trees"
            f" alone {window['trees']['cinc_mean']:.3f})."
            if window.get("trees")
            else ""
        )
        head_text += f"""
### The per-second verdict with the window head

A stream's verdict on the 10 s ending each second goes through the window head
(`window_head` in `model.json`): the network's frame, the RR statistics and the beat shapes of
those 10 s, in the same small network, fitted on out-of-fold frames of one second in
{window["step_s"]} ({window["n_windows"]:,} windows labelled with their record's
class).{window_trees} Out-of-fold F1: {window_f1}; CinC score
**{window["cinc_mean"]:.3f} ± {window["cinc_sd"]:.3f}** (the network's frames alone:
{window["plain"]["cinc_mean"]:.3f}). Temperature
{window["temperature"]:.3f}, ECE {window["ece_after"]:.3f}; threshold {window["threshold"]:.2f},
at which it commits on {window["coverage"]:.1%} of windows and is right on
{window["confident_accuracy"]:.1%} of those.
"""
    fusion = summary.get("window_fusion")
    if fusion:
        head_text += f"""
### The beat intervals' evidence in the per-second verdict

The window head's verdict is then fused (`window_fusion` in `model.json`) with the
beat-interval AF detector's logit at the last confirmed beat (trained on LTAFDB; its memory
is the last 16 to 64 beats) in a logistic layer fitted on the same out-of-fold windows.
Out-of-fold CinC score **{fusion["cinc_mean"]:.3f} ± {fusion["cinc_sd"]:.3f}**, AF F1
{fusion["f1_mean"][1]:.3f} (window head alone {fusion["head"]["f1_mean"][1]:.3f}); ECE
{fusion["ece"]:.3f}; threshold {fusion["threshold"]:.2f}, at which it commits on
{fusion["coverage"]:.1%} of windows and is right on {fusion["confident_accuracy"]:.1%} of
those. Its gain is larger on long recordings than on CinC's 9-61 s.
"""
    return f"""# Model card: cardiostream rhythm network

## What it does

Labels one ECG lead as **normal** sinus rhythm, **af** (atrial fibrillation), **other**
arrhythmia or **noise**, once per second over the preceding ~10 s, with temperature-calibrated
probabilities. A record's verdict is the mean of its frames' probabilities, or, when the
model has one, the record head's verdict on its frames and beats (below). `label` becomes
`uncertain` when the calibrated top probability is below {summary["threshold"]:.2f} (the threshold
of the frames' mean; the record head has its own, below), when the signal is unusable, or
when no R peaks are found; `raw_label` is always the model's own verdict (its top class).

A decision-support and research tool, not a certified medical device.

## The network

- Causal, fully convolutional 1-D CNN, {summary.get("parameters", 0):,} parameters; one output
  frame per second, receptive field about 9.9 s, every layer cacheable for streaming.
- Input: any rate and length, resampled to 250 Hz and filtered (0.5-40 Hz) by the package's
  own causal chain; {net.get("inputs", 2)} channels: the ECG (normalised by its causal RMS over
  2 s, so gain and units do not matter), the latest RR interval from the package's R-peak
  detector, and its relative change.
- Records shorter than 10 s are left-padded with zeros (less context, less confidence);
  under 1 s they are refused.
- Files: `rhythm.onnx` (ONNX Runtime, the default backend), `rhythm.pt` (torch state dict),
  `model.json` (classes, temperature, threshold, architecture).

## Data

Trained on the development split of the PhysioNet/Computing in Cardiology Challenge 2017
(single-lead AliveCor recordings at 300 Hz, 9-61 s): {data_line}. Augmented with amplitude,
polarity, baseline drift and real noise from the MIT-BIH Noise Stress Test Database (its bw,
ma and em noise records, those present beside the training data). MIT-BIH Arrhythmia was
never used for training or tuning: it is the external AF test.

## Cross-validation (record-level stratified 5-fold, mean ± sd)

| class | F1 |
|---|---:|
{f1}

CinC score (mean F1 of normal, AF, other):
**{summary["cinc_mean"]:.3f} ± {summary["cinc_sd"]:.3f}**.

Calibration: temperature {summary["temperature"]:.3f}; expected calibration error
{summary["ece_before"]:.3f} before, {summary["ece_after"]:.3f} after (out-of-fold). At the
threshold the model commits on {summary["coverage"]:.1%} of records and is right on
{summary["confident_accuracy"]:.1%} of those.
{head_text}
The full report, with the external MITDB test and the ablation, is `docs/rhythm/report.md`.

## Limits

- One lead; trained on handheld lead-I-like recordings, so other leads and electrode
  placements (Holter lead II, V1) shift its inputs. On MITDB it over-calls AF in records with
  frequent ectopic beats or pauses (see the report).
- "other" is a broad class (any non-AF arrhythmia in CinC's labelling) and the weakest.
- Verdicts on the first 10 s of a stream see less context.

## Licence of the data

CinC 2017 and the MIT-BIH databases are distributed by PhysioNet under the Open Data Commons
Attribution License v1.0 (ODC-By). Cite: Clifford GD et al., AF Classification from a Short
Single Lead ECG Recording: the PhysioNet/Computing in Cardiology Challenge 2017, CinC 2017;
Goldberger AL et al., PhysioBank, PhysioToolkit, and PhysioNet, Circulation 101(23), 2000.
"""
