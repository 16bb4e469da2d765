"""Offline analysis and its commands: the streaming engine's lines, summaries, files."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cardiostream import EventConfig, StreamProcessor, analyze, read
from cardiostream.cli import app
from cardiostream.samples import sample_path
from cardiostream.stream.analyze import CSV_COLUMNS, csv_line, total_summary, window_rows

runner = CliRunner()
AF = sample_path("mitdb-201-af")
NSR = sample_path("mitdb-100-nsr")


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_analyze_equals_a_stream_of_small_chunks() -> None:
    rec = read(AF)
    result = analyze(rec, block_s=7.3)
    proc = StreamProcessor(rec.fs)
    x = rec.lead(0)
    live = []
    for lo in range(0, x.size, 90):
        live += proc.push(x[lo : lo + 90])
    live += proc.flush()
    assert result.lines == live
    assert result.lines == analyze(AF).lines  # a path, one block
    assert result.lines == analyze(x, rec.fs).lines  # an array


def test_summary_figures() -> None:
    result = analyze(AF)
    s = result.summary()
    assert s["record"] == "mitdb-201-af" and s["duration_s"] == 60.0
    assert s["windows"] == 51 and s["af_episodes"] == 1
    # The share of the windows labelled af (hop 1 s), not the episode's share of the minute.
    assert s["af_burden"] == round(s["labels"]["af"] / 51, 4) > 0.9
    assert s["af_episode_s"] == 60.0
    assert 70 < s["mean_hr_bpm"] < 120 and s["real_time_factor"] > 0
    assert sum(s["labels"].values()) == 51
    assert set(result.stage_seconds) >= {"filters", "peaks", "model", "quality", "events"}
    total = total_summary([result, analyze(NSR)])
    assert total["duration_s"] == 120.0 and total["af_episodes"] == 1
    assert total["af_burden"] == round(s["labels"]["af"] / 102, 4)


def test_a_short_af_recording_has_a_burden_without_an_episode() -> None:
    # The 30 s CinC AF record: 10 of its 21 windows labelled af, no episode (it would need
    # 30 s from the start of its first AF window), yet the burden says AF was there.
    s = analyze(sample_path("cinc2017-A00004")).summary()
    assert s["windows"] == 21 and s["labels"]["af"] >= 5
    assert s["af_episodes"] == 0 and s["af_episode_s"] == 0.0
    assert s["af_burden"] == round(s["labels"]["af"] / 21, 4) > 0.2
    # 25 s of the MITDB AF excerpt, with a hop of 2 s: the burden is a share of the time
    # analysed, and the total weighs each window by its hop.
    rec = read(AF)
    x = rec.lead(0)[: int(25 * rec.fs)]
    two = analyze(x, rec.fs, hop_s=2).summary()
    assert two["af_episodes"] == 0
    assert two["af_burden"] == round(two["labels"]["af"] / two["windows"], 4) > 0.5
    total = total_summary([analyze(x, rec.fs, hop_s=2), analyze(NSR)])
    af_s = 2 * two["labels"]["af"] + analyze(NSR).summary()["labels"]["af"]
    assert total["af_burden"] == round(af_s / (2 * two["windows"] + 51), 4)


def test_a_capped_episode_is_counted_once() -> None:
    rec = read(AF)
    capped = analyze(rec, events=EventConfig(max_duration_s=30.0))
    af = [e for e in capped.closed_events if e["kind"] == "af"]
    assert len(af) == 2 and af[1].get("episode_start_s") == 0.0
    s = capped.summary()
    assert s["af_episodes"] == 1 and s["af_episode_s"] == 60.0


def test_summary_heart_rate_counts_usable_windows_only() -> None:
    rec = read(NSR)
    x = rec.lead(0).astype(np.float64)
    noise = np.random.default_rng(0).normal(0.0, 1.0, x.size)
    clean = analyze(x, rec.fs)
    mixed = analyze(np.concatenate([x, noise]), rec.fs)
    windows = mixed.windows
    bad = [w for w in windows if not w["quality"]["usable"]]
    assert len(bad) > 40 and all(w["heart_rate_bpm"] is None for w in bad)
    rates = [w["heart_rate_bpm"] for w in windows if w["quality"]["usable"]]
    assert mixed.summary()["mean_hr_bpm"] == round(float(np.mean(rates)), 1)  # type: ignore[arg-type]
    assert abs(mixed.summary()["mean_hr_bpm"] - clean.summary()["mean_hr_bpm"]) < 2
    assert analyze(noise, rec.fs).summary()["mean_hr_bpm"] is None
    # The per-window CSV: empty cells for the rate and HRV of an unusable window.
    hr_col = CSV_COLUMNS.index("heart_rate_bpm")
    row = window_rows(mixed)[windows.index(bad[-1])]
    assert row[hr_col : hr_col + 5] == [None] * 5
    assert csv_line(row).split(",")[hr_col : hr_col + 5] == [""] * 5


def test_analyze_refuses_an_array_without_rate() -> None:
    from cardiostream import InputError

    with pytest.raises(InputError, match="fs"):
        analyze(np.zeros(1000))


def test_cli_jsonl_of_analyze_and_stream_max_are_the_same_lines() -> None:
    a = _ok("analyze", str(AF), "--format", "jsonl")
    b = _ok("stream", str(AF), "--speed", "max", "--format", "jsonl")
    assert a == b
    lines = [json.loads(line) for line in a.splitlines()]
    assert lines == analyze(AF).lines


def test_cli_csv_table_json_summary_and_out(tmp_path: Path) -> None:
    text = _ok("analyze", str(AF), str(NSR), "--format", "csv")
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 1 + 51 + 51
    assert {r[0] for r in rows[1:]} == {"mitdb-201-af", "mitdb-100-nsr"}
    table = _ok("analyze", str(AF), str(NSR), "--summary", str(tmp_path / "s.csv"))
    assert "mitdb-201-af" in table and "total" in table
    summary = list(csv.DictReader((tmp_path / "s.csv").open()))
    assert [r["record"] for r in summary] == ["mitdb-201-af", "mitdb-100-nsr", "total"]
    assert summary[0]["af_episodes"] == "1" and summary[1]["af_episodes"] == "0"
    doc = json.loads(_ok("analyze", str(AF), "--format", "json", "--out", str(tmp_path / "o")))
    assert doc["records"][0]["events"][0]["kind"] == "af"
    written = (tmp_path / "o" / "mitdb-201-af.jsonl").read_text().splitlines()
    assert [json.loads(x) for x in written] == analyze(AF).lines
    assert (tmp_path / "o" / "mitdb-201-af.csv").read_text().startswith("record,t_start")
    # The folder holds the outputs, not records: its CSV is passed over (exit 1), the
    # record named after it is analysed, and the summary lists both.
    result = runner.invoke(
        app, ["analyze", str(tmp_path / "o"), str(AF), "--summary", str(tmp_path / "s.json")]
    )
    assert result.exit_code == 1, result.output
    rows = json.loads((tmp_path / "s.json").read_text())
    assert rows[-1]["record"] == "total" and rows[-1]["status"] == "partial"
    assert [r["status"] for r in rows[:-1]].count("analysed") == 1


def test_cli_stream_console_shows_lines_and_events() -> None:
    out = _ok("stream", str(AF), "--speed", "max")
    assert "60.0 s" in out and "AF episode started" in out and "AF episode 0.0-60.0 s" in out


@pytest.mark.parametrize(
    "args",
    [
        ["analyze", str(AF), "--format", "xml"],
        ["analyze", "/nonexistent.hea"],
        ["analyze", str(AF), "--window", "3"],
        ["analyze", str(AF), "--summary", "s.txt"],
        ["analyze", str(AF), "--lead", "V9"],
        ["stream", str(AF), "--speed", "fast"],
        ["stream", str(AF), "--speed", "0"],
        ["stream", str(AF), "--format", "xml"],
    ],
)
def test_cli_bad_input_exits_2_with_one_line(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_a_header_rate_out_of_range_fails_fast(tmp_path: Path) -> None:
    # A CSV time step of a million seconds, and an EDF data record of 99999999 s: the rates
    # they imply would size a resampling filter of gigabytes.
    slow = tmp_path / "slow.csv"
    slow.write_text("t,II\n0,1\n1000000,2\n2000000,3\n")
    from cardiostream.io import write_edf

    edf = write_edf(read(NSR), tmp_path / "rec.edf")
    data = bytearray(edf.read_bytes())
    data[244:252] = b"99999999"
    edf.write_bytes(bytes(data))
    for path in (slow, edf):
        result = runner.invoke(app, ["analyze", str(path)])
        assert result.exit_code == 2, result.output
        assert "fs: expected 50 to 20000 Hz" in result.output
