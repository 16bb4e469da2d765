"""ONNX export: the exported graph gives the torch network's logits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is in the train extra")
pytest.importorskip("onnxscript", reason="ONNX export needs onnxscript (train extra)")

import onnxruntime as ort  # noqa: E402

from cardiostream.rhythm.export import export_onnx  # noqa: E402
from cardiostream.rhythm.model import FRAME, RhythmNet  # noqa: E402


def test_onnx_matches_torch(tmp_path: Path) -> None:
    torch.manual_seed(1)
    model = RhythmNet().eval()
    path = export_onnx(model, tmp_path / "rhythm.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch, seconds in ((1, 10), (3, 47)):
        x = np.random.default_rng(seconds).standard_normal((batch, 2, seconds * FRAME))
        x = x.astype(np.float32)
        (onnx_out,) = session.run(None, {"ecg": x})
        with torch.no_grad():
            torch_out = model(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(onnx_out, torch_out, atol=1e-4, rtol=1e-4)
