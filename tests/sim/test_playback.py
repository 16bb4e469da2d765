"""Playback of real records as a live source, and clock-paced chunks."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest

from cardiostream.errors import InputError
from cardiostream.io import read
from cardiostream.record import Record
from cardiostream.samples import sample_path
from cardiostream.sim.playback import AF_SAMPLES, Playback, af_playlist
from cardiostream.sim.simulator import Simulator
from cardiostream.sim.sources import LiveSource, chunks


def _ramp_record(name: str, n: int, fs: float = 100.0, leads: int = 1) -> Record:
    x = np.arange(n * leads, dtype=np.float32).reshape(n, leads) + 1000 * len(name)
    return Record(x, fs, [f"L{i}" for i in range(leads)], name)


def test_playback_rotates_through_records_and_loops() -> None:
    a, b = _ramp_record("a", 150), _ramp_record("bb", 70)
    source = Playback([a, b], loop=True)
    got = np.concatenate([source.read(40) for _ in range(12)])
    expected = np.concatenate([a.lead(0), b.lead(0)] * 3)
    np.testing.assert_array_equal(got, expected[: len(got)])
    assert source.current == "a" and len(got) > len(a.lead(0)) + len(b.lead(0))
    assert source.fs == 100.0 and source.leads == ("L0",)


def test_playback_without_loop_ends() -> None:
    source = Playback([_ramp_record("a", 50), _ramp_record("b", 30)], loop=False)
    sizes = [len(source.read(32)) for _ in range(4)]
    assert sizes == [32, 32, 16, 0]
    assert source.exhausted
    assert source.describe()["record"] is None


def test_playback_plays_once_unless_asked_to_loop() -> None:
    source = Playback(_ramp_record("a", 50))
    assert [len(source.read(32)) for _ in range(3)] == [32, 18, 0]
    assert source.exhausted


def test_the_demo_loops_its_recorded_patients() -> None:
    from cardiostream.serve.demo import patients

    played = [s for s in (p.make() for p in patients()) if isinstance(s, Playback)]
    assert len(played) == 2 and all(s.loop for s in played)


def test_playback_of_bundled_samples_by_name_resampled_and_all_leads() -> None:
    source = Playback("mitdb-201-af", fs=250, lead=None)
    x = source.read(500)
    assert x.shape == (500, 2) and source.leads == ("MLII", "V1")
    original = read(sample_path("mitdb-201-af"))
    assert len(source.signals[0]) == round(original.n_samples * 250 / 360)
    one = Playback("mitdb-201-af", lead="V1").read(100)
    np.testing.assert_array_equal(one, original.lead("V1")[:100])


def test_af_playlist_mixes_records_at_one_rate() -> None:
    paths = af_playlist()
    assert [p.name for p in paths] == ["mitdb-201-af.hea", "mitdb-203-af.hea", "A00004.hea"]
    assert len(AF_SAMPLES) == 3
    source = Playback(paths)
    assert source.fs == 360.0  # the first record's; the CinC one is resampled from 300 Hz
    assert len(source.signals[2]) == 30 * 360
    assert isinstance(source, LiveSource)


def test_playback_refuses_bad_input() -> None:
    with pytest.raises(InputError, match="at least one record"):
        Playback([])
    with pytest.raises(InputError, match="no lead 'V5'"):
        Playback("mitdb-201-af", lead="V5")
    with pytest.raises(InputError, match="2 leads, the first record has 1"):
        Playback(["cinc2017-A00004", "mitdb-201-af"], lead=None)


async def _collect(source: LiveSource, **kwargs: object) -> tuple[list[np.ndarray], float]:
    started = time.perf_counter()
    out = [x async for x in chunks(source, **kwargs)]  # type: ignore[arg-type]
    return out, time.perf_counter() - started


def test_chunks_as_fast_as_possible_without_the_clock() -> None:
    out, elapsed = asyncio.run(
        _collect(Simulator(250), chunk_s=0.25, realtime=False, duration_s=60)
    )
    assert [len(x) for x in out] == [62] * 241 + [58]
    assert elapsed < 5


def test_chunks_follow_the_clock_at_a_speed() -> None:
    out, elapsed = asyncio.run(_collect(Simulator(250), chunk_s=0.1, speed=20, duration_s=4))
    assert sum(len(x) for x in out) == 1000
    # 4 s of signal at 20x: 0.2 s; nothing tight, only the order of magnitude.
    assert 0.15 < elapsed < 1.0


def test_chunks_end_with_the_source() -> None:
    out, _ = asyncio.run(
        _collect(Playback(_ramp_record("a", 95), loop=False), chunk_s=0.2, realtime=False)
    )
    assert [len(x) for x in out] == [20, 20, 20, 20, 15]


def test_chunks_refuses_bad_arguments() -> None:
    with pytest.raises(InputError, match="chunk_s"):
        asyncio.run(_collect(Simulator(250), chunk_s=0))
    with pytest.raises(InputError, match="speed"):
        asyncio.run(_collect(Simulator(250), speed=-1))


def test_a_file_named_like_a_sample_is_played_rather_than_the_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nsr = sample_path("mitdb-100-nsr")
    for ext in (".hea", ".dat"):
        text = nsr.with_suffix(ext).read_bytes().replace(b"mitdb-100-nsr", b"mitdb-201-af")
        (tmp_path / f"mitdb-201-af{ext}").write_bytes(text)
    monkeypatch.chdir(tmp_path)
    assert Playback("mitdb-201-af", lead=None).leads == ("MLII", "V5")
