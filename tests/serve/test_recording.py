"""Live recordings: on disk before the ack, cut back to a checkpoint, recovered after a crash."""

from __future__ import annotations

import pickle
import time
from pathlib import Path

import numpy as np

from cardiostream.io import ParquetStore
from cardiostream.serve.config import ServeConfig
from cardiostream.serve.hub import Hub
from cardiostream.serve.recording import LIVE_DIR, Part, Segments, Syncer, recover_orphans
from cardiostream.serve.rpc import Open

from .test_app import AF, SIGNAL

FS = AF.fs


def _frames(n: int, size: int = 360) -> list[bytes]:
    return [SIGNAL[k * size : (k + 1) * size].astype(np.float64).tobytes() for k in range(n)]


def _hub(store: Path, **kwargs: float) -> Hub:
    config = ServeConfig(tokens=["t"], store=store, record=True, **kwargs)  # type: ignore[arg-type]
    return Hub(config)


def test_every_pushed_sample_is_on_disk_before_the_push_returns(tmp_path: Path) -> None:
    hub = _hub(tmp_path)
    hub.open("o", "bed1", FS, ("MLII",), 0)
    for frame in _frames(3):
        hub.push("o", "bed1", frame)
    # A kill -9 now would leave exactly this segment; nothing is held back in memory.
    (data,) = (tmp_path / LIVE_DIR).glob("*.f32")
    np.testing.assert_array_equal(np.fromfile(data, "<f4"), SIGNAL[:1080].astype(np.float32))


def test_segments_left_by_a_crash_become_records_at_the_next_start(tmp_path: Path) -> None:
    hub = _hub(tmp_path)
    hub.open("o", "bed1", FS, ("MLII",), 0)
    for frame in _frames(5):
        hub.push("o", "bed1", frame)
    del hub  # the process dies: no close, no save

    (record_id,) = _hub(tmp_path).recover()
    store = ParquetStore(tmp_path)
    assert store.ids() == [record_id]
    assert store.meta(record_id)["meta"]["recovered"] is True
    np.testing.assert_array_equal(store.read(record_id).lead(0), SIGNAL[:1800].astype(np.float32))
    assert not (tmp_path / LIVE_DIR).exists()


def test_a_restored_stream_records_each_sample_once(tmp_path: Path) -> None:
    hub = _hub(tmp_path, checkpoint_s=2.0, record_part_s=4.0)
    opening = Open("o", "bed1", FS, ("MLII",), 0)
    hub.open(*opening)
    frames = _frames(11)
    checkpoint, since = None, []
    for frame in frames[:9]:
        pushed = hub.push("o", "bed1", frame)
        if pushed.checkpoint is not None:
            checkpoint, since = pushed.checkpoint, []
        else:
            since.append(frame)
    assert checkpoint is not None and since  # the crash comes between checkpoints
    assert hub._finisher is not None
    hub._finisher.drain()  # the finished parts are in the store when the engine dies
    assert pickle.loads(checkpoint)["part"] == 2  # after two parts were finished

    # A new engine: the segment on disk runs past the checkpoint; the restore cuts it back
    # and the replay writes the frames after it again, once.
    again = _hub(tmp_path, checkpoint_s=2.0, record_part_s=4.0)
    began = hub.sessions[("o", "bed1")].began
    assert again.restore(opening, checkpoint, since, True, began) == 9 * 360
    for frame in frames[9:]:
        again.push("o", "bed1", frame)
    again.close("o", "bed1")
    again.save_all()  # (the shutdown waits for records being written)
    store = ParquetStore(tmp_path)
    parts = [store.read(r).lead(0) for r in sorted(store.ids())]
    assert [p.size for p in parts] == [1440, 1440, 1080]
    np.testing.assert_array_equal(np.concatenate(parts), SIGNAL[:3960].astype(np.float32))


def test_a_part_finished_after_the_checkpoint_is_reopened(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    segments = Segments(store)
    part = Part("o", "s", 250.0, ("ECG",), 0, number=0, start=0)
    rows = np.arange(1000, dtype=np.float32).reshape(-1, 1)
    segments.append(part, rows)
    segments.finish(part, final=False)  # its record is written; then the engine dies
    segments.resume(part, consumed=600)  # the last checkpoint the web process has
    assert segments.rows(part) == 600
    assert segments.finish(part, final=True) == part.name
    np.testing.assert_array_equal(store.read(part.name).lead(0), rows[:600, 0])


def test_segments_of_live_streams_are_left_alone_but_their_finished_parts_written(
    tmp_path: Path,
) -> None:
    store = ParquetStore(tmp_path)
    segments = Segments(store)
    mine = Part("o", "live", 250.0, ("ECG",), 0, 1, 250, began="t1")
    # Finished, handed to the writer, and the engine died before it wrote it:
    earlier = Part("o", "live", 250.0, ("ECG",), 0, 0, 0, began="t1")
    gone = Part("o", "gone", 250.0, ("ECG",), 0, 3, 900)
    older = Part("o", "live", 250.0, ("ECG",), 0, 5, 900, began="t0")  # the id's last life
    for part in (mine, earlier, gone, older):
        segments.append(part, np.ones((250, 1), np.float32))
    found = recover_orphans(segments, {("o", "live", "t1"): 1})
    assert sorted(found) == sorted([earlier.name, gone.name, older.name])
    assert segments.rows(mine) == 250
    assert "recovered" not in store.meta(earlier.name)["meta"]
    assert store.meta(gone.name)["meta"]["recovered"] is True


def test_the_syncer_forces_written_segments_to_disk(tmp_path: Path) -> None:
    segments = Segments(ParquetStore(tmp_path))
    syncer = Syncer(segments, every_s=0.05)
    syncer.start()
    try:
        segments.append(Part("o", "s", 250.0, ("ECG",), 0, 0, 0), np.ones((5, 1), np.float32))
        deadline = time.monotonic() + 10
        while syncer.syncs == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert syncer.syncs == 1
        time.sleep(0.2)
        assert syncer.syncs == 1  # nothing new written: no sync
    finally:
        syncer.stop()


def test_abandoned_streams_are_dropped_and_never_outnumber_the_limit() -> None:
    hub = Hub(ServeConfig(tokens=["t"], max_streams=10, resume_ttl_s=60.0))
    for i in range(25):
        hub.open("o", f"s{i}", 250.0, ("ECG",), 0)
        hub.push("o", f"s{i}", np.zeros(250).tobytes())
        hub.disconnect("o", f"s{i}")
        hub.expire()
    assert len(hub.sessions) == 10  # the oldest went first
    assert {k[1] for k in hub.sessions} == {f"s{i}" for i in range(15, 25)}
    for session in hub.sessions.values():
        session.left_at -= 61.0  # their resume window has passed
    hub.expire()
    assert hub.sessions == {}
    assert sorted(hub.gone()) == sorted(("o", f"s{i}") for i in range(25))
    assert hub.gone() == []


def test_an_id_used_again_after_a_restart_never_records_over_the_old_one(tmp_path: Path) -> None:
    first = _hub(tmp_path)
    first.open("o", "bed1", FS, ("MLII",), 0)
    first.push("o", "bed1", _frames(1)[0])
    del first  # the server is killed

    second = _hub(tmp_path)
    (recovered,) = second.recover()
    time.sleep(0.002)  # a new start, however soon
    second.open("o", "bed1", FS, ("MLII",), 0)  # the client comes back: a new stream
    second.push("o", "bed1", _frames(2)[1])
    second.close("o", "bed1")
    second.save_all()
    store = ParquetStore(tmp_path)
    assert len(store.ids()) == 2 and recovered in store.ids()
    np.testing.assert_array_equal(store.read(recovered).lead(0), SIGNAL[:360].astype(np.float32))
