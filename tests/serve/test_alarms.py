"""The alarm desk on its own: a stream's clock and alarms when it resumes, and when it starts
afresh after the server lost it (a crash and restart) or forgot it."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

from cardiostream.serve.alarms import AlarmDesk, clock

OWNER = "o"
BED = "bed-1"


def _window(t: float) -> tuple[str, dict[str, Any]]:
    quality = {"usable": True, "reasons": []}
    return "window", {"type": "window", "t_end": float(t), "label": "af", "quality": quality,
                      "heart_rate_bpm": 90.0}  # fmt: skip


def _episode(kind: str, start_s: float) -> tuple[str, dict[str, Any]]:
    return "event_open", {"type": "event_open", "kind": kind, "start_s": start_s,
                          "confidence": 0.9}  # fmt: skip


def _feed(desk: AlarmDesk, first: int, last: int, opens: dict[int, Any] | None = None) -> None:
    """Windows at whole seconds ``first..last``; ``opens`` adds an episode at a second."""
    for t in range(first, last + 1):
        items = [_window(t)]
        if opens and t in opens:
            items.insert(0, opens[t])
        desk.frame(OWNER, BED, items)


def _at(text: str | None) -> float:
    assert text is not None
    return datetime.fromisoformat(text).timestamp()


def _by_kind(desk: AlarmDesk) -> dict[str, dict[str, Any]]:
    return {a["kind"]: a for a in reversed(desk.log(OWNER, stream_id=BED))}


def test_a_stream_started_afresh_after_a_crash_ends_its_alarms_and_takes_its_new_clock(
    tmp_path: Path,
) -> None:
    path = tmp_path / "alarms.sqlite"
    t1 = time.time() - 3600.0
    desk = AlarmDesk(path)
    desk.opened(OWNER, BED, t1, resumed=False)
    _feed(desk, 1, 50, {35: _episode("af", 5.0), 11: _episode("vt", 10.0)})
    before = _by_kind(desk)
    assert before["af"]["state"] == before["vt"]["state"] == "active"
    # SIGKILL: no disconnection is ever recorded. A new server opens the same log, and the
    # sender comes back as a new stream, with the clock time of its first sample.
    del desk
    desk = AlarmDesk(path)
    t2 = time.time()
    desk.opened(OWNER, BED, t2, resumed=False)
    after = _by_kind(desk)
    af, vt = after["af"], after["vt"]
    # The AF alarm ends at the last stream time the log knew (saved every 10 s while in
    # alarm), on its own clock: not carried into the new stream.
    assert af["state"] == "ended" and af["end_s"] == 45.0
    assert abs(_at(af["ended_at"]) - (t1 + 45.0)) < 1e-3
    assert abs(_at(af["started_at"]) - (t1 + 5.0)) < 1e-3
    assert af["detail"]["end_reason"] == "restarted"
    # A high-priority alarm nobody acknowledged stays latched, with its clock times.
    assert vt["state"] == "latched" and vt["end_s"] == 45.0
    shown = desk.describe(OWNER, BED)
    assert shown["start_time"] == clock(t2) and shown["open_events"] == []
    assert [(a["kind"], a["state"]) for a in shown["alarms"]] == [("vt", "latched")]
    assert abs(_at(shown["alarms"][0]["started_at"]) - (t1 + 10.0)) < 1e-3
    # The new stream's alarms are on the new clock; acknowledging the latched one ends it.
    _feed(desk, 1, 40, {35: _episode("af", 3.0)})
    new_af = _by_kind(desk)["af"]
    assert new_af["id"] != af["id"] and new_af["state"] == "active"
    assert abs(_at(new_af["started_at"]) - (t2 + 3.0)) < 1e-3
    acked = desk.acknowledge(OWNER, vt["id"], "nurse")
    assert acked["state"] == "ended" and abs(_at(acked["started_at"]) - (t1 + 10.0)) < 1e-3
    # Another restart: the latched alarm, now ended, is not shown again; the clock of an
    # alarm of the previous timeline is still its own.
    del desk
    desk = AlarmDesk(path)
    t3 = time.time()
    desk.opened(OWNER, BED, t3, resumed=False)
    assert desk.describe(OWNER, BED)["alarms"] == []
    again = _by_kind(desk)["af"]
    assert again["state"] == "ended" and abs(_at(again["started_at"]) - (t2 + 3.0)) < 1e-3


def test_a_resumed_stream_keeps_its_clock_and_alarms() -> None:
    desk = AlarmDesk()
    t1 = time.time() - 600.0
    desk.opened(OWNER, BED, t1, resumed=False)
    _feed(desk, 1, 40, {35: _episode("af", 5.0)})
    desk.left(OWNER, BED, ended=False)
    desk.opened(OWNER, BED, time.time(), resumed=True)  # the start_time said is not taken
    shown = desk.describe(OWNER, BED)
    assert shown["start_time"] == clock(t1)
    assert [(a["kind"], a["state"]) for a in shown["alarms"]] == [("af", "active")]
    assert _by_kind(desk)["disconnected"]["state"] == "ended"


def test_a_stream_the_engine_forgot_starts_afresh_and_its_disconnection_ends_now() -> None:
    desk = AlarmDesk()
    t1 = time.time() - 100.0
    desk.opened(OWNER, BED, t1, resumed=False)
    _feed(desk, 1, 50, {35: _episode("af", 5.0)})
    desk.left(OWNER, BED, ended=False)
    desk.opened(OWNER, BED, None, resumed=False)  # no start_time: the receipt time
    log = _by_kind(desk)
    assert log["af"]["state"] == "ended" and log["af"]["end_s"] == 50.0
    gone = log["disconnected"]
    assert gone["state"] == "ended" and gone["start_s"] == 50.0
    # The disconnection lasted until the stream came back, not 0 s.
    assert abs(_at(gone["ended_at"]) - time.time()) < 5.0
    assert abs(_at(desk.describe(OWNER, BED)["start_time"]) - time.time()) < 5.0
