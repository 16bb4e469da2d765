"""The server, over real HTTP and WebSocket connections to a uvicorn server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import websockets

from cardiostream import analyze, read
from cardiostream.io import ParquetStore
from cardiostream.samples import sample_path
from cardiostream.serve import ServeConfig

from .conftest import OTHER, TOKEN, Live, start_server

AUTH = {"Authorization": f"Bearer {TOKEN}"}
AF = read(sample_path("mitdb-201-af"))
SIGNAL = AF.lead(0)


def _get(live: Live, path: str, token: str | None = TOKEN, **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(live.url + path, headers=headers, params=params, timeout=30)


async def _stream(
    live: Live,
    frames: list[bytes | str],
    start: dict[str, Any],
    token: str = TOKEN,
    stop: bool = True,
) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
    """Send a start message and frames; collect everything until the close. Returns the
    ready message, the objects received (acks removed), and the close code."""
    headers = {"Authorization": f"Bearer {token}"}
    out: list[dict[str, Any]] = []
    async with websockets.connect(live.ws + "/v1/stream", additional_headers=headers) as ws:
        await ws.send(json.dumps(start))
        ready = json.loads(await ws.recv())
        acked = 0
        try:
            for frame in frames:
                await ws.send(frame)
                lines = [json.loads(line) for line in (await ws.recv()).split("\n")]
                ack = lines.pop()
                assert ack["type"] == "ack" and ack["samples"] >= acked
                assert all(m["type"] != "ack" for m in lines)
                acked = ack["samples"]
                out += lines
            if not stop:  # the client goes away without a word
                return ready, out, 1000
            await ws.send(json.dumps({"type": "stop"}))
            while True:
                out += [json.loads(line) for line in (await ws.recv()).split("\n")]
        except websockets.ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else 1006
        return ready, out, code


def _float_frames(x: np.ndarray, sizes: list[int]) -> list[bytes | str]:
    frames: list[bytes | str] = []
    lo = 0
    for n in sizes:
        frames.append(x[lo : lo + n].astype("<f4").tobytes())
        lo += n
    return frames


def test_health_needs_no_token_and_metrics_do(live: Live) -> None:
    assert _get(live, "/healthz", token=None).json()["status"] == "ok"
    assert _get(live, "/metrics", token=None).status_code == 401
    assert _get(live, "/metrics", token="wrong").status_code == 401
    # Server-wide totals are the operator's (the first token): another tenant gets 403.
    assert _get(live, "/metrics", token=OTHER).status_code == 403
    text = _get(live, "/metrics").text
    assert "cardiostream_hop_latency_seconds" in text and "cardiostream_batch_size" in text
    assert _get(live, "/docs", token=None).status_code == 200


def test_predict_json_and_binary_give_the_window_of_analyze(live: Live) -> None:
    x = SIGNAL[: int(20 * AF.fs)]
    expected = analyze(x, AF.fs).windows[-1]
    got = httpx.post(
        live.url + "/v1/predict", json={"fs": AF.fs, "samples": x.tolist()}, headers=AUTH
    )
    assert got.status_code == 200 and got.json() == expected
    binary = httpx.post(
        live.url + "/v1/predict",
        content=x.astype("<f4").tobytes(),
        params={"fs": AF.fs},
        headers={**AUTH, "content-type": "application/octet-stream"},
    )
    assert binary.json() == expected
    adu = np.round(x * 200).astype("<i2")
    as_int = httpx.post(
        live.url + "/v1/predict",
        content=adu.tobytes(),
        params={"fs": AF.fs, "format": "int16", "gain": 200},
        headers={**AUTH, "content-type": "application/octet-stream"},
    )
    assert as_int.status_code == 200 and as_int.json()["label"] == expected["label"]


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 422),
        ({"json": {"fs": 1e9, "samples": [0.0] * 100}}, 422),
        ({"json": {"fs": 250, "samples": [0.0] * 100}}, 422),  # under 10 s
        ({"json": {"fs": 250, "samples": "abc"}}, 422),
        ({"json": {"fs": 250, "samples": [0.0] * 2500, "units": "furlong"}}, 422),
        (
            {
                "content": b"\x00\x00\x80",
                "params": {"fs": 250},
                "headers": {"content-type": "application/octet-stream"},
            },
            422,
        ),
        (
            {
                "content": b"\x00" * 40000,
                "params": {"fs": 250, "format": "float64"},
                "headers": {"content-type": "application/octet-stream"},
            },
            422,
        ),
    ],
)
def test_predict_bad_input_is_4xx(live: Live, kwargs: dict[str, Any], status: int) -> None:
    headers = {**AUTH, **kwargs.pop("headers", {})}
    r = httpx.post(live.url + "/v1/predict", headers=headers, **kwargs)
    assert r.status_code == status, r.text
    assert "detail" in r.json()


@pytest.mark.parametrize(
    ("kwargs", "detail"),
    [
        (
            {"json": {"fs": 0, "samples": [0.0] * 3000}},
            "fs: input should be greater than or equal to 50, got 0",
        ),
        ({"json": {"samples": [0.0] * 3000}}, "fs: field required"),
        ({"json": {"fs": 250, "samples": "abc"}}, "samples: input should be a valid array"),
        ({"json": [1, 2]}, "body: expected a JSON object"),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, "body: not"),
    ],
)
def test_predict_errors_name_the_field(live: Live, kwargs: dict[str, Any], detail: str) -> None:
    headers = {**AUTH, **kwargs.pop("headers", {})}
    r = httpx.post(live.url + "/v1/predict", headers=headers, **kwargs)
    assert r.status_code == 422
    assert r.json()["detail"].startswith(detail), r.json()


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_binary_infinities_are_refused_as_json_ones_are(live: Live, value: float) -> None:
    """A float32 NaN is a missing sample (a gap), as a JSON null is; an infinity is bad data
    on both paths: 1003 on a stream, 422 on /v1/predict."""
    x = np.zeros(2500, "<f4")
    x[7] = value
    r = httpx.post(live.url + "/v1/predict", content=x.tobytes(), params={"fs": 250},
                   headers={**AUTH, "content-type": "application/octet-stream"})  # fmt: skip
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith("body: sample 7 (of 0 to 2499) is infinite"), r.text

    async def run() -> tuple[list[str], int, str]:
        async with websockets.connect(live.ws + "/v1/stream", additional_headers=AUTH) as ws:
            await ws.send(json.dumps({"type": "start", "stream_id": f"inf{value > 0}", "fs": 250}))
            assert json.loads(await ws.recv())["type"] == "ready"
            gap = np.full(250, np.nan, "<f4")
            await ws.send(gap.tobytes())  # NaN: a gap, accepted
            replies = [str(await ws.recv()).splitlines()[-1]]
            await ws.send(x[:250].tobytes())
            try:
                replies.append(str(await ws.recv()))
            except websockets.ConnectionClosed as closed:
                assert closed.rcvd is not None
                return replies, closed.rcvd.code, closed.rcvd.reason
        raise AssertionError("not closed")

    replies, code, reason = asyncio.run(run())
    assert replies == ['{"type": "ack", "samples": 250}']
    assert code == 1003 and reason.startswith("frame: sample 7 (of 0 to 249) is infinite")


def test_a_resume_with_an_ack_never_sent_is_refused(live: Live) -> None:
    start = {"type": "start", "stream_id": "acked-ahead", "fs": 250}

    async def run() -> tuple[int, str, list[dict[str, Any]]]:
        async with websockets.connect(live.ws + "/v1/stream", additional_headers=AUTH) as ws:
            # A stream new to the server takes any acked: a sender back after a restart.
            await ws.send(json.dumps({**start, "acked": 4000}))
            assert json.loads(await ws.recv())["resumed"] is False
            await ws.send(np.zeros(500, "<f4").tobytes())
            await ws.recv()
        async with websockets.connect(live.ws + "/v1/stream", additional_headers=AUTH) as ws:
            await ws.send(json.dumps({**start, "acked": 1_000_000_000}))
            try:
                await ws.recv()
            except websockets.ConnectionClosed as closed:
                assert closed.rcvd is not None
                code, reason = closed.rcvd.code, closed.rcvd.reason
            else:
                raise AssertionError("not closed")
        readies = []
        for acked in (500, 0):  # the stream is kept: an honest count resumes it
            async with websockets.connect(live.ws + "/v1/stream", additional_headers=AUTH) as ws:
                await ws.send(json.dumps({**start, "acked": acked}))
                readies.append(json.loads(await ws.recv()))
        return code, reason, readies

    code, reason, readies = asyncio.run(run())
    assert code == 1003
    assert reason == "acked: 1000000000 is past the 500 samples the server has of this stream"
    assert [(r["resumed"], r["samples"]) for r in readies] == [(True, 500), (True, 500)]


def test_messages_name_what_the_client_sent(live: Live) -> None:
    """A binary start, a resume as the other kind of stream and an absurd sample: each
    refusal says what was wrong in the client's terms."""
    r = httpx.post(
        live.url + "/v1/predict", headers=AUTH, json={"fs": 250, "samples": [1e300] * 2500}
    )
    assert r.status_code == 422
    assert r.json()["detail"] == "samples: sample 0 (1e+300 mV) is above 1e+09 mV: not an ECG"
    big = np.full(2500, 1e30, "<f4").tobytes()
    r = httpx.post(live.url + "/v1/predict", content=big, params={"fs": 250},
                   headers={**AUTH, "content-type": "application/octet-stream"})  # fmt: skip
    assert r.json()["detail"].startswith("body: sample 0 (1e+30 mV) is above")

    async def closed(first: str | bytes, then: bytes | None = None) -> str:
        async with websockets.connect(live.ws + "/v1/stream", additional_headers=AUTH) as ws:
            await ws.send(first)
            try:
                await ws.recv()
                if then is not None:
                    await ws.send(then)
                    await ws.recv()
            except websockets.ConnectionClosed as exc:
                assert exc.rcvd is not None and exc.rcvd.code == 1003
                return exc.rcvd.reason
        raise AssertionError("not closed")

    async def run() -> list[str]:
        start = {"type": "start", "stream_id": "kind-ecg", "fs": 250}
        async with websockets.connect(live.ws + "/v1/stream", additional_headers=AUTH) as ws:
            await ws.send(json.dumps(start))
            await ws.recv()
        return [
            await closed(json.dumps(start).encode()),
            await closed(json.dumps({"type": "start", "stream_id": "kind-ecg", "format": "beats"})),
            await closed(json.dumps({**start, "stream_id": "big"}), big[:1000]),
        ]

    binary, kind, frame = asyncio.run(run())
    assert binary == "start: the first message must be a JSON start message (text)"
    assert kind == "format: 'kind-ecg' was started as an ECG stream"
    assert frame == "frame: sample 0 (1e+30 mV) is above 1e+09 mV: not an ECG"


def test_predict_needs_a_token(live: Live) -> None:
    body = {"fs": 250, "samples": [0.0] * 2500}
    assert httpx.post(live.url + "/v1/predict", json=body).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert httpx.post(live.url + "/v1/predict", json=body, headers=wrong).status_code == 401


def test_a_streamed_record_gives_exactly_what_analyze_gives(live: Live) -> None:
    rng = np.random.default_rng(0)
    sizes = list(rng.integers(50, 1500, size=200))
    frames = _float_frames(SIGNAL, sizes)
    start = {"type": "start", "stream_id": "exact", "fs": AF.fs}
    ready, got, code = asyncio.run(_stream(live, frames, start))
    assert ready == {"type": "ready", "stream_id": "exact", "samples": 0, "resumed": False,
                     "hop_s": 1, "window_s": 10}  # fmt: skip
    assert code == 1000
    assert got[-1] == {"type": "end", "samples": SIGNAL.size}
    assert got[:-1] == analyze(AF).lines


def test_json_frames_and_microvolts(live: Live) -> None:
    x = SIGNAL[: int(30 * AF.fs)]
    frames: list[bytes | str] = [
        json.dumps({"samples": (x[lo : lo + 360] * 1000).tolist()}) for lo in range(0, x.size, 360)
    ]
    start = {"type": "start", "stream_id": "json", "fs": AF.fs, "format": "json", "units": "uV"}
    _, got, _ = asyncio.run(_stream(live, frames, start))
    windows = [g for g in got if g["type"] == "window"]
    expected = analyze(x, AF.fs).windows
    assert [w["label"] for w in windows] == [w["label"] for w in expected]
    assert np.allclose(
        [w["probabilities"]["af"] for w in windows], [w["probabilities"]["af"] for w in expected],
        atol=1e-5,
    )  # fmt: skip


def test_resume_after_a_disconnect_continues_the_state(live: Live) -> None:
    half = int(35 * AF.fs)
    frames = _float_frames(SIGNAL, [360] * (half // 360))
    start = {"type": "start", "stream_id": "resume", "fs": AF.fs}
    _, first, _ = asyncio.run(_stream(live, frames, start, stop=False))
    ready, second, _ = asyncio.run(_stream(live, _float_frames(SIGNAL[half:], [500] * 40), start))
    assert ready["resumed"] and ready["samples"] == half
    assert first + second[:-1] == analyze(AF).lines
    # Another token does not see the stream: the same id is a new stream there.
    ready, _, _ = asyncio.run(_stream(live, [], {**start, "stream_id": "resume2"}, token=OTHER))
    assert not ready["resumed"]


def test_one_bad_stream_does_not_disturb_another(live: Live) -> None:
    async def both() -> tuple[Any, Any]:
        good = _stream(live, _float_frames(SIGNAL, [720] * 30),
                       {"type": "start", "stream_id": "good", "fs": AF.fs})  # fmt: skip
        bad = _stream(live, [b"\x00\x01\x02"], {"type": "start", "stream_id": "bad", "fs": AF.fs})
        return await asyncio.gather(good, bad)

    (_, good, good_code), (_, bad, bad_code) = asyncio.run(both())
    assert bad_code == 1003 and not bad
    assert good_code == 1000 and len([g for g in good if g["type"] == "window"]) == 51


@pytest.mark.parametrize(
    ("start", "frames", "code"),
    [
        ({"type": "hello"}, [], 1003),
        ({"type": "start", "stream_id": "../x", "fs": 250}, [], 1003),
        ({"type": "start", "stream_id": "a", "fs": 1e7}, [], 1003),
        ({"type": "start", "stream_id": "a", "fs": 250, "format": "float64"}, [], 1003),
        ({"type": "start", "stream_id": "a", "fs": 250, "acked": -1}, [], 1003),
        ({"type": "start", "stream_id": "a", "fs": 250, "acked": "12"}, [], 1003),
        ({"type": "start", "stream_id": "a", "fs": 250, "acked": True}, [], 1003),
        ({"type": "start", "stream_id": "big", "fs": 250}, [b"\x00" * 4 * 6000], 1009),
        ({"type": "start", "stream_id": "nan", "fs": 250}, ['{"samples": [1, 2]}'], 1003),
        (
            {"type": "start", "stream_id": "huge", "fs": 250},
            [np.full(10, 1e12, "<f4").tobytes()],
            1003,
        ),
    ],
)
def test_bad_streams_are_closed_with_a_code_and_reason(
    live: Live, start: dict[str, Any], frames: list[bytes | str], code: int
) -> None:
    async def run() -> tuple[int, str]:
        async with websockets.connect(live.ws + "/v1/stream", additional_headers=AUTH) as ws:
            await ws.send(json.dumps(start))
            try:
                msg = json.loads(await ws.recv())
                assert msg["type"] == "ready"
                for f in frames:
                    await ws.send(f)
                await ws.recv()
            except websockets.ConnectionClosed as closed:
                assert closed.rcvd is not None
                return closed.rcvd.code, closed.rcvd.reason
        raise AssertionError("not closed")

    got, reason = asyncio.run(run())
    assert got == code and reason


BIG = "1" + "0" * 400  # an integer past the float range


@pytest.mark.parametrize(
    ("start", "frame"),
    [
        ('{"type": "start", "stream_id": "n1", "fs": NaN}', None),
        ('{"type": "start", "stream_id": "n2", "fs": 1e999}', None),
        ('{"type": "start", "stream_id": "n3", "fs": -Infinity}', None),
        ('{"type": "start", "stream_id": "n4", "fs": ' + BIG + "}", None),
        ('{"type": "start", "stream_id": "n5", "fs": 250, "format": "int16", "gain": ' + BIG + "}",
         None),
        ('{"type": "start", "stream_id": "n6", "fs": 250, "gain": NaN}', None),
        ('{"type": "start", "stream_id": "n7", "fs": "\\ud800"}', None),
        ('{"type": "start", "stream_id": "n8", "fs": 250, "lead": "\\udc00"}', None),
        ('{"type": "start", "stream_id": "n9", "fs": 250, "lead": ["II"]}', None),
        ("[" * 100_000, None),
        ('{"type": "start", "stream_id": "j1", "fs": 250, "format": "json"}',
         '{"samples": [1, ' + BIG + "]}"),
        ('{"type": "start", "stream_id": "j2", "fs": 250, "format": "json"}',
         '{"samples": [1e999, 0]}'),
        ('{"type": "start", "stream_id": "j3", "fs": 250, "format": "json"}',
         '{"samples": [[1, 2], [3]]}'),
        ('{"type": "start", "stream_id": "j4", "fs": 250, "format": "json"}',
         '{"samples": [true, "1"]}'),
        ('{"type": "start", "stream_id": "j5", "fs": 250, "format": "json"}', "[" * 100_000),
    ],
)  # fmt: skip
def test_bad_numbers_and_bad_json_close_1003_not_1011(
    live: Live, start: str, frame: str | None
) -> None:
    """NaN, infinities, integers past the float range, lone surrogates and JSON nested past
    the parser's depth are the client's fault: 1003 with a reason, never an internal error
    (1011) or "try later" (1013)."""

    async def run() -> tuple[int, str]:
        async with websockets.connect(live.ws + "/v1/stream", additional_headers=AUTH) as ws:
            await ws.send(start)
            try:
                assert json.loads(await ws.recv())["type"] == "ready"
                assert frame is not None, "the start message was accepted"
                await ws.send(frame)
                await ws.recv()
            except websockets.ConnectionClosed as closed:
                assert closed.rcvd is not None
                return closed.rcvd.code, closed.rcvd.reason
        raise AssertionError("not closed")

    code, reason = asyncio.run(run())
    assert (code, bool(reason)) == (1003, True), reason


def test_streams_without_a_valid_token_are_closed_1008(live: Live) -> None:
    async def run(headers: dict[str, str]) -> int:
        async with websockets.connect(live.ws + "/v1/stream", additional_headers=headers) as ws:
            try:
                await ws.recv()
            except websockets.ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else 0
        return 0

    assert asyncio.run(run({})) == 1008
    assert asyncio.run(run({"Authorization": "Bearer wrong"})) == 1008


def test_records_api(live: Live) -> None:
    ids = [r["id"] for r in _get(live, "/v1/records").json()]
    assert set(ids) >= {"mitdb-201-af", "mitdb-100-nsr"}
    meta = _get(live, "/v1/records/mitdb-201-af").json()
    assert meta["fs"] == 360.0
    part = _get(live, "/v1/records/mitdb-201-af/signal", lead="MLII", start=5).json()
    assert len(part["samples"]) == 15 * 360 and part["start_s"] == 5
    np.testing.assert_allclose(part["samples"], SIGNAL[5 * 360 : 20 * 360], atol=1e-6)
    ann = _get(live, "/v1/records/mitdb-201-af/annotations").json()
    assert len(ann["beats"]["sample"]) > 50
    events = _get(live, "/v1/records/mitdb-201-af/events").json()["events"]
    assert [e["kind"] for e in events] == ["af"]
    beats = _get(live, "/v1/records/mitdb-201-af/beats", lead="MLII").json()
    assert len(beats["t_s"]) == len(beats["label"]) == len(beats["p"]) > 50
    assert set(beats["label"]) <= set("NSVFQ") and beats["t_s"] == sorted(beats["t_s"])
    assert _get(live, "/v1/records/mitdb-201-af/beats", lead="9").status_code == 422
    assert _get(live, "/v1/records", token=None).status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        "/v1/records/nothere",
        "/v1/records/..%2F..%2Fetc",
        "/v1/records/%2E%2E",
        "/v1/records/..",
        "/v1/records/.hidden/signal",
        "/v1/records/mitdb-201-af%2F..%2F..%2Fmeta.json/signal",
    ],
)
def test_records_cannot_be_walked_out_of_the_store(live: Live, path: str) -> None:
    assert _get(live, path).status_code == 404


def test_record_slice_bad_parameters(live: Live) -> None:
    base = "/v1/records/mitdb-201-af/signal"
    assert _get(live, base, duration=10_000).status_code == 422
    assert _get(live, base, start=-1).status_code == 422
    assert _get(live, base, start=1e6).status_code == 422
    assert _get(live, base, lead="V9").status_code == 422


@pytest.mark.parametrize(
    ("endpoint", "param", "value"),
    [
        *((e, "lead", v) for e in ["signal", "rpeaks", "events"] for v in ["²", "--1", ""]),
        ("signal", "start", 1e308),
        ("rpeaks", "start", 1e308),
    ],
)
def test_record_odd_parameters_are_422(live: Live, endpoint: str, param: str, value: Any) -> None:
    r = _get(live, f"/v1/records/mitdb-201-af/{endpoint}", **{param: value})
    assert r.status_code == 422
    assert param in r.text


def test_live_streams_are_recorded_into_the_store(tmp_path: Path) -> None:
    config = ServeConfig(tokens=[TOKEN], store=tmp_path, record=True)
    server, thread, live = start_server(config)
    try:
        x = SIGNAL[: int(20 * AF.fs)]
        start = {"type": "start", "stream_id": "bed7", "fs": AF.fs}
        asyncio.run(_stream(live, _float_frames(x, [360] * 20), start))
        store = ParquetStore(tmp_path)
        deadline = time.monotonic() + 30  # written into the store just after the stop
        while not store.ids() and time.monotonic() < deadline:
            time.sleep(0.05)
        (record_id,) = store.ids()
        assert "bed7" in record_id
        np.testing.assert_allclose(store.read(record_id).lead(0), x.astype(np.float32))
        assert not list((tmp_path / ".live").iterdir())  # its segment is gone
    finally:
        server.should_exit = True
        thread.join(10)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_stream_limit_turns_new_streams_away(tmp_path: Path) -> None:
    server, thread, live = start_server(ServeConfig(tokens=[TOKEN], max_streams=1))

    async def run() -> int:
        async with websockets.connect(live.ws + "/v1/stream", additional_headers=AUTH) as one:
            await one.send(json.dumps({"type": "start", "stream_id": "one", "fs": 250}))
            await one.recv()
            async with websockets.connect(live.ws + "/v1/stream", additional_headers=AUTH) as two:
                await two.send(json.dumps({"type": "start", "stream_id": "two", "fs": 250}))
                try:
                    await two.recv()
                except websockets.ConnectionClosed as closed:
                    return closed.rcvd.code if closed.rcvd else 0
        return 0

    try:
        assert asyncio.run(run()) == 1013
    finally:
        server.should_exit = True
        thread.join(10)


def test_no_auth_only_on_loopback() -> None:
    from cardiostream import InputError

    with pytest.raises(InputError, match="loopback"):
        ServeConfig(auth=False, host="0.0.0.0")
    with pytest.raises(InputError, match="token"):
        ServeConfig(tokens=[])
    assert ServeConfig(auth=False, host="127.0.0.1").owner(None) == "local"


def test_a_body_over_the_limit_is_refused_without_being_read_whole() -> None:
    server, thread, live = start_server(ServeConfig(tokens=[TOKEN], max_body_bytes=100_000))
    try:
        url = live.url + "/v1/predict"
        declared = httpx.post(url, headers=AUTH, content=b"0" * 200_000)
        assert declared.status_code == 413
        assert declared.json()["detail"].startswith("body: over the")

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            for _ in range(50):
                yield b"0" * 10_000

        streamed = httpx.post(url, headers=AUTH, content=chunks())
        assert streamed.status_code == 413
        x = SIGNAL[: int(12 * AF.fs)]
        ok = httpx.post(url, headers=AUTH, json={"fs": AF.fs, "samples": x.tolist()})
        assert ok.status_code == 200 and ok.json()["type"] == "window"
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_dead_engine_is_said_not_hidden() -> None:
    before = {p.pid for p in multiprocessing.active_children()}
    server, thread, live = start_server(ServeConfig(tokens=[TOKEN]))
    try:
        assert httpx.get(live.url + "/healthz").json()["status"] == "ok"
        (engine,) = [p for p in multiprocessing.active_children() if p.pid not in before]
        os.kill(engine.pid, signal.SIGKILL)  # as an out-of-memory kill would
        engine.join(10)
        health = httpx.get(live.url + "/healthz")
        assert health.status_code == 503 and health.json()["status"] == "degraded"
        x = SIGNAL[: int(12 * AF.fs)]
        r = httpx.post(
            live.url + "/v1/predict", headers=AUTH, json={"fs": AF.fs, "samples": x.tolist()}
        )
        assert r.status_code == 503
        assert r.json()["detail"].startswith("the engine is unavailable")
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_connection_that_never_starts_is_closed() -> None:
    server, thread, live = start_server(ServeConfig(tokens=[TOKEN], start_timeout_s=0.5))

    async def run() -> tuple[int, str]:
        async with websockets.connect(live.ws + "/v1/stream", additional_headers=AUTH) as ws:
            try:
                await asyncio.wait_for(ws.recv(), 20)
            except websockets.ConnectionClosed as closed:
                assert closed.rcvd is not None
                return closed.rcvd.code, closed.rcvd.reason
        return 0, ""

    try:
        code, reason = asyncio.run(run())
        assert code == 1002 and "no start message" in reason
    finally:
        server.should_exit = True
        thread.join(10)
