"""``analyze`` stopped by SIGTERM (as a service manager or a batch system stops it) ends as
Ctrl-C does: the records finished keep their files, the summary says what finished and what
was not reached, and the exit code is 130."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from cardiostream.samples import sample_path

COPIES = 40


def test_sigterm_writes_a_partial_summary_and_exits_130(tmp_path: Path) -> None:
    source = sample_path("mitdb-100-nsr")
    records = tmp_path / "records"
    records.mkdir()
    for k in range(COPIES):
        for suffix in (".hea", ".dat"):
            target = records / f"r{k:02d}{suffix}"
            shutil.copy(source.with_suffix(suffix), target)
            if suffix == ".hea":  # the header names its record and its signal file
                target.write_text(target.read_text().replace("mitdb-100-nsr", f"r{k:02d}"))
    out, summary = tmp_path / "out", tmp_path / "summary.csv"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cardiostream", "analyze", str(records), "--out", str(out),
         "--summary", str(summary), "--format", "jsonl"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 240
    while not list(out.glob("*.csv")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "analyze ended before it could be stopped"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    rows = list(csv.DictReader(summary.open()))
    *inputs, total = rows
    assert len(inputs) == COPIES and total["status"] == "partial"
    status = [r["status"] for r in inputs]
    assert status.count("analysed") >= 1 and status.count("not_reached") >= 1
    assert set(status) <= {"analysed", "not_reached"}
    # Every record called analysed has both its files, whole; none of the others has any.
    for row in inputs:
        name = Path(row["path"]).stem
        files = sorted(p.suffix for p in out.glob(f"{name}.*"))
        assert files == ([".csv", ".jsonl"] if row["status"] == "analysed" else []), name
