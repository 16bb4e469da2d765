"""``cardiostream beats``: the CSV, table and JSON formats, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from cardiostream.beats import GATE_REASONS
from cardiostream.cli import app

runner = CliRunner()


def test_csv_has_one_row_per_beat_with_probabilities() -> None:
    result = runner.invoke(app, ["beats", "mitdb-119-pvc", "--format", "csv"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    # The first eight columns are fixed; the gate's reason comes after them.
    assert lines[0].startswith("sample,time_s,label,p_n,p_s,p_v,p_f,p_q")
    assert lines[0] == "sample,time_s,label,p_n,p_s,p_v,p_f,p_q,reason"
    rows = [line.split(",") for line in lines[1:]]
    assert len(rows) > 50
    assert {r[2] for r in rows} <= set("NSVFQ") and "V" in {r[2] for r in rows}
    for r in rows:
        assert len(r) == 9
        assert abs(sum(map(float, r[3:8])) - 1) < 1e-3
        assert abs(int(r[0]) / 360 - float(r[1])) < 1e-3
        assert r[8] == "" or (r[2] == "Q" and r[8] in GATE_REASONS)


def test_table_and_json() -> None:
    table = runner.invoke(app, ["beats", "mitdb-100-nsr"])
    assert table.exit_code == 0, table.output
    assert "beats, N" in table.stdout
    doc = runner.invoke(app, ["beats", "mitdb-100-nsr", "--format", "json"])
    assert doc.exit_code == 0
    parsed = json.loads(doc.stdout)
    assert parsed["classes"] == ["N", "S", "V", "F", "Q"] and parsed["beats"]
    assert all(b["reason"] in ("", *GATE_REASONS) for b in parsed["beats"])
    assert "reason" in table.stdout and "gated to Q" in table.stdout


def test_a_gated_beat_shows_its_reason(tmp_path: Path) -> None:
    """A record whose lead goes flat: its beats there are Q with the reason in every format."""
    from cardiostream.io import read
    from cardiostream.samples import sample_path

    rec = read(sample_path("mitdb-100-nsr"))
    x = rec.lead(0).astype(np.float64)
    x[x.size // 3 :] *= 0.03
    path = tmp_path / "flat.csv"
    np.savetxt(path, x[:, None], delimiter=",", header="ecg", comments="")
    result = runner.invoke(app, ["beats", str(path), "--format", "csv", "--fs", "360"])
    assert result.exit_code == 0, result.output
    rows = [line.split(",") for line in result.stdout.strip().splitlines()[1:]]
    gated = [r for r in rows if r[8]]
    assert gated and all(r[2] == "Q" and r[8] == "flat" for r in gated)
    doc = json.loads(
        runner.invoke(app, ["beats", str(path), "--format", "json", "--fs", "360"]).stdout
    )
    assert any(b["reason"] == "flat" and b["label"] == "Q" for b in doc["beats"])


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
