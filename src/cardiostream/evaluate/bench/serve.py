"""Load test of ``cardiostream serve`` on loopback: REST latency and many live streams.

The server runs in its own process (``python -m cardiostream serve`` on 127.0.0.1); the
load generator is this process, one asyncio loop. Each simulated stream sends one second of
250 Hz samples (float32, a MITDB excerpt resampled to 250 Hz, looped) every second, in real
time, the streams' phases spread over the second; the round trip of a hop is from sending a
frame to receiving its ``ack``, which the server sends after the window and events that
frame completes. Samples lost = samples sent - samples the server acknowledged at the end.
Server CPU is the user + system time of the web process and its engine process over the run
per wall second (1.0 = one core, the generator's own not included), and memory their
resident sets at the end.

With dashboards, the first :data:`WARD` streams belong to a second token (a ward), and each
dashboard watches that token over ``/v1/watch`` (samples, R peaks, windows of 16 streams),
reading everything it is sent: the round trips then say whether watching disturbs the
streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream import wire

TOKEN = "bench-token"
WARD_TOKEN = "ward-token"
#: Streams a benchmark dashboard watches (a central monitor's page).
WARD = 16
#: How an ack line starts (the server writes it exactly so; see serve/app.py).
_ACK = f'{{"type": "{wire.ACK}"'


@dataclass
class StreamRun:
    """One load level."""

    streams: int
    seconds: float
    hops: int
    rtt_p50_ms: float
    rtt_p99_ms: float
    rtt_max_ms: float
    samples_sent: int
    samples_lost: int
    failed_streams: int
    server_cpu: float
    server_rss_mb: float
    dashboards: int = 0
    dashboard_messages: int = 0

    @property
    def meets_target(self) -> bool:
        """p99 round trip within 20 ms, nothing lost, every stream served."""
        return self.rtt_p99_ms <= 20.0 and self.samples_lost == 0 and self.failed_streams == 0


@dataclass
class ServeBench:
    predict_n: int
    predict_ok: int
    predict_p50_ms: float
    predict_p99_ms: float
    runs: list[StreamRun]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for run, d in zip(self.runs, out["runs"], strict=True):
            d["meets_target"] = run.meets_target
        return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _signal_250() -> npt.NDArray[np.float32]:
    from scipy.signal import resample_poly

    from cardiostream.io import read
    from cardiostream.samples import sample_path

    x = read(sample_path("mitdb-201-af")).lead(0).astype(np.float64)
    return np.asarray(resample_poly(x, 25, 36), np.float32)


class _Server:
    """``cardiostream serve`` on 127.0.0.1 at a free port, in its own process.

    ``options`` are further ``serve`` options (``--store``, ``--record``, ``--resume-ttl``).
    """

    def __init__(self, max_streams: int, options: Sequence[str] = ()) -> None:
        self.port = _free_port()
        env = {**os.environ, wire.TOKEN_ENV: f"{TOKEN},{WARD_TOKEN}"}
        cmd = [sys.executable, "-m", "cardiostream", "serve", "--port", str(self.port),
               "--max-streams", str(max_streams), *options]  # fmt: skip
        self.proc = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.2)

    def _pids(self) -> list[int]:
        """The server and its children (the engine process)."""
        pids = [self.proc.pid]
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as fh:
                        ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
                if ppid == self.proc.pid:
                    pids.append(int(entry))
        return pids

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server and its engine process."""
        total = 0.0
        for pid in self._pids():
            try:
                with open(f"/proc/{pid}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def rss_mb(self) -> float:
        """Resident memory of the server and its engine process."""
        return sum(_rss_mb(pid) for pid in self._pids())

    def rss_split_mb(self) -> tuple[float, float]:
        """Resident memory of the web process, and of its children (the engine process;
        multiprocessing's resource tracker, a few MB, is left out)."""
        web, *children = self._pids()
        engine = 0.0
        for pid in children:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as fh:
                    if b"resource_tracker" in fh.read():
                        continue
            except OSError:
                continue
            engine += _rss_mb(pid)
        return _rss_mb(web), engine

    def engine_pid(self) -> int | None:
        """The engine process's id (None while there is none)."""
        for pid in self._pids()[1:]:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as fh:
                    if b"resource_tracker" not in fh.read():
                        return pid
            except OSError:
                continue
        return None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop it as Ctrl-C does (it saves what it records), killed after ``timeout`` s."""
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _rss_mb(pid: int) -> float:
    """A process's resident memory in MB (``VmRSS``; 0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _predict(url: str, x: npt.NDArray[np.float32], n: int) -> tuple[int, list[float]]:
    body = json.dumps({"fs": 250.0, "samples": x[:2500].astype(float).tolist()}).encode()
    ok, times = 0, []
    for _ in range(n):
        req = urllib.request.Request(
            url + "/v1/predict",
            data=body,
            headers={**wire.auth_headers(TOKEN), "Content-Type": "application/json"},
        )
        t0 = time.perf_counter()
        with urllib.request.urlopen(req, timeout=30) as resp:
            ok += resp.status == 200
            json.loads(resp.read())
        times.append(time.perf_counter() - t0)
    return ok, times


async def _one_stream(
    ws_url: str,
    i: int,
    n: int,
    x: npt.NDArray[np.float32],
    seconds: int,
    t0: float,
    rtts: list[float],
    token: str = TOKEN,
) -> tuple[int, int]:
    import websockets

    sent = 0
    headers = wire.auth_headers(token)
    offset = i / n  # independent devices: phases spread evenly over the second
    async with websockets.connect(ws_url, additional_headers=headers, max_size=None) as ws:
        await ws.send(json.dumps({"type": wire.START, "stream_id": f"s{i}", "fs": 250}))
        json.loads(await ws.recv())
        acked = 0
        start = (i * 2500) % (x.size - 250)
        for k in range(seconds):
            due = t0 + offset + k
            pause = due - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
            lo = (start + 250 * k) % (x.size - 250)
            sent_at = time.perf_counter()
            await ws.send(wire.encode_frame(x[lo : lo + 250]))
            sent += 250
            text = await ws.recv()
            # The generator must not be the bottleneck: only the ack (the last line) is parsed.
            last = text[text.rfind("\n") + 1 :] if isinstance(text, str) else ""
            if not last.startswith(_ACK):
                raise RuntimeError(f"stream s{i}: expected an ack, got {last[:80]!r}")
            acked = json.loads(last)["samples"]
            rtts.append(time.perf_counter() - sent_at)
        await ws.send(json.dumps({"type": wire.STOP}))
        with contextlib.suppress(websockets.ConnectionClosed):
            await ws.recv()  # the closing events and the end
    return sent, acked


async def _dashboard(watch_url: str, counts: list[int]) -> None:
    import websockets

    query = urllib.parse.urlencode({wire.TOKEN_QUERY: WARD_TOKEN})
    async with websockets.connect(f"{watch_url}?{query}", max_size=None) as ws:
        async for _ in ws:
            counts[0] += 1


async def _streams(
    ws_url: str, n: int, seconds: int, x: npt.NDArray[np.float32], dashboards: int = 0
) -> Any:
    rtts: list[float] = []
    counts = [0]
    watch_url = ws_url.replace("/v1/stream", "/v1/watch")
    watchers = [asyncio.create_task(_dashboard(watch_url, counts)) for _ in range(dashboards)]
    t0 = time.perf_counter() + 2.0 + n / 200  # time to connect everyone first
    ward = WARD if dashboards else 0
    tasks = [
        _one_stream(ws_url, i, n, x, seconds, t0, rtts, WARD_TOKEN if i < ward else TOKEN)
        for i in range(n)
    ]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for w in watchers:
        w.cancel()
    await asyncio.gather(*watchers, return_exceptions=True)
    return results, rtts, counts[0]


def run_serve_benchmark(
    streams: Sequence[int] = (100, 250, 500, 1000),
    seconds: int = 30,
    predict_n: int = 100,
    progress: Callable[[str], None] | None = None,
    dashboards: Sequence[int] = (0,),
) -> ServeBench:
    """Run the benchmark (see the module notes)."""
    say = progress or (lambda _: None)
    # The generator's own collector passes would show up as round-trip time.
    gc.freeze()
    gc.set_threshold(100_000, 50, 50)
    x = _signal_250()
    server = _Server(max(streams) + 10)
    try:
        say("predict")
        _predict(server.url, x, 5)  # warm-up
        ok, times = _predict(server.url, x, predict_n)
        lat = np.array(times) * 1e3
        runs = []
        for n, k in [(n, k) for n in streams for k in dashboards]:
            say(f"{n} streams, {k} dashboards, for {seconds} s")
            cpu0, wall0 = server.cpu_seconds(), time.perf_counter()
            ws_url = f"ws://127.0.0.1:{server.port}/v1/stream"
            results, rtts, messages = asyncio.run(_streams(ws_url, n, seconds, x, k))
            cpu = (server.cpu_seconds() - cpu0) / (time.perf_counter() - wall0)
            good = [r for r in results if not isinstance(r, BaseException)]
            r = np.array(rtts) * 1e3 if rtts else np.array([np.nan])
            runs.append(
                StreamRun(
                    streams=n,
                    seconds=seconds,
                    hops=len(rtts),
                    rtt_p50_ms=float(np.median(r)),
                    rtt_p99_ms=float(np.percentile(r, 99)),
                    rtt_max_ms=float(r.max()),
                    samples_sent=sum(s for s, _ in good),
                    samples_lost=sum(s - a for s, a in good),
                    failed_streams=len(results) - len(good),
                    server_cpu=cpu,
                    server_rss_mb=server.rss_mb(),
                    dashboards=k,
                    dashboard_messages=messages,
                )
            )
    finally:
        server.stop()
    return ServeBench(
        predict_n=predict_n,
        predict_ok=ok,
        predict_p50_ms=float(np.median(lat)),
        predict_p99_ms=float(np.percentile(lat, 99)),
        runs=runs,
    )


def to_markdown(bench: ServeBench) -> str:
    """The tables of the benchmark."""
    lines = [
        f"`POST /v1/predict`, 10 s at 250 Hz as JSON, {bench.predict_n} sequential requests: "
        f"{bench.predict_ok} succeeded, p50 {bench.predict_p50_ms:.1f} ms, "
        f"p99 {bench.predict_p99_ms:.1f} ms.",
        "",
        "| streams (250 Hz) | dashboards | seconds | hops | round trip p50 (ms) | p99 (ms) | "
        "max (ms) | samples lost | failed streams | server CPU (cores) | server memory (MB) | "
        "target |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in bench.runs:
        verdict = "met" if r.meets_target else "missed"
        lines.append(
            f"| {r.streams:,} | {r.dashboards} | {r.seconds} | {r.hops:,} | {r.rtt_p50_ms:.1f} | "
            f"{r.rtt_p99_ms:.1f} | {r.rtt_max_ms:.0f} | {r.samples_lost} | {r.failed_streams} | "
            f"{r.server_cpu:.2f} | {r.server_rss_mb:.0f} | {verdict} |"
        )
    if any(r.dashboards for r in bench.runs):
        lines += ["", f"Each dashboard watches the {WARD} streams of a second token and reads "
                  "everything it is sent (messages received per run: "
                  + ", ".join(f"{r.dashboard_messages:,}" for r in bench.runs if r.dashboards)
                  + ")."]  # fmt: skip
    met = [r.streams for r in bench.runs if r.meets_target]
    lines += ["", f"Largest load meeting p99 ≤ 20 ms with nothing lost: "
              f"{max(met):,} streams." if met else "No load met the target."]  # fmt: skip
    return "\n".join(lines) + "\n"
