"""Dataset builders: the CinC loader and its cache, folds, NSTDB noise, labelled WFDB windows."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from cardiostream.errors import InputError
from cardiostream.io import read
from cardiostream.rhythm.preprocess import preprocess
from cardiostream.rhythm.verdict import CLASSES
from cardiostream.samples import sample_path
from cardiostream.training.datasets import (
    CINC_CODES,
    EXCLUDED,
    cached_cinc,
    cinc_cache_key,
    load_cinc,
    load_noise,
    load_windows,
    read_reference,
    stratified_folds,
)

CINC_SAMPLES = sample_path("cinc2017-A00004").parent
NORMAL, AF, OTHER = CLASSES.index("normal"), CLASSES.index("af"), CLASSES.index("other")


@pytest.fixture
def cinc_copy(tmp_path: Path) -> Path:
    """The bundled CinC records and REFERENCE.csv in a folder of their own."""
    folder = tmp_path / "cinc"
    folder.mkdir()
    for path in CINC_SAMPLES.iterdir():
        if path.name.startswith("A0") or path.name == "REFERENCE.csv":
            shutil.copy(path, folder / path.name)
    return folder


def test_classes_and_codes() -> None:
    assert CLASSES == ("normal", "af", "other", "noise")
    assert {CLASSES[i] for i in CINC_CODES.values()} == set(CLASSES)


def test_load_cinc_bundled_records() -> None:
    data = load_cinc(CINC_SAMPLES, progress=False)
    assert data.names == ["A00012", "A00004", "A00020", "A00034"]
    assert data.labels.tolist() == [0, 1, 2, 3]
    assert data.labels.dtype == np.int64
    assert data.fs == 250.0
    assert data.class_counts() == {"normal": 1, "af": 1, "other": 1, "noise": 1}
    for name, signal in zip(data.names, data.signals, strict=True):
        assert signal.dtype == np.float32
        assert signal.shape == (7500,)  # 30 s at 250 Hz
        expected = preprocess(read(CINC_SAMPLES / f"{name}.hea").lead(0), 300.0)
        np.testing.assert_array_equal(signal, expected)
    assert len(load_cinc(CINC_SAMPLES, limit=2, progress=False)) == 2


def test_read_reference_rejects_bad_files(tmp_path: Path) -> None:
    ref = tmp_path / "REFERENCE.csv"
    with pytest.raises(InputError, match=r"REFERENCE\.csv"):
        read_reference(ref)
    ref.write_text("A00001,N\nA00002,X\n")
    with pytest.raises(InputError, match="line 2: label 'X'"):
        read_reference(ref)
    ref.write_text("A00001,N,extra\n")
    with pytest.raises(InputError, match="line 1"):
        read_reference(ref)
    ref.write_text("A00001,N\nA00001,A\n")
    with pytest.raises(InputError, match="more than once"):
        read_reference(ref)
    ref.write_text("A00001,N\n\nA00002,~\n")
    names, labels = read_reference(ref)
    assert names == ["A00001", "A00002"]
    assert labels.tolist() == [0, 3]


def test_load_cinc_names_a_missing_record(cinc_copy: Path) -> None:
    (cinc_copy / "A00020.hea").unlink()
    with pytest.raises(InputError, match="A00020"):
        load_cinc(cinc_copy, progress=False)


def test_cache_round_trip_and_key(cinc_copy: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    built = cached_cinc(cinc_copy, cache, progress=False)
    files = list(cache.glob("*.npz"))
    assert len(files) == 1
    assert cinc_cache_key(cinc_copy) in files[0].name
    # Reading back gives the same data; the records themselves are not touched.
    for path in cinc_copy.glob("*.mat"):
        path.unlink()
    loaded = cached_cinc(cinc_copy, cache, progress=False)
    assert loaded.names == built.names
    assert loaded.labels.tolist() == built.labels.tolist()
    for a, b in zip(loaded.signals, built.signals, strict=True):
        np.testing.assert_array_equal(a, b)
    # Another REFERENCE.csv is another dataset.
    key = cinc_cache_key(cinc_copy)
    (cinc_copy / "REFERENCE.csv").write_text("A00012,N\n")
    assert cinc_cache_key(cinc_copy) != key
    assert cinc_cache_key(cinc_copy, limit=1) != cinc_cache_key(cinc_copy)


def test_corrupt_cache_raises(cinc_copy: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / f"cinc2017-{cinc_cache_key(cinc_copy)}.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="cache"):
        cached_cinc(cinc_copy, cache, progress=False)


def test_stratified_folds() -> None:
    # The CinC 2017 class mix, scaled down.
    labels = np.repeat([0, 1, 2, 3], [379, 55, 184, 21])
    folds = stratified_folds(labels, k=5, seed=0)
    assert folds.shape == labels.shape
    assert set(folds.tolist()) == set(range(5))
    sizes = np.bincount(folds)
    assert sizes.max() - sizes.min() <= 1
    for c in range(4):
        per_fold = np.bincount(folds[labels == c], minlength=5)
        assert per_fold.max() - per_fold.min() <= 1
    np.testing.assert_array_equal(folds, stratified_folds(labels, k=5, seed=0))
    assert not np.array_equal(folds, stratified_folds(labels, k=5, seed=1))
    # Folds are a partition: each held-out set and its training set are disjoint and complete.
    for f in range(5):
        held, train = np.flatnonzero(folds == f), np.flatnonzero(folds != f)
        assert np.intersect1d(held, train).size == 0
        assert held.size + train.size == labels.size


def test_stratified_folds_rejects_bad_input() -> None:
    with pytest.raises(InputError, match="k"):
        stratified_folds([0, 1, 0], k=1)
    with pytest.raises(InputError, match="k"):
        stratified_folds([0, 1, 0], k=4)
    with pytest.raises(InputError, match="labels"):
        stratified_folds([[0, 1]], k=2)
    with pytest.raises(InputError, match="labels"):
        stratified_folds([0.5, 1.0], k=2)


def test_load_noise_needs_records(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="NSTDB"):
        load_noise(tmp_path)


@pytest.mark.shared_data
def test_load_noise_nstdb(shared_data: Path) -> None:
    noise = load_noise(shared_data / "nstdb")
    assert {"bw", "ma"} <= set(noise)
    for x in noise.values():
        assert x.dtype == np.float32
        assert x.shape == (-(-650000 * 25 // 36), 2)  # 30 min at 360 Hz -> 250 Hz, two leads
        assert np.isfinite(x).all()
        assert abs(float(x[2500:].mean())) < 0.05  # the high-pass took out the offset


# Windows of annotated records ---------------------------------------------------------------


def test_load_windows_cuts_labelled_windows_at_250_hz() -> None:
    data = load_windows([sample_path("mitdb-201-af"), sample_path("mitdb-100-nsr")], progress=False)
    assert data.x.shape[1] == 2500 and data.x.dtype == np.float32
    assert len(data) == data.x.shape[0] == len(data.records) == data.start_s.size
    assert set(data.records) == {"mitdb-201-af", "mitdb-100-nsr"}
    assert (data.labels[np.array(data.records) == "mitdb-201-af"] == AF).all()
    assert EXCLUDED not in data.labels
    # A window is the record's conditioned signal at its start time, not a re-filtered piece.
    rec = read(sample_path("mitdb-201-af"))
    whole = preprocess(rec.lead(0), rec.fs)
    i = data.records.index("mitdb-201-af") + 2
    start = round(data.start_s[i] * 250)
    np.testing.assert_array_equal(data.x[i], whole[start : start + 2500])


def test_load_windows_with_hop_overlaps() -> None:
    data = load_windows([sample_path("mitdb-201-af")], hop_s=5.0, progress=False)
    np.testing.assert_allclose(np.diff(data.start_s), 5.0)
