"""``cardiostream demo``: the server, its dashboard and a ward of live patients, in one command.

Everything runs on loopback in one process (plus the server's engine process): uvicorn, and
the sources as tasks that stream to the server over its own WebSocket, exactly as a device
would. Ctrl-C or SIGTERM stops the sources first (each sends ``stop``, so open episodes are
closed), then the server, which stops its engine; nothing is left running.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from cardiostream.serve.config import ServeConfig

#: The modes a steerable patient offers the dashboard.
STEER_MODES = ["nsr", "af", "noise", "leadoff", "rate"]
#: The lead-off patient: this long connected, then this long off, every minute.
LEADOFF_CYCLE_S = (50.0, 10.0)


@dataclass(frozen=True)
class Patient:
    """One live source of the demo."""

    stream_id: str
    what: str
    make: Callable[[], Any]  # builds the source (a Simulator or a Playback)
    controls: tuple[str, ...] = ()
    leadoff_cycle: bool = False
    #: ``make`` gives beat times (s), streamed as a beat-time stream that loops.
    beats: bool = False
    #: How those beats were timed (``pulse``: by a pulse sensor, judged by the pulse model).
    timing: str = "ecg"


def strap_beats(
    seed: int = 7, sinus_s: float = 180.0, af_s: float = 120.0, hr_bpm: float = 66.0
) -> Any:
    """A chest strap's beat times: sinus rhythm at ``hr_bpm`` for ``sinus_s`` seconds, then AF
    at about 105 bpm for ``af_s`` (the simulator's RR models), from 0 s."""
    import numpy as np

    from cardiostream.sim.rr import AfRR, HeartRate, SinusRR

    rng = np.random.default_rng(seed)
    sinus, af = SinusRR(rng, HeartRate.constant(hr_bpm)), AfRR(rng, hr_bpm=105.0)
    times, t = [0.0], 0.0
    while t < sinus_s + af_s:
        t += sinus(t) if t < sinus_s else af(t)
        times.append(t)
    return np.asarray(times)


def watch_beats(seed: int = 9, noise_s: float = 0.025) -> Any:
    """A watch's beat times, taken from the pulse wave: :func:`strap_beats` at 88 bpm with
    Gaussian noise of ``noise_s`` on every time, as a PPG sensor times its beats."""
    import numpy as np

    from cardiostream.evaluate.rr_af import noisy_times

    t, _ = noisy_times(strap_beats(seed, hr_bpm=88.0), noise_s, np.random.default_rng(seed + 100))
    return t - t[0]


def patients(fs: float = 250.0) -> list[Patient]:
    """The demo's ward."""
    from cardiostream.samples import sample_path
    from cardiostream.sim import Playback, Simulator, af_playlist

    return [
        Patient("bed-1-sinus", "synthetic sinus rhythm, 68 bpm",
                lambda: Simulator(fs, mode="nsr", hr_bpm=68, seed=1)),
        Patient("bed-2-af", "real AF, rotating through the bundled MIT-BIH and CinC excerpts",
                lambda: Playback(af_playlist(), loop=True)),
        Patient("bed-3-noisy", "sinus rhythm under real electrode-motion and muscle noise",
                lambda: Simulator(fs, mode="noise", hr_bpm=82, seed=3)),
        Patient("bed-4-lead-off", "sinus rhythm whose electrode comes off for 10 s a minute",
                lambda: Simulator(fs, mode="nsr", hr_bpm=74, seed=4), leadoff_cycle=True),
        Patient("bed-5-steerable", "a simulated patient you steer from the dashboard",
                lambda: Simulator(fs, mode="nsr", hr_bpm=72, seed=5),
                controls=tuple(STEER_MODES)),
        Patient("bed-6-ectopy", "real recording with frequent ventricular ectopic beats",
                lambda: Playback([sample_path("mitdb-119-pvc")], loop=True)),
        Patient("bed-7-strap", "a chest strap's beat times (RR tachogram): 3 min sinus, 2 min AF",
                strap_beats, beats=True),
        Patient("bed-8-watch", "a watch's pulse-timed beats (25 ms jitter): 3 min sinus, 2 min AF",
                watch_beats, beats=True, timing="pulse"),
    ]  # fmt: skip


class _Server(uvicorn.Server):
    """uvicorn, leaving the signals to the demo (which stops the sources first)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _leadoff(source: Any) -> None:
    on, off = LEADOFF_CYCLE_S
    while True:
        await asyncio.sleep(on)
        source.set_mode("leadoff")
        await asyncio.sleep(off)
        source.set_mode("nsr")


async def _patient(p: Patient, url: str, token: str) -> None:
    from cardiostream.sim import send

    if p.beats:
        from cardiostream.sim.beat_sender import send_beats

        await send_beats(p.make(), url, token=token, stream_id=p.stream_id, loop=True,
                         timing=p.timing)  # fmt: skip
        return
    source = p.make()
    cycle = asyncio.create_task(_leadoff(source)) if p.leadoff_cycle else None
    try:
        await send(source, url, token=token, stream_id=p.stream_id, fs=source.fs,
                   controls=list(p.controls) or None)  # fmt: skip
    finally:
        if cycle is not None:
            cycle.cancel()


def _fill_store(path: Path) -> None:
    """The bundled recordings, for the dashboard's recordings browser."""
    from cardiostream.io import ParquetStore, read
    from cardiostream.samples import SAMPLES, sample_path

    store = ParquetStore(path)
    for name in SAMPLES:
        if name not in store:
            store.write(read(sample_path(name)), name)


async def run_demo(
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str = "",
    store: Path | None = None,
    announce: Callable[[str], None] = print,
) -> None:
    """Serve, start the patients, and run until SIGINT or SIGTERM."""
    announce(
        "starting the server and eight patients (the first run after an install also "
        "compiles the signal kernels, once: a minute or two)"
    )
    temporary = store is None
    store_dir = Path(tempfile.mkdtemp(prefix="cardiostream-demo-")) if store is None else store
    try:
        _fill_store(store_dir)
        config = ServeConfig(tokens=[token], host=host, store=store_dir)
        await _serve(config, port, token, announce)
    finally:
        if temporary:
            shutil.rmtree(store_dir, ignore_errors=True)


async def _serve(
    config: ServeConfig, port: int, token: str, announce: Callable[[str], None]
) -> None:
    from cardiostream.serve.app import create_app

    server = _Server(uvicorn.Config(
        create_app(config), host=config.host, port=port, log_level="warning",
        ws_per_message_deflate=False, ws_max_size=4 << 20,
    ))  # fmt: skip
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():  # the port is taken, or the engine did not start
            await serving
            raise RuntimeError(f"the server did not start on {config.host}:{port}")
        await asyncio.sleep(0.05)
    bound = server.servers[0].sockets[0].getsockname()[1]
    base = f"http://{config.host}:{bound}"
    ws_url = f"ws://{config.host}:{bound}/v1/stream"
    ward = patients()
    tasks = [asyncio.create_task(_patient(p, ws_url, token), name=p.stream_id) for p in ward]
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    announce(f"dashboard: {base}/?token={token}")
    announce(f"token:     {token}")
    for p in ward:
        announce(f"  {p.stream_id:<16} {p.what}")
    announce("Ctrl-C stops everything.")
    try:
        done_waiting = asyncio.create_task(stopping.wait())
        await asyncio.wait({serving, done_waiting}, return_when=asyncio.FIRST_COMPLETED)
        done_waiting.cancel()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # each sends its stop
        server.should_exit = True
        await serving
