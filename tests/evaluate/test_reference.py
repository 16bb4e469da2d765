"""Reference labelling of annotated records (:mod:`cardiostream.evaluate.reference`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cardiostream.errors import InputError
from cardiostream.evaluate.reference import EXCLUDED, af_episodes, afl_intervals, rhythm_windows
from cardiostream.io import read
from cardiostream.record import Annotations, BeatTable, Record, RhythmTable
from cardiostream.rhythm.verdict import CLASSES
from cardiostream.samples import sample_path

NORMAL, AF, OTHER = CLASSES.index("normal"), CLASSES.index("af"), CLASSES.index("other")


def test_bundled_af_excerpt_is_all_af() -> None:
    record = read(sample_path("mitdb-201-af"))
    windows = rhythm_windows(record)
    np.testing.assert_allclose(windows.end_s, [10, 20, 30, 40, 50, 60])
    np.testing.assert_allclose(windows.start_s, windows.end_s - 10)
    assert windows.label.tolist() == [AF] * 6
    np.testing.assert_allclose(windows.af_fraction, 1.0)
    assert af_episodes(record) == [(0.0, 60.0)]
    assert afl_intervals(record) == []


def test_bundled_sinus_excerpt_is_all_normal() -> None:
    record = read(sample_path("mitdb-100-nsr"))
    windows = rhythm_windows(record, hop_s=1.0)
    assert len(windows) == 51
    assert (windows.label == NORMAL).all()
    assert (windows.af_fraction == 0).all()
    assert af_episodes(record) == []


def test_bundled_bigeminy_excerpt() -> None:
    # Rhythm changes between N and ventricular bigeminy (B) at 5.3, 17.5, 25.9, 39.9, 46.5 s.
    record = read(sample_path("mitdb-119-pvc"))
    assert rhythm_windows(record).label.tolist() == [EXCLUDED] * 5 + [OTHER]
    windows = rhythm_windows(record, window_s=5.0, hop_s=1.0)
    by_end = dict(zip(windows.end_s.tolist(), windows.label.tolist(), strict=True))
    assert by_end[52.0] == OTHER  # 47-52 s: bigeminy
    assert by_end[23.0] in (NORMAL, OTHER)  # 18-23 s: sinus, normal unless an ectopic beat
    assert by_end[18.0] == EXCLUDED  # 13-18 s spans the change at 17.5 s


def _record(
    rhythms: list[tuple[float, float, str]],
    beats: list[tuple[float, str]] | None = None,
    seconds: float = 60.0,
    fs: float = 100.0,
) -> Record:
    """A flat record with the given rhythm intervals (s) and beats (s, symbol); by default a
    normal beat every second."""
    if beats is None:
        beats = [(t + 0.5, "N") for t in range(int(seconds))]
    return Record(
        signal=np.zeros((round(seconds * fs), 1), np.float32),
        fs=fs,
        leads=["I"],
        name="synthetic",
        annotations=Annotations(
            beats=BeatTable(
                np.array([round(t * fs) for t, _ in beats], dtype=np.int64),
                np.array([s for _, s in beats], dtype="<U1"),
            ),
            rhythms=RhythmTable(
                np.array([round(a * fs) for a, _, _ in rhythms], dtype=np.int64),
                np.array([round(b * fs) for _, b, _ in rhythms], dtype=np.int64),
                np.array([lab for _, _, lab in rhythms], dtype="<U8"),
            ),
        ),
    )


def test_window_rules() -> None:
    beats = [(t + 0.5, "N") for t in range(60)]
    beats[12] = (12.5, "V")  # in 10-20 s
    beats[23] = (23.5, "L")  # in 20-30 s: still normal
    beats[33] = (33.5, "Q")  # in 30-40 s: unclassifiable, excluded
    record = _record(
        [(2.0, 40.0, "N"), (40.0, 45.0, "AFIB"), (45.0, 50.0, "AFL"), (50.0, 60.0, "SBR")],
        beats,
    )
    windows = rhythm_windows(record)
    assert windows.label.tolist() == [EXCLUDED, OTHER, NORMAL, EXCLUDED, EXCLUDED, OTHER]
    np.testing.assert_allclose(windows.af_fraction, [0, 0, 0, 0, 0.5, 0])
    assert af_episodes(record) == [(40.0, 45.0)]
    assert afl_intervals(record) == [(45.0, 50.0)]
    short = rhythm_windows(record, window_s=5.0)
    # 30-35 s has the Q beat, 35-40 s is sinus, 40-45 s AF, 45-50 s flutter.
    assert short.label.tolist()[6:10] == [EXCLUDED, NORMAL, AF, EXCLUDED]


def test_window_rules_missing_samples_and_empty_windows() -> None:
    record = _record([(0.0, 30.0, "AFIB")], seconds=30.0)
    record.signal[1500, 0] = np.nan  # at 15 s
    assert rhythm_windows(record).label.tolist() == [AF, EXCLUDED, AF]
    no_beats = _record([(0.0, 30.0, "N")], beats=[], seconds=30.0)
    assert (rhythm_windows(no_beats).label == EXCLUDED).all()
    unannotated = _record([], seconds=30.0)
    assert (rhythm_windows(unannotated).label == EXCLUDED).all()
    assert af_episodes(unannotated) == []
    assert len(rhythm_windows(_record([], seconds=5.0))) == 0  # shorter than one window


def test_contiguous_af_intervals_form_one_episode() -> None:
    record = _record([(0.0, 10.0, "AFIB"), (10.0, 20.0, "AFIB"), (25.0, 30.0, "AFIB")])
    assert af_episodes(record) == [(0.0, 20.0), (25.0, 30.0)]


def test_hops_and_bad_arguments() -> None:
    record = _record([(0.0, 60.0, "N")])
    windows = rhythm_windows(record, window_s=10.0, hop_s=1.0)
    assert len(windows) == 51
    assert windows.end_s[0] == 10.0 and windows.end_s[-1] == 60.0
    assert windows.counts() == {"normal": 51, "af": 0, "other": 0, "noise": 0, "excluded": 0}
    with pytest.raises(InputError, match="window_s"):
        rhythm_windows(record, window_s=0.0)
    with pytest.raises(InputError, match="hop_s"):
        rhythm_windows(record, hop_s=-1.0)
    with pytest.raises(InputError, match="lead"):
        rhythm_windows(record, lead=3)


MITDB_AF_RECORDS = {"201", "202", "203", "210", "217", "219", "221", "222"}


@pytest.mark.shared_data
@pytest.mark.slow
def test_mitdb_af_episodes(shared_data: Path) -> None:
    mitdb = shared_data / "mitdb"
    with_af = set()
    for header in sorted(mitdb.glob("*.hea")):
        record = read(header)
        episodes = af_episodes(record)
        if episodes:
            with_af.add(record.name)
            windows = rhythm_windows(record)
            assert (windows.label == AF).any()
            assert ((windows.label == AF) <= (windows.af_fraction == 1.0)).all()
    assert with_af == MITDB_AF_RECORDS
