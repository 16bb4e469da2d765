"""``cardiostream holter``: the JSON it writes and its refusals (HTML and PDF are the
renderer's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cardiostream.cli import app
from cardiostream.report.holter import SCHEMA

runner = CliRunner()


def test_json_report_of_a_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["holter", "mitdb-201-af", "--format", "json"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "mitdb-201-af-holter.json"  # the default name, in the current folder
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["schema"] == SCHEMA
    assert doc["record"]["source"] == "mitdb-201-af"
    assert doc["record"]["duration_s"] == 60.0
    assert doc["af"]["burden"] > 0.5
    assert doc["timing"]["engine_s"] <= doc["timing"]["total_s"]
    assert "engine" in result.output and " s of " in result.output


def test_out_names_the_format(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    result = runner.invoke(app, ["holter", "mitdb-119-pvc", "--out", str(target), "--lead", "1"])
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text(encoding="utf-8"))["record"]["lead"] == "V1"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/no/such/file.edf"], "no such file"),
        (["mitdb-201-af", "--format", "docx"], "--format"),
        (["mitdb-201-af", "--lead", "7", "--format", "json"], "lead"),
    ],
)
def test_bad_input_is_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["holter", *args, "--out", str(tmp_path / "x.json")])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_unreadable_and_short_files(tmp_path: Path) -> None:
    junk = tmp_path / "junk.edf"
    junk.write_bytes(b"not an EDF file at all")
    result = runner.invoke(app, ["holter", str(junk), "--out", str(tmp_path / "a.json")])
    assert result.exit_code == 2 and "junk.edf" in result.output
    short = tmp_path / "short.csv"
    short.write_text("time,ecg\n" + "".join(f"{i / 250},0.0\n" for i in range(2500)))
    result = runner.invoke(app, ["holter", str(short), "--out", str(tmp_path / "b.json")])
    assert result.exit_code == 2 and "at least 60 s" in result.output, result.output


def test_an_edf_day(tmp_path: Path) -> None:
    from cardiostream.io.edf_format import write_edf
    from cardiostream.record import Record
    from cardiostream.sim.holter_day import holter_day

    day = holter_day(1200.0, seed=2)
    rec = Record(signal=day.signal[:, None], fs=day.fs, leads=["ECG"], name="day")
    path = write_edf(rec, tmp_path / "day.edf")
    target = tmp_path / "day.json"
    result = runner.invoke(app, ["holter", str(path), "--out", str(target)])
    assert result.exit_code == 0, result.output
    doc = json.loads(target.read_text(encoding="utf-8"))
    assert doc["record"]["duration_s"] == pytest.approx(1200.0)
    assert doc["pauses"]["n_2s"] == len(day.truth["pauses"])


def test_html_and_pdf_of_a_test_day(tmp_path: Path) -> None:
    day = tmp_path / "day.edf"
    made = runner.invoke(app, ["holter-day", str(day), "--hours", "0.5", "--seed", "3"])
    assert made.exit_code == 0, made.output
    truth = json.loads((tmp_path / "day.truth.json").read_text(encoding="utf-8"))
    assert truth["start"] == "2026-01-05T08:00:00" and len(truth["pauses"]) == 3
    html = runner.invoke(app, ["holter", str(day), "--out", str(tmp_path / "day.html")])
    assert html.exit_code == 0, html.output
    page = (tmp_path / "day.html").read_text(encoding="utf-8")
    # The file's clock and device reach the header; the longest pause is in the findings.
    assert "2026-01-05" in page and "cardiostream holter-day" in page
    assert f"{max(p[1] for p in truth['pauses']):.1f} s" in page
    pdf = runner.invoke(app, ["holter", str(day), "--format", "pdf", "--out", str(tmp_path / "d")])
    assert pdf.exit_code == 0, pdf.output
    assert (tmp_path / "d").read_bytes().startswith(b"%PDF")


def test_holter_day_refuses_what_it_cannot_write(tmp_path: Path) -> None:
    result = runner.invoke(app, ["holter-day", str(tmp_path / "day.csv")])
    assert result.exit_code == 2 and "EDF" in result.output
    result = runner.invoke(app, ["holter-day", str(tmp_path / "d.edf"), "--hours", "0.1"])
    assert result.exit_code == 2
