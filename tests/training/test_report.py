"""The rhythm report: sections, figures and tables from a real (tiny) training run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is in the train extra")
pytest.importorskip("onnxscript", reason="ONNX export needs onnxscript (train extra)")

from cardiostream.rhythm.infer import RhythmModel  # noqa: E402
from cardiostream.samples import sample_path  # noqa: E402
from cardiostream.training.cv import run_training  # noqa: E402
from cardiostream.training.datasets import load_cinc  # noqa: E402
from cardiostream.training.figures import plot_ablation, plot_confusion  # noqa: E402
from cardiostream.training.latency import latency_markdown, measure_latency  # noqa: E402
from cardiostream.training.report import write_report  # noqa: E402
from cardiostream.training.train import TrainConfig  # noqa: E402


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    data = load_cinc(sample_path("cinc2017-A00004").parent, progress=False)
    run_training(data, out, TrainConfig(epochs=1, batch_size=4, crop_s=12), k=2)
    return out


def test_report_has_every_section_and_figure(run_dir: Path, tmp_path: Path) -> None:
    rows = [
        {
            "width": w,
            "window_s": s,
            "parameters": 1000 * w,
            "receptive_field_s": s - 0.5,
            "cinc": 0.5 + w / 10,
            "f1": [0.9, 0.6, 0.5, 0.4],
            "onnx_ms": w * s / 10,
            "epochs": 3,
        }
        for s in (10, 5)
        for w in (0.5, 1.0, 1.4)
    ]
    ablation = tmp_path / "ablation.json"
    ablation.write_text(json.dumps({"rows": rows}))
    path = write_report(run_dir, tmp_path / "docs", ablation_json=ablation, model_folder=run_dir)
    text = path.read_text()
    for heading in ("Cross-validation", "Calibration", "External AF test", "Ablation", "cost"):
        assert heading in text
    assert "MITDB was not found" in text
    assert "| x1.4 | 5 s |" in text
    for png in ("confusion.png", "reliability.png", "ablation.png"):
        assert (tmp_path / "docs" / png).stat().st_size > 1000


def test_latency_rows_compare_backends(run_dir: Path) -> None:
    rows = measure_latency(RhythmModel(run_dir), repeat=5)
    assert [r["backend"] for r in rows] == ["ONNX Runtime", "torch CPU", "torch CPU"]
    assert rows[0]["ratio"] == 1.0
    assert all(r["ms"] > 0 for r in rows)
    assert latency_markdown(rows).count("\n") == len(rows) + 2


def test_confusion_and_ablation_plots(tmp_path: Path) -> None:
    m = np.array([[50, 2, 3, 1], [1, 8, 1, 0], [5, 1, 20, 1], [1, 0, 1, 3]])
    assert plot_confusion(m, tmp_path / "c.png").stat().st_size > 1000
    assert plot_ablation([], tmp_path / "a.png").is_file()


def test_disputed_labels_count_confident_verdicts_against_the_label(tmp_path: Path) -> None:
    from cardiostream.training.report import disputed_section

    # Six records: two "other" called normal at 0.99, one AF called other at 0.85 (below
    # the table's 0.90), three agreeing with their label.
    labels = np.array([2, 2, 1, 0, 1, 3])
    p = np.array(
        [
            [0.99, 0.0, 0.01, 0.0],
            [0.99, 0.0, 0.01, 0.0],
            [0.05, 0.10, 0.85, 0.0],
            [0.97, 0.01, 0.01, 0.01],
            [0.02, 0.95, 0.03, 0.0],
            [0.1, 0.0, 0.1, 0.8],
        ]
    )
    np.savez(
        tmp_path / "head_oof.npz",
        names=np.array([f"A{i:05d}" for i in range(6)]),
        labels=labels,
        head_logits=np.log(p + 1e-12),
    )
    summary = {"record_head": {"temperature": 1.0}}
    (tmp_path / "training.json").write_text(json.dumps(summary))
    text = disputed_section(tmp_path)
    assert "3 at 0.80, 2 at 0.90, 2 at 0.95 (of 6)" in text
    assert "| other | 2 | 0 | 0 | 0 |" in text
    assert "other records called normal (2 of 2)" in text
    assert "A00000 (other → normal, 0.99)" in text and "A00002" not in text
    # Nothing confident against a label: said so, without a table.
    np.savez(tmp_path / "head_oof.npz", names=np.array(["A"] * 6), labels=labels,
             head_logits=np.log(np.eye(4)[[2, 2, 1, 0, 1, 3]] * 0.9 + 0.025))  # fmt: skip
    assert "No record's out-of-fold verdict" in disputed_section(tmp_path)


def test_the_record_verdicts_network_and_trees_are_reported_apart() -> None:
    from cardiostream.training.report import _trees_lines

    def part(cinc: float, af: float) -> dict[str, object]:
        return {
            "cinc_mean": cinc,
            "cinc_sd": 0.01,
            "f1_mean": [0.9, af, 0.7, 0.6],
            "folds": [{"cinc": cinc - 0.01}, {"cinc": cinc + 0.01}],
        }

    assert _trees_lines({"cinc_mean": 0.8}) == []
    text = " ".join(_trees_lines({"network": part(0.829, 0.806), "trees": part(0.830, 0.803)}))
    assert "the network 0.829 ± 0.010 (AF F1 0.806; per fold 0.819, 0.839)" in text
    assert "the trees 0.830 ± 0.010 (AF F1 0.803; per fold 0.820, 0.840)" in text
