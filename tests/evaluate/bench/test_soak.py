"""The soak test against a real server: its accounting adds up (timings are not checked)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cardiostream.cli import app
from cardiostream.evaluate.bench.soak import Soak, run_soak, to_markdown


def _consistent(soak: Soak) -> None:
    for t in (soak.live, soak.abandoned):
        assert t.sent >= t.acked >= t.recorded >= 0
        assert t.unacked == t.sent - t.acked and t.unrecorded == t.acked - t.recorded
        assert t.windows <= t.windows_expected


def test_a_short_soak_loses_nothing_and_forgets_the_dropped_ids() -> None:
    soak = run_soak(streams=3, duration_s=4.0, speed=4.0, abandon=6, resume_ttl_s=1.0,
                    interval_s=1.0)  # fmt: skip
    _consistent(soak)
    live, gone = soak.live, soak.abandoned
    # 16 s of signal per live stream: 7 windows each (10 s windows, one a second).
    assert (live.streams, live.failed, live.sent) == (3, 0, 3 * 16 * 250)
    assert live.acked == live.recorded == live.sent and live.recordings == 3
    assert live.windows == live.windows_expected == 3 * 7
    assert (gone.streams, gone.failed, gone.sent) == (6, 0, 6 * 250)
    assert gone.acked == gone.recorded == gone.sent and gone.windows_expected == 0
    phases = [r.phase for r in soak.readings]
    assert phases[0] == "start" and phases[-2:] == ["after load", "after expiry"]
    assert soak.readings[-1].listed == 0  # the dropped ids are gone from /v1/streams
    assert all(r.web_rss_mb > 0 and r.engine_rss_mb > 0 for r in soak.readings)
    doc = soak.to_dict()
    assert doc["live"]["unacked"] == 0 and doc["abandoned"]["unrecorded"] == 0
    assert set(doc["summary"]["engine_rss_mb"]) == {"start", "peak", "end"}
    assert "| live | 3 | 0 | 12,000 | 12,000 | 12,000 | 0 | 0 | 3 | 21 | 21 |" in to_markdown(soak)


def test_the_command_checks_its_options_and_writes_json(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(app, ["bench", "soak", "--speed", "0"])
    assert bad.exit_code == 2 and "--speed" in bad.output
    out = tmp_path / "soak.json"
    ok = runner.invoke(app, ["bench", "soak", "--streams", "1", "--duration", "2", "--speed",
                             "6", "--interval", "5", "--json", str(out)])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    doc = json.loads(out.read_text())
    assert doc["live"]["sent"] == doc["live"]["acked"] == doc["live"]["recorded"] == 12 * 250
    assert doc["abandoned"]["streams"] == 0


def test_a_soak_with_the_engine_killed_loses_nothing_and_sees_it_degraded() -> None:
    soak = run_soak(streams=4, duration_s=6.0, speed=4.0, abandon=0, resume_ttl_s=30.0,
                    interval_s=2.0, kill_engine_at_s=2.0)  # fmt: skip
    _consistent(soak)
    live = soak.live
    assert live.failed == 0 and live.sent == 4 * 24 * 250
    assert live.acked == live.recorded == live.sent
    assert live.windows == live.windows_expected == 4 * 15  # none lost, none twice
    assert soak.kill is not None and soak.kill.back and soak.kill.degraded_polls >= 1
    assert "was killed (SIGKILL) 2 s into the load" in to_markdown(soak)
