"""Benchmark of the whole streaming pipeline, offline and live, with peers in the same run.

What is measured, on one core (native thread pools and numba limited to one thread):

``cardiostream offline``
    :func:`cardiostream.stream.analyze` over every record (1 s hop, 10 s windows): the real-time
    factor of the engine, and of the engine plus reading the files; where the time goes
    (the processor's :data:`~cardiostream.stream.processor.STAGES`).
``cardiostream live``
    The same records pushed one second at a time (``live_records`` of them): the per-push
    latency (median, p99, max) and the largest JSON state of a stream.
``recompute every window``
    The obvious streaming plan, for a few minutes of each of ``peer_records`` records: every
    second, the last 10 s are conditioned, their R peaks found, their HRV and quality computed
    (:func:`cardiostream.hrv`, :func:`cardiostream.dsp.quality.window_quality`) and the ONNX
    network and the window head run on them. Same outputs in spirit, ten times the work and a
    Python call per stage.
``NeuroKit2 ecg_process``
    When NeuroKit2 is installed: its whole-record cleaning, peaks, rate and quality
    (``ecg_process``) over the same ``peer_records`` records; no rhythm model, so a lower bound
    on what a pipeline built on it costs.

Ratios are against the cardiostream offline engine in the same run.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream.errors import InputError
from cardiostream.evaluate.bench.rpeaks import _one_thread, _versions
from cardiostream.io import read
from cardiostream.io.listing import list_records
from cardiostream.stream.analyze import analyze
from cardiostream.stream.processor import STAGES, StreamProcessor

#: Seconds of each record that the recompute-every-window peer runs on (it is slow).
PEER_SECONDS = 300.0


@dataclass
class Row:
    """One line of the table."""

    name: str
    seconds_of_ecg: float
    processing_s: float
    note: str = ""

    @property
    def x_real_time(self) -> float:
        return self.seconds_of_ecg / self.processing_s if self.processing_s > 0 else math.nan


@dataclass
class PipelineBench:
    """The benchmark's figures (see the module notes)."""

    records: list[str]
    rows: list[Row]
    read_s: float
    stages: dict[str, float]
    live_latency_ms: dict[str, float]
    live_pushes: int
    state_bytes_max: int
    versions: dict[str, str] = field(default_factory=dict)
    threads: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for row, out in zip(self.rows, d["rows"], strict=True):
            out["x_real_time"] = row.x_real_time
        return d


def _signals(folder: Path, names: Sequence[str]) -> tuple[list[tuple[str, Any, float]], float]:
    started = time.perf_counter()
    out = []
    for name in names:
        rec = read(folder / f"{name}.hea")
        out.append((name, rec.lead(0), rec.fs))
    return out, time.perf_counter() - started


def _recompute_every_window(x: npt.NDArray[Any], fs: float) -> None:
    """The naive plan: every second, everything again on the last 10 s."""
    from cardiostream import detect_rpeaks, hrv
    from cardiostream.dsp.quality import window_quality
    from cardiostream.rhythm.features import model_inputs
    from cardiostream.rhythm.infer import RhythmModel
    from cardiostream.rhythm.preprocess import preprocess

    model = _recompute_every_window.__dict__.setdefault("model", RhythmModel())
    width = int(10 * fs)
    for end in range(width, x.size + 1, int(fs)):
        window = x[end - width : end]
        ecg = preprocess(window, fs)[:2500]
        peaks = detect_rpeaks(ecg, 250.0)
        hrv(peaks, 250.0)
        window_quality(window, fs)
        logits = model.frame_logits(model_inputs(ecg, peaks, 3)[None])
        if model.window_head is not None:
            last = np.ascontiguousarray(logits[0, :, -1:].T)
            model.window_head.verdicts(last, ecg.astype(np.float32), 0, peaks, np.array([2500]))


def run_pipeline_benchmark(
    data_dir: str | Path,
    records: Sequence[str] | None = None,
    live_records: int = 4,
    peer_records: int = 4,
    progress: Callable[[str], None] | None = None,
) -> PipelineBench:
    """Run the benchmark on a WFDB database folder (MITDB), lead 0 of each record.

    Raises
    ------
    InputError
        If ``live_records`` or ``peer_records`` is below 1 (the live figures and the peers'
        ratios need at least one record each).
    """
    for name, value in (("live_records", live_records), ("peer_records", peer_records)):
        if value < 1:
            raise InputError(f"{name}: at least 1 record, got {value}")
    folder = Path(data_dir)
    names = list(records) if records else list_records(folder)
    say = progress or (lambda _: None)
    with _one_thread() as threads:
        # Warm-up: numba's cached kernels load on first use, outside the timings.
        warm, _ = _signals(folder, names[:1])
        analyze(warm[0][1][: int(60 * warm[0][2])], warm[0][2])
        say("reading")
        signals, read_s = _signals(folder, names)
        total_s = sum(x.size / fs for _, x, fs in signals)
        stages = dict.fromkeys(STAGES, 0.0)
        engine_s = 0.0
        for name, x, fs in signals:
            say(f"offline {name}")
            result = analyze(x, fs)
            engine_s += result.processing_s
            for k in STAGES:
                stages[k] += result.stage_seconds[k]
        rows = [
            Row("cardiostream offline (engine)", total_s, engine_s),
            Row("cardiostream offline (read + engine)", total_s, engine_s + read_s),
        ]
        latencies: list[float] = []
        state_max = 0
        live_s = 0.0
        for name, x, fs in signals[:live_records]:
            say(f"live {name}")
            proc = StreamProcessor(fs)
            hop = int(fs)
            for lo in range(0, x.size, hop):
                t0 = time.perf_counter()
                proc.push(x[lo : lo + hop])
                latencies.append(time.perf_counter() - t0)
                if lo % (hop * 300) == 0:
                    state_max = max(state_max, len(json.dumps(proc.state_dict())))
            proc.flush()
            live_s += x.size / fs
        lat = np.array(latencies) * 1e3
        rows.append(Row("cardiostream live, 1 s pushes", live_s, float(lat.sum() / 1e3)))
        peers = signals[:peer_records]
        peer_s = sum(min(PEER_SECONDS, x.size / fs) for _, x, fs in peers)
        say("recompute every window")
        started = time.perf_counter()
        for _, x, fs in peers:
            _recompute_every_window(x[: int(PEER_SECONDS * fs)], fs)
        rows.append(
            Row(
                "recompute every window (same stages)",
                peer_s,
                time.perf_counter() - started,
                f"first {PEER_SECONDS:.0f} s of {len(peers)} records",
            )
        )
        try:
            import neurokit2 as nk
        except ImportError:
            nk = None
        if nk is not None:
            say("NeuroKit2")
            nk_s = sum(x.size / fs for _, x, fs in peers)
            started = time.perf_counter()
            for _, x, fs in peers:
                nk.ecg_process(np.asarray(x, np.float64), sampling_rate=int(fs))
            rows.append(
                Row(
                    "NeuroKit2 ecg_process (no rhythm)",
                    nk_s,
                    time.perf_counter() - started,
                    f"{len(peers)} whole records",
                )
            )
    return PipelineBench(
        records=names,
        rows=rows,
        read_s=read_s,
        stages=stages,
        live_latency_ms={
            "median": float(np.median(lat)),
            "p99": float(np.percentile(lat, 99)),
            "max": float(lat.max()),
        },
        live_pushes=int(lat.size),
        state_bytes_max=state_max,
        versions=_versions(),
        threads=dict(threads),
    )


def to_markdown(bench: PipelineBench) -> str:
    """The tables: speed with ratios, where the time goes, the live figures."""
    base = bench.rows[0].x_real_time
    hours = bench.rows[0].seconds_of_ecg / 3600
    lines = [
        f"Pipeline benchmark: {len(bench.records)} records, {hours:.1f} h of ECG, lead 0, "
        "1 s hop, 10 s windows, one core.",
        "",
        "| pipeline | ECG | time (s) | x real time | vs cardiostream offline | note |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in bench.rows:
        ratio = r.x_real_time / base if base > 0 else math.nan
        lines.append(
            f"| {r.name} | {r.seconds_of_ecg / 3600:.2f} h | {r.processing_s:.2f} | "
            f"{r.x_real_time:,.0f} | {ratio:.3g} | {r.note} |"
        )
    total = sum(bench.stages.values())
    lines += ["", "Where the engine's time goes (offline):", "", "| stage | s | share |"]
    lines.append("| --- | --- | --- |")
    for k, v in bench.stages.items():
        lines.append(f"| {k} | {v:.2f} | {100 * v / total:.1f} % |")
    lines.append(f"| reading the files (not in the engine) | {bench.read_s:.2f} | |")
    lat = bench.live_latency_ms
    lines += [
        "",
        f"Live, {bench.live_pushes:,} pushes of 1 s: median {lat['median']:.3f} ms, "
        f"p99 {lat['p99']:.3f} ms, max {lat['max']:.2f} ms per push; largest state "
        f"{bench.state_bytes_max / 1024:.1f} KiB as JSON.",
    ]
    return "\n".join(lines) + "\n"
