"""Running the shipped rhythm model: ONNX Runtime by default, torch when it is installed.

A record's verdict is the mean of its frames' probabilities over the frames whose receptive
field lies wholly in the record (every frame from the 10th second on; the last frame alone for
a record shorter than that, which is left-padded with zeros to 10 s), then temperature-scaled.
``label`` is ``uncertain`` when the calibrated top probability is below the model's threshold,
when the signal is unusable, or when no R peaks are found; ``raw_label`` is always the
network's own verdict.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream.beats import detect_rpeaks
from cardiostream.dsp import signal_quality
from cardiostream.errors import InputError
from cardiostream.rhythm.datasets import CLASSES
from cardiostream.rhythm.features import rr_channel_from_peaks
from cardiostream.rhythm.preprocess import MODEL_FS, preprocess

FRAME = 250
MIN_SECONDS = 10
BACKENDS = ("onnx", "cpu", "cuda", "mps")


def weights_dir() -> Path:
    """Folder of the shipped model files."""
    return Path(str(resources.files("cardiostream.rhythm") / "weights"))


@dataclass
class Prediction:
    """The verdict on one record or window."""

    label: str
    raw_label: str
    probabilities: dict[str, float]
    quality: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {
            "label": self.label,
            "raw_label": self.raw_label,
            "probabilities": dict(self.probabilities),
            "quality": dict(self.quality),
        }


class RhythmModel:
    """The rhythm network with its calibration and decision threshold.

    Parameters
    ----------
    folder : path, optional
        Where ``rhythm.onnx``, ``rhythm.pt`` and ``model.json`` are; the shipped ones by default.
    backend : {"onnx", "cpu", "cuda", "mps"}
        ONNX Runtime, or torch on that device (needs the ``train`` extra).
    threads : int
        Intra-op threads of ONNX Runtime.
    """

    def __init__(
        self, folder: str | Path | None = None, backend: str = "onnx", threads: int = 1
    ) -> None:
        if backend not in BACKENDS:
            raise InputError(f"backend: expected one of {', '.join(BACKENDS)}, got {backend!r}")
        self.folder = Path(folder) if folder is not None else weights_dir()
        meta_path = self.folder / "model.json"
        if not meta_path.is_file():
            raise InputError(f"{meta_path}: no rhythm model here (train one: cardiostream train)")
        self.meta: dict[str, Any] = json.loads(meta_path.read_text())
        self.temperature = float(self.meta["temperature"])
        self.threshold = float(self.meta["threshold"])
        self.backend = backend
        self.threads = threads

    @cached_property
    def _runner(self) -> Any:
        if self.backend == "onnx":
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = self.threads
            opts.inter_op_num_threads = 1
            session = ort.InferenceSession(
                str(self.folder / "rhythm.onnx"), opts, providers=["CPUExecutionProvider"]
            )
            return lambda x: session.run(None, {"ecg": x})[0]
        try:
            import torch

            from cardiostream.rhythm.model import NetConfig, RhythmNet
        except ImportError as exc:
            raise InputError(
                f"backend {self.backend!r} needs torch (the train extra): {exc}"
            ) from None
        device = torch.device(self.backend)
        cfg = NetConfig(**_config_from_json(self.meta["net"]))
        net = RhythmNet(cfg)
        net.load_state_dict(torch.load(self.folder / "rhythm.pt", map_location="cpu"))
        net = net.to(device).eval()

        def run(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
            with torch.no_grad():
                out: npt.NDArray[np.float32] = net(torch.from_numpy(x).to(device)).cpu().numpy()
            return out

        return run

    def frame_logits(self, inputs: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Run the network on ``[batch, 2, samples]`` (samples a multiple of 250)."""
        return np.asarray(self._runner(np.ascontiguousarray(inputs, np.float32)), np.float32)

    def predict(self, signal: npt.ArrayLike, fs: float) -> Prediction:
        """Verdict on one lead of any rate and length (see the module notes)."""
        return self.predict_many([np.asarray(signal)], [fs])[0]

    def predict_many(self, signals: list[npt.NDArray[Any]], rates: list[float]) -> list[Prediction]:
        """Verdicts on many records, run in batches of similar length."""
        prepared = [_prepare(s, fs) for s, fs in zip(signals, rates, strict=True)]
        results: list[Prediction | None] = [None] * len(prepared)
        order = sorted(range(len(prepared)), key=lambda i: prepared[i][0].shape[-1])
        for lo in range(0, len(order), 32):
            idx = order[lo : lo + 32]
            longest = max(prepared[i][0].shape[-1] for i in idx)
            batch = np.zeros((len(idx), 2, longest), np.float32)
            for j, i in enumerate(idx):
                x = prepared[i][0]
                batch[j, :, longest - x.shape[-1] :] = x
            logits = self.frame_logits(batch)
            for j, i in enumerate(idx):
                x, n_real, quality, n_beats = prepared[i]
                frames = logits[j, :, logits.shape[-1] - x.shape[-1] // FRAME :]
                results[i] = self._decide(frames, n_real, quality, n_beats)
        return [r for r in results if r is not None]

    def _decide(
        self, frames: npt.NDArray[np.float32], n_real: int, quality: dict[str, Any], n_beats: int
    ) -> Prediction:
        n_frames = frames.shape[-1]
        first = min(MIN_SECONDS - 1 + (n_frames - n_real), n_frames - 1)
        z = frames[:, first:].astype(np.float64)
        p = np.exp(z - z.max(0))
        p /= p.sum(0)
        mean = np.log(np.clip(p.mean(1), 1e-12, None))
        scaled = np.exp(mean / self.temperature)
        probs = scaled / scaled.sum()
        raw = CLASSES[int(np.argmax(probs))]
        reasons = list(quality.get("reasons", []))
        label = raw
        if not quality.get("usable", True) or n_beats == 0 or probs.max() < self.threshold:
            label = "uncertain"
            if probs.max() < self.threshold:
                reasons.append("low_confidence")
            if n_beats == 0 and "no_beats" not in reasons:
                reasons.append("no_beats")
        return Prediction(
            label,
            raw,
            {c: float(v) for c, v in zip(CLASSES, probs, strict=True)},
            {"usable": bool(quality.get("usable", True)), "reasons": reasons},
        )


def _prepare(
    signal: npt.NDArray[Any], fs: float
) -> tuple[npt.NDArray[np.float32], int, dict[str, Any], int]:
    """Inputs ``[2, samples]``, the number of real frames, quality and beat count."""
    x = np.asarray(signal, np.float64)
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 1:
        raise InputError(f"signal: expected one lead (1-D), got shape {x.shape}")
    if x.size == 0 or not np.isfinite(x).any():
        raise InputError("signal: empty or entirely missing")
    ecg = preprocess(x, fs)
    peaks = detect_rpeaks(ecg, MODEL_FS)
    quality = signal_quality(ecg, MODEL_FS, rpeaks=peaks).to_dict()
    n_real = ecg.size // FRAME
    if n_real == 0:
        raise InputError("signal: shorter than one second")
    ecg = ecg[: n_real * FRAME]
    inputs = np.stack([ecg, rr_channel_from_peaks(peaks, ecg.size)])
    pad = max(MIN_SECONDS - n_real, 0) * FRAME
    if pad:
        inputs = np.concatenate([np.zeros((2, pad), np.float32), inputs], axis=1)
    return inputs.astype(np.float32), n_real, quality, int(peaks.size)


def _config_from_json(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    for key in ("widths",):
        out[key] = tuple(out[key])
    out["layers"] = tuple(tuple(layer) for layer in out["layers"])
    return out
