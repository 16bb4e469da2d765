"""StreamProcessor: exact under any chunking, restorable, robust to gaps and bad input."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from cardiostream import InputError, StreamProcessor, read
from cardiostream.rhythm.bundle import weights_dir
from cardiostream.rhythm.infer import RhythmModel
from cardiostream.rhythm.verdict import CLASSES
from cardiostream.samples import sample_path
from cardiostream.stream import EventConfig

Items = list[dict[str, object]]


def _sample(name: str) -> tuple[npt.NDArray[np.float64], float]:
    rec = read(sample_path(name))
    return rec.lead(0).astype(np.float64), rec.fs


def _chunks(
    x: npt.NDArray[np.float64], rng: np.random.Generator, high: int
) -> Iterator[npt.NDArray[np.float64]]:
    i = 0
    while i < x.size:
        n = int(rng.integers(0, high))  # empty chunks included
        yield x[i : i + n]
        i += n


def _run(x: npt.NDArray[np.float64], fs: float, rng: np.random.Generator | None = None,
         high: int = 700, **kw: object) -> Items:  # fmt: skip
    proc = StreamProcessor(fs, **kw)  # type: ignore[arg-type]
    if rng is None:
        return proc.push(x) + proc.flush()
    out: Items = []
    for chunk in _chunks(x, rng, high):
        out += proc.push(chunk)
    return out + proc.flush()


def _windows(items: Items) -> Items:
    return [i for i in items if i["type"] == "window"]


@pytest.fixture(scope="module")
def af_sample() -> tuple[npt.NDArray[np.float64], float]:
    return _sample("mitdb-201-af")


def test_windows_every_second_with_the_contract_fields(
    af_sample: tuple[npt.NDArray[np.float64], float],
) -> None:
    x, fs = af_sample
    items = _run(x, fs)
    windows = _windows(items)
    assert [w["t_end"] for w in windows] == [float(t) for t in range(10, 61)]
    w = windows[20]
    assert w["t_start"] == w["t_end"] - 10  # type: ignore[operator]
    assert set(w) >= {"label", "raw_label", "probabilities", "heart_rate_bpm", "hrv", "quality"}
    probs = w["probabilities"]
    assert isinstance(probs, dict) and list(probs) == list(CLASSES)
    assert abs(sum(probs.values()) - 1) < 1e-4
    assert set(w["hrv"]) == {"mean_rr_ms", "sdnn_ms", "rmssd_ms", "pnn50"}  # type: ignore[arg-type]
    json.dumps(items, allow_nan=False)  # strict JSON: missing measures are None


def test_af_sample_is_called_af_and_gives_one_episode(
    af_sample: tuple[npt.NDArray[np.float64], float],
) -> None:
    x, fs = af_sample
    items = _run(x, fs)
    labels = [w["label"] for w in _windows(items)]
    assert labels.count("af") > 0.8 * len(labels)
    events = [i for i in items if i["type"] in ("event_open", "event")]
    assert [e["type"] for e in events] == ["event_open", "event"]
    closed = events[1]
    assert closed["reason"] == "end_of_stream" and closed["start_s"] == 0.0
    assert closed["end_s"] == 60.0 and 0.5 < closed["confidence"] <= 1.0  # type: ignore[operator]


def test_normal_sample_has_no_af() -> None:
    x, fs = _sample("mitdb-100-nsr")
    items = _run(x, fs)
    labels = [w["label"] for w in _windows(items)]
    assert "af" not in labels and labels.count("normal") > 0.5 * len(labels)
    hr = [w["heart_rate_bpm"] for w in _windows(items)]
    assert all(60 < h < 90 for h in hr)  # type: ignore[operator]


def test_unusable_windows_give_no_heart_rate_or_hrv() -> None:
    # The detector finds "beats" in noise (about 110-125 per minute here): an unusable window
    # must not pass them off as the heart's rate.
    rng = np.random.default_rng(0)
    noise = _windows(_run(rng.normal(0.0, 1.0, 60 * 250), 250.0))
    assert len(noise) == 51 and not any(w["quality"]["usable"] for w in noise)  # type: ignore[index]
    assert all(w["heart_rate_bpm"] is None for w in noise)
    assert all(v is None for w in noise for v in w["hrv"].values())  # type: ignore[attr-defined]
    assert all(w["n_beats"] > 0 for w in noise)  # type: ignore[operator]
    clean = _windows(_run(*_sample("mitdb-100-nsr")))
    assert all(w["quality"]["usable"] for w in clean)  # type: ignore[index]
    assert all(w["heart_rate_bpm"] is not None for w in clean)
    assert all(v is not None for w in clean for v in w["hrv"].values())  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["mitdb-201-af", "mitdb-119-pvc", "cinc2017-A00004"])
def test_any_chunking_gives_exactly_the_same_output(name: str) -> None:
    x, fs = _sample(name)
    whole = _run(x, fs)
    for seed, high in ((0, 40), (1, 700), (2, 5000)):
        assert _run(x, fs, np.random.default_rng(seed), high) == whole


def _probabilities(windows: Items) -> npt.NDArray[np.float64]:
    return np.array([[w["probabilities"][c] for c in CLASSES] for w in windows])  # type: ignore[index]


@pytest.mark.parametrize("name", ["mitdb-201-af", "mitdb-119-pvc"])
def test_probabilities_equal_the_offline_verdicts(name: str) -> None:
    x, fs = _sample(name)
    windows = _windows(_run(x, fs))
    model = RhythmModel()
    assert model.window_head is not None
    _, offline = model.window_probabilities(x, fs)
    assert np.abs(_probabilities(windows) - offline[9 : 9 + len(windows)]).max() < 1e-5
    # The head is what the windows report, not the network's frames alone.
    _, frames = model.frame_probabilities(x, fs)
    assert np.abs(_probabilities(windows) - frames[9 : 9 + len(windows)]).max() > 0.01


def test_without_a_window_head_the_windows_are_the_network_frames(
    af_sample: tuple[npt.NDArray[np.float64], float], tmp_path: Path
) -> None:
    for f in weights_dir().iterdir():
        if f.is_file():
            shutil.copy(f, tmp_path / f.name)
    meta = json.loads((tmp_path / "model.json").read_text())
    del meta["window_head"], meta["window_trees"], meta["window_fusion"]
    (tmp_path / "model.json").write_text(json.dumps(meta))
    x, fs = af_sample
    windows = _windows(_run(x, fs, model=tmp_path))
    model = RhythmModel(tmp_path)
    assert model.window_head is None and model.window_threshold == model.threshold
    _, frames = model.frame_probabilities(x, fs)
    np.testing.assert_array_equal(model.window_probabilities(x, fs)[1], frames)
    assert np.abs(_probabilities(windows) - frames[9 : 9 + len(windows)]).max() < 1e-5


def test_state_restored_mid_episode_continues_exactly(
    af_sample: tuple[npt.NDArray[np.float64], float],
) -> None:
    x, fs = af_sample
    whole = _run(x, fs)
    proc = StreamProcessor(fs)
    cut = int(42.3 * fs)  # the episode opened at 30 s
    first = proc.push(x[:cut])
    assert any(i["type"] == "event_open" for i in first)
    text = json.dumps(proc.state_dict(), allow_nan=False)
    assert len(text) < 64 * 1024
    restored = StreamProcessor(fs)
    restored.load_state_dict(json.loads(text))
    rest = restored.push(x[cut:]) + restored.flush()
    assert first + rest == whole


def test_state_of_another_configuration_or_malformed_is_refused(
    af_sample: tuple[npt.NDArray[np.float64], float],
) -> None:
    x, fs = af_sample
    proc = StreamProcessor(fs)
    proc.push(x[: int(15 * fs)])
    state = proc.state_dict()
    with pytest.raises(InputError, match="config"):
        StreamProcessor(500.0).load_state_dict(state)
    broken = dict(state, logits={"dtype": "<f4", "shape": [3, 4], "data": "AAAA"})
    target = StreamProcessor(fs)
    before = target.state_dict()
    with pytest.raises(InputError, match="malformed"):
        target.load_state_dict(broken)
    assert target.state_dict() == before


def test_state_stays_bounded_on_a_long_stream() -> None:
    rng = np.random.default_rng(0)
    x, fs = _sample("mitdb-100-nsr")
    proc = StreamProcessor(fs)
    sizes = []
    for _ in range(5):
        for chunk in _chunks(x, rng, 900):
            proc.push(chunk)
        sizes.append(len(json.dumps(proc.state_dict())))
    assert max(sizes) < 64 * 1024
    assert max(sizes) - min(sizes) < 0.3 * max(sizes)


def test_other_sampling_rates_are_resampled_inside() -> None:
    x, _ = _sample("mitdb-201-af")
    from scipy.signal import resample_poly

    for rate, up, down in ((500.0, 25, 18), (128.0, 16, 45)):
        y = resample_poly(x, up, down)
        windows = _windows(_run(y, rate))
        assert len(windows) == 51
        labels = [w["label"] for w in windows]
        assert labels.count("af") > 0.6 * len(labels)
        assert _run(y, rate, np.random.default_rng(3), 400) == _run(y, rate)


def test_missing_samples_make_windows_uncertain_without_false_events(
    af_sample: tuple[npt.NDArray[np.float64], float],
) -> None:
    x, fs = _sample("mitdb-100-nsr")
    y = x.copy()
    y[int(20 * fs) : int(26 * fs)] = np.nan
    y[int(40 * fs) : int(41 * fs)] = np.inf
    items = _run(y, fs)
    windows = {w["t_end"]: w for w in _windows(items)}
    w = windows[28.0]
    assert w["label"] == "uncertain"
    assert "missing_samples" in w["quality"]["reasons"]  # type: ignore[index]
    assert "flat" not in w["quality"]["reasons"]  # type: ignore[index]
    assert not [i for i in items if i["type"] != "window"]
    recovered = windows[60.0]["quality"]
    assert recovered["usable"] and recovered["reasons"] == []  # type: ignore[index]


def test_short_time_jump_is_filled_long_one_restarts(
    af_sample: tuple[npt.NDArray[np.float64], float],
) -> None:
    x, fs = af_sample
    proc = StreamProcessor(fs, max_fill_s=5.0)
    out = proc.push(x[: int(35 * fs)], t=100.0)
    assert _windows(out)[0]["t_end"] == 110.0
    assert any(i["type"] == "event_open" for i in out)
    out = proc.push(x[int(37 * fs) : int(50 * fs)], t=137.0)  # 2 s lost: filled
    gaps = [i for i in out if i["type"] == "gap"]
    assert gaps == [{"type": "gap", "t_start": 135.0, "t_end": 137.0, "action": "filled"}]
    assert not [i for i in out if i["type"] == "event"]  # the episode stays open
    out = proc.push(x[int(50 * fs) :], t=300.0)  # 150 s lost: restart
    assert out[0] == {"type": "gap", "t_start": 150.0, "t_end": 300.0, "action": "restart"}
    assert out[1]["type"] == "event" and out[1]["reason"] == "gap"
    assert _windows(out)[0]["t_end"] == 310.0
    with pytest.raises(InputError, match="before the stream"):
        proc.push(x[:100], t=200.0)


@pytest.mark.parametrize(
    ("chunk", "match"),
    [
        (np.array(["a", "b"]), "real numbers"),
        (np.zeros((4, 2, 2)), "shape"),
        (np.zeros((4, 1)) + 1j, "real numbers"),
        (np.full(10, 1e12), "magnitude"),
        (np.zeros((10, 1)), None),
        (np.zeros(0), None),
    ],
)
def test_bad_chunks_are_refused_before_any_change(
    chunk: npt.NDArray[np.generic], match: str | None
) -> None:
    proc = StreamProcessor(250.0)
    proc.push(np.zeros(300))
    before = proc.state_dict()
    if match is None:
        assert proc.push(chunk) == []
        return
    with pytest.raises(InputError, match=match):
        proc.push(chunk)
    assert proc.state_dict() == before


def test_bad_settings_are_refused() -> None:
    with pytest.raises(InputError, match="window_s"):
        StreamProcessor(250.0, window_s=5)
    with pytest.raises(InputError, match="hop_s"):
        StreamProcessor(250.0, hop_s=0)
    with pytest.raises(InputError):
        StreamProcessor(0.0)
    with pytest.raises(InputError, match="lead"):
        StreamProcessor(250.0, lead=2).push(np.zeros((10, 2)))
    with pytest.raises(InputError, match="t"):
        StreamProcessor(250.0).push(np.zeros(10), t=float("nan"))
    with pytest.raises(InputError, match=r"model\.json"):
        StreamProcessor(250.0, model=Path("/nonexistent"))


def test_hop_and_window_parameters(af_sample: tuple[npt.NDArray[np.float64], float]) -> None:
    x, fs = af_sample
    windows = _windows(_run(x, fs, hop_s=5, window_s=20))
    assert [w["t_end"] for w in windows] == [20.0, 25.0, 30.0, 35.0, 40.0, 45.0, 50.0, 55.0, 60.0]
    assert all(w["t_end"] - w["t_start"] == 20 for w in windows)  # type: ignore[operator]
    events = [i for i in _run(x, fs, events=EventConfig(min_duration_s=10.0))]
    assert events[-1]["type"] == "event"


@pytest.mark.parametrize("record", ["201", "203", "219"])
def test_mitdb_af_records_stream_exactly(shared_data: Path, record: str) -> None:
    rec = read(shared_data / "mitdb" / f"{record}.hea")
    x = rec.lead(0).astype(np.float64)
    whole = _run(x, rec.fs)
    assert any(i["type"] == "event" for i in whole)
    assert _run(x, rec.fs, np.random.default_rng(int(record)), 9000) == whole


def test_cinc_records_stream_exactly(shared_data: Path) -> None:
    folder = shared_data / "cinc2017"
    for name in ("A00002", "A00004", "A00005", "A00008"):
        rec = read(folder / f"{name}.hea")
        x = rec.lead(0).astype(np.float64)
        whole = _run(x, rec.fs)
        assert _windows(whole)
        assert _run(x, rec.fs, np.random.default_rng(7), 300) == whole


@pytest.mark.parametrize("fs", [1e-6, 0.01, 1e6])
def test_rate_out_of_range_fails_before_any_buffer(fs: float) -> None:
    with pytest.raises(InputError, match="fs: expected 50 to 20000 Hz"):
        StreamProcessor(fs)


def test_the_top_of_the_rate_range_runs_end_to_end() -> None:
    # Every stage takes what the processor accepts: the beat classifier's R-peak detector,
    # at the native rate, once stopped at 10 kHz while the processor took up to 20 kHz.
    from scipy.signal import resample_poly

    rec = read(sample_path("mitdb-201-af"))
    x = resample_poly(rec.lead(0).astype(np.float64), 20_000, int(rec.fs))
    lines = StreamProcessor(20_000.0).push(x)
    windows = [m for m in lines if m["type"] == "window"]
    assert windows and windows[-1]["raw_label"] == "af"


def test_lead_off_is_flagged_within_two_seconds_and_gives_no_heart_rate() -> None:
    from cardiostream.sim.simulator import Simulator

    fs = 250
    sim = Simulator(fs, mode="nsr", hr_bpm=74, seed=4)
    parts = [sim.read(fs * 30)]
    sim.set_mode("leadoff")
    parts.append(sim.read(fs * 10))
    sim.set_mode("nsr", hr_bpm=74)
    parts.append(sim.read(fs * 20))
    x = np.concatenate(parts).astype(np.float64)
    proc = StreamProcessor(fs)
    out = [m for i in range(0, x.size, 50) for m in proc.push(x[i : i + 50])]
    windows = {m["t_end"]: m for m in out if m["type"] == "window"}
    assert windows[29.0]["quality"]["usable"] and windows[29.0]["heart_rate_bpm"] is not None
    for t in np.arange(32.0, 50.0):  # from 2 s after the lead came off until its last second
        assert "lead_off" in windows[t]["quality"]["reasons"], t  # left the window
        assert windows[t]["heart_rate_bpm"] is None and windows[t]["hrv"]["sdnn_ms"] is None
    assert windows[51.0]["quality"]["usable"]
