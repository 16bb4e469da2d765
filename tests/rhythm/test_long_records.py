"""Records longer than the record head's training records: judged from their windows.

The shipped model on ONNX Runtime alone. A record of up to ``RECORD_HEAD_MAX_S`` whole
seconds keeps the record head's verdict, to the digit; a longer one gets its label from its
per-second windows (an AF episode, else the most frequent confident class), with its AF
burden and episodes, and that label must not drift with the record's length.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from typer.testing import CliRunner

from cardiostream.cli import app
from cardiostream.io import read
from cardiostream.rhythm.infer import (
    MIN_CONFIDENT_SHARE,
    RECORD_HEAD_MAX_S,
    TOO_FEW_CONFIDENT,
    RhythmModel,
    clean_windows,
)
from cardiostream.samples import sample_path

CLASSES = ("normal", "af", "other", "noise")
FS = 360.0  # the MITDB samples' rate
Signal = npt.NDArray[np.float64]


@pytest.fixture(scope="module")
def model() -> RhythmModel:
    return RhythmModel()


def lead(name: str) -> Signal:
    rec = read(sample_path(name))
    assert rec.fs == FS
    return rec.lead(0).astype(np.float64)


def tiled(x: Signal, seconds: float) -> Signal:
    n = round(seconds * FS)
    return np.tile(x, n // x.size + 1)[:n]


def test_the_limit_is_the_longest_training_record() -> None:
    # CinC 2017: 9 to 60.95 s (18,286 samples at 300 Hz).
    assert RECORD_HEAD_MAX_S == 61
    assert 0 < MIN_CONFIDENT_SHARE < 1


# The shipped record head's output, to 6 digits, which records up to the limit keep (as before
# long records were judged from their windows):
# (record, seconds or None for the whole sample) -> (label, p_normal, p_af, p_other, p_noise).
HEAD = {
    ("mitdb-201-af", None): ("af", 0.007325, 0.890667, 0.101277, 0.000730),
    ("mitdb-201-af", 61.9): ("af", 0.006944, 0.888552, 0.103754, 0.000751),
    ("mitdb-100-nsr", None): ("normal", 0.878312, 0.000960, 0.120495, 0.000232),
    ("cinc2017-A00004", 61.9): ("af", 0.020997, 0.791342, 0.187131, 0.000530),
    ("cinc2017-A00020", None): ("other", 0.050440, 0.002133, 0.947145, 0.000282),
}


@pytest.mark.parametrize(("name", "seconds"), list(HEAD))
def test_records_up_to_the_limit_keep_the_record_heads_verdict(
    model: RhythmModel, name: str, seconds: float | None
) -> None:
    rec = read(sample_path(name))
    x = rec.lead(0)
    if seconds is not None:
        x = np.tile(x, 3)[: round(seconds * rec.fs)]
    p = model.predict(x, rec.fs)
    label, *probs = HEAD[name, seconds]
    assert p.label == label
    assert [p.probabilities[c] for c in CLASSES] == pytest.approx(probs, abs=2e-6)
    assert p.basis == "record" and p.af_burden is None and p.af_episodes is None
    assert set(p.to_dict()) == {"label", "raw_label", "probabilities", "quality"}


def test_tiled_af_is_af_at_every_length(model: RhythmModel) -> None:
    # The bundled minute of AF repeated: the record head alone said af at 1 min, then lost
    # confidence with length (p_af 0.89, 0.85, 0.80, 0.76, 0.69 at 1, 2, 5, 10, 30 min:
    # uncertain from 30 min) although every window is AF.
    x = lead("mitdb-201-af")
    verdicts = {m: model.predict(tiled(x, 60 * m), FS) for m in (1, 2, 5, 10, 30)}
    assert {m: p.label for m, p in verdicts.items()} == dict.fromkeys(verdicts, "af")
    p_af = [p.probabilities["af"] for p in verdicts.values()]
    assert min(p_af) > 0.75 and max(p_af) - min(p_af) < 0.1
    long = [p for m, p in verdicts.items() if m > 1]
    assert [p.basis for p in long] == ["windows"] * 4
    # From 2 min on the figures hardly move: they are means over the same windows.
    assert max(p_af[1:]) - min(p_af[1:]) < 0.01
    for m, p in verdicts.items():
        if m == 1:
            continue
        assert p.raw_label == "af" and p.quality == {"usable": True, "reasons": []}
        assert p.af_burden is not None and p.af_burden > 0.9
        assert p.af_episodes is not None and len(p.af_episodes) == 1
        assert (p.af_episodes[0]["start_s"], p.af_episodes[0]["end_s"]) == (0.0, 60.0 * m)
        assert sum(p.probabilities.values()) == pytest.approx(1.0)


def test_long_sinus_rhythm_is_normal(model: RhythmModel) -> None:
    # 10 min of the bundled sinus minute: was uncertain (p_normal 0.67) from the record head.
    p = model.predict(tiled(lead("mitdb-100-nsr"), 600), FS)
    assert (p.label, p.raw_label, p.basis) == ("normal", "normal", "windows")
    assert p.probabilities["normal"] > 0.75
    assert p.af_burden == 0.0 and p.af_episodes == []
    doc = p.to_dict()
    assert doc["basis"] == "windows" and doc["af_burden"] == 0.0 and doc["af_episodes"] == []
    json.dumps(doc, allow_nan=False)


def test_paroxysmal_af_is_af(model: RhythmModel) -> None:
    # 4 min of sinus rhythm, 2 min of AF, 4 min of sinus rhythm: most windows are normal,
    # but the AF makes an episode, so the record is af; the burden says how much.
    nsr, af = lead("mitdb-100-nsr"), lead("mitdb-201-af")
    x = np.concatenate([tiled(nsr, 240), tiled(af, 120), tiled(nsr, 240)])
    p = model.predict(x, FS)
    assert (p.label, p.raw_label) == ("af", "af")
    assert p.af_episodes is not None and len(p.af_episodes) == 1
    start, end = p.af_episodes[0]["start_s"], p.af_episodes[0]["end_s"]
    assert 225 < start < 255 and 345 < end < 375
    assert p.af_burden is not None and 0.15 < p.af_burden < 0.25
    assert p.probabilities["af"] < 0.3 < p.probabilities["normal"]
    # Without the AF minutes the same sinus rhythm is normal.
    assert model.predict(np.concatenate([tiled(nsr, 240), tiled(nsr, 240)]), FS).label == "normal"


def test_a_long_record_without_confident_windows_is_uncertain(model: RhythmModel) -> None:
    strict = RhythmModel()
    strict.window_threshold = 1.01  # no window can commit
    p = strict.predict(tiled(lead("mitdb-100-nsr"), 120), FS)
    assert (p.label, p.raw_label) == ("uncertain", "normal")
    assert p.quality == {"usable": True, "reasons": [TOO_FEW_CONFIDENT]}
    assert p.af_burden == 0.0 and p.af_episodes == []


@pytest.mark.parametrize("kind", ["flat", "noise"])
def test_a_long_unusable_record_is_uncertain(model: RhythmModel, kind: str) -> None:
    n = round(120 * FS)
    x = np.zeros(n) if kind == "flat" else np.random.default_rng(3).normal(0.0, 1.0, n)
    p = model.predict(x, FS)
    assert p.label == "uncertain" and p.basis == "windows"
    assert not p.quality["usable"] and p.quality["reasons"]
    assert p.af_burden is None and p.af_episodes == []
    assert sum(p.probabilities.values()) == pytest.approx(1.0)


def test_window_verdicts_of_a_prepared_record_are_window_verdicts(model: RhythmModel) -> None:
    # The long-record path conditions a record once; its windows must be the public
    # method's, quality included.
    x = tiled(lead("mitdb-201-af"), 150)
    x[round(40 * FS) : round(55 * FS)] = 0.0  # a flat stretch: unusable windows
    prep = model.prepare(x, FS)
    usable = clean_windows(prep)
    assert 0 < usable.sum() < usable.size
    mine = model._prepared_window_verdicts(prep, usable)
    public = model.window_verdicts(x, FS, usable)
    np.testing.assert_array_equal(mine[0], public[0])
    np.testing.assert_allclose(mine[1], public[1], rtol=0, atol=1e-12)
    assert mine[2].labels() == public[2].labels()


def test_predict_many_mixes_long_and_short_records(model: RhythmModel) -> None:
    af, nsr = lead("mitdb-201-af"), lead("mitdb-100-nsr")
    signals = [tiled(af, 180), nsr[: round(30 * FS)], tiled(nsr, 150), af]
    many = model.predict_many(signals, [FS] * 4)
    one = [model.predict(x, FS) for x in signals]
    assert [p.basis for p in many] == ["windows", "record", "windows", "record"]
    assert [p.label for p in many] == ["af", "normal", "normal", "af"]
    for a, b in zip(many, one, strict=True):
        assert (a.label, a.raw_label, a.quality) == (b.label, b.raw_label, b.quality)
        assert (a.af_burden, a.af_episodes) == (b.af_burden, b.af_episodes)
        assert a.probabilities == pytest.approx(b.probabilities, abs=1e-5)


def test_classify_shows_the_burden_and_episodes_of_long_records(tmp_path: Path) -> None:
    x = tiled(lead("mitdb-201-af"), 120)
    t = np.arange(x.size) / FS
    text = "\n".join(f"{a:.6f},{b:.4f}" for a, b in zip(t, x, strict=True))
    (tmp_path / "long_af.csv").write_text("time,ecg\n" + text + "\n")
    src = sample_path("cinc2017-A00004")
    for suffix in (".hea", ".mat"):
        (tmp_path / f"A00004{suffix}").write_bytes(src.with_suffix(suffix).read_bytes())
    runner = CliRunner()
    out = runner.invoke(app, ["classify", str(tmp_path), "--format", "csv"])
    assert out.exit_code == 0, out.output
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "record,label,raw_label,p_normal,p_af,p_other,p_noise,af_burden,af_episodes"
    rows = {r.split(",")[0]: r.split(",") for r in lines[1:]}
    assert rows["long_af"][1] == "af" and float(rows["long_af"][7]) > 0.9
    assert rows["long_af"][8] == "1"
    assert rows["A00004"][7:] == ["", ""]  # judged by the record head
    out = runner.invoke(app, ["classify", str(tmp_path), "--format", "json"])
    assert out.exit_code == 0, out.output
    docs = {d["record"]: d for d in json.loads(out.stdout)}
    assert docs["long_af"]["basis"] == "windows"
    assert docs["long_af"]["af_episodes"][0]["start_s"] == 0.0
    assert "af_burden" not in docs["A00004"]
    out = runner.invoke(app, ["classify", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "AF burden" in out.stdout and "AF" in out.stdout


@pytest.mark.parametrize("seed", range(8))
def test_the_verdicts_episode_rules_are_the_engines(seed: int) -> None:
    from cardiostream.rhythm.infer import af_stretches
    from cardiostream.stream.events import af_episodes

    rng = np.random.default_rng(seed)
    n = 900
    # Runs of one label at a time, AF often, so that episodes open, close and are dropped.
    labels: list[str] = []
    while len(labels) < n:
        label = str(rng.choice(["af", "af", "normal", "other", "noise", "uncertain"]))
        # Short runs test the thresholds (3 to open, 5 to close); long AF runs make episodes.
        long_af = label == "af" and rng.random() < 0.5
        labels += [label] * int(rng.integers(20, 45) if long_af else rng.integers(1, 8))
    labels = labels[:n]
    end_s = np.arange(10.0, 10.0 + n)
    p_af = np.where(rng.random(n) < 0.05, np.nan, rng.random(n))
    expected = [
        {k: e[k] for k in ("start_s", "end_s", "confidence")}
        for e in af_episodes(end_s, labels, p_af)
    ]
    assert expected  # the sequence does make episodes
    assert af_stretches(end_s, labels, p_af) == expected


def test_uncertain_windows_neither_open_nor_close_the_verdicts_episodes() -> None:
    from cardiostream.rhythm.infer import af_stretches
    from cardiostream.stream.events import af_episodes

    # Two AF windows, 40 uncertain ones, a third AF window: the episode opens at the third.
    labels = ["af", "af"] + ["uncertain"] * 40 + ["af"] + ["normal"] * 10
    end_s = np.arange(10.0, 10.0 + len(labels))
    p_af = np.full(len(labels), 0.8)
    got = af_stretches(end_s, labels, p_af)
    assert got == [{"start_s": 0.0, "end_s": 52.0, "confidence": 0.8}]
    assert got == [
        {k: e[k] for k in ("start_s", "end_s", "confidence")}
        for e in af_episodes(end_s, labels, p_af)
    ]
    # One AF window fewer never opens.
    assert af_stretches(end_s[1:], labels[1:], p_af[1:]) == []
