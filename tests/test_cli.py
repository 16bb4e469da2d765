"""The command line: every command on real data, and bad input giving exit 2 and one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from cardiostream.beats import detect_rpeaks
from cardiostream.cli import app
from cardiostream.io import read
from cardiostream.samples import sample_path

runner = CliRunner()
NSR = sample_path("mitdb-100-nsr")


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_info_describes_a_record():
    out = _ok("info", str(NSR))
    assert "360 Hz" in out and "MLII" in out and "beats" in out


def test_rpeaks_csv_matches_the_library():
    out = _ok("rpeaks", str(NSR), "--format", "csv")
    lines = out.strip().splitlines()
    assert lines[0] == "sample,time_s"
    samples = np.array([int(line.split(",")[0]) for line in lines[1:]])
    rec = read(NSR)
    np.testing.assert_array_equal(samples, detect_rpeaks(rec.lead(0), rec.fs))


def test_rpeaks_json_by_lead_name(tmp_path: Path):
    out_file = tmp_path / "peaks.json"
    _ok("rpeaks", str(NSR), "--lead", "V5", "--format", "json", "--out", str(out_file))
    doc = json.loads(out_file.read_text())
    assert doc["lead"] == "V5" and doc["fs"] == 360.0 and len(doc["rpeaks"]) > 60


def test_report_prints_figures_and_writes_a_plot(tmp_path: Path):
    png = tmp_path / "look.png"
    out = _ok("report", "--sample", "mitdb-201-af", "--plot", str(png))
    assert "heart rate" in out and "RMSSD" in out and "signal quality" in out
    # The shipped rhythm model on a clean minute of atrial fibrillation.
    rhythm = next(line for line in out.splitlines() if "rhythm" in line)
    assert rhythm.replace("│", " ").split()[-1] == "af"
    assert "probabilities" in out
    assert png.stat().st_size > 10_000


def test_convert_then_read_back_from_the_store(tmp_path: Path):
    store = tmp_path / "store"
    _ok("convert", str(NSR), str(sample_path("mitdb-201-af")), "--store", str(store))
    out = _ok("info", str(store / "record=mitdb-100-nsr"))
    assert "360 Hz" in out
    np.testing.assert_array_equal(read(store / "record=mitdb-100-nsr").signal, read(NSR).signal)


def test_samples_are_listed():
    out = _ok("samples")
    assert "mitdb-201-af" in out and "cinc2017" in out


@pytest.mark.parametrize(
    "args",
    [
        ["info", "no/such/record.hea"],
        ["rpeaks", "no/such/file.csv"],
        ["rpeaks", str(NSR), "--format", "xml"],
        ["rpeaks", str(NSR), "--lead", "aVR"],
        ["report", "--sample", "no-such-sample"],
        ["report"],
        ["convert", "no/such/dir", "--store", "/tmp/never-written"],
        ["fit-heads", "--training", "no/such/run"],
        ["train", "--data", str(sample_path("cinc2017-A00004").parent), "--warp", "0.9"],
        ["train", "--data", str(sample_path("cinc2017-A00004").parent), "--record-loss", "2"],
    ],
)
def test_bad_input_exits_2_with_one_line(args: list[str]):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_file_content_exits_2_from_a_real_process(tmp_path: Path):
    bad = tmp_path / "zero_rate.csv"
    bad.write_text("sample,II\n0,0.1\n1,0.2\n")
    broken = tmp_path / "broken.hea"
    broken.write_text("broken 1 360 1000\nbroken.dat 16 200 11 1024 0 0 0 MLII\n")
    for path in (bad, broken, tmp_path / "unknown.xyz"):
        if path.suffix == ".xyz":
            path.write_text("what is this")
        proc = subprocess.run(
            [sys.executable, "-m", "cardiostream.cli", "info", str(path)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
        assert path.name in proc.stderr or path.stem in proc.stderr


def test_version_is_printed() -> None:
    from importlib.metadata import version

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"cardiostream {version('cardiostream')}\n"


@pytest.mark.parametrize("backend", ["cuda", "mps"])
def test_an_unavailable_backend_is_one_line(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch", reason="torch is in the train extra")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    result = runner.invoke(app, ["classify", "--backend", backend, str(NSR)])
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert f"backend {backend!r}: not available here" in result.stderr
    assert "available: onnx, cpu" in result.stderr


def test_samples_are_listed_with_their_paths() -> None:
    out = _ok("samples")
    for name in ("mitdb-201-af", "cinc2017-A00004"):
        line = next(ln for ln in out.splitlines() if ln.startswith(name + " "))
        assert line.split()[-1] == str(sample_path(name))


def test_a_sample_name_stands_for_its_file() -> None:
    by_path = _ok("analyze", str(sample_path("mitdb-201-af")), "--format", "jsonl")
    assert _ok("analyze", "mitdb-201-af", "--format", "jsonl") == by_path
    for command in (["info"], ["rpeaks"], ["classify", "--format", "csv"]):
        by_path = _ok(*command, str(sample_path("cinc2017-A00004")))
        assert _ok(*command, "cinc2017-A00004") == by_path


def test_a_sample_name_reaches_stream_report_and_convert(tmp_path: Path) -> None:
    streamed = _ok("stream", "cinc2017-A00004", "--speed", "max", "--format", "jsonl")
    assert streamed == _ok("stream", str(sample_path("cinc2017-A00004")), "--speed", "max",
                           "--format", "jsonl")  # fmt: skip
    assert "heart rate" in _ok("report", "mitdb-100-nsr")
    _ok("convert", "mitdb-100-nsr", "--store", str(tmp_path / "store"))
    assert (tmp_path / "store" / "record=mitdb-100-nsr").is_dir()


def test_a_file_named_like_a_sample_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The normal-rhythm record (leads MLII, V5) under the AF sample's name.
    for ext in (".hea", ".dat"):
        text = NSR.with_suffix(ext).read_bytes().replace(b"mitdb-100-nsr", b"mitdb-201-af")
        (tmp_path / f"mitdb-201-af{ext}").write_bytes(text)
    monkeypatch.chdir(tmp_path)
    assert "V5" in _ok("info", "mitdb-201-af")


def _index_only_csv(folder: Path) -> Path:
    """A minute of MITDB lead MLII as a table with a sample index and no time column."""
    path = folder / "indexed.csv"
    x = read(sample_path("mitdb-201-af")).lead(0)
    rows = "".join(f"{i},{v:.4f}\n" for i, v in enumerate(x.tolist()))
    path.write_text("sample,II_mV\n" + rows)
    return path


def test_a_table_without_times_needs_fs_and_names_the_option(tmp_path: Path) -> None:
    result = runner.invoke(app, ["info", str(_index_only_csv(tmp_path))])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "--fs" in result.stderr


@pytest.mark.parametrize(
    "command",
    [["info"], ["rpeaks"], ["report"], ["analyze", "--format", "jsonl"],
     ["classify", "--format", "csv"], ["stream", "--speed", "max", "--format", "jsonl"],
     ["convert", "--store"]],
    ids=lambda c: c[0],
)  # fmt: skip
def test_fs_reads_a_table_without_times(command: list[str], tmp_path: Path) -> None:
    csv = _index_only_csv(tmp_path)
    args = [*command, str(tmp_path / "store")] if command[0] == "convert" else command
    out = _ok(*args, str(csv), "--fs", "360")
    if command[0] == "info":
        assert "360 Hz" in out and "60.0 s" in out
    if command[0] == "classify":
        assert out.splitlines()[1].startswith("indexed,af,")
    if command[0] == "convert":
        assert read(tmp_path / "store" / "record=indexed").fs == 360.0


def test_fs_must_agree_with_a_record_that_states_its_rate() -> None:
    result = runner.invoke(app, ["info", "mitdb-201-af", "--fs", "250"])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "360 Hz" in result.stderr
    assert "360 Hz" in _ok("info", "mitdb-201-af", "--fs", "360.5")


def test_info_prints_markup_in_names_as_text(tmp_path: Path) -> None:
    path = tmp_path / "rec[b].csv"
    path.write_text("t,[/]II,[bold]V1\n0,1,2\n0.004,2,3\n0.008,3,4\n")
    out = _ok("info", str(path))
    assert "rec[b]  (csv)" in out
    assert "[/]II, [bold]V1" in out


@pytest.mark.parametrize("lead", ["²", "--1", "[/]"])
def test_odd_lead_is_an_unknown_lead(lead: str) -> None:
    result = runner.invoke(app, ["analyze", str(NSR), "--lead", lead])
    assert result.exit_code == 2, result.output
    assert f"no lead {lead!r}" in result.output


def test_non_utf8_header_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "latin.tsv"
    path.write_bytes("t\tII_µV\n0\t1\n0.004\t2\n".encode("latin-1"))
    result = runner.invoke(app, ["info", str(path)])
    assert result.exit_code == 2, result.output
    assert "latin.tsv: the header is not UTF-8" in result.output


def test_the_shortest_af_event_is_an_option() -> None:
    def af_events(*extra: str) -> list[dict[str, Any]]:
        out = _ok("analyze", "mitdb-201-af", "--format", "jsonl", *extra)
        lines = [json.loads(ln) for ln in out.splitlines()]
        return [d for d in lines if d["type"] == "event" and d["kind"] == "af"]

    # One minute of AF: an event at the default 30 s and at 60 s, none when 400 s are asked.
    default = af_events()
    assert len(default) == 1 and af_events("--af-min-s", "30") == default
    assert len(af_events("--af-min-s", "60")) == 1
    assert af_events("--af-min-s", "400") == []
    for bad in ("-1", "nan", "inf"):
        result = runner.invoke(app, ["analyze", "mitdb-201-af", "--af-min-s", bad])
        assert result.exit_code == 2 and "--af-min-s" in result.output, result.output


def test_the_shortest_af_event_is_the_same_live() -> None:
    for extra in ([], ["--af-min-s", "400"]):
        played = _ok("stream", "mitdb-201-af", "--speed", "max", "--format", "jsonl", *extra)
        analysed = _ok("analyze", "mitdb-201-af", "--format", "jsonl", *extra)
        events = [ln for ln in analysed.splitlines() if '"type": "event' in ln]
        assert [ln for ln in played.splitlines() if '"type": "event' in ln] == events
        assert sum('"kind": "af"' in ln for ln in events) == (0 if extra else 2)
    result = runner.invoke(app, ["stream", "mitdb-201-af", "--af-min-s", "-5"])
    assert result.exit_code == 2 and "--af-min-s" in result.output, result.output


def test_serve_refuses_a_bad_shortest_af_event_before_it_starts() -> None:
    result = runner.invoke(app, ["serve", "--no-auth", "--af-min-s", "-2"])
    assert result.exit_code == 2 and "--af-min-s" in result.output, result.output


@pytest.mark.parametrize("command", ["analyze", "classify"])
def test_a_folder_names_the_files_it_passes_over(command: str, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "archive"
    folder.mkdir()
    for src in sample_path("cinc2017-A00004").parent.glob("A00004.*"):
        shutil.copy(src, folder)
    (folder / "REFERENCE.csv").write_text("A00004,A\n")
    # A record whose signal file was cut short: it is broken, not absent.
    header = (folder / "A00004.hea").read_text().replace("A00004", "B00001")
    (folder / "B00001.hea").write_text(header)
    (folder / "B00001.mat").write_bytes((folder / "A00004.mat").read_bytes()[:100])
    result = runner.invoke(app, [command, str(folder), "--format", "json"])
    # The broken record is a failure (exit 1, the others' results written); the CinC
    # labels file beside the records is named but is not one.
    assert result.exit_code == 1, result.output
    assert "A00004" in result.stdout
    passed = [x for x in result.stderr.splitlines() if x.startswith("passed over (not read): ")]
    assert len(passed) == 2, result.stderr
    assert any("REFERENCE.csv" in x for x in passed) and any("B00001" in x for x in passed)
    assert "1 of 3 inputs could not be" in result.stderr.splitlines()[-1]
