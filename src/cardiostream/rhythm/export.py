"""Export of the rhythm network to ONNX (needs torch and onnxscript: the train extra)."""

from __future__ import annotations

from pathlib import Path

import torch

from cardiostream.rhythm.model import FRAME, RhythmNet


def export_onnx(model: RhythmNet, path: str | Path) -> Path:
    """Write the whole-signal network as one self-contained ONNX file.

    Input ``ecg``: float32 ``[batch, 1, samples]`` at 250 Hz, samples a multiple of 250;
    output ``logits``: ``[batch, 4, samples // 250]``. Batch and length are dynamic.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    example = torch.zeros(1, model.config.inputs, 12 * FRAME)
    frames = torch.export.Dim("frames", min=1, max=100_000)
    batch = torch.export.Dim("batch", min=1, max=4096)
    torch.onnx.export(
        model,
        (example,),
        str(out),
        input_names=["ecg"],
        output_names=["logits"],
        dynamic_shapes={"x": {0: batch, 2: FRAME * frames}},
        external_data=False,
        opset_version=18,
    )
    return out
