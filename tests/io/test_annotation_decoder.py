"""The MIT annotation decoder gives what wfdb.rdann gives, and ends on any input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import wfdb

import cardiostream.samples
from cardiostream.errors import InputError
from cardiostream.io.wfdb_checks import decode_annotations

_SAMPLES = Path(cardiostream.samples.__file__).parent / "data"


def _assert_same_as_rdann(atr: Path) -> None:
    ref = wfdb.rdann(str(atr.with_suffix("")), atr.suffix[1:])
    got = decode_annotations(atr, atr.read_bytes())
    np.testing.assert_array_equal(got.sample, ref.sample)
    np.testing.assert_array_equal(got.symbol, np.asarray(ref.symbol, dtype=str))
    assert got.aux_note == list(ref.aux_note)


@pytest.mark.parametrize("atr", sorted(_SAMPLES.glob("*.atr")), ids=lambda p: p.name)
def test_bundled_samples_as_rdann(atr: Path) -> None:
    _assert_same_as_rdann(atr)


def test_every_mitdb_record_as_rdann(shared_data: Path) -> None:
    files = sorted((shared_data / "mitdb").glob("*.atr"))
    assert len(files) == 48
    for atr in files:
        _assert_same_as_rdann(atr)


def test_custom_labels_and_time_resolution(tmp_path: Path) -> None:
    wfdb.wrann(
        "c",
        "atr",
        sample=np.array([10, 20, 30]),
        symbol=["N", "V", "X"],
        aux_note=["", "(AFIB", ""],
        fs=250,
        custom_labels=[(42, "X", "my label")],
        write_dir=str(tmp_path),
    )
    _assert_same_as_rdann(tmp_path / "c.atr")
    got = decode_annotations(tmp_path / "c.atr", (tmp_path / "c.atr").read_bytes())
    assert got.sample.tolist() == [10, 20, 30]
    assert got.symbol.tolist() == ["N", "V", "X"]
    assert got.aux_note[1] == "(AFIB"


def test_field_twice_in_one_annotation_refused(tmp_path: Path) -> None:
    # N at sample 5, then two NUM fields (code 60) for it, then the end marker.
    words = [(1 << 10) | 5, (60 << 10) | 1, (60 << 10) | 2, 0]
    data = b"".join(w.to_bytes(2, "little") for w in words)
    with pytest.raises(InputError, match=r"x\.atr: annotations: malformed at byte 4 .*twice"):
        decode_annotations(tmp_path / "x.atr", data)
