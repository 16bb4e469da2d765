"""The engine's typed requests: dispatch, replies in order, and batching over a pipe."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import threading
from collections.abc import Sequence
from typing import Any

import pytest

from cardiostream.errors import InputError
from cardiostream.serve import engine as engine_mod
from cardiostream.serve.batcher import Batcher, EngineClient
from cardiostream.serve.config import ServeConfig
from cardiostream.serve.metrics import Metrics
from cardiostream.serve.rpc import (
    Close,
    Disconnect,
    EngineError,
    Expire,
    Lines,
    Open,
    Opened,
    Predict,
    Push,
    Pushed,
    Watch,
    answer,
    dispatch,
    unwrap,
)
from cardiostream.stream.events import EventConfig


class FakeEngine:
    """Records every call; ``push`` of stream ``bad``/``full``/``bug`` fails as the hub may."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.batches = 0
        self.saved = False

    def open(
        self,
        owner: str,
        stream_id: str,
        fs: float,
        leads: tuple[str, ...],
        lead: int,
        source: str = "ecg",
        timing: str = "ecg",
    ) -> Opened:
        self.calls.append(("open", owner, stream_id, fs, leads, lead, source, timing))
        return Opened(0, False, 1, 10)

    def push(self, owner: str, stream_id: str, samples: bytes) -> Pushed:
        self.calls.append(("push", owner, stream_id, samples))
        if stream_id == "bad":
            raise InputError("samples: refused")
        if stream_id == "full":
            raise OverflowError("at the limit")
        if stream_id == "bug":
            raise KeyError(stream_id)
        return Pushed([("ack", stream_id)], len(samples), None)

    def close(self, owner: str, stream_id: str) -> tuple[Lines, int]:
        self.calls.append(("close", owner, stream_id))
        return [], 0

    def disconnect(self, owner: str, stream_id: str) -> None:
        self.calls.append(("disconnect", owner, stream_id))

    def expire(self) -> None:
        self.calls.append(("expire",))

    def predict(
        self, fs: float, samples: bytes, job: str = "", part: int = 0, last: bool = True
    ) -> list[dict[str, Any]]:
        self.calls.append(("predict", fs, samples))
        return [{"type": "window"}]

    def watch(self, owner: str, on: bool) -> None:
        self.calls.append(("watch", owner, on))

    def n_connected(self) -> int:
        self.batches += 1
        return 3

    def save_all(self) -> None:
        self.saved = True

    def restore(
        self,
        open: Open,
        checkpoint: bytes | None,
        frames: Sequence[bytes],
        connected: bool,
        began: str = "",
    ) -> int:
        self.calls.append(("restore", open, checkpoint, tuple(frames), connected))
        return 0

    def recover(self) -> list[str]:
        self.calls.append(("recover",))
        return []

    def gone(self) -> list[tuple[str, str]]:
        return []

    def tick(self) -> None:
        pass


def test_every_request_reaches_its_method() -> None:
    fake = FakeEngine()
    requests = [
        Open("o", "s", 250.0, ("I", "II"), 1),
        Open("o", "b", 0.0, ("beat times",), 0, "beats"),
        Open("o", "p", 0.0, ("beat times",), 0, "beats", "pulse"),
        Push("o", "s", b"\0" * 8),
        Close("o", "s"),
        Disconnect("o", "s"),
        Expire(),
        Predict(250.0, b""),
        Watch("o", True),
    ]
    for request in requests:
        dispatch(fake, request)
    assert fake.calls == [
        ("open", "o", "s", 250.0, ("I", "II"), 1, "ecg", "ecg"),
        ("open", "o", "b", 0.0, ("beat times",), 0, "beats", "ecg"),
        ("open", "o", "p", 0.0, ("beat times",), 0, "beats", "pulse"),
        ("push", "o", "s", b"\0" * 8),
        ("close", "o", "s"),
        ("disconnect", "o", "s"),
        ("expire",),
        ("predict", 250.0, b""),
        ("watch", "o", True),
    ]


def test_an_operation_named_by_string_is_rejected() -> None:
    fake = FakeEngine()
    with pytest.raises(TypeError, match="not an engine request: tuple"):
        dispatch(fake, ("push", ("o", "s", b"")))  # type: ignore[arg-type]
    # In a batch it fails alone, clearly, and the engine is never called.
    replies = answer(fake, [("close", ("o", "s")), Watch("o", False)])  # type: ignore[list-item]
    assert replies == [("error", "TypeError: not an engine request: tuple"), ("ok", None)]
    assert fake.calls == [("watch", "o", False)]


def test_a_batch_is_answered_in_order_and_failures_stay_with_their_request() -> None:
    fake = FakeEngine()
    batch = [Push("o", name, b"ab") for name in ("a", "bad", "b", "full", "bug", "c")]
    replies = answer(fake, batch)
    assert [status for status, _ in replies] == ["ok", "input", "ok", "busy", "error", "ok"]
    assert unwrap(replies[0]) == ([("ack", "a")], 2, None)
    assert unwrap(replies[5]) == ([("ack", "c")], 2, None)
    with pytest.raises(InputError, match="refused"):
        unwrap(replies[1])
    with pytest.raises(OverflowError, match="at the limit"):
        unwrap(replies[3])
    with pytest.raises(EngineError, match="KeyError"):
        unwrap(replies[4])


def _served(fake: FakeEngine) -> tuple[Any, threading.Thread]:
    """One end of a pipe whose other end an engine loop serves ``fake`` on, in a thread."""
    ours, theirs = mp.get_context("spawn").Pipe()

    def run() -> None:
        theirs.send(engine_mod.READY)
        engine_mod.serve(theirs, fake)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return ours, thread


def test_concurrent_calls_share_one_batch_and_get_their_own_answers() -> None:
    fake = FakeEngine()
    metrics = Metrics()
    conn, thread = _served(fake)

    async def run() -> list[Any]:
        # A wide wait so that the calls below surely land in one batch.
        batcher = Batcher(ServeConfig(tokens=["t"], batch_wait_ms=200.0), metrics)
        await batcher.attach(conn)
        client = EngineClient(batcher)
        try:
            return await asyncio.gather(
                client.open("o", "a", 250.0, ("ECG",), 0),
                client.push("o", "a", b"abc"),
                client.push("o", "bad", b""),
                client.predict(250.0, b"x"),
                client.push("o", "b", b"abcd"),
                return_exceptions=True,
            )
        finally:
            await batcher.stop()

    results = asyncio.run(run())
    thread.join(5)
    assert results[0] == Opened(0, False, 1, 10)
    assert results[1] == ([("ack", "a")], 3)
    assert isinstance(results[2], InputError)
    assert results[3] == [{"type": "window"}]
    assert results[4] == ([("ack", "b")], 4)
    assert fake.batches == 1  # one pipe exchange for all five
    assert metrics.live_streams() == 3
    assert fake.saved  # stop tells the engine to save its recordings


def test_the_hub_answers_the_requests_it_is_sent() -> None:
    from cardiostream.serve.hub import Hub

    hub = Hub(ServeConfig(tokens=["t"]))
    replies = answer(hub, [Open("o", "s", 250.0, ("ECG",), 0), Open("o", "s", 250.0, ("ECG",), 0)])
    status, opened = replies[0]
    assert status == "ok" and opened[:4] == (0, False, 1, 10)
    assert opened.began == hub.sessions[("o", "s")].began != ""
    assert replies[1][0] == "busy"  # already connected
    assert hub.n_connected() == 1


def test_a_long_prediction_goes_in_parts_and_gives_the_windows_of_one_piece(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import numpy as np

    from cardiostream.serve import batcher as batcher_mod
    from cardiostream.serve.hub import Hub
    from tests.serve.test_app import AF, SIGNAL

    hub = Hub(ServeConfig(tokens=["t"]))
    x = SIGNAL[: int(60 * AF.fs)].astype(np.float64).tobytes()
    calls: list[Any] = []
    serve_predict = hub.predict
    monkeypatch.setattr(hub, "predict", lambda *a: calls.append(a[2:]) or serve_predict(*a))
    monkeypatch.setattr(batcher_mod, "PREDICT_PART_BYTES", 8 * 5000)  # 5,000 samples a part
    whole = hub.predict(AF.fs, x)
    conn, thread = _served(hub)  # type: ignore[arg-type]

    async def run() -> list[Any]:
        batcher = Batcher(ServeConfig(tokens=["t"]), Metrics())
        await batcher.attach(conn)
        try:
            return await EngineClient(batcher).predict(AF.fs, x)
        finally:
            await batcher.stop()

    parts = asyncio.run(run())
    thread.join(5)
    assert calls[0] == ()  # the stretch in one piece, then in five parts
    assert [(part, last) for _, part, last in calls[1:]] == [(k, k == 4) for k in range(5)]
    assert len(whole) == 51 and parts == whole
    assert hub._predictions == {}  # the last part ends the job
    with pytest.raises(RuntimeError, match="lost with the engine"):
        serve_predict(AF.fs, x[:8000], job="gone", part=3, last=False)


def test_the_hub_gives_its_streams_the_shortest_af_event() -> None:
    import numpy as np

    from cardiostream.serve.hub import Hub
    from tests.serve.test_app import AF, SIGNAL

    x = SIGNAL[: int(60 * AF.fs)].astype(np.float64).tobytes()  # a minute of AF

    def af_kinds(config: ServeConfig) -> list[str]:
        hub = Hub(config)
        hub.open("o", "ecg", AF.fs, ("ECG",), 0)
        hub.open("o", "rr", 0.0, ("beats",), 0, source="beats")
        assert hub.sessions[("o", "rr")].processor.tracker.config == EventConfig(  # type: ignore[union-attr]
            min_duration_s=config.af_min_s
        )
        lines = hub.push("o", "ecg", x).lines + hub.close("o", "ecg")[0]
        return [kind for kind, text in lines if '"kind": "af"' in text]

    assert af_kinds(ServeConfig(tokens=["t"])) == ["event_open", "event"]
    assert af_kinds(ServeConfig(tokens=["t"], af_min_s=400.0)) == []
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(InputError, match="af_min_s"):
            ServeConfig(tokens=["t"], af_min_s=bad)
