"""``cardiostream analyze`` over many files: output names kept apart, every input accounted
for in the summary, failures reported with a non-zero exit."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from cardiostream.cli import app
from cardiostream.cli.analysis import output_names
from cardiostream.io import read
from cardiostream.samples import sample_path

runner = CliRunner()
AF = sample_path("mitdb-201-af")
SHORT = sample_path("cinc2017-A00004")


def _renamed(src: Path, folder: Path, name: str) -> Path:
    """A WFDB sample copied into ``folder`` as record ``name``."""
    folder.mkdir(parents=True, exist_ok=True)
    for f in src.parent.glob(src.stem + ".*"):
        data = f.read_bytes()
        if f.suffix == ".hea":
            data = data.replace(src.stem.encode(), name.encode())
        (folder / f"{name}{f.suffix}").write_bytes(data)
    return folder / f"{name}.hea"


def _as_csv(src: Path, path: Path, seconds: float) -> Path:
    rec = read(src)
    x = rec.lead(0)[: round(seconds * rec.fs)]
    t = np.arange(x.size) / rec.fs
    path.write_text(
        "time,II_mV\n" + "".join(f"{a:.5f},{b:.4f}\n" for a, b in zip(t, x, strict=True))
    )
    return path


def _summary_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_output_names_tell_records_of_the_same_name_apart() -> None:
    paths = [Path(p) for p in ("/a/p1/rec.csv", "/a/p2/rec.csv", "/a/p1/rec.edf", "/a/x.hea")]
    assert output_names(paths) == ["p1__rec_csv", "p2__rec", "p1__rec_edf", "x"]
    # Unique names are the records' own; the rule does not depend on the order.
    assert output_names([Path("/d/100.hea"), Path("/d/101.hea")]) == ["100", "101"]
    assert output_names(paths[::-1]) == output_names(paths)[::-1]
    # A name made for a clash that another record already has: numbered.
    clash = [Path("/b/p1/rec.csv"), Path("/b/p2/rec.csv"), Path("/b/p1__rec.csv")]
    assert output_names(clash) == ["p1__rec", "p2__rec", "p1__rec~2"]
    assert output_names([Path("/c/rec.csv.gz"), Path("/c/rec.tsv")]) == ["rec_csv_gz", "rec_tsv"]


def test_records_of_the_same_name_keep_their_own_outputs(tmp_path: Path) -> None:
    data = tmp_path / "collide"
    _renamed(SHORT, data / "p1", "rec")
    _renamed(AF, data / "p2", "rec")
    _as_csv(AF, data / "p1" / "rec.csv", 20)
    out, summary = tmp_path / "out", tmp_path / "summary.csv"
    result = runner.invoke(
        app, ["analyze", str(data), "--out", str(out), "--summary", str(summary)]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        f"{n}.{e}" for n in ("p1__rec_csv", "p1__rec_hea", "p2__rec") for e in ("csv", "jsonl")
    ]
    alone = runner.invoke(app, ["analyze", str(AF), "--format", "jsonl"])
    assert (out / "p2__rec.jsonl").read_text() == alone.stdout
    rows = _summary_rows(summary)
    assert [(r["record"], r["path"], r["output"]) for r in rows] == [
        ("rec", str(data / "p1" / "rec.csv"), "p1__rec_csv"),
        ("rec", str(data / "p1" / "rec.hea"), "p1__rec_hea"),
        ("rec", str(data / "p2" / "rec.hea"), "p2__rec"),
        ("total", "", ""),
    ]
    assert [r["duration_s"] for r in rows] == ["20.0", "30.0", "60.0", "110.0"]
    doc = runner.invoke(app, ["analyze", str(data), "--format", "json"])
    assert [r["path"] for r in json.loads(doc.stdout)["records"]] == [r["path"] for r in rows[:3]]


def _mixed(folder: Path) -> Path:
    """A good record, two files that are not records, and a CinC labels file."""
    _renamed(SHORT, folder, "good")
    (folder / "empty.csv").write_text("")
    (folder / "image.csv").write_bytes(b"\x89PNG\r\n\x1a\n")
    (folder / "REFERENCE.csv").write_text("good,N\n")
    return folder


def test_failed_files_are_in_the_summary_and_the_exit_code(tmp_path: Path) -> None:
    folder = _mixed(tmp_path / "mixed")
    summary = tmp_path / "s.csv"
    result = runner.invoke(app, ["analyze", str(folder), "--summary", str(summary)])
    assert result.exit_code == 1, result.output
    assert result.stderr.strip().splitlines()[-1] == (
        "error: 2 of 4 inputs could not be analysed (named above)"
    )
    rows = {Path(r["path"]).name: r for r in _summary_rows(summary) if r["path"]}
    assert {k: r["status"] for k, r in rows.items()} == {
        "REFERENCE.csv": "skipped",
        "empty.csv": "not_read",
        "good.hea": "analysed",
        "image.csv": "not_read",
    }
    assert "image.csv" in rows["image.csv"]["error"] and rows["empty.csv"]["error"]
    assert rows["empty.csv"]["duration_s"] == "" and rows["good.hea"]["duration_s"] == "30.0"
    total = _summary_rows(summary)[-1]
    assert (total["record"], total["status"]) == ("total", "partial")
    assert total["error"] == "2 of 4 inputs not analysed"
    # JSON: the failed inputs beside the records.
    doc = json.loads(runner.invoke(app, ["analyze", str(folder), "--format", "json"]).stdout)
    assert [r["record"] for r in doc["records"]] == ["good"]
    assert [Path(r["path"]).name for r in doc["failed"]] == [
        "REFERENCE.csv", "empty.csv", "image.csv"
    ]  # fmt: skip
    assert doc["total"]["status"] == "partial"


def test_a_folder_where_everything_fails_exits_2(tmp_path: Path) -> None:
    folder = tmp_path / "allbad"
    folder.mkdir()
    (folder / "empty.csv").write_text("")
    (folder / "image.csv").write_bytes(b"\x89PNG\r\n\x1a\n")
    summary = tmp_path / "s.csv"
    result = runner.invoke(app, ["analyze", str(folder), "--summary", str(summary)])
    assert result.exit_code == 2, result.output
    assert "2 of 2 inputs could not be analysed" in result.stderr
    assert [r["status"] for r in _summary_rows(summary)] == ["not_read", "not_read"]
    result = runner.invoke(app, ["classify", str(folder)])
    assert result.exit_code == 2, result.output
    assert "2 of 2 inputs could not be classified" in result.stderr


def test_named_files_go_on_past_a_bad_one(tmp_path: Path) -> None:
    folder = _mixed(tmp_path / "mixed")
    good, bad = folder / "good.hea", folder / "image.csv"
    result = runner.invoke(app, ["analyze", str(good), str(bad), "--format", "json"])
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert [r["record"] for r in doc["records"]] == ["good"]
    assert doc["failed"][0]["path"] == str(bad) and doc["failed"][0]["status"] == "not_read"
    assert "passed over (not read): " in result.stderr and "image.csv" in result.stderr
    result = runner.invoke(app, ["classify", str(good), str(bad), "--format", "csv"])
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines()[1].startswith("good,")
    assert "1 of 2 inputs could not be classified" in result.stderr
    # A single file that cannot be read is still the command's one-line error.
    result = runner.invoke(app, ["analyze", str(bad)])
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1


def test_classify_with_a_lead_the_file_lacks_is_an_error(tmp_path: Path) -> None:
    one_lead = _as_csv(SHORT, tmp_path / "one.csv", 20)
    result = runner.invoke(app, ["classify", str(one_lead), "--lead", "3", "--format", "csv"])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "lead index 3 out of range" in lines[0] and "one.csv" in lines[0]
    # Among others: listed without probabilities, and the exit code says so.
    two_leads = sample_path("mitdb-201-af")
    result = runner.invoke(
        app, ["classify", str(two_leads), str(one_lead), "--lead", "1", "--format", "csv"]
    )
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines()[2] == "one,uncertain,,,,,,,"
