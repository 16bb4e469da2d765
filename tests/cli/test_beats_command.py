"""``cardiostream beats``: the CSV, table and JSON formats, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cardiostream.cli import app

runner = CliRunner()


def test_csv_has_one_row_per_beat_with_probabilities() -> None:
    result = runner.invoke(app, ["beats", "mitdb-119-pvc", "--format", "csv"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "sample,time_s,label,p_n,p_s,p_v,p_f,p_q"
    rows = [line.split(",") for line in lines[1:]]
    assert len(rows) > 50
    assert {r[2] for r in rows} <= set("NSVFQ") and "V" in {r[2] for r in rows}
    for r in rows:
        assert abs(sum(map(float, r[3:])) - 1) < 1e-3
        assert abs(int(r[0]) / 360 - float(r[1])) < 1e-3


def test_table_and_json() -> None:
    table = runner.invoke(app, ["beats", "mitdb-100-nsr"])
    assert table.exit_code == 0, table.output
    assert "beats, N" in table.stdout
    doc = runner.invoke(app, ["beats", "mitdb-100-nsr", "--format", "json"])
    assert doc.exit_code == 0
    parsed = json.loads(doc.stdout)
    assert parsed["classes"] == ["N", "S", "V", "F", "Q"] and parsed["beats"]


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    for args in (
        ["beats", str(tmp_path / "missing.hea")],
        ["beats", "mitdb-100-nsr", "--format", "xml"],
        ["beats", "mitdb-100-nsr", "--model", str(tmp_path)],
        ["bench", "beats", "--data", str(tmp_path)],
        ["train-beats", "--data", str(tmp_path), "--records", "100"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output
        assert len(result.stderr.strip().splitlines()) == 1
