"""Training end to end on the bundled CinC records: it runs, it is seeded, it writes its outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is in the train extra")
pytest.importorskip("onnxscript", reason="ONNX export needs onnxscript (train extra)")

from cardiostream.samples import sample_path  # noqa: E402
from cardiostream.training.cv import run_training  # noqa: E402
from cardiostream.training.datasets import CincDataset, load_cinc  # noqa: E402
from cardiostream.training.train import TrainConfig, record_logits, train_model  # noqa: E402


@pytest.fixture(scope="module")
def tiny() -> CincDataset:
    data = load_cinc(sample_path("cinc2017-A00004").parent, progress=False)
    # Eight records (each bundled one twice) so that two folds both hold every class.
    return CincDataset(data.names * 2, np.concatenate([data.labels] * 2), data.signals * 2)


def test_same_seed_same_model(tiny: CincDataset) -> None:
    cfg = TrainConfig(epochs=1, batch_size=4, crop_s=12)
    a = train_model(tiny.signals, tiny.labels, cfg)
    b = train_model(tiny.signals, tiny.labels, cfg)
    la, lb = record_logits(a, tiny.signals, cfg), record_logits(b, tiny.signals, cfg)
    np.testing.assert_array_equal(la, lb)
    assert la.shape == (len(tiny), 4) and np.isfinite(la).all()


def test_run_training_writes_model_onnx_and_summary(tiny: CincDataset, tmp_path: Path) -> None:
    cfg = TrainConfig(epochs=1, batch_size=4, crop_s=12)
    summary = run_training(tiny, tmp_path, cfg, k=2)
    for name in ("rhythm.pt", "rhythm.onnx", "oof.npz", "training.json"):
        assert (tmp_path / name).stat().st_size > 0
    saved = json.loads((tmp_path / "training.json").read_text())
    assert saved["classes"] == ["normal", "af", "other", "noise"]
    assert len(saved["folds"]) == 2 and saved["temperature"] > 0
    assert summary["parameters"] < 100_000
    assert np.array(saved["confusion"]).sum() == len(tiny)


def test_run_training_fits_the_record_head_from_the_raw_records(
    tiny: CincDataset, tmp_path: Path
) -> None:
    from cardiostream import read
    from cardiostream.rhythm.infer import RhythmModel

    raw_dir = sample_path("cinc2017-A00004").parent
    cfg = TrainConfig(epochs=1, batch_size=4, crop_s=12)
    summary = run_training(tiny, tmp_path, cfg, k=2, raw_dir=raw_dir)
    head = summary["record_head"]
    assert 0.0 <= head["cinc_mean"] <= 1.0 and head["temperature"] > 0
    assert sorted(p.name for p in (tmp_path / "folds").iterdir()) == ["fold0.pt", "fold1.pt"]
    meta = json.loads((tmp_path / "model.json").read_text())
    assert meta["record_head"]["threshold"] == head["threshold"]
    # The verdict blends the head's network with boosted trees; both are scored apart.
    assert {"network", "trees"} <= head.keys()
    assert "record head" in (tmp_path / "MODEL_CARD.md").read_text()
    with np.load(tmp_path / "head_oof.npz") as z:
        assert z["features"].shape[0] == len(tiny) and np.isfinite(z["features"]).all()
    window = summary["window_head"]
    assert meta["window_head"]["threshold"] == window["threshold"]
    # The window verdict blends its network with boosted trees too, scored apart.
    assert {"network", "trees"} <= window.keys()
    assert meta["window_trees"]["depth"] <= 6
    with np.load(tmp_path / "window_oof.npz") as z:
        # Every sixth second from the 10th of each 30 s record: 4 windows each.
        assert z["head_logits"].shape == (4 * len(tiny), 4)
        assert (np.bincount(z["record"]) == 4).all()
    with np.load(tmp_path / "window_features.npz") as z:
        assert z["features"].shape == (4 * len(tiny), 22) and np.isfinite(z["features"]).all()
    fusion = summary["window_fusion"]
    assert meta["window_fusion"]["threshold"] == fusion["threshold"]
    with np.load(tmp_path / "fusion_oof.npz") as z:
        assert z["rr_p_af"].shape == (4 * len(tiny),) and z["logits"].shape == (4 * len(tiny), 4)
    model = RhythmModel(tmp_path)
    assert model.head is not None and model.window_head is not None and model.trees is not None
    assert model.window_fusion is not None and model.window_threshold == fusion["threshold"]
    assert model.window_head.trees is not None
    record = read(sample_path("cinc2017-A00004"))
    verdict = model.predict(record.lead(0), record.fs)
    assert sum(verdict.probabilities.values()) == pytest.approx(1.0)
    _, probs = model.window_probabilities(record.lead(0), record.fs)
    _, frames = model.frame_probabilities(record.lead(0), record.fs)
    np.testing.assert_allclose(probs.sum(1), 1.0)
    np.testing.assert_array_equal(probs[:9], frames[:9])
    assert not np.allclose(probs[9:], frames[9:])
    # The command refits both heads on the same folds, to the same result.
    from typer.testing import CliRunner

    from cardiostream.cli import app

    result = CliRunner().invoke(
        app, ["fit-heads", "--training", str(tmp_path), "--data", str(raw_dir)]
    )
    assert result.exit_code == 0, result.output
    assert "window head" in result.stdout
    again = json.loads((tmp_path / "model.json").read_text())
    assert again["window_head"] == meta["window_head"]
    assert again["record_trees"] == meta["record_trees"]
    assert again["window_trees"] == meta["window_trees"]


def test_record_loss_is_the_cross_entropy_of_the_mean_frame_probability() -> None:
    from cardiostream.training.train import _record_nll

    # Two records, three frames; the second record's last frame does not count.
    logits = torch.log(
        torch.tensor(
            [
                [[0.7, 0.1, 0.5], [0.1, 0.7, 0.3], [0.1, 0.1, 0.1], [0.1, 0.1, 0.1]],
                [[0.2, 0.4, 0.9], [0.6, 0.4, 0.05], [0.1, 0.1, 0.03], [0.1, 0.1, 0.02]],
            ]
        )
    )
    mask = torch.tensor([[True, True, True], [True, True, False]])
    y = torch.tensor([0, 1])
    got = float(_record_nll(logits, mask, y, torch.ones(4)))
    mean0 = (0.7 + 0.1 + 0.5) / 3
    mean1 = (0.6 + 0.4) / 2
    assert got == pytest.approx(-(np.log(mean0) + np.log(mean1)) / 2, rel=1e-5)


def test_training_with_the_record_loss_runs_and_differs(tiny: CincDataset) -> None:
    plain = TrainConfig(epochs=1, batch_size=4, crop_s=12)
    mixed = TrainConfig(epochs=1, batch_size=4, crop_s=12, record_loss=0.5)
    a = record_logits(train_model(tiny.signals, tiny.labels, plain), tiny.signals, plain)
    b = record_logits(train_model(tiny.signals, tiny.labels, mixed), tiny.signals, mixed)
    assert np.isfinite(b).all() and not np.allclose(a, b)


def test_time_stretch_keeps_the_signal_within_its_bound() -> None:
    from cardiostream.training.train import Augmenter

    x = np.sin(np.arange(2500) / 40.0).astype(np.float32)
    augment = Augmenter(None, np.random.default_rng(3), noise_p=0.0, warp=0.15)
    lengths = {augment(x).size for _ in range(40)}
    assert len(lengths) > 2, "half of the crops should be stretched, by different amounts"
    assert min(lengths) >= int(2500 * np.exp(-0.15)) and max(lengths) <= int(2500 * np.exp(0.15))
    assert all(augment(x).dtype == np.float32 for _ in range(5))


def test_no_stretch_leaves_the_random_stream_of_the_shipped_augmentation() -> None:
    from cardiostream.training.train import Augmenter

    # Without a stretch the first draw is still the gain, so seeded runs stay as shipped.
    x = np.sin(np.arange(2500) / 40.0).astype(np.float32)
    for seed in range(8):
        got = Augmenter(None, np.random.default_rng(seed), noise_p=0.3, warp=0.0)(x)
        rng = np.random.default_rng(seed)
        want = x * float(np.exp(rng.uniform(np.log(0.3), np.log(3.0))))
        if rng.random() < 0.5:
            want = -want
        if rng.random() < 0.3:
            t = np.arange(x.size) / 250.0
            amp, freq = rng.uniform(0.05, 0.5), rng.uniform(0.05, 0.4)
            want = want + amp * np.sin(2 * np.pi * freq * t + 6.3 * rng.random())
        np.testing.assert_allclose(got, want.astype(np.float32), rtol=1e-6, atol=1e-7)


def test_training_without_augmentation_or_with_smoothed_labels_runs_and_differs(
    tiny: CincDataset,
) -> None:
    plain = TrainConfig(epochs=1, batch_size=4, crop_s=12)
    base = record_logits(train_model(tiny.signals, tiny.labels, plain), tiny.signals, plain)
    for cfg in (
        TrainConfig(epochs=1, batch_size=4, crop_s=12, augment=False),
        TrainConfig(epochs=1, batch_size=4, crop_s=12, label_smoothing=0.1),
    ):
        z = record_logits(train_model(tiny.signals, tiny.labels, cfg), tiny.signals, cfg)
        assert np.isfinite(z).all() and not np.allclose(base, z)
