"""How the Holter report spells its figures: dashes, separators, durations, clock times."""

from __future__ import annotations

from datetime import datetime

import pytest

from cardiostream.report.holter import text
from cardiostream.report.holter.text import DASH, Clock


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (11520.0, "3 h 12 min"),
        (86400.0, "24 h 0 min"),
        (172800.0, "48 h 0 min"),
        (725.0, "12 min 5 s"),
        (600.0, "10 min"),
        (8.44, "8.4 s"),
        (42.0, "42 s"),
        (None, DASH),
    ],
)
def test_durations_read_as_people_say_them(seconds: float | None, expected: str) -> None:
    assert text.duration(seconds) == expected


def test_counts_and_measures_have_separators_units_and_dashes() -> None:
    assert text.count(103482) == "103,482"
    assert text.number(71.6, 0, "bpm") == "72 bpm"
    assert text.number(None, 0, "bpm") == DASH
    assert text.number(float("nan")) == DASH
    assert text.percent(0.0493) == "4.9 %"
    assert text.percent(None) == DASH


def test_clock_times_carry_the_day_past_the_first_midnight() -> None:
    clock = Clock.parse("2026-03-02T08:15:00")
    assert clock.at(0.0) == "08:15:00"
    assert clock.at(3600.0 * 15 + 59.9) == "23:15:59"
    assert clock.at(18.0 * 3600 + 59 * 60) == "day 2 03:14:00"
    assert clock.at(2 * 86400.0) == "day 3 08:15:00"
    assert clock.at(None) == DASH
    assert clock.date_time() == "2026-03-02 08:15:00"


def test_without_a_start_times_are_elapsed() -> None:
    clock = Clock.parse(None)
    assert not clock.known
    assert clock.at(0.0) == "+00:00:00"
    assert clock.at(26 * 3600.0 + 183.0) == "+26:03:03"
    assert Clock.parse("not a date").start is None


def test_a_start_with_a_time_zone_prints_its_offset() -> None:
    clock = Clock.parse("2026-03-02T08:15:00+01:00")
    assert clock.start == datetime.fromisoformat("2026-03-02T08:15:00+01:00")
    assert clock.date_time() == "2026-03-02 08:15:00 (UTC+01:00)"
    assert clock.at(16 * 3600.0) == "day 2 00:15:00"
