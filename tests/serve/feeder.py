"""Live streams for the dashboard tests: records (or a flat line) sent over /v1/stream."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from websockets.sync.client import connect


@dataclass
class Feeder:
    """Sends ``signal`` (``[n]`` or ``[n, leads]``, mV) as a live stream in ``chunk_s`` frames,
    ``speed`` times faster than real time, looping until stopped."""

    ws_url: str
    token: str
    stream_id: str
    signal: npt.NDArray[np.float32]
    fs: float
    leads: list[str] = field(default_factory=lambda: ["ECG"])
    speed: float = 1.0
    chunk_s: float = 0.25
    loop: bool = True
    stop_event: threading.Event = field(default_factory=threading.Event)
    #: While set, nothing is sent (the connection stays open): a stream that stalls.
    pause: threading.Event = field(default_factory=threading.Event)
    #: When set, the connection is dropped without a stop message.
    drop: threading.Event = field(default_factory=threading.Event)
    windows: list[dict[str, object]] = field(default_factory=list)
    error: BaseException | None = None

    def start(self) -> Feeder:
        self.thread = threading.Thread(target=self._run, daemon=True, name=self.stream_id)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(10)

    def _run(self) -> None:
        try:
            self._send()
        except BaseException as exc:  # the test reads it
            self.error = exc

    def _send(self) -> None:
        x = self.signal.reshape(len(self.signal), -1).astype(np.float32)
        step = max(int(self.fs * self.chunk_s), 1)
        start = {"type": "start", "stream_id": self.stream_id, "fs": self.fs,
                 "format": "float32", "leads": self.leads}  # fmt: skip
        with connect(f"{self.ws_url}/v1/stream?token={self.token}") as ws:
            ws.send(json.dumps(start))
            ws.recv()
            t_next = time.monotonic()
            i = 0
            while not self.stop_event.is_set():
                if self.drop.is_set():
                    return
                if self.pause.is_set():
                    time.sleep(0.05)
                    t_next = time.monotonic()
                    continue
                if i >= len(x):
                    if not self.loop:
                        break
                    i = 0
                ws.send(np.ascontiguousarray(x[i : i + step]).tobytes())
                for line in str(ws.recv()).splitlines():
                    item = json.loads(line)
                    if item["type"] == "window":
                        self.windows.append(item)
                i += step
                t_next += self.chunk_s / self.speed
                time.sleep(max(t_next - time.monotonic(), 0.0))
            ws.send(json.dumps({"type": "stop"}))
            ws.recv()
