"""``cardiostream rr-af``: beat times or RR intervals in a CSV, per-beat CSV, summary and JSON
out, bad files as exit 2 with one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cardiostream.beats.af_rr import af_from_beats
from cardiostream.cli import app

runner = CliRunner()


def _rr_ms(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    sinus = 850 + 25 * np.sin(np.arange(200) / 0.7) + rng.normal(0, 6, 200)
    af = np.clip(rng.lognormal(np.log(620), 0.22, 300), 300, 1600)
    return np.concatenate([sinus, af, sinus[:150]])


def test_beat_times_give_one_row_per_beat(tmp_path: Path) -> None:
    t = 5.0 + np.cumsum(_rr_ms()) / 1000
    path = tmp_path / "beats.csv"
    np.savetxt(path, np.c_[np.arange(t.size), t], delimiter=",", header="n,time_s", comments="")
    result = runner.invoke(app, ["rr-af", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "time_s,af,p_af"
    rows = [line.split(",") for line in lines[1:]]
    assert len(rows) == t.size
    expected = af_from_beats(np.loadtxt(path, delimiter=",", skiprows=1)[:, 1])
    assert [int(r[1]) for r in rows] == expected.af.astype(int).tolist()
    assert np.allclose([float(r[2]) for r in rows], expected.p_af, atol=1e-4)
    assert any(r[1] == "1" for r in rows) and rows[0][1] == "0"


def test_rr_intervals_give_one_row_per_interval(tmp_path: Path) -> None:
    rr = _rr_ms(1)
    path = tmp_path / "rr.csv"
    np.savetxt(path, rr[:, None], delimiter=",", header="rr_ms", comments="")
    result = runner.invoke(app, ["rr-af", str(path)])
    assert result.exit_code == 0, result.output
    rows = [line.split(",") for line in result.stdout.strip().splitlines()[1:]]
    assert len(rows) == rr.size
    assert abs(float(rows[-1][0]) - rr.sum() / 1000) < 2e-3


def test_summary_and_json(tmp_path: Path) -> None:
    path = tmp_path / "rr.csv"
    np.savetxt(path, _rr_ms(2)[:, None], delimiter=",", header="rr_ms", comments="")
    summary = runner.invoke(app, ["rr-af", str(path), "--format", "summary"])
    assert summary.exit_code == 0, summary.output
    assert "AF burden" in summary.stdout and "AF episode" in summary.stdout
    doc = json.loads(runner.invoke(app, ["rr-af", str(path), "--format", "json"]).stdout)
    assert doc["beats"] == 650 and doc["episodes"]
    assert doc["judged_beats"] == 650 - 15  # the first row is the 2nd beat: 15 not judged
    assert 0.2 < doc["af_burden"] < 0.8
    ep = max(doc["episodes"], key=lambda e: e["duration_s"])
    assert ep["duration_s"] > 100


def test_too_few_beats_to_judge_say_so_instead_of_no_af(tmp_path: Path) -> None:
    # Fewer than 16 intervals: no beat was judged, so there is no burden to report (it read
    # "AF burden 0.0 %", as if checked and clear).
    path = tmp_path / "few.csv"
    np.savetxt(path, np.arange(10)[:, None] * 0.8, delimiter=",", header="time_s", comments="")
    summary = runner.invoke(app, ["rr-af", str(path), "--format", "summary"])
    assert summary.exit_code == 0, summary.output
    assert "too few to judge" in summary.stdout and "burden" not in summary.stdout
    doc = json.loads(runner.invoke(app, ["rr-af", str(path), "--format", "json"]).stdout)
    assert doc["judged_beats"] == 0 and doc["af_burden"] is None


def test_pulse_timing_picks_the_pulse_model(tmp_path: Path) -> None:
    t = 5.0 + np.cumsum(_rr_ms(3)) / 1000
    path = tmp_path / "watch.csv"
    np.savetxt(path, t[:, None], delimiter=",", header="time_s", comments="")
    result = runner.invoke(app, ["rr-af", str(path), "--timing", "pulse"])
    assert result.exit_code == 0, result.output
    p_af = [float(line.split(",")[2]) for line in result.stdout.strip().splitlines()[1:]]
    expected = af_from_beats(np.loadtxt(path, skiprows=1), timing="pulse").p_af
    assert np.allclose(p_af, expected, atol=1e-4)
    assert not np.allclose(p_af, af_from_beats(np.loadtxt(path, skiprows=1)).p_af, atol=1e-4)
    result = runner.invoke(app, ["rr-af", str(path), "--timing", "ppg"])
    assert result.exit_code == 2 and "--timing" in result.output


@pytest.mark.parametrize(
    "text",
    [
        "\ufefftime_s\n0.5\n1.3\n2.2\n",  # a spreadsheet's byte-order mark
        "Time_S;quality\n0,5;1\n1,3;1\n2,2;1\n",  # semicolons and decimal commas
        "time_s\tquality\r\n0.5\t1\r\n1.3\t1\r\n2.2\t1\r\n",  # tabs, CRLF
    ],
)
def test_spreadsheet_exports_read_as_plain_csv(tmp_path: Path, text: str) -> None:
    path = tmp_path / "export.csv"
    path.write_text(text, encoding="utf-8", newline="")
    result = runner.invoke(app, ["rr-af", str(path)])
    assert result.exit_code == 0, result.output
    times = [line.split(",")[0] for line in result.stdout.strip().splitlines()[1:]]
    assert times == ["0.500", "1.300", "2.200"]


def test_decimal_commas_after_a_whole_number(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("time_s;quality\n1;0\n1,3;0\n2,25;0\n")
    result = runner.invoke(app, ["rr-af", str(path)])
    assert result.exit_code == 0, result.output
    times = [line.split(",")[0] for line in result.stdout.strip().splitlines()[1:]]
    assert times == ["1.000", "1.300", "2.250"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("time_s\n", "no beats"),
        ("beat,value\n1,2\n", "no time_s or rr_ms column"),
        ("812\n790\n", "the first line must name the column, time_s (beat times, s) or rr_ms"),
        (
            "time_s\n1.0\n2.0\n1.5\n",
            "line 4, time_s: 1.5 is not after the beat before it (2, line 3)",
        ),
        ("time_s\n1.0\nnan\n3.0\n", "line 3, time_s: not a finite number"),
        # Blank lines are skipped but counted.
        ("time_s\n1.0\n\n2.0\nabc\n", "line 5, time_s: not a number"),
        ("rr_ms\n800\n0\n", "line 3, rr_ms: 0 is not a positive interval"),
        # A wrong unit: RR intervals in seconds, beat times in milliseconds.
        (
            "rr_ms\n0.81\n0.79\n0.8\n",
            "rr_ms: median interval 0.8 ms, not a heart beat; were these seconds?",
        ),
        ("rr_ms\n8000\n7900\n", "rr_ms: median interval 7950 ms, not a heart beat"),
        (
            "time_s\n500\n1300\n2100\n",
            "time_s: median interval 800 s between beats, not a heart beat; were these "
            "milliseconds?",
        ),
    ],
)
def test_bad_files_exit_2_with_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    result = runner.invoke(app, ["rr-af", str(path)])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_missing_file_and_bad_format(tmp_path: Path) -> None:
    result = runner.invoke(app, ["rr-af", str(tmp_path / "none.csv")])
    assert result.exit_code == 2 and "none.csv" in result.output
    path = tmp_path / "ok.csv"
    path.write_text("time_s\n1\n2\n")
    result = runner.invoke(app, ["rr-af", str(path), "--format", "xml"])
    assert result.exit_code == 2 and "--format" in result.output


def test_training_and_benchmark_name_what_is_missing(tmp_path: Path) -> None:
    result = runner.invoke(app, ["train-rr-af", "--data", str(tmp_path / "none")])
    assert result.exit_code == 2 and "none" in result.output
    result = runner.invoke(app, ["train-rr-af", "--data", str(tmp_path)])
    assert result.exit_code == 2 and ".atr" in result.output
    result = runner.invoke(app, ["bench", "rr-af", "--cv", str(tmp_path / "cv.json")])
    assert result.exit_code == 2 and "train-rr-af" in result.output
    for bad in ("10,x", "-5", "10,500"):
        result = runner.invoke(app, ["train-rr-af", "--data", str(tmp_path), "--jitter-ms", bad])
        assert result.exit_code == 2 and "--jitter-ms" in result.output
    for bad in ("-1", "50"):
        result = runner.invoke(
            app, ["train-rr-af", "--data", str(tmp_path), "--restart-beats", bad]
        )
        assert result.exit_code == 2 and "--restart-beats: 0 or at least 100" in result.output
    (tmp_path / "cv.json").write_text("{}")
    result = runner.invoke(app, ["bench", "rr-af", "--cv", str(tmp_path / "cv.json")])
    assert result.exit_code == 2 and "not a train-rr-af report" in result.output
