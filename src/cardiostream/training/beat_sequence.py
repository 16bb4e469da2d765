"""Training the beat-sequence network of the record head (needs torch: the train extra).

:func:`cross_fit_sequence` gives every record out-of-fold :data:`SEQUENCE_FEATURES` (each
from members trained on the other folds), which the record head is then cross-fitted on;
:func:`fit_sequence` trains the shipped ensemble on every record. A member is trained with
AdamW on the cross-entropy, in batches of records of similar length, and keeps the weights
of its best epoch on a tenth of its training records set aside (early stopping after
:data:`PATIENCE` epochs without improvement). Everything is seeded and single-threaded, so a
fit is reproducible; members are independent and share ``workers`` processes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from scipy.special import log_softmax
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from cardiostream.rhythm.beat_sequence import CLIP, BeatSequence, BeatSequenceNet
from cardiostream.rhythm.verdict import CLASSES
from cardiostream.training.parallel import map_shared

FloatArray = npt.NDArray[np.float64]

#: Width of the input layer and of each GRU direction. 48 units cost four times the weights
#: for no better out-of-fold log-loss on the first folds tried (docs/decisions.md).
HIDDEN = 24
#: Members of the ensemble (one seed each): two seeds scored 0.825 and 0.824 alone in the
#: record head, 0.827 averaged.
SEEDS = (0, 1, 2)
EPOCHS = 40
PATIENCE = 6
BATCH = 64
LEARNING_RATE = 3e-3
WEIGHT_DECAY = 1e-3


class SequenceNet(nn.Module):
    """The torch twin of :class:`~cardiostream.rhythm.beat_sequence.BeatSequenceNet`."""

    def __init__(self, n_inputs: int, hidden: int) -> None:
        super().__init__()
        self.inp = nn.Linear(n_inputs, hidden)
        self.gru = nn.GRU(hidden, hidden, batch_first=True, bidirectional=True)
        self.out = nn.Linear(4 * hidden, len(CLASSES))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        u = torch.tanh(self.inp(x))
        packed = pack_padded_sequence(
            u, lengths.clamp(min=1), batch_first=True, enforce_sorted=False
        )
        o, _ = self.gru(packed)
        o, _ = pad_packed_sequence(o, batch_first=True, total_length=x.shape[1])
        mask = (torch.arange(x.shape[1])[None, :] < lengths[:, None]).float()[..., None]
        mean = (o * mask).sum(1) / mask.sum(1).clamp(min=1)
        top = (o * mask - 1e4 * (1 - mask)).max(1).values
        # A record without beats pools to zeros, as the numpy twin does.
        top = torch.where(lengths[:, None] > 0, top, torch.zeros_like(top))
        out: torch.Tensor = self.out(torch.cat([mean, top], 1))
        return out


class _Rows:
    """The records' rows, standardised with one member's statistics, batched as padded
    tensors."""

    def __init__(self, rows: Sequence[FloatArray], mean: FloatArray, scale: FloatArray) -> None:
        self.rows, self.mean, self.scale = rows, mean, scale
        self.lengths = np.array([r.shape[0] for r in rows], np.int64)

    def batch(self, idx: npt.NDArray[np.int64]) -> tuple[torch.Tensor, torch.Tensor]:
        n = self.lengths[idx]
        x = np.zeros((idx.size, max(int(n.max()), 1), self.mean.size), np.float32)
        for j, i in enumerate(idx):
            x[j, : n[j]] = np.clip((self.rows[i] - self.mean) / self.scale, -CLIP, CLIP)
        return torch.from_numpy(x), torch.from_numpy(n)

    def logits(self, net: SequenceNet, idx: npt.NDArray[np.int64]) -> FloatArray:
        """The net's logits of records ``idx``, in that order."""
        net.eval()
        order = idx[np.argsort(self.lengths[idx], kind="stable")]
        out = np.zeros((idx.size, len(CLASSES)))
        where = {int(i): k for k, i in enumerate(idx)}
        with torch.no_grad():
            for start in range(0, order.size, 256):
                part = order[start : start + 256]
                values = net(*self.batch(part)).numpy()
                out[[where[int(i)] for i in part]] = values
        return out


def train_member(
    rows: Sequence[FloatArray],
    labels: npt.NDArray[np.int64],
    train: npt.NDArray[np.int64],
    seed: int,
    hidden: int = HIDDEN,
) -> tuple[BeatSequenceNet, dict[str, Any]]:
    """Train one member on records ``train``; returns it (numpy) and its fit's figures."""
    torch.set_num_threads(1)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    stacked = np.concatenate([rows[i] for i in train])
    mean, scale = stacked.mean(0), np.maximum(stacked.std(0), 1e-3)
    data = _Rows(rows, mean, scale)
    order = rng.permutation(train)
    n_held = max(order.size // 10, 1) if order.size > 1 else 0
    held, fit = order[:n_held], order[n_held:]
    net = SequenceNet(mean.size, hidden)
    opt = torch.optim.AdamW(net.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    loss_fn = nn.CrossEntropyLoss()
    y_held = torch.from_numpy(labels[held])
    best, best_epoch, waited = np.inf, 0, 0
    best_state = {k: v.clone() for k, v in net.state_dict().items()}
    for epoch in range(EPOCHS):
        net.train()
        # Records of similar length share a batch (less padding), in a fresh order each epoch.
        by_length = fit[np.argsort(data.lengths[fit] + rng.uniform(0, 20, fit.size))]
        batches = [by_length[k : k + BATCH] for k in range(0, by_length.size, BATCH)]
        for b in (batches[k] for k in rng.permutation(len(batches))):
            opt.zero_grad()
            loss = loss_fn(net(*data.batch(b)), torch.from_numpy(labels[b]))
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
        if held.size == 0:  # nothing to stop on (a record or two): the last epoch stays
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
            continue
        held_loss = float(loss_fn(torch.from_numpy(data.logits(net, held)), y_held))
        if held_loss < best - 1e-4:
            best, best_epoch, waited = held_loss, epoch, 0
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
        else:
            waited += 1
            if waited >= PATIENCE:
                break
    net.load_state_dict(best_state)
    return to_numpy(net, mean, scale), {"held_loss": best, "epoch": best_epoch, "seed": seed}


def to_numpy(net: SequenceNet, mean: FloatArray, scale: FloatArray) -> BeatSequenceNet:
    """The numpy member of a trained torch net."""
    state = {k: v.detach().double().numpy().copy() for k, v in net.state_dict().items()}
    gru = tuple(
        state[f"gru.{name}_l0{suffix}"]
        for suffix in ("", "_reverse")
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    )
    return BeatSequenceNet(
        mean, scale, state["inp.weight"], state["inp.bias"], gru,
        state["out.weight"], state["out.bias"],
    )  # fmt: skip


#: What the worker processes train from, set once per process by :func:`_share`.
_SHARED: dict[str, Any] = {}


def _share(rows: Sequence[FloatArray], labels: npt.NDArray[np.int64], hidden: int) -> None:
    _SHARED.update(rows=rows, labels=labels, hidden=hidden)


def _train(job: tuple[npt.NDArray[np.int64], int]) -> tuple[BeatSequenceNet, dict[str, Any]]:
    train, seed = job
    return train_member(_SHARED["rows"], _SHARED["labels"], train, seed, _SHARED["hidden"])


def _train_all(
    rows: Sequence[FloatArray],
    labels: npt.NDArray[np.int64],
    jobs: list[tuple[npt.NDArray[np.int64], int]],
    hidden: int,
    workers: int,
    step: Callable[[int, int], None] | None,
) -> list[tuple[BeatSequenceNet, dict[str, Any]]]:
    shared = (rows, labels, hidden)
    return map_shared(_train, jobs, workers, _share, shared, _SHARED.clear, step)


def cross_fit_sequence(
    rows: Sequence[FloatArray],
    labels: npt.ArrayLike,
    folds: npt.ArrayLike,
    seeds: tuple[int, ...] = SEEDS,
    hidden: int = HIDDEN,
    workers: int = 1,
    step: Callable[[int, int], None] | None = None,
) -> tuple[FloatArray, list[dict[str, Any]]]:
    """Out-of-fold :data:`SEQUENCE_FEATURES` of every record, and each member's figures.

    A fold's records get the mean log-softmax of the members (one per seed) trained on the
    other folds; seeds differ between folds (``100 * seed + fold``).
    """
    y = np.asarray(labels, np.int64)
    f = np.asarray(folds, np.int64)
    ids = [int(i) for i in np.unique(f)]
    jobs = [(np.flatnonzero(f != k), 100 * s + k) for k in ids for s in seeds]
    members = _train_all(rows, y, jobs, hidden, workers, step)
    out = np.zeros((y.size, len(CLASSES)))
    figures = []
    for (train, _), (net, fit) in zip(jobs, members, strict=True):
        held = np.setdiff1d(np.arange(y.size), train)
        for i in held:
            out[i] += log_softmax(net.logits(rows[i])) / len(seeds)
        figures.append({**fit, "fold": int(f[held[0]]) if held.size else -1})
    return out, figures


def fit_sequence(
    rows: Sequence[FloatArray],
    labels: npt.ArrayLike,
    seeds: tuple[int, ...] = SEEDS,
    hidden: int = HIDDEN,
    workers: int = 1,
    step: Callable[[int, int], None] | None = None,
) -> tuple[BeatSequence, list[dict[str, Any]]]:
    """The shipped ensemble, trained on every record, and its members' figures."""
    y = np.asarray(labels, np.int64)
    every = np.arange(y.size)
    members = _train_all(rows, y, [(every, s) for s in seeds], hidden, workers, step)
    return BeatSequence(tuple(m for m, _ in members)), [fit for _, fit in members]


__all__ = ["HIDDEN", "SEEDS", "SequenceNet", "cross_fit_sequence", "fit_sequence", "to_numpy"]
