"""Inference: ONNX and torch agree, the decision rule, classify's CSV contract, bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

torch = pytest.importorskip("torch", reason="torch is in the train extra")
pytest.importorskip("onnxscript", reason="ONNX export needs onnxscript (train extra)")

from cardiostream.cli import app  # noqa: E402
from cardiostream.errors import InputError  # noqa: E402
from cardiostream.io import read  # noqa: E402
from cardiostream.rhythm.infer import RhythmModel  # noqa: E402
from cardiostream.samples import sample_path  # noqa: E402
from cardiostream.training.cv import run_training  # noqa: E402
from cardiostream.training.datasets import load_cinc  # noqa: E402
from cardiostream.training.train import TrainConfig  # noqa: E402

CINC = sample_path("cinc2017-A00004").parent


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("model")
    data = load_cinc(CINC, progress=False)
    run_training(data, out, TrainConfig(epochs=1, batch_size=4, crop_s=12), k=2)
    return out


def test_onnx_and_torch_agree(model_dir: Path) -> None:
    rec = read(sample_path("mitdb-201-af"))
    a = RhythmModel(model_dir, backend="onnx").predict(rec.lead(0), rec.fs)
    b = RhythmModel(model_dir, backend="cpu").predict(rec.lead(0), rec.fs)
    for c in ("normal", "af", "other", "noise"):
        assert abs(a.probabilities[c] - b.probabilities[c]) < 1e-4
    assert a.raw_label == b.raw_label
    assert sum(a.probabilities.values()) == pytest.approx(1.0)


def test_flat_line_is_uncertain(model_dir: Path) -> None:
    p = RhythmModel(model_dir).predict(np.zeros(300 * 30), 300.0)
    assert p.label == "uncertain"
    assert not p.quality["usable"] and p.quality["reasons"]


def test_short_records_are_padded(model_dir: Path) -> None:
    rec = read(sample_path("mitdb-100-nsr"))
    p = RhythmModel(model_dir).predict(rec.lead(0)[: int(5 * rec.fs)], rec.fs)
    assert p.raw_label in ("normal", "af", "other", "noise")


@pytest.mark.parametrize("bad", [np.zeros((100, 3)), np.full(3000, np.nan), np.zeros(0)])
def test_bad_signals_are_refused(model_dir: Path, bad: np.ndarray) -> None:
    with pytest.raises(InputError, match="signal"):
        RhythmModel(model_dir).predict(bad, 250.0)


def test_unknown_backend_is_refused(model_dir: Path) -> None:
    with pytest.raises(InputError, match="backend"):
        RhythmModel(model_dir, backend="tpu")


def test_classify_csv_contract(model_dir: Path) -> None:
    result = CliRunner().invoke(
        app, ["classify", str(CINC), "--format", "csv", "--model", str(model_dir)]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "record,label,raw_label,p_normal,p_af,p_other,p_noise,af_burden,af_episodes"
    rows = [line.split(",") for line in lines[1:]]
    names = {r[0] for r in rows}
    assert {"A00004", "A00012", "A00020", "A00034"} <= names
    assert "mitdb-100-nsr" in names  # the folder also holds the MITDB excerpts
    for r in rows:
        assert r[1] in ("normal", "af", "other", "noise", "uncertain")
        assert abs(sum(float(v) for v in r[3:7]) - 1.0) < 2e-3
        assert r[7:] == ["", ""]  # every record here is at most 61 s: the record head


def test_classify_lists_refused_records_and_goes_on(model_dir: Path, tmp_path: Path) -> None:
    src = sample_path("cinc2017-A00004")
    for suffix in (".hea", ".mat"):
        (tmp_path / f"A00004{suffix}").write_bytes(src.with_suffix(suffix).read_bytes())
    t = np.arange(0, 0.5, 1 / 250)
    (tmp_path / "blip.csv").write_text("time,ecg\n" + "\n".join(f"{v:.3f},0.1" for v in t) + "\n")
    result = CliRunner().invoke(
        app, ["classify", str(tmp_path), "--format", "csv", "--model", str(model_dir)]
    )
    # Exit 1: one input was not classified, the other's row is there.
    assert result.exit_code == 1, result.output
    rows = {r.split(",")[0]: r.split(",") for r in result.stdout.strip().splitlines()[1:]}
    assert rows["blip"][1:3] == ["uncertain", ""]
    assert all(v == "" for v in rows["blip"][3:7]) and rows["blip"][7:] == ["", ""]
    assert rows["A00004"][2] in ("normal", "af", "other", "noise")
    assert "blip: not classified" in result.stderr


def test_the_package_imports_without_loading_torch() -> None:
    code = "import sys, cardiostream; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
