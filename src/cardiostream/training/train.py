"""Training the rhythm network: augmentation, record-level cross-validation, the final fit.

Each record is preprocessed once (``rhythm.preprocess``: the package's causal resampler and
filter, 250 Hz). A training example is a random crop of up to ``crop_s`` seconds, aligned to
the one-second frames, left-padded with zeros to at least ``min_s``. The loss is the
class-weighted cross-entropy of every frame whose 10 s receptive field lies at least
``warmup_s`` seconds into real signal, against the record's label; with ``record_loss`` > 0,
that share of the loss is the cross-entropy of the crop's verdict (the mean of those frames'
probabilities) instead, which asks the frames to agree on the record rather than each to be
sure of it (a record labelled "other" often shows its arrhythmia in a few seconds only). A
record's verdict is the
mean of the frames' probabilities over its full-context frames (all frames after the first
``warmup_s`` seconds; the last frame alone for a record that short).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import torch
from torch.nn import functional as F

from cardiostream.beats import detect_rpeaks
from cardiostream.rhythm.features import model_inputs
from cardiostream.rhythm.model import NetConfig, RhythmNet
from cardiostream.rhythm.preprocess import FRAME
from cardiostream.rhythm.verdict import CLASSES

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run.

    ``augment`` switches the :class:`Augmenter` off altogether, ``warp`` adds a random time
    stretch of up to ``exp(±warp)`` to half the crops, ``label_smoothing`` goes to the frame
    cross-entropy; the defaults are the shipped run's (see ``docs/decisions.md`` for what
    each changed).
    """

    epochs: int = 60
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-3
    crop_s: int = 24
    min_s: int = 10
    warmup_s: int = 5
    noise_p: float = 0.3
    record_loss: float = 0.0
    label_smoothing: float = 0.0
    warp: float = 0.0
    augment: bool = True
    seed: int = 0
    net: NetConfig = field(default_factory=NetConfig)


def class_weights(labels: npt.NDArray[np.int64], power: float = 0.5) -> torch.Tensor:
    """Inverse-frequency weights to the given power, normalised to mean 1.

    Full inverse frequency (power 1) made the network call a third of the "other" records AF;
    the square root keeps the rare classes visible without shifting the verdicts that far.
    """
    counts = np.bincount(labels, minlength=len(CLASSES)).astype(np.float64)
    w = (counts.sum() / np.maximum(counts, 1) / len(CLASSES)) ** power
    return torch.tensor(w / w.mean(), dtype=torch.float32)


class Augmenter:
    """Random amplitude, polarity, baseline drift and real noise from NSTDB."""

    def __init__(
        self,
        noise: dict[str, FloatArray] | None,
        rng: np.random.Generator,
        noise_p: float,
        warp: float = 0.0,
    ) -> None:
        leads = [n.reshape(n.shape[0], -1) for n in (noise or {}).values()]
        self.noise = [np.ascontiguousarray(a[:, j]) for a in leads for j in range(a.shape[1])]
        self.noise = [n for n in self.noise if n.size > 250 * 60]
        self.rng = rng
        self.noise_p = noise_p
        self.warp = warp

    def __call__(self, x: FloatArray) -> FloatArray:
        rng = self.rng
        if self.warp > 0 and rng.random() < 0.5:
            # A slower or faster heart: stretch time, so the RR channels follow.
            r = float(np.exp(rng.uniform(-self.warp, self.warp)))
            n = max(int(x.size * r), 1)
            x = np.interp(np.arange(n) / r, np.arange(x.size), x).astype(np.float32)
        y = x * float(np.exp(rng.uniform(np.log(0.3), np.log(3.0))))
        if rng.random() < 0.5:
            y = -y
        if rng.random() < 0.3:
            t = np.arange(y.size) / 250.0
            y = y + rng.uniform(0.05, 0.5) * np.sin(
                2 * np.pi * rng.uniform(0.05, 0.4) * t + 6.3 * rng.random()
            )
        if self.noise and rng.random() < self.noise_p:
            source = self.noise[rng.integers(len(self.noise))]
            start = rng.integers(0, source.size - y.size)
            piece = source[start : start + y.size]
            snr_db = rng.uniform(0.0, 18.0)
            p_sig = float(np.mean(y * y)) + 1e-12
            p_noise = float(np.mean(piece * piece)) + 1e-12
            y = y + piece * math.sqrt(p_sig / p_noise / 10 ** (snr_db / 10))
        return y.astype(np.float32)


def _crop(
    x: FloatArray, cfg: TrainConfig, rng: np.random.Generator | None
) -> tuple[FloatArray, int]:
    """A frame-aligned crop of ``[channels, samples]`` (the whole record without ``rng``),
    left-padded to ``min_s``. Returns the crop and its padding in frames.
    """
    n_frames = x.shape[-1] // FRAME
    take = n_frames if rng is None else min(n_frames, cfg.crop_s)
    start = 0 if rng is None else int(rng.integers(0, n_frames - take + 1))
    piece = x[:, start * FRAME : (start + take) * FRAME]
    pad = max(cfg.min_s - take, 0)
    if pad:
        piece = np.concatenate([np.zeros((x.shape[0], pad * FRAME), np.float32), piece], axis=1)
    return piece, pad


def _batch(
    signals: Sequence[FloatArray],
    cfg: TrainConfig,
    rng: np.random.Generator | None,
    augment: Augmenter | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack crops (left-padded to the longest) and the mask of frames that count."""
    crops, pads = [], []
    for x in signals:
        # The RR channel comes from the (augmented) signal itself, as it would live.
        ecg = augment(x) if augment else x
        inputs = model_inputs(ecg, detect_rpeaks(ecg, 250.0), cfg.net.inputs)
        piece, pad = _crop(inputs, cfg, rng)
        crops.append(piece)
        pads.append(pad)
    longest = max(c.shape[-1] for c in crops) // FRAME
    xb = np.zeros((len(crops), cfg.net.inputs, longest * FRAME), np.float32)
    mask = np.zeros((len(crops), longest), bool)
    for i, (c, pad) in enumerate(zip(crops, pads, strict=True)):
        frames = c.shape[-1] // FRAME
        offset = longest - frames
        xb[i, :, offset * FRAME :] = c[: cfg.net.inputs]
        first_real = offset + pad
        mask[i, min(first_real + cfg.warmup_s, longest - 1) :] = True
    return torch.from_numpy(xb), torch.from_numpy(mask)


def verdict_log_probs(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Log of the mean frame probability over the frames of ``mask``: ``[batch, 4]`` from
    logits ``[batch, 4, frames]`` (the record verdict, as training and scoring both use it)."""
    m = mask.unsqueeze(1).float()
    mean = (F.softmax(logits, dim=1) * m).sum(-1) / m.sum(-1).clamp(min=1)
    return torch.log(mean.clamp(min=1e-7))


def record_logits(
    model: RhythmNet, signals: Sequence[FloatArray], cfg: TrainConfig, batch_size: int = 64
) -> npt.NDArray[np.float32]:
    """Per-record logits: log of the mean frame probability over the full-context frames."""
    model.eval()
    out = np.zeros((len(signals), len(CLASSES)), np.float32)
    order = np.argsort([s.size for s in signals])
    with torch.no_grad():
        for lo in range(0, len(order), batch_size):
            idx = order[lo : lo + batch_size]
            x, mask = _batch([signals[i] for i in idx], cfg, None, None)
            out[idx] = verdict_log_probs(model(x), mask).numpy()
    return out


def _record_nll(
    logits: torch.Tensor, mask: torch.Tensor, y: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy of the record verdict: the mean frame probability over counted frames."""
    return F.nll_loss(verdict_log_probs(logits, mask), y, weight=weights)


def train_model(
    signals: Sequence[FloatArray],
    labels: npt.NDArray[np.int64],
    cfg: TrainConfig,
    noise: dict[str, FloatArray] | None = None,
    on_epoch: Callable[[int, float], None] | None = None,
) -> RhythmNet:
    """Train one network on the given records."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = RhythmNet(cfg.net)
    weights = class_weights(labels)
    augment = Augmenter(noise, rng, cfg.noise_p, cfg.warp) if cfg.augment else None
    steps_per_epoch = max(1, math.ceil(len(signals) / cfg.batch_size))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch
    )
    for epoch in range(cfg.epochs):
        model.train()
        perm = rng.permutation(len(signals))
        total = 0.0
        for lo in range(0, len(perm), cfg.batch_size):
            idx = perm[lo : lo + cfg.batch_size]
            x, mask = _batch([signals[i] for i in idx], cfg, rng, augment)
            y = torch.from_numpy(labels[idx]).long()
            logits = model(x)
            target = y[:, None].expand(-1, logits.shape[-1])
            loss_all = F.cross_entropy(
                logits,
                target,
                weight=weights,
                reduction="none",
                label_smoothing=cfg.label_smoothing,
            )
            loss = (loss_all * mask).sum() / mask.sum().clamp(min=1)
            if cfg.record_loss > 0:
                loss = (1 - cfg.record_loss) * loss + cfg.record_loss * _record_nll(
                    logits, mask, y, weights
                )
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        if on_epoch is not None:
            on_epoch(epoch, total / len(signals))
    model.eval()
    return model
