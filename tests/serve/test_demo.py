"""`cardiostream demo`: everything starts, AF is detected live, SIGTERM leaves nothing behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

TOKEN = "demo-test-token"
PATIENTS = {"bed-1-sinus", "bed-2-af", "bed-3-noisy", "bed-4-lead-off", "bed-5-steerable",
            "bed-6-ectopy", "bed-7-strap", "bed-8-watch"}  # fmt: skip


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _get(url: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_the_demo_serves_eight_patients_detects_af_and_stops_cleanly_on_sigterm(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "TMPDIR": str(tmp_path)}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "cardiostream", "demo", "--port", "0", "--token", TOKEN],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = None
        printed = []
        deadline = time.monotonic() + 120
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            printed.append(line)
            if line.startswith("dashboard: "):
                url = line.split()[1]
        assert url is not None, "".join(printed) + (proc.stderr.read() if proc.poll() else "")
        assert url.endswith(f"/?token={TOKEN}")
        base = url.split("/?")[0]
        # Every patient is live, and the real AF is called AF within a minute.
        deadline = time.monotonic() + 60
        labels: dict[str, Any] = {}
        while time.monotonic() < deadline:
            streams = _get(f"{base}/v1/streams")["streams"]
            labels = {s["stream_id"]: (s["window"] or {}).get("label") for s in streams}
            sources = {s["stream_id"]: s["source"] for s in streams}
            if set(labels) >= PATIENTS and labels.get("bed-2-af") == "af":
                break
            time.sleep(1)
        assert set(labels) >= PATIENTS, labels
        assert labels["bed-2-af"] == "af", labels
        assert sources["bed-7-strap"] == "beats" and sources["bed-1-sinus"] == "ecg"
        timings = {s["stream_id"]: s["timing"] for s in streams}
        assert timings["bed-8-watch"] == "pulse" and timings["bed-7-strap"] == "ecg"
        assert _get(f"{base}/v1/records")  # the bundled recordings, for the browser
        children = _children(proc.pid)
        assert children  # the server's engine process
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    time.sleep(0.5)
    assert not [pid for pid in children if _alive(pid)], "processes left behind"
    assert not list(tmp_path.glob("cardiostream-demo-*"))


def test_the_demo_watch_sends_jittered_beats_its_pulse_model_reads_right() -> None:
    """bed-8-watch: 25 ms of noise on every beat time. Over 16 such watches (other seeds than
    the demo's), the pulse model gives their 3 min of sinus rhythm next to no AF window and
    no AF episode, where the ECG model opens false ones; both find the 2 min of AF."""
    import numpy as np

    from cardiostream.serve.demo import patients, strap_beats, watch_beats
    from cardiostream.stream.beat_stream import beat_stream_messages

    watch = next(p for p in patients() if p.stream_id == "bed-8-watch")
    assert watch.beats and watch.timing == "pulse" and watch.make is watch_beats
    jitter = np.diff(watch_beats()) - np.diff(strap_beats(9, hr_bpm=88.0))
    assert 0.025 < jitter.std() < 0.045  # sqrt(2) x 25 ms on each interval
    sinus_af: dict[str, list[float]] = {"ecg": [], "pulse": []}
    false_episodes = {"ecg": 0, "pulse": 0}
    for seed in range(20, 36):
        t = watch_beats(seed)
        for timing in ("ecg", "pulse"):
            lines = beat_stream_messages(t, timing=timing)  # type: ignore[arg-type]
            windows = [m for m in lines if m["type"] == "window"]
            sinus = [w["label"] == "af" for w in windows if 20 <= w["t_end"] <= 180]
            af = [w["label"] == "af" for w in windows if w["t_end"] >= 200]
            assert np.mean(af) > 0.9
            sinus_af[timing].append(float(np.mean(sinus)))
            false_episodes[timing] += sum(
                1 for m in lines if m["type"] == "event" and m["start_s"] < 150
            )
    # The pulse model meets the bounds; the ECG model fails both (measured: 4.8 % of the
    # windows and 3 false episodes in 16 watches; the pulse model none of either).
    assert np.mean(sinus_af["pulse"]) < 0.03 and false_episodes["pulse"] <= 1
    assert np.mean(sinus_af["ecg"]) >= 0.03 and false_episodes["ecg"] > 1
