"""The ablation's variants: sizes, receptive fields, and one real (tiny) run."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch", reason="torch is in the train extra")
pytest.importorskip("onnxscript", reason="ONNX export needs onnxscript (train extra)")

from cardiostream.rhythm.model import FRAME, RhythmNet, count_parameters  # noqa: E402
from cardiostream.samples import sample_path  # noqa: E402
from cardiostream.training.ablation import Variant, default_variants, run_ablation  # noqa: E402
from cardiostream.training.datasets import load_cinc  # noqa: E402
from cardiostream.training.train import TrainConfig  # noqa: E402


def test_default_variants_cover_three_widths_and_two_windows() -> None:
    variants = default_variants()
    assert {v.window_s for v in variants} == {5, 10}
    assert len({v.width for v in variants}) == 3


@pytest.mark.parametrize("variant", default_variants())
def test_variants_fit_their_window_and_the_size_limit(variant: Variant) -> None:
    cfg = variant.config(TrainConfig())
    net = RhythmNet(cfg.net)
    assert count_parameters(net) < 100_000
    assert net.receptive_field <= variant.window_s * FRAME
    assert net.receptive_field > (variant.window_s - 1) * FRAME


def test_wider_variants_have_more_parameters() -> None:
    sizes = [
        count_parameters(RhythmNet(Variant(w, 10).config(TrainConfig()).net)) for w in (0.5, 1, 1.2)
    ]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]


def test_run_ablation_scores_each_variant() -> None:
    data = load_cinc(sample_path("cinc2017-A00004").parent, progress=False)
    base = TrainConfig(epochs=1, batch_size=4, crop_s=12)
    rows = run_ablation(data, base, [Variant(0.5, 10), Variant(0.5, 5)], k=2)
    assert [r["window_s"] for r in rows] == [10, 5]
    for r in rows:
        # Four bundled records: a class can be missing from the held-out fold (F1 undefined).
        assert math.isnan(r["cinc"]) or 0.0 <= r["cinc"] <= 1.0
        assert r["onnx_ms"] > 0
        assert len(r["f1"]) == 4
