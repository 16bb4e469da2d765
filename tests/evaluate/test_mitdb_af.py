"""The MITDB AF test: structure and internal consistency on bundled excerpts and real records.

These check the harness, not the model's accuracy: whatever weights are shipped, counts must
add up, ratios lie in [0, 1] and the window verdicts be the frames that judge those windows.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from cardiostream.errors import InputError
from cardiostream.evaluate.af_episodes import gross
from cardiostream.evaluate.mitdb_af import (
    MitdbAfResult,
    RecordAfResult,
    WindowCounts,
    evaluate_mitdb_af,
    plot_af_timeline,
    to_json,
    to_markdown,
)
from cardiostream.evaluate.reference import af_episodes, afl_intervals, rhythm_windows
from cardiostream.io import read
from cardiostream.io.listing import list_annotated_records
from cardiostream.rhythm.infer import RhythmModel
from cardiostream.rhythm.verdict import CLASSES
from cardiostream.samples import sample_path

SAMPLES = sample_path("mitdb-201-af").parent
MITDB_SAMPLES = ["mitdb-100-nsr", "mitdb-119-pvc", "mitdb-201-af", "mitdb-203-af"]


@pytest.fixture(scope="module")
def model() -> RhythmModel:
    return RhythmModel()


@pytest.fixture(scope="module")
def samples_result(model: RhythmModel) -> MitdbAfResult:
    return evaluate_mitdb_af(SAMPLES, model=model, progress=False)


def check_consistent(rec: RecordAfResult) -> None:
    """Invariants of one record's result that hold for any model."""
    w, e = rec.windows, rec.episodes
    n_windows = math.floor(rec.duration_s / 10.0 + 1e-9)
    assert w.n_scored + w.excluded == n_windows
    assert w.uncertain_af <= w.n_af and w.uncertain_non_af <= w.n_non_af
    for x in (w.se, w.sp, w.uncertain_fraction, e.episode_se, e.episode_ppv):
        assert math.isnan(x) or 0.0 <= x <= 1.0
    for x in (e.duration_se, e.duration_ppv):
        assert math.isnan(x) or 0.0 <= x <= 1.0 + 1e-9
    assert 0 <= e.tp_se <= e.n_ref <= len(rec.reference)
    assert 0 <= e.tp_ppv <= e.n_det <= len(rec.detected)
    assert e.overlap_s <= min(e.ref_s, e.det_s) + 1e-9
    assert e.ref_s <= sum(b - a for a, b in rec.reference) + 1e-9
    assert e.scored_s == pytest.approx(rec.duration_s - sum(b - a for a, b in rec.excluded))
    # Detected episodes are sorted, disjoint, inside the record and at least 10 s long.
    flat = np.ravel(rec.detected)
    assert np.all(np.diff(flat) >= 0)
    assert np.all((flat >= 0) & (flat <= rec.duration_s))
    assert all(b - a >= 10.0 - 1e-9 for a, b in rec.detected)


def test_folder_of_samples_is_scored(samples_result: MitdbAfResult, model: RhythmModel) -> None:
    res = samples_result
    # The CinC samples in the same folder have no .atr and are not listed.
    assert [r.record for r in res.records] == MITDB_SAMPLES
    assert res.database == SAMPLES.name
    assert res.settings["threshold"] == model.window_threshold
    assert res.elapsed_s >= sum(r.time_s for r in res.records) > 0
    for rec in res.records:
        check_consistent(rec)
    by_name = {r.record: r for r in res.records}
    for name in ("mitdb-201-af", "mitdb-203-af"):  # one minute of AF each
        rec = by_name[name]
        assert rec.windows.n_af == 6 and rec.windows.n_non_af == 0
        assert rec.reference == [(0.0, 60.0)] and rec.excluded == []
        assert rec.episodes.n_ref == 1 and rec.episodes.ref_s == 60.0
    assert by_name["mitdb-100-nsr"].windows.n_non_af == 6
    assert by_name["mitdb-100-nsr"].episodes.n_ref == 0
    # Gross figures are sums over records.
    assert res.windows == sum((r.windows for r in res.records), WindowCounts())
    assert res.episodes == gross(r.episodes for r in res.records)
    assert res.duration_s == pytest.approx(240.0)


def test_window_verdicts_are_the_verdicts_ending_with_the_windows(
    samples_result: MitdbAfResult, model: RhythmModel
) -> None:
    record = read(sample_path("mitdb-201-af"))
    end_s, probs = model.window_probabilities(record.lead(0), record.fs)
    windows = rhythm_windows(record, window_s=10.0)
    at = np.searchsorted(end_s, windows.end_s)
    assert np.array_equal(end_s[at], windows.end_s)
    called = np.argmax(probs[at], axis=1) == CLASSES.index("af")
    unsure = probs[at].max(axis=1) < model.window_threshold
    rec = {r.record: r for r in samples_result.records}["mitdb-201-af"]
    assert rec.windows.tp == int(called.sum())
    assert rec.windows.fn == int((~called).sum())
    assert rec.windows.uncertain_af == int(unsure.sum())


def test_frames_alone_are_scored_with_the_frames_threshold(model: RhythmModel) -> None:
    res = evaluate_mitdb_af(SAMPLES, model=model, records=["mitdb-201-af"], verdicts="frames")
    assert res.settings["verdicts"] == "frames"
    assert res.settings["threshold"] == model.threshold
    record = read(sample_path("mitdb-201-af"))
    end_s, probs = model.frame_probabilities(record.lead(0), record.fs)
    windows = rhythm_windows(record, window_s=10.0)
    at = np.searchsorted(end_s, windows.end_s)
    called = np.argmax(probs[at], axis=1) == CLASSES.index("af")
    assert res.records[0].windows.tp == int(called.sum())
    with pytest.raises(InputError, match="verdicts"):
        evaluate_mitdb_af(SAMPLES, model=model, records=["mitdb-201-af"], verdicts="record")


def test_named_records_and_paths(model: RhythmModel) -> None:
    res = evaluate_mitdb_af(
        SAMPLES, model=model, records=["mitdb-203-af", sample_path("mitdb-100-nsr")], progress=True
    )
    assert [r.record for r in res.records] == ["mitdb-203-af", "mitdb-100-nsr"]


def test_outputs(samples_result: MitdbAfResult, tmp_path: Path) -> None:
    data = to_json(samples_result)
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text)["n_records"] == 4
    assert data["gross"]["windows"]["tp"] == samples_result.windows.tp
    assert [r["record"] for r in data["records"]] == MITDB_SAMPLES
    md = to_markdown(samples_result)
    rows = [ln for ln in md.splitlines() if ln.startswith("| mitdb-")]
    assert len(rows) == 4
    assert "| AF-window sensitivity |" in md and "| AF duration +P |" in md
    assert "| – |" in md  # the normal record has no AF sensitivity
    png = plot_af_timeline(samples_result, tmp_path / "figs" / "af.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_input(model: RhythmModel, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a folder"):
        evaluate_mitdb_af(tmp_path / "absent", model=model, progress=False)
    with pytest.raises(InputError, match="no annotated WFDB records"):
        list_annotated_records(tmp_path)
    with pytest.raises(InputError, match=r"nope\.hea: record header not found"):
        evaluate_mitdb_af(SAMPLES, model=model, records=["nope"], progress=False)
    with pytest.raises(InputError, match=r"A00004\.hea: no reference rhythm annotations"):
        evaluate_mitdb_af(SAMPLES, model=model, records=["A00004"], progress=False)


def test_records_file_sets_the_order(tmp_path: Path) -> None:
    for path in SAMPLES.glob("mitdb-20*"):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "RECORDS").write_text("mitdb-203-af\nmitdb-201-af\n")
    assert list_annotated_records(tmp_path) == [
        tmp_path / "mitdb-203-af.hea",
        tmp_path / "mitdb-201-af.hea",
    ]


@pytest.mark.shared_data
def test_real_mitdb_records(shared_data: Path, model: RhythmModel) -> None:
    folder = shared_data / "mitdb"
    res = evaluate_mitdb_af(folder, model=model, records=["201", "202"], progress=False)
    assert [r.record for r in res.records] == ["201", "202"]
    for rec in res.records:
        check_consistent(rec)
        record = read(folder / f"{rec.record}.hea")
        assert rec.reference == af_episodes(record)
        assert rec.excluded == afl_intervals(record)
        labels = rhythm_windows(record, window_s=10.0).label
        assert rec.windows.n_af == int(np.sum(labels == CLASSES.index("af")))
    r201, r202 = res.records
    assert r201.episodes.n_ref == 3 and r201.excluded == []
    # 202 has flutter between AF episodes: its time leaves the reference AF total unchanged
    # (the intervals are disjoint) but not the scored time.
    assert r202.excluded and r202.episodes.n_ref == 4
    assert r202.episodes.ref_s == pytest.approx(sum(b - a for a, b in r202.reference))
    assert r202.episodes.scored_s < r202.duration_s


def test_engine_verdicts_are_the_engines_own_labels_and_events(model: RhythmModel) -> None:
    from cardiostream.stream import analyze

    res = evaluate_mitdb_af(SAMPLES, model=model, records=["mitdb-203-af"], verdicts="engine")
    assert res.settings["verdicts"] == "engine"
    assert res.settings["threshold"] == model.window_threshold
    record = read(sample_path("mitdb-203-af"))
    lines = analyze(record).lines
    labels = {w["t_end"]: w["label"] for w in lines if w["type"] == "window"}
    windows = rhythm_windows(record, window_s=10.0)
    af = windows.label == CLASSES.index("af")
    ends = windows.end_s[af]
    rec = res.records[0]
    assert rec.committed_windows.tp == sum(labels[e] == "af" for e in ends)
    assert rec.windows.uncertain_af == sum(labels[e] == "uncertain" for e in ends)
    events = [
        (e["start_s"], e["end_s"]) for e in lines if e["type"] == "event" and e["kind"] == "af"
    ]
    assert events, "the AF excerpt should give the engine an AF event"
    assert rec.committed_episodes is not None
    assert rec.committed_episodes.n_det == len(events)
