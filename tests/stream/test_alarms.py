from __future__ import annotations

from typing import Any

import pytest

from cardiostream.errors import InputError
from cardiostream.stream.alarms import AlarmConfig, AlarmModel


def window(t: float, *, hr: float | None = 70.0, reasons: tuple[str, ...] = (),
           usable: bool | None = None, label: str = "normal") -> dict[str, Any]:  # fmt: skip
    ok = not reasons if usable is None else usable
    return {"type": "window", "t_end": t, "label": label, "heart_rate_bpm": hr if ok else None,
            "quality": {"usable": ok, "reasons": list(reasons), "score": 1.0}}  # fmt: skip


def opened(kind: str, start: float, **detail: Any) -> dict[str, Any]:
    return {"type": "event_open", "kind": kind, "start_s": start, "confidence": 0.9,
            "detail": detail}  # fmt: skip


def closed(kind: str, start: float, end: float, **detail: Any) -> dict[str, Any]:
    return {"type": "event", "kind": kind, "start_s": start, "end_s": end, "confidence": 0.9,
            "detail": detail}  # fmt: skip


def test_af_follows_its_episode_not_its_windows() -> None:
    m = AlarmModel(AlarmConfig(episode_hold_s=30.0))
    changes = m.update(opened("af", 95.0))
    assert [(a.kind, a.priority, a.state) for a in changes] == [("af", "medium", "active")]
    # Uncertain windows inside the episode change nothing.
    for t in range(100, 140):
        assert m.update(window(t, label="uncertain" if t % 3 else "af")) == []
    # The episode ends; the alarm outlives it by the hold, and an episode that starts again
    # within the hold is the same alarm.
    assert m.update(closed("af", 95.0, 140.0)) == []
    assert m.update(window(150.0)) == []
    assert m.update(opened("af", 152.0)) == []
    assert m.update(closed("af", 152.0, 200.0)) == []
    assert m.update(window(229.0)) == []
    (end,) = m.update(window(230.0))
    assert (end.id, end.state, end.end_s) == (changes[0].id, "ended", 200.0)
    assert m.shown() == []


def test_vt_needs_a_confirmed_run_and_latches_until_acknowledged() -> None:
    m = AlarmModel(AlarmConfig(vt_confirm_s=4.0, vt_min_beats=5))
    # A run of three ventricular beats is a finding, not an alarm.
    assert m.update(opened("vt", 10.0, n_beats=3)) == []
    assert m.update(closed("vt", 10.0, 11.0, n_beats=3)) == []
    # A short run of five: raised when it ends, and latched.
    m.update(opened("vt", 20.0, n_beats=3))
    raised, ended = m.update(closed("vt", 20.0, 21.5, n_beats=5))
    assert raised is ended and ended.state == "latched" and ended.priority == "high"
    assert m.shown() == [ended]
    acked = m.acknowledge("vt")
    assert acked is ended and ended.state == "ended" and ended.acknowledged and m.shown() == []
    # A run still going 4 s after its start raises at that window; acknowledged while
    # active, it ends without latching.
    m.update(opened("vt", 30.0, n_beats=3))
    assert m.update(window(33.0)) == []
    (b,) = m.update(window(34.0))
    assert b.state == "active" and b.start_s == 30.0 and b.id != ended.id
    m.acknowledge("vt")
    (c,) = m.update(closed("vt", 30.0, 60.0, n_beats=80))
    assert c is b and c.state == "ended" and c.end_s == 60.0


def test_leads_off_is_technical_and_invalidates_numerics() -> None:
    m = AlarmModel()
    assert m.update(window(10.0)) == [] and m.inop is None
    (a,) = m.update(window(11.0, reasons=("lead_off", "flat")))
    assert (a.kind, a.technical, a.text) == ("leads_off", True, "Leads off")
    assert m.inop == "Leads off"
    assert m.update(window(12.0)) == []  # one clean window is not enough
    (b,) = m.update(window(13.0))
    assert b.state == "ended" and m.inop is None


def test_noise_needs_consecutive_windows() -> None:
    m = AlarmModel(AlarmConfig(noise_windows=3))
    bad = window(0, reasons=("high_frequency_noise",))
    out = [m.update({**bad, "t_end": float(t)}) for t in range(1, 4)]
    assert out[0] == out[1] == [] and out[2][0].text == "Noisy signal"
    # Flat windows without lead-off are what asystole looks like, not noise.
    m2 = AlarmModel()
    for t in range(1, 10):
        assert m2.update(window(t, reasons=("flat", "no_beats"))) == []


def test_hr_limits_with_dead_band() -> None:
    m = AlarmModel(AlarmConfig(limit_windows=3, limit_band_bpm=5.0), hr_high=120.0)
    raised = [a for t in range(1, 6) for a in m.update(window(t, hr=130.0))]
    assert [a.kind for a in raised] == ["hr_high"] and raised[0].text == "HR 130 > 120"
    # 118 is back under the limit but inside the dead band: still on.
    assert [a for t in range(6, 12) for a in m.update(window(t, hr=118.0))] == []
    ended = [a for t in range(12, 16) for a in m.update(window(t, hr=110.0))]
    assert [a.state for a in ended] == ["ended"]
    # No heart rate from an unusable window counts either way.
    with pytest.raises(InputError):
        m.set_limits(150.0, 100.0)


def test_pause_holds_then_ends_and_paused_alarms_come_later() -> None:
    m = AlarmModel(AlarmConfig(event_hold_s=5.0))
    (p,) = m.update(closed("pause", 30.0, 32.5, rr_s=2.5, high=False))
    assert p.text == "Pause 2.5 s" and p.state == "active"
    assert m.update(window(35.0)) == []
    (e,) = m.update(window(38.0))
    assert e.state == "ended"
    m.set_paused(True)
    assert m.update(opened("af", 40.0)) == []
    (af,) = m.set_paused(False)
    assert af.kind == "af" and af.state == "active"


def test_disconnect_and_restore() -> None:
    m = AlarmModel()
    (d,) = m.connection(False, 50.0)
    assert d.kind == "disconnected" and m.inop == "Disconnected"
    (r,) = m.connection(True)
    assert r.state == "ended"
    m.update(opened("vt", 60.0))
    m.update(closed("vt", 60.0, 61.5, n_beats=6))
    latched = m.shown()
    fresh = AlarmModel()
    fresh.restore(latched)
    assert fresh.shown() == latched and fresh.acknowledge("vt") is not None


def test_ids_come_from_the_given_counter() -> None:
    ids = iter(range(100, 200))
    m = AlarmModel(new_id=lambda: next(ids))
    (a,) = m.update(opened("af", 1.0))
    assert a.id == 100
