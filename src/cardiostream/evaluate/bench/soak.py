"""Soak test of ``cardiostream serve``: nothing lost, nothing hangs, memory given back.

The server runs as in :mod:`cardiostream.evaluate.bench.serve` (its own process on
127.0.0.1, a free port), recording into a temporary Parquet store (``--record``) with a short
resume window (``--resume-ttl``). For ``duration_s`` seconds, ``streams`` live streams each
send one second of 250 Hz samples (the bundled MITDB excerpt of the serve benchmark, looped)
every ``1 / speed`` seconds, read every reply and end with ``stop``. Alongside, ``abandon``
stream ids are started at an even pace, each sends one second and drops its connection
without ``stop``, so the server keeps its state for the resume window and must then forget
it. After the load, the run waits out the resume window, starts and stops one more stream
(the engine expires dropped streams when a stream starts), then stops the server gracefully
(it saves what it still holds) and reads every recording back from the store.

Accounting, separately for the live streams and the abandoned ids:

- samples sent, acknowledged (the last ``ack``, or the ``end``) and recorded (read back);
  ``unacked = sent - acked`` and ``unrecorded = acked - recorded`` are what was lost;
- windows received, against those expected (one a second from the 10th second on).

With ``kill_engine_at_s``, the engine process is killed (``SIGKILL``, as an out-of-memory
kill would) that many seconds into the load, and ``/healthz`` is polled every 0.1 s until it
has said ``degraded`` and then ``ok`` again: the run reports how long the server was
degraded, and the accounting above says whether any sample or window was lost or doubled.

Readings every ``interval_s`` seconds: the resident memory of the web process and of the
engine process (``/proc/<pid>/status``), and the size of ``GET /v1/streams``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import shutil
import signal
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cardiostream import wire
from cardiostream.evaluate.bench.serve import _ACK, TOKEN, _Server, _signal_250

#: Samples per frame: one second at 250 Hz.
HOP = 250
#: The server's windows (10 s, one a second): a stream of n seconds gets n - 9.
WINDOW_S = 10
#: How a window line starts (the engine writes it so; see ``serve/hub.py``).
_WINDOW = '{"type": "window"'
#: Stream ids: live streams, abandoned ones, and the probe that triggers the expiry.
LIVE_ID, GONE_ID, PROBE_ID = "soak", "gone", "probe"


@dataclass
class Tally:
    """Samples and windows of one kind of stream (live or abandoned)."""

    streams: int = 0
    failed: int = 0
    sent: int = 0
    acked: int = 0
    recorded: int = 0
    recordings: int = 0
    windows: int = 0
    windows_expected: int = 0

    @property
    def unacked(self) -> int:
        """Samples sent that the server never acknowledged."""
        return self.sent - self.acked

    @property
    def unrecorded(self) -> int:
        """Samples acknowledged that are not in the recordings."""
        return self.acked - self.recorded

    def add(self, one: _Stream) -> None:
        """Count one stream's figures (a failed one's, as far as it got)."""
        self.streams += 1
        self.failed += one.error is not None
        self.sent += one.sent
        self.acked += one.acked
        self.windows += one.windows
        self.windows_expected += max(one.sent // HOP - (WINDOW_S - 1), 0)


@dataclass
class _Stream:
    sent: int = 0
    acked: int = 0
    windows: int = 0
    error: str | None = None


@dataclass
class Reading:
    """The server at one moment of the run."""

    t_s: float
    phase: str  # "start", "load", "after load", "after expiry"
    web_rss_mb: float
    engine_rss_mb: float
    listing_bytes: int  # size of GET /v1/streams
    listed: int  # streams it lists
    sent: int  # samples sent so far, live and abandoned
    acked: int
    abandoned: int  # ids started and dropped so far


@dataclass
class EngineKill:
    """What ``/healthz`` said around a killed engine."""

    at_s: float  # seconds into the load
    degraded_s: float  # from the kill to the first ``ok`` after a ``degraded``
    polls: int
    degraded_polls: int  # 503 answers
    back: bool  # whether it said ok again within 300 s


def _health(url: str) -> int:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


@dataclass
class Soak:
    """The figures of one run (see the module notes)."""

    streams: int
    duration_s: float
    speed: float
    abandon: int
    resume_ttl_s: float
    live: Tally
    abandoned: Tally
    readings: list[Reading] = field(default_factory=list)
    kill: EngineKill | None = None

    def memory(self, key: str) -> dict[str, float]:
        """``start``, ``peak`` and ``end`` of a reading's field over the run."""
        values = [float(getattr(r, key)) for r in self.readings]
        return {"start": values[0], "peak": max(values), "end": values[-1]}

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for name in ("live", "abandoned"):
            tally: Tally = getattr(self, name)
            out[name] |= {"unacked": tally.unacked, "unrecorded": tally.unrecorded}
        out["summary"] = {
            k: self.memory(k) for k in ("web_rss_mb", "engine_rss_mb", "listing_bytes")
        }
        return out


def _ws_headers() -> dict[str, str]:
    return wire.auth_headers(TOKEN)


def _ack(text: str | bytes, who: str) -> int:
    """The samples acknowledged by the last line of a reply."""
    last = text[text.rfind("\n") + 1 :] if isinstance(text, str) else ""
    if not last.startswith(_ACK):
        raise RuntimeError(f"{who}: expected an ack, got {last[:80]!r}")
    return int(json.loads(last)["samples"])


async def _live(
    ws_url: str, i: int, n: int, x: npt.NDArray[np.float32], frames: int, period: float,
    t0: float, one: _Stream,
) -> None:  # fmt: skip
    import websockets

    who = f"{LIVE_ID}{i}"
    async with websockets.connect(ws_url, additional_headers=_ws_headers(), max_size=None) as ws:
        await ws.send(json.dumps({"type": wire.START, "stream_id": who, "fs": HOP}))
        json.loads(await ws.recv())
        start = (i * 2500) % (x.size - HOP)
        for k in range(frames):
            pause = t0 + (i / n + k) * period - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
            lo = (start + HOP * k) % (x.size - HOP)
            await ws.send(wire.encode_frame(x[lo : lo + HOP]))
            one.sent += HOP
            text = await ws.recv()
            one.windows += text.count(_WINDOW) if isinstance(text, str) else 0
            one.acked = _ack(text, who)
        await ws.send(json.dumps({"type": wire.STOP}))
        text = await ws.recv()  # the closing events and the end
        last = str(text).rsplit("\n", 1)[-1]
        one.windows += str(text).count(_WINDOW)
        one.acked = int(json.loads(last)["samples"])


async def _drop(ws_url: str, k: int, x: npt.NDArray[np.float32], one: _Stream) -> None:
    """Start a stream id, send one second, leave without ``stop``."""
    import websockets

    who = f"{GONE_ID}{k}"
    async with websockets.connect(ws_url, additional_headers=_ws_headers(), max_size=None) as ws:
        await ws.send(json.dumps({"type": wire.START, "stream_id": who, "fs": HOP}))
        json.loads(await ws.recv())
        lo = (k * HOP) % (x.size - HOP)
        await ws.send(wire.encode_frame(x[lo : lo + HOP]))
        one.sent += HOP
        one.acked = _ack(await ws.recv(), who)
    # Leaving the block closes the socket: a disconnect, not an end.


async def _guarded(job: Any, one: _Stream) -> _Stream:
    try:
        await job
    except Exception as exc:  # counted as a failed stream; the run goes on
        one.error = f"{type(exc).__name__}: {exc}"
    return one


def _listing(url: str) -> tuple[int, int]:
    """Size in bytes of ``GET /v1/streams``, and the streams it lists."""
    req = urllib.request.Request(url + "/v1/streams", headers=wire.auth_headers(TOKEN))
    with urllib.request.urlopen(req, timeout=60) as resp:
        body = resp.read()
    return len(body), len(json.loads(body)["streams"])


class _Run:
    """One soak: the load, the readings and the counters they show."""

    def __init__(self, server: _Server, x: npt.NDArray[np.float32], say: Callable[[str], None]):
        self.server, self.x, self.say = server, x, say
        self.ws_url = f"ws://127.0.0.1:{server.port}/v1/stream"
        self.live: list[_Stream] = []
        self.gone: list[_Stream] = []
        self.readings: list[Reading] = []
        self.t_start = time.perf_counter()
        self.kill: EngineKill | None = None

    async def read(self, phase: str) -> Reading:
        web, engine = self.server.rss_split_mb()
        size, listed = await asyncio.to_thread(_listing, self.server.url)
        everyone = self.live + self.gone
        reading = Reading(
            t_s=round(time.perf_counter() - self.t_start, 1),
            phase=phase,
            web_rss_mb=round(web, 1),
            engine_rss_mb=round(engine, 1),
            listing_bytes=size,
            listed=listed,
            sent=sum(s.sent for s in everyone),
            acked=sum(s.acked for s in everyone),
            abandoned=len(self.gone),
        )
        self.readings.append(reading)
        self.say(
            f"{reading.t_s:6.0f} s {phase:<12} web {web:4.0f} MB, engine {engine:4.0f} MB, "
            f"/v1/streams {size:,} B ({listed:,}), acked {reading.acked:,} of "
            f"{reading.sent:,}, {len(self.gone):,} dropped"
        )
        return reading

    async def sample(self, interval_s: float, done: asyncio.Event) -> None:
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), interval_s)
            if not done.is_set():
                await self.read("load")

    async def abandon(self, n: int, duration_s: float, t0: float) -> None:
        jobs = []
        for k in range(n):
            pause = t0 + k * duration_s / n - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
            one = _Stream()
            self.gone.append(one)
            jobs.append(asyncio.create_task(_guarded(_drop(self.ws_url, k, self.x, one), one)))
        await asyncio.gather(*jobs)

    async def kill_engine(self, at: float, after_s: float) -> None:
        """Kill the engine at ``at`` (perf_counter time) and watch ``/healthz``."""
        await asyncio.sleep(max(at - time.perf_counter(), 0.0))
        pid = self.server.engine_pid()
        if pid is None:
            raise RuntimeError("no engine process to kill")
        os.kill(pid, signal.SIGKILL)
        killed = time.perf_counter()
        self.say(f"killed the engine (pid {pid}) {after_s:g} s into the load")
        codes: list[int] = []
        while time.perf_counter() - killed < 300:
            codes.append(await asyncio.to_thread(_health, self.server.url))
            if codes[-1] == 200 and 503 in codes:
                break
            await asyncio.sleep(0.1)
        back = bool(codes) and codes[-1] == 200 and 503 in codes
        self.kill = EngineKill(after_s, round(time.perf_counter() - killed, 2), len(codes),
                               codes.count(503), back)  # fmt: skip
        self.say(f"/healthz: degraded for {self.kill.degraded_s:g} s, then "
                 f"{'ok' if back else 'not ok'}")  # fmt: skip

    async def load(
        self,
        streams: int,
        duration_s: float,
        speed: float,
        abandon: int,
        interval_s: float,
        kill_engine_at_s: float | None = None,
    ) -> None:
        await self.read("start")
        period = 1.0 / speed
        frames = max(int(duration_s * speed), 1)
        t0 = time.perf_counter() + 2.0 + streams / 200  # time to connect everyone first
        done = asyncio.Event()
        sampler = asyncio.create_task(self.sample(interval_s, done))
        self.live = [_Stream() for _ in range(streams)]
        jobs = [
            _guarded(_live(self.ws_url, i, streams, self.x, frames, period, t0, one), one)
            for i, one in enumerate(self.live)
        ]
        extra = []
        if kill_engine_at_s is not None:
            extra.append(self.kill_engine(t0 + kill_engine_at_s, kill_engine_at_s))
        await asyncio.gather(*jobs, self.abandon(abandon, frames * period, t0), *extra)
        done.set()
        await sampler
        await self.read("after load")

    async def settle(self, wait_s: float) -> None:
        """Wait out the resume window, start and stop one stream (the engine expires dropped
        streams when one starts), and read the server again."""
        import websockets

        self.say(f"waiting {wait_s:g} s for the resume window to pass")
        await asyncio.sleep(wait_s)
        async with websockets.connect(self.ws_url, additional_headers=_ws_headers()) as ws:
            await ws.send(json.dumps({"type": wire.START, "stream_id": PROBE_ID, "fs": HOP}))
            json.loads(await ws.recv())
            await ws.send(json.dumps({"type": wire.STOP}))
            await ws.recv()
        await self.read("after expiry")


def _recorded(store_dir: Path, live: Tally, abandoned: Tally) -> None:
    """Read every recording back and add its samples to the tally of its kind of stream."""
    from cardiostream.io import ParquetStore

    store = ParquetStore(store_dir)
    for record_id in store.ids():
        stream_id = str(store.meta(record_id).get("meta", {}).get("stream_id", ""))
        tally = live if stream_id.startswith(LIVE_ID) else abandoned
        if stream_id.startswith((LIVE_ID, GONE_ID)):
            tally.recorded += int(store.read(record_id).signal.shape[0])
            tally.recordings += 1


def run_soak(
    streams: int = 200,
    duration_s: float = 300.0,
    speed: float = 1.0,
    abandon: int = 0,
    resume_ttl_s: float = 30.0,
    interval_s: float = 10.0,
    progress: Callable[[str], None] | None = None,
    kill_engine_at_s: float | None = None,
) -> Soak:
    """Run the soak test (see the module notes).

    Parameters
    ----------
    streams : int
        Live streams, all at once.
    duration_s : float
        Seconds of load (wall clock); each live stream sends ``duration_s * speed`` seconds.
    speed : float
        Seconds of signal sent per second (1: real time).
    abandon : int
        Stream ids started and dropped without ``stop`` over the load.
    resume_ttl_s : float
        The server's resume window (``--resume-ttl``).
    interval_s : float
        Seconds between readings.
    progress : callable, optional
        Called with a line of text per reading.
    kill_engine_at_s : float, optional
        Kill the engine process this many seconds into the load.

    Returns
    -------
    Soak
    """
    say = progress or (lambda _: None)
    # The generator's own collector passes would slow the streams down.
    gc.freeze()
    gc.set_threshold(100_000, 50, 50)
    x = _signal_250()
    store_dir = Path(tempfile.mkdtemp(prefix="cardiostream-soak-"))
    options = ["--store", str(store_dir), "--record", "--resume-ttl", f"{resume_ttl_s:g}"]
    live, gone = Tally(), Tally()
    try:
        server = _Server(max(streams + 10, 2000), options)  # the default limit, unless more live
        try:
            run = _Run(server, x, say)

            async def go() -> None:
                await run.load(streams, duration_s, speed, abandon, interval_s, kill_engine_at_s)
                if abandon:
                    await run.settle(resume_ttl_s + 2.0)

            asyncio.run(go())
        finally:
            say("stopping the server (it saves what it holds)")
            server.stop(timeout=300.0)
        for one in run.live:
            live.add(one)
        for one in run.gone:
            gone.add(one)
        say("reading the recordings back")
        _recorded(store_dir, live, gone)
    finally:
        shutil.rmtree(store_dir, ignore_errors=True)
    return Soak(
        streams, duration_s, speed, abandon, resume_ttl_s, live, gone, run.readings, run.kill
    )


def to_markdown(soak: Soak) -> str:
    """The tables of a soak run."""
    lines = [
        f"{soak.streams} live streams (250 Hz) for {soak.duration_s:g} s at {soak.speed:g}x "
        f"real time; {soak.abandon:,} stream ids started and dropped without `stop`; "
        f"resume window {soak.resume_ttl_s:g} s; recorded into a Parquet store.",
        "",
        "| streams | started | failed | samples sent | acknowledged | recorded | "
        "sent - acked | acked - recorded | recordings | windows | expected |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    if soak.kill is not None:
        k = soak.kill
        lines[1:1] = [
            "",
            f"The engine process was killed (SIGKILL) {k.at_s:g} s into the load: `/healthz` "
            f"answered 503 `degraded` to {k.degraded_polls} of {k.polls} polls and "
            + (f"`ok` again {k.degraded_s:g} s after the kill." if k.back
               else "was not `ok` again within 300 s."),
        ]  # fmt: skip
    for name, t in (("live", soak.live), ("abandoned", soak.abandoned)):
        lines.append(
            f"| {name} | {t.streams:,} | {t.failed:,} | {t.sent:,} | {t.acked:,} | "
            f"{t.recorded:,} | {t.unacked:,} | {t.unrecorded:,} | {t.recordings:,} | "
            f"{t.windows:,} | {t.windows_expected:,} |"
        )
    lines += [
        "",
        "| | start | peak | end |",
        "| --- | ---: | ---: | ---: |",
    ]
    for key, label, unit in (
        ("web_rss_mb", "web process memory", "MB"),
        ("engine_rss_mb", "engine process memory", "MB"),
        ("listing_bytes", "`/v1/streams` size", "bytes"),
    ):
        m = soak.memory(key)
        lines.append(
            f"| {label} ({unit}) | {m['start']:,.0f} | {m['peak']:,.0f} | {m['end']:,.0f} |"
        )
    lines += [
        "",
        "| t (s) | phase | web (MB) | engine (MB) | `/v1/streams` (bytes) | listed | "
        "samples sent | acknowledged | dropped ids |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in soak.readings:
        lines.append(
            f"| {r.t_s:.1f} | {r.phase} | {r.web_rss_mb:.0f} | {r.engine_rss_mb:.0f} | "
            f"{r.listing_bytes:,} | {r.listed:,} | {r.sent:,} | {r.acked:,} | "
            f"{r.abandoned:,} |"
        )
    return "\n".join(lines) + "\n"
