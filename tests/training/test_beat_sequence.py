"""The beat-sequence network's training: the numpy twin equals the torch net, fits are
seeded, out-of-fold features come from members that never saw the record, and a fit
separates sequences that differ."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is in the train extra")

from cardiostream.rhythm.beat_sequence import (  # noqa: E402
    SEQUENCE_INPUTS,
    BeatSequence,
    BeatSequenceNet,
)
from cardiostream.training.beat_sequence import (  # noqa: E402
    SequenceNet,
    cross_fit_sequence,
    fit_sequence,
    to_numpy,
    train_member,
)

D = len(SEQUENCE_INPUTS)


def _records(n: int, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """Records whose class shows in one input column's spread (regular against irregular)
    and another's level, with lengths from 5 to 60 beats."""
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for i in range(n):
        label = i % 4
        x = rng.normal(0, 1, (int(rng.integers(5, 30)), D))
        x[:, 0] = 0.8 + (0.25 if label == 1 else 0.02) * rng.normal(0, 1, x.shape[0])
        x[:, 1] += 2.0 * (label == 2) - 2.0 * (label == 3)
        rows.append(x)
        labels.append(label)
    return rows, np.array(labels)


def test_the_numpy_twin_gives_the_torch_logits() -> None:
    torch.manual_seed(3)
    net = SequenceNet(D, 8).eval()
    rng = np.random.default_rng(1)
    mean, scale = rng.normal(0, 1, D), rng.uniform(0.5, 2, D)
    twin = to_numpy(net, mean, scale)
    for n in (0, 1, 17):
        x = rng.normal(0, 3, (n, D))
        z = np.zeros((1, max(n, 1), D), np.float32)  # padded as a batch pads a record
        z[0, :n] = np.clip((x - mean) / scale, -5, 5)
        with torch.no_grad():
            want = net(torch.from_numpy(z), torch.tensor([n])).double().numpy()[0]
        np.testing.assert_allclose(twin.logits(x), want, atol=1e-5)


def test_a_member_is_seeded_and_round_trips_through_json() -> None:
    rows, y = _records(48)
    train = np.arange(40)
    a, fit = train_member(rows, y, train, seed=5, hidden=6)
    b, _ = train_member(rows, y, train, seed=5, hidden=6)
    np.testing.assert_array_equal(a.logits(rows[45]), b.logits(rows[45]))
    assert fit["seed"] == 5 and np.isfinite(fit["held_loss"])
    again = BeatSequenceNet.from_dict(a.to_dict())
    np.testing.assert_array_equal(again.logits(rows[45]), a.logits(rows[45]))
    with pytest.raises(ValueError, match="inputs"):
        BeatSequence.from_dict({"inputs": ["x"], "members": [a.to_dict()]})


def test_out_of_fold_features_separate_the_classes() -> None:
    rows, y = _records(480)
    folds = (np.arange(y.size) // 4) % 2  # every class in both folds
    oof, figures = cross_fit_sequence(rows, y, folds, seeds=(0,), hidden=8)
    assert len(figures) == 2 and {f["fold"] for f in figures} == {0, 1}
    assert oof.shape == (y.size, 4)
    np.testing.assert_allclose(np.exp(oof).sum(1), 1.0, atol=1e-6)  # one member: log-probs
    assert (oof.argmax(1) == y).mean() > 0.8
    ensemble, members = fit_sequence(rows, y, seeds=(0, 1), hidden=8)
    assert len(ensemble.members) == 2 and len(members) == 2
    again = BeatSequence.from_dict(ensemble.to_dict())
    np.testing.assert_allclose(again.features(rows[3]), ensemble.features(rows[3]))
