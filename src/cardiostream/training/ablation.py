"""Model size and window length against accuracy and speed (needs torch: the train extra).

Each variant is the shipped architecture with every layer's width scaled, and a window of
10 s (the shipped layers, receptive field 9.9 s) or 5 s (the last three kernels shortened,
receptive field 4.9 s). A variant is trained on four folds of the record-level split and
scored on the fifth, the same split for all, so the variants differ only in the network; the
latency is one ONNX Runtime call on one window, on one thread.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream.evaluate.classification import score_classification
from cardiostream.rhythm.model import NetConfig, RhythmNet, count_parameters
from cardiostream.rhythm.preprocess import FRAME
from cardiostream.training.datasets import CincDataset, stratified_folds
from cardiostream.training.train import TrainConfig, record_logits, train_model

#: Layers whose receptive field fits a 5 s window (4.9 s): the last three kernels shortened.
SHORT_LAYERS: tuple[tuple[int, int], ...] = (
    (10, 5),
    (10, 5),
    (5, 1),
    (5, 1),
    (10, 10),
    (2, 1),
    (2, 1),
    (2, 1),
)


@dataclass(frozen=True)
class Variant:
    """One network of the ablation."""

    width: float
    window_s: int

    def config(self, base: TrainConfig) -> TrainConfig:
        """The training configuration of this variant, from the shipped one."""
        widths = tuple(max(4, round(w * self.width)) for w in base.net.widths)
        layers = base.net.layers if self.window_s >= 10 else SHORT_LAYERS
        net = replace(base.net, widths=widths, layers=layers)
        if self.window_s >= 10:
            return replace(base, net=net)
        return replace(base, net=net, min_s=self.window_s, warmup_s=max(self.window_s - 2, 1))


def onnx_latency_ms(model: RhythmNet, window_s: int, repeat: int = 200) -> float:
    """Median time of one ONNX Runtime call on one window, one thread, in milliseconds."""
    import onnxruntime as ort

    from cardiostream.training.export import export_onnx

    with tempfile.TemporaryDirectory() as tmp:
        path = export_onnx(model, Path(tmp) / "variant.onnx")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).normal(size=(1, model.config.inputs, window_s * FRAME))
    x = x.astype(np.float32)
    for _ in range(10):
        session.run(None, {"ecg": x})
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        session.run(None, {"ecg": x})
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e3)


def run_ablation(
    data: CincDataset,
    base: TrainConfig,
    variants: Sequence[Variant],
    *,
    noise: dict[str, npt.NDArray[np.float32]] | None = None,
    fold: int = 0,
    k: int = 5,
    progress: Callable[[str, int, int, float], None] | None = None,
) -> list[dict[str, Any]]:
    """Train and score every variant on the same split; one row per variant."""
    folds = stratified_folds(data.labels, k=k, seed=base.seed)
    train_idx = np.flatnonzero(folds != fold)
    test_idx = np.flatnonzero(folds == fold)
    rows = []
    for variant in variants:
        cfg = variant.config(base)
        name = f"width x{variant.width:g}, {variant.window_s} s"

        def on_epoch(epoch: int, loss: float, name: str = name, total: int = cfg.epochs) -> None:
            if progress is not None:
                progress(name, epoch + 1, total, loss)

        started = time.perf_counter()
        model = train_model(*data.take(train_idx), cfg, noise=noise, on_epoch=on_epoch)
        seconds = time.perf_counter() - started
        logits = record_logits(model, [data.signals[i] for i in test_idx], cfg)
        score = score_classification(data.labels[test_idx], logits.argmax(1))
        rows.append(
            {
                "width": variant.width,
                "window_s": variant.window_s,
                "widths": list(cfg.net.widths),
                "parameters": count_parameters(model),
                "receptive_field_s": model.receptive_field / FRAME,
                "cinc": score.cinc,
                "f1": score.f1.tolist(),
                "onnx_ms": onnx_latency_ms(model, variant.window_s),
                "train_seconds": seconds,
                "epochs": cfg.epochs,
            }
        )
    return rows


def default_variants() -> list[Variant]:
    """Three widths by two window lengths; x1.2 keeps the widest under 100,000 parameters."""
    return [Variant(w, s) for s in (10, 5) for w in (0.5, 1.0, 1.2)]


__all__ = ["SHORT_LAYERS", "NetConfig", "Variant", "default_variants", "run_ablation"]
