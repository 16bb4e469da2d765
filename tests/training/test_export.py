"""Export: the exported graphs give the shipped network's logits; bad requests are refused."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import pytest

from cardiostream.beats import detect_rpeaks
from cardiostream.errors import InputError
from cardiostream.io import read
from cardiostream.rhythm.bundle import weights_dir
from cardiostream.rhythm.features import model_inputs
from cardiostream.rhythm.infer import RhythmModel
from cardiostream.rhythm.preprocess import MODEL_FS, preprocess
from cardiostream.samples import sample_path
from cardiostream.training.export import export_model

FRAME = 250


def has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@pytest.fixture(scope="module")
def sample_inputs() -> npt.NDArray[np.float32]:
    """The shipped network's input for 23 s of MITDB 201 (atrial fibrillation)."""
    rec = read(sample_path("mitdb-201-af"))
    ecg = preprocess(rec.lead(0)[: round(23 * rec.fs)], rec.fs)
    ecg = ecg[: ecg.size // FRAME * FRAME]
    return model_inputs(ecg, detect_rpeaks(ecg, MODEL_FS), RhythmModel().channels)[None]


def run_onnx(path: Path, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"ecg": x})
    return np.asarray(out, np.float32)


@pytest.mark.slow
def test_onnx_matches_torch(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch", reason="torch is in the train extra")
    pytest.importorskip("onnxscript", reason="ONNX export needs onnxscript (train extra)")
    from cardiostream.rhythm.model import RhythmNet
    from cardiostream.training.export import export_onnx

    torch.manual_seed(1)
    model = RhythmNet().eval()
    path = export_onnx(model, tmp_path / "rhythm.onnx")
    for batch, seconds in ((1, 10), (3, 47)):
        rng = np.random.default_rng(seconds)
        x = rng.standard_normal((batch, model.config.inputs, seconds * FRAME))
        x = x.astype(np.float32)
        onnx_out = run_onnx(path, x)
        with torch.no_grad():
            torch_out = model(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(onnx_out, torch_out, atol=1e-4, rtol=1e-4)


def test_onnx_copy_gives_the_shipped_logits(
    tmp_path: Path, sample_inputs: npt.NDArray[np.float32]
) -> None:
    path = export_model("onnx", tmp_path / "out" / "model.onnx", reexport=False)
    assert path == tmp_path / "out" / "model.onnx"
    expected = RhythmModel().frame_logits(sample_inputs)
    assert expected.shape == (1, 4, 23)
    np.testing.assert_allclose(run_onnx(path, sample_inputs), expected, atol=1e-5, rtol=0)


@pytest.mark.slow
def test_onnx_reexport_gives_the_shipped_logits(
    tmp_path: Path, sample_inputs: npt.NDArray[np.float32]
) -> None:
    pytest.importorskip("torch", reason="torch is in the train extra")
    pytest.importorskip("onnxscript", reason="ONNX export needs onnxscript (train extra)")
    path = export_model("onnx", tmp_path / "rhythm.onnx", reexport=True)
    expected = RhythmModel().frame_logits(sample_inputs)
    np.testing.assert_allclose(run_onnx(path, sample_inputs), expected, atol=1e-5, rtol=0)
    # Batch and length stay dynamic.
    two = np.concatenate([sample_inputs, sample_inputs[:, :, ::-1]])[:, :, : 11 * FRAME]
    assert run_onnx(path, np.ascontiguousarray(two)).shape == (2, 4, 11)


def test_onnx_into_a_folder(tmp_path: Path) -> None:
    path = export_model("onnx", tmp_path, folder=weights_dir(), reexport=False)
    assert path == tmp_path / "rhythm.onnx"
    assert path.read_bytes() == (weights_dir() / "rhythm.onnx").read_bytes()


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^format: .*onnx, coreml.*'tflite'"):
        export_model("tflite", tmp_path / "x")


def test_folder_without_a_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"model\.json"):
        export_model("onnx", tmp_path / "x.onnx", folder=tmp_path)


def test_broken_onnx_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.json").write_bytes((weights_dir() / "model.json").read_bytes())
    (folder / "rhythm.onnx").write_bytes(b"not a graph")
    with pytest.raises(InputError, match="ONNX Runtime cannot run") as err:
        export_model("onnx", tmp_path / "x.onnx", folder=folder, reexport=False)
    assert "\n" not in str(err.value)


@pytest.mark.skipif(
    has("coremltools") and has("torch"), reason="coremltools and torch are installed"
)
def test_coreml_without_coremltools_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^format: Core ML export needs coremltools") as err:
        export_model("coreml", tmp_path / "rhythm.mlpackage")
    message = str(err.value)
    assert "pip install coremltools" in message
    assert "macOS" in message
    assert "\n" not in message
    assert not (tmp_path / "rhythm.mlpackage").exists()


@pytest.mark.slow
def test_coreml_conversion(tmp_path: Path) -> None:
    ct = pytest.importorskip("coremltools", reason="coremltools is not installed")
    pytest.importorskip("torch", reason="torch is in the train extra")
    path = export_model("coreml", tmp_path / "rhythm")
    assert path == tmp_path / "rhythm.mlpackage"
    assert path.is_dir()
    # Loading for prediction needs macOS; the spec can be read anywhere.
    spec = ct.models.MLModel(str(path), skip_model_load=True).get_spec()
    (ecg,) = spec.description.input
    (logits,) = spec.description.output
    assert (ecg.name, list(ecg.type.multiArrayType.shape)) == (
        "ecg",
        [1, RhythmModel().channels, 2500],
    )
    assert (logits.name, list(logits.type.multiArrayType.shape)) == ("logits", [1, 4, 10])
    meta = dict(spec.description.metadata.userDefined)
    assert meta["classes"] == "normal,af,other,noise"
    assert float(meta["threshold"]) == RhythmModel().threshold
