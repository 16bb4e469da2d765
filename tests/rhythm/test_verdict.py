"""The one rule for a label (:mod:`cardiostream.rhythm.verdict`), and that the engine and
:class:`RhythmModel` both follow it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cardiostream import StreamProcessor, read
from cardiostream.rhythm.infer import RhythmModel
from cardiostream.rhythm.verdict import (
    CLASSES,
    LABELS,
    LOW_CONFIDENCE,
    MIN_BEATS_WINDOW,
    NO_BEATS,
    UNCERTAIN,
    decide,
    decide_many,
)
from cardiostream.samples import sample_path


def test_classes_and_labels() -> None:
    assert CLASSES == ("normal", "af", "other", "noise")
    assert (*CLASSES, UNCERTAIN) == LABELS


def test_confident_usable_with_beats_commits_to_the_top_class() -> None:
    v = decide([0.1, 0.7, 0.15, 0.05], 0.6, min_beats=2, n_beats=12)
    assert (v.label, v.raw_label, v.confident, v.reasons) == ("af", "af", True, [])


def test_each_condition_alone_makes_it_uncertain() -> None:
    p = [0.1, 0.7, 0.15, 0.05]
    low = decide(p, 0.75, min_beats=2, n_beats=12)
    assert (low.label, low.raw_label, low.reasons) == (UNCERTAIN, "af", [LOW_CONFIDENCE])
    unusable = decide(p, 0.6, min_beats=2, n_beats=12, usable=False, reasons=["flat_line"])
    assert (unusable.label, unusable.reasons) == (UNCERTAIN, ["flat_line"])
    few = decide(p, 0.6, min_beats=2, n_beats=1)
    assert (few.label, few.reasons) == (UNCERTAIN, [])
    named = decide(p, 0.6, min_beats=1, n_beats=0, beats_reason=NO_BEATS)
    assert (named.label, named.reasons) == (UNCERTAIN, [NO_BEATS])


def test_reasons_keep_their_order_and_are_not_repeated() -> None:
    v = decide(
        [0.4, 0.3, 0.2, 0.1],
        0.5,
        min_beats=1,
        n_beats=0,
        usable=False,
        reasons=["lead_off", NO_BEATS],
        beats_reason=NO_BEATS,
    )
    assert v.reasons == ["lead_off", NO_BEATS, LOW_CONFIDENCE]


def test_threshold_is_inclusive_and_ties_go_to_the_first_class() -> None:
    assert decide([0.5, 0.5, 0.0, 0.0], 0.5, min_beats=0).label == "normal"
    assert decide([0.25] * 4, 0.25, min_beats=0).label == "normal"


def test_many_equals_one_by_one() -> None:
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(4), size=200)
    beats = rng.integers(0, 4, size=200)
    usable = rng.random(200) > 0.2
    many = decide_many(p, 0.55, min_beats=MIN_BEATS_WINDOW, n_beats=beats, usable=usable)
    one = [
        decide(row, 0.55, min_beats=MIN_BEATS_WINDOW, n_beats=int(b), usable=bool(u))
        for row, b, u in zip(p, beats, usable, strict=True)
    ]
    assert many.labels() == [v.label for v in one]
    assert many.raw_labels() == [v.raw_label for v in one]
    assert many.confident.tolist() == [v.confident for v in one]
    assert UNCERTAIN in many.labels() and set(many.labels()) - {UNCERTAIN}


def test_bad_shapes_and_missing_beats_are_refused() -> None:
    with pytest.raises(ValueError, match="probabilities"):
        decide_many(np.ones((3, 3)), 0.5, min_beats=0)
    with pytest.raises(ValueError, match="n_beats"):
        decide_many(np.ones((3, 4)) / 4, 0.5, min_beats=2)


def _engine_and_model_labels(path: Path) -> tuple[list[str], list[str], int]:
    """The engine's window labels, and RhythmModel's for the same seconds decided with the
    engine's quality; windows whose top probability lies within float tolerance of the
    threshold are left out (the two paths agree to ~1e-7, not bit for bit)."""
    rec = read(path)
    x = rec.lead(0).astype(np.float64)
    proc = StreamProcessor(rec.fs)
    windows = [w for w in proc.push(x) + proc.flush() if w["type"] == "window"]
    model = RhythmModel()
    first = 9  # the engine's first 10 s window ends with the 10th second
    usable = np.ones(model.window_probabilities(x, rec.fs)[0].size, np.bool_)
    usable[first : first + len(windows)] = [w["quality"]["usable"] for w in windows]
    _, probs, verdicts = model.window_verdicts(x, rec.fs, usable=usable)
    labels = verdicts.labels()
    engine, offline = [], []
    for i, w in enumerate(windows):
        top = probs[first + i].max()
        if abs(top - model.window_threshold) < 1e-5:
            continue
        engine.append(w["label"])
        offline.append(labels[first + i])
    return engine, offline, len(windows)


@pytest.mark.parametrize("name", ["mitdb-201-af", "mitdb-119-pvc", "mitdb-100-nsr"])
def test_engine_and_rhythm_model_label_windows_alike(name: str) -> None:
    engine, offline, n = _engine_and_model_labels(sample_path(name))
    assert len(engine) >= n - 2 and n > 40
    assert engine == offline


def test_engine_and_rhythm_model_label_mitdb_alike(shared_data: Path) -> None:
    # AF, flutter and paced records, where uncertain and committed windows mix.
    kinds = set()
    for record in ("201", "203", "217", "219", "221"):
        engine, offline, _ = _engine_and_model_labels(shared_data / "mitdb" / f"{record}.hea")
        assert engine == offline, record
        kinds |= set(engine)
    assert {"af", UNCERTAIN} <= kinds
