"""The bundled sample recordings: the API, the files, and fidelity to the databases."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import wfdb

from cardiostream.errors import InputError
from cardiostream.record import BEAT_SYMBOLS
from cardiostream.samples import SAMPLES, list_samples, sample_path

DATA = sample_path("mitdb-100-nsr").parent
MITDB = ["mitdb-100-nsr", "mitdb-201-af", "mitdb-203-af", "mitdb-119-pvc"]
CINC = ["cinc2017-A00012", "cinc2017-A00004", "cinc2017-A00020", "cinc2017-A00034"]
#: The rhythm note expected at sample 0 of each excerpt.
FIRST_RHYTHM = {
    "mitdb-100-nsr": "(N",
    "mitdb-201-af": "(AFIB",
    "mitdb-203-af": "(AFIB",
    "mitdb-119-pvc": "(B",
}
CINC_CLASS = {"normal": "N", "af": "A", "other": "O", "noise": "~"}


def _stem(name: str) -> str:
    return str(sample_path(name).with_suffix(""))


def test_names() -> None:
    assert list_samples() == MITDB + CINC
    assert list(SAMPLES) == list_samples()
    assert all(SAMPLES[name].name == name for name in SAMPLES)
    assert {info.rhythm for info in SAMPLES.values()} == {"normal", "af", "other", "noise"}


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(InputError, match=r"^sample: unknown name 'mitdb-999'.*mitdb-201-af"):
        sample_path("mitdb-999")


@pytest.mark.parametrize("name", MITDB + CINC)
def test_record_opens_and_matches_its_description(name: str) -> None:
    info = SAMPLES[name]
    path = sample_path(name)
    assert path.suffix == ".hea"
    assert path.is_file()
    record = wfdb.rdrecord(_stem(name))
    assert record.record_name == info.record
    assert record.fs == info.fs
    assert record.sig_len == round(info.duration_s * info.fs)
    assert record.n_sig == (2 if name in MITDB else 1)
    assert record.units == ["mV"] * record.n_sig
    assert np.isfinite(record.p_signal).all()
    # Real ECG, not a flat line: a few tenths of a millivolt of spread at least.
    assert np.ptp(record.p_signal[:, 0]) > 0.5
    assert info.annotated == path.with_suffix(".atr").is_file()


@pytest.mark.parametrize("name", MITDB)
def test_excerpts_are_format_16_with_the_original_gain(name: str) -> None:
    header = wfdb.rdheader(_stem(name))
    assert header.fmt == ["16", "16"]
    assert header.adc_gain == [200.0, 200.0]
    assert header.baseline == [1024, 1024]
    assert sample_path(name).with_suffix(".dat").stat().st_size == 2 * 2 * header.sig_len


@pytest.mark.parametrize("name", MITDB)
def test_excerpt_annotations(name: str) -> None:
    ann = wfdb.rdann(_stem(name), "atr")
    n = wfdb.rdheader(_stem(name)).sig_len
    assert (np.diff(ann.sample) >= 0).all()
    assert ann.sample[0] == 0 and ann.sample[-1] < n
    assert ann.symbol[0] == "+" and ann.aux_note[0] == FIRST_RHYTHM[name]
    rhythms = [note for note in ann.aux_note if note.startswith("(")]
    beats = Counter(s for s in ann.symbol if s in BEAT_SYMBOLS)
    # Roughly one beat a second at least, and the class the excerpt was chosen for.
    assert sum(beats.values()) > 60
    if name.endswith("-af") or name.endswith("-nsr"):
        assert rhythms == [FIRST_RHYTHM[name]]
    if name == "mitdb-100-nsr":
        assert set(beats) == {"N"}
    if name == "mitdb-203-af":
        assert beats["V"] >= 3
    if name == "mitdb-119-pvc":
        assert beats["V"] >= 20 and "(B" in rhythms


def test_cinc_reference_labels() -> None:
    lines = (DATA / "REFERENCE.csv").read_text().split()
    labels = dict(line.split(",") for line in lines)
    assert len(labels) == len(CINC)
    for name in CINC:
        info = SAMPLES[name]
        assert labels[info.record] == CINC_CLASS[info.rhythm]


def test_small_and_credited() -> None:
    total = sum(p.stat().st_size for p in DATA.iterdir() if p.is_file())
    assert total < 1_000_000
    credits = (DATA / "CREDITS.md").read_text()
    for needed in ("ODC-By 1.0", "Moody", "Goldberger", "Clifford", "MIT-BIH", "2017"):
        assert needed in credits
    for info in SAMPLES.values():
        assert f"`{info.record}`" in credits


def _excerpt_bounds(name: str) -> tuple[str, int, int]:
    """Original record and sample range, read from the excerpt's header comment."""
    comments = " ".join(wfdb.rdheader(_stem(name)).comments)
    found = re.search(r"record (\d+), samples (\d+)-(\d+)", comments)
    assert found is not None, comments
    return found[1], int(found[2]), int(found[3])


@pytest.mark.shared_data
@pytest.mark.parametrize("name", MITDB)
def test_excerpt_equals_the_original(shared_data: Path, name: str) -> None:
    record, start, stop = _excerpt_bounds(name)
    src = str(shared_data / "mitdb" / record)
    ours = wfdb.rdrecord(_stem(name), physical=False)
    theirs = wfdb.rdrecord(src, sampfrom=start, sampto=stop, physical=False)
    np.testing.assert_array_equal(ours.d_signal, theirs.d_signal)
    np.testing.assert_array_equal(
        wfdb.rdrecord(_stem(name)).p_signal,
        wfdb.rdrecord(src, sampfrom=start, sampto=stop).p_signal,
    )
    assert ours.sig_name == theirs.sig_name

    a = wfdb.rdann(_stem(name), "atr")
    b = wfdb.rdann(src, "atr")
    inside = (b.sample >= start) & (b.sample < stop)
    # Everything but the restated rhythm note at sample 0 is the original, shifted.
    np.testing.assert_array_equal(a.sample[1:], b.sample[inside] - start)
    assert a.symbol[1:] == [s for s, k in zip(b.symbol, inside, strict=True) if k]
    # The originals pad odd-length notes with NUL, which the excerpts drop.
    notes = [x.rstrip("\x00") for x in b.aux_note]
    assert a.aux_note[1:] == [x for x, k in zip(notes, inside, strict=True) if k]
    before = [x for s, x in zip(b.sample, notes, strict=True) if s <= start and x]
    assert a.aux_note[0] == before[-1]


@pytest.mark.shared_data
@pytest.mark.parametrize("name", CINC)
def test_cinc_records_are_unchanged_copies(shared_data: Path, name: str) -> None:
    record = SAMPLES[name].record
    for ext in (".hea", ".mat"):
        ours = sample_path(name).with_suffix(ext).read_bytes()
        assert ours == (shared_data / "cinc2017" / f"{record}{ext}").read_bytes()
    reference = (shared_data / "cinc2017" / "REFERENCE.csv").read_text().split()
    assert f"{record},{CINC_CLASS[SAMPLES[name].rhythm]}" in reference
