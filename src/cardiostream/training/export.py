"""Export of the rhythm network for other runtimes: ONNX, and Core ML for Apple devices.

:func:`export_model` is what the ``cardiostream export`` command runs. ONNX is re-exported from
the torch weights when torch and onnxscript are installed (the ``train`` extra), else the
model folder's own ``rhythm.onnx`` is copied; either way the written file is loaded in ONNX
Runtime before it is handed back. Core ML needs torch and ``coremltools``, which converts on
Linux too, though a Core ML model only runs on Apple platforms.

The exported network gives per-second logits only: the decision rule (temperature, threshold,
quality checks) lives in :mod:`cardiostream.rhythm.infer` and in ``model.json``, whose
calibration is copied into the Core ML model's metadata.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cardiostream.errors import InputError

if TYPE_CHECKING:
    from cardiostream.rhythm.model import RhythmNet

#: Formats of :func:`export_model`, with the file name written into a folder given as ``out``.
FORMATS = {"onnx": "rhythm.onnx", "coreml": "rhythm.mlpackage"}

#: Seconds of input of the fixed-length Core ML model: the network's receptive field.
COREML_SECONDS = 10

_FRAME = 250  # samples per output frame at 250 Hz (model.FRAME, without importing torch)

# No square brackets in messages: the command line prints them as rich markup.
_COREML_MISSING = (
    "format: Core ML export needs coremltools and torch (pip install coremltools, and the "
    "train extra for torch); the conversion is usually done on macOS, where the model also runs"
)


def export_onnx(model: RhythmNet, path: str | Path) -> Path:
    """Write the whole-signal network as one self-contained ONNX file (needs torch and
    onnxscript: the ``train`` extra).

    Input ``ecg``: float32 ``[batch, channels, samples]`` at 250 Hz, samples a multiple of 250;
    output ``logits``: ``[batch, 4, samples // 250]``. Batch and length are dynamic.
    """
    import torch

    from cardiostream.rhythm.preprocess import FRAME

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    example = torch.zeros(1, model.config.inputs, 12 * FRAME)
    frames = torch.export.Dim("frames", min=1, max=100_000)
    batch = torch.export.Dim("batch", min=1, max=4096)
    # The exporter logs every operator library it skips (torchvision) and deprecation notes of
    # its own internals; none concern this network, and they would bury the command's output.
    exporter_log = logging.getLogger("torch.onnx")
    level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            torch.onnx.export(
                model,
                (example,),
                str(out),
                input_names=["ecg"],
                output_names=["logits"],
                dynamic_shapes={"x": {0: batch, 2: FRAME * frames}},
                external_data=False,
                opset_version=18,
                verbose=False,
            )
    finally:
        exporter_log.setLevel(level)
    return out


def fold_weights(model: RhythmNet) -> dict[str, np.ndarray]:
    """The network's weights for :class:`~cardiostream.rhythm.fast_net.FastRhythmNet`, each
    batch normalisation folded into the convolution before it (needs torch).

    Keys: ``w<i>`` ``[kernel, c_in, c_out]`` and ``b<i>`` float32 per layer, the 1x1 head last,
    ``strides`` and ``relu``. Dropout is the identity at inference and is left out.
    """
    import torch

    from cardiostream.rhythm.model import CausalConv

    model = model.eval()
    out: dict[str, Any] = {}
    strides: list[int] = []
    relu: list[bool] = []
    body = list(model.body)
    with torch.no_grad():
        for i in range(0, len(body), 3):
            conv, bn = body[i], body[i + 1]
            if not isinstance(conv, CausalConv) or not isinstance(bn, torch.nn.BatchNorm1d):
                raise InputError("model: expected convolution, batch norm, ReLU blocks")
            if bn.running_var is None or bn.running_mean is None or conv.conv.bias is None:
                raise InputError("model: batch norm without running statistics, or no bias")
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            w = conv.conv.weight * scale[:, None, None]
            b = (conv.conv.bias - bn.running_mean) * scale + bn.bias
            n = len(strides)
            out[f"w{n}"] = w.permute(2, 1, 0).contiguous().numpy().astype(np.float32)
            out[f"b{n}"] = b.numpy().astype(np.float32)
            strides.append(conv.stride)
            relu.append(True)
        n = len(strides)
        out[f"w{n}"] = model.head.weight.permute(2, 1, 0).contiguous().numpy().astype(np.float32)
        head_bias = model.head.bias
        if head_bias is None:
            raise InputError("model: the head has no bias")
        out[f"b{n}"] = head_bias.numpy().astype(np.float32)
    strides.append(1)
    relu.append(False)
    out["strides"] = np.array(strides, np.int64)
    out["relu"] = np.array(relu, np.bool_)
    return out


def export_fast(model: RhythmNet, path: str | Path) -> Path:
    """Write ``rhythm.npz``, the folded weights of the streaming engine's network (needs torch)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as fh:
        np.savez(fh, **fold_weights(model))  # type: ignore[arg-type]
    return target


def export_model(
    fmt: str, out: str | Path, folder: str | Path | None = None, *, reexport: bool | None = None
) -> Path:
    """Write the rhythm network of a model folder in another format.

    Parameters
    ----------
    fmt : {"onnx", "coreml"}
        ``onnx``: one self-contained file with dynamic batch and length (see
        :func:`export_onnx`). ``coreml``: an ML program (``.mlpackage``) with a fixed input
        ``ecg`` of ``[1, channels, 2500]`` (10 s at 250 Hz) and output ``logits`` of
        ``[1, 4, 10]``; the last frame is the verdict on the 10 s.
    out : path
        The file to write, or an existing folder to write ``rhythm.onnx`` /
        ``rhythm.mlpackage`` into. An existing file is replaced.
    folder : path, optional
        The model folder (``model.json``, ``rhythm.pt``, ``rhythm.onnx``); the shipped model
        by default.
    reexport : bool, optional
        ONNX only: re-export from ``rhythm.pt`` with torch (True) or copy ``rhythm.onnx``
        (False); by default re-export when torch and onnxscript are installed.

    Returns
    -------
    Path
        The written file (a folder for Core ML).

    Raises
    ------
    InputError
        For an unknown format (``format``), a folder without a model, missing packages
        (``format``, with how to install them), or an ONNX file that ONNX Runtime cannot load.
    """
    if fmt not in FORMATS:
        raise InputError(f"format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    from cardiostream.rhythm.bundle import weights_dir

    src = Path(folder) if folder is not None else weights_dir()
    meta_path = src / "model.json"
    if not meta_path.is_file():
        raise InputError(f"{meta_path}: no rhythm model here (train one: cardiostream train)")
    meta: dict[str, Any] = json.loads(meta_path.read_text())
    target = Path(out)
    if target.is_dir() and not (fmt == "coreml" and target.suffix == ".mlpackage"):
        target = target / FORMATS[fmt]
    if fmt == "onnx":
        return _export_onnx_file(src, meta, target, reexport)
    return _export_coreml(src, meta, target)


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _load_net(src: Path, meta: dict[str, Any]) -> RhythmNet:
    import torch

    from cardiostream.rhythm.bundle import config_from_json
    from cardiostream.rhythm.model import NetConfig, RhythmNet

    weights = src / "rhythm.pt"
    if not weights.is_file():
        raise InputError(f"{weights}: missing (the torch weights are needed to convert)")
    net = RhythmNet(NetConfig(**config_from_json(meta["net"])))
    net.load_state_dict(torch.load(weights, map_location="cpu"))
    return net.eval()


def _export_onnx_file(src: Path, meta: dict[str, Any], target: Path, reexport: bool | None) -> Path:
    if reexport is None:
        reexport = _has("torch") and _has("onnxscript") and (src / "rhythm.pt").is_file()
    target.parent.mkdir(parents=True, exist_ok=True)
    if reexport:
        if not (_has("torch") and _has("onnxscript")):
            raise InputError(
                "format: re-exporting ONNX needs torch and onnxscript (the train extra)"
            )
        export_onnx(_load_net(src, meta), target)
    else:
        graph = src / "rhythm.onnx"
        if not graph.is_file():
            raise InputError(f"{graph}: missing (no ONNX graph to copy)")
        if graph.resolve() != target.resolve():
            shutil.copyfile(graph, target)
    _check_onnx(target, int(meta.get("net", {}).get("inputs", 2)))
    return target


def _check_onnx(path: Path, channels: int) -> None:
    """Load the graph in ONNX Runtime and run 10 s of zeros through it."""
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        x = np.zeros((1, channels, COREML_SECONDS * _FRAME), np.float32)
        (logits,) = session.run(None, {"ecg": x})
    except Exception as exc:  # onnxruntime raises its own exception types
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(f"{path}: ONNX Runtime cannot run the exported graph: {first}") from None
    if np.shape(logits) != (1, 4, COREML_SECONDS):
        raise InputError(f"{path}: exported graph gives logits of shape {np.shape(logits)}")


def _export_coreml(src: Path, meta: dict[str, Any], target: Path) -> Path:
    if not (_has("coremltools") and _has("torch")):
        raise InputError(_COREML_MISSING)
    import torch

    # Imported by name: coremltools has no type information, and is rarely installed.
    ct: Any = importlib.import_module("coremltools")

    net = _load_net(src, meta)
    channels = net.config.inputs
    example = torch.zeros(1, channels, COREML_SECONDS * _FRAME)
    with torch.no_grad():
        traced = torch.jit.trace(net, example)  # type: ignore[no-untyped-call]
    model = ct.convert(
        traced,
        inputs=[ct.TensorType(name="ecg", shape=tuple(example.shape), dtype=np.float32)],
        outputs=[ct.TensorType(name="logits", dtype=np.float32)],
        convert_to="mlprogram",
        compute_precision=ct.precision.FLOAT32,
    )
    model.short_description = (
        "cardiostream rhythm network: 10 s of one ECG lead at 250 Hz and its RR channel in, "
        "per-second logits (normal, af, other, noise) out"
    )
    model.user_defined_metadata.update(
        {
            "classes": ",".join(meta.get("classes", ["normal", "af", "other", "noise"])),
            "fs": str(meta.get("fs", 250.0)),
            "temperature": str(meta["temperature"]),
            "threshold": str(meta["threshold"]),
        }
    )
    if target.suffix != ".mlpackage":
        target = target.with_suffix(".mlpackage")
    if target.is_dir():
        shutil.rmtree(target)
    elif target.exists():
        target.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    model.save(str(target))
    return target
