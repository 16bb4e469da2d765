"""Cost of the rhythm network: one window on ONNX Runtime and torch, and one streaming hop.

All timings are on one thread, the median of repeated calls after a warm-up, so they compare
backends on equal terms; the input is a 10 s window at 250 Hz (or a 1 s hop for streaming).
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from cardiostream.rhythm.bundle import config_from_json
from cardiostream.rhythm.infer import RhythmModel
from cardiostream.rhythm.preprocess import FRAME


def _median_ms(fn: Callable[[], object], repeat: int) -> float:
    for _ in range(max(3, repeat // 10)):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e3)


def measure_latency(model: RhythmModel | None = None, repeat: int = 200) -> list[dict[str, Any]]:
    """Rows ``{"what", "backend", "ms", "ratio"}``; ``ratio`` is relative to ONNX per window.

    Torch rows are left out when torch is not installed.
    """
    onnx = model or RhythmModel(threads=1)
    rng = np.random.default_rng(0)
    window = rng.normal(size=(1, onnx.channels, 10 * FRAME)).astype(np.float32)
    rows: list[dict[str, Any]] = [
        {
            "what": "10 s window",
            "backend": "ONNX Runtime",
            "ms": _median_ms(lambda: onnx.frame_logits(window), repeat),
        }
    ]
    if importlib.util.find_spec("torch") is not None:
        import torch

        from cardiostream.rhythm.model import NetConfig, RhythmNet, StreamingRhythmNet

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            cpu = RhythmModel(onnx.folder, backend="cpu")
            rows.append(
                {
                    "what": "10 s window",
                    "backend": "torch CPU",
                    "ms": _median_ms(lambda: cpu.frame_logits(window), repeat),
                }
            )
            net = RhythmNet(NetConfig(**config_from_json(onnx.meta["net"])))
            net.load_state_dict(torch.load(onnx.folder / "rhythm.pt", map_location="cpu"))
            stream = StreamingRhythmNet(net)
            hop = torch.from_numpy(window[..., :FRAME].copy())

            def one_hop() -> None:
                with torch.no_grad():
                    stream(hop)

            rows.append(
                {
                    "what": "1 s streaming hop (cached context)",
                    "backend": "torch CPU",
                    "ms": _median_ms(one_hop, repeat),
                }
            )
        finally:
            torch.set_num_threads(threads)
    if onnx.window_head is not None:
        rows.append(_window_head_row(onnx, repeat))
    base = rows[0]["ms"]
    for row in rows:
        row["ratio"] = row["ms"] / base
    return rows


def _window_head_row(model: RhythmModel, repeat: int) -> dict[str, Any]:
    """One per-second verdict of the window head on real beats: the features of 10 s of a
    bundled AF record (RR statistics, beat shapes) and the head's network."""
    from cardiostream.io import read
    from cardiostream.rhythm.infer import prepare_record
    from cardiostream.samples import sample_path

    assert model.window_head is not None
    record = read(sample_path("mitdb-201-af"))
    prep = prepare_record(record.lead(0), record.fs, model.channels, pad=False, quality=False)
    logits = np.zeros((1, 4), np.float32)
    ends = np.array([30 * FRAME])
    head = model.window_head

    def one() -> None:
        # The call a stream makes every second: features and head in one compiled loop.
        head.verdicts(logits, prep.ecg, 0, prep.peaks, ends)

    return {
        "what": "window head, one verdict (10 s of beats)",
        "backend": "numba",
        "ms": _median_ms(one, repeat),
    }


def latency_markdown(rows: list[dict[str, Any]]) -> str:
    """The latency table."""
    lines = [
        "| what | backend | median ms (1 thread) | × ONNX window |",
        "|---|---|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['what']} | {r['backend']} | {r['ms']:.3f} | {r['ratio']:.2f} |")
    return "\n".join(lines) + "\n"
