"""The Holter report's figures against reference annotations."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cardiostream.cli import app
from cardiostream.errors import InputError
from cardiostream.evaluate.holter_mitdb import (
    HolterRecordResult,
    _reference_pauses,
    evaluate_holter_mitdb,
    gross,
    holter_record,
    to_markdown,
)
from cardiostream.samples import sample_path


def test_reference_pauses_are_rr_of_two_seconds_or_more() -> None:
    t = np.array([0.0, 1.0, 3.0, 4.0, 5.99, 7.0, 10.5])
    np.testing.assert_array_equal(_reference_pauses(t), [1.0, 7.0])


def _result(name: str, **kw: float) -> HolterRecordResult:
    fields = ("af_ref_s", "af_report_s", "v_ref", "v_report", "pauses_ref", "pauses_found",
              "pauses_report", "pauses_extra")  # fmt: skip
    base = {"duration_s": 100.0, "analysable_s": 90.0, **dict.fromkeys(fields, 0)}
    return HolterRecordResult(name, **{**base, **kw})  # type: ignore[arg-type]


def test_totals_are_sums_and_ratios_of_sums() -> None:
    rs = [
        _result("a", af_ref_s=100, af_report_s=90, v_ref=10, v_report=12),
        _result("b", af_ref_s=0, af_report_s=5, v_ref=30, v_report=27),
        _result("c", pauses_ref=2, pauses_found=1, pauses_report=3, pauses_extra=2),
    ]
    g = gross(rs)
    assert g["af_ratio"] == pytest.approx(95 / 100)
    assert g["v_ratio"] == pytest.approx(39 / 40)
    assert g["pause_se"] == 0.5 and g["pauses_extra"] == 2 and g["af_records"] == 2
    text = to_markdown(rs)
    assert "| AF seconds | 100 | 95 | 95.0 % |" in text
    assert "| b | 90.0 | 0 | 5 | 30 | 27 | 0 | 0 | 0 | 0 |" in text
    assert math.isnan(gross([_result("d")])["pause_se"])


def test_a_bundled_af_minute_against_its_annotations() -> None:
    r = holter_record(sample_path("mitdb-201-af"))
    assert r.af_ref_s > 50  # the excerpt is AF throughout
    # Ten seconds go to the first window and a few to the edges.
    assert 0.75 * r.af_ref_s <= r.af_report_s <= r.af_ref_s
    assert r.pauses_found <= r.pauses_ref


def test_records_without_beats_or_records_are_refused(tmp_path: Path) -> None:
    rows = "".join(f"{i / 250},{math.sin(i / 20)}\n" for i in range(250 * 70))
    (tmp_path / "x.csv").write_text("time,ecg\n" + rows)
    with pytest.raises(InputError, match="no reference beat annotations"):
        holter_record(tmp_path / "x.csv")
    with pytest.raises(InputError, match="no WFDB records"):
        evaluate_holter_mitdb(tmp_path)


def test_the_command_writes_its_tables(tmp_path: Path) -> None:
    folder = sample_path("mitdb-201-af").parent
    md, js = tmp_path / "h.md", tmp_path / "h.json"
    args = ["evaluate-holter", "--data", str(folder), "--records", "mitdb-201-af"]
    result = CliRunner().invoke(app, [*args, "--markdown", str(md), "--json", str(js)])
    assert result.exit_code == 0, result.output
    assert "| mitdb-201-af |" in md.read_text()
    assert json.loads(js.read_text())[0]["record"] == "mitdb-201-af"
