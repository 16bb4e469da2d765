"""How the Holter report writes its figures: counts, rates, durations and clock times.

One place for every figure's spelling, so that the HTML, the PDF and the tests agree: a
missing figure (null in the JSON) is an em dash, never ``0`` or ``nan``; counts have
thousands separators; durations read "3 h 12 min"; times are clock times ("08:15:00", "day 2
03:14:00" past the first midnight) when the recording's start is known, else elapsed time
from its start ("+26:03:00").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

#: What a missing figure prints as.
DASH = "—"


def count(n: int | None) -> str:
    """A count with thousands separators (``12,345``)."""
    return DASH if n is None else f"{n:,}"


def number(x: float | None, digits: int = 0, unit: str = "") -> str:
    """A measurement rounded to ``digits`` decimals with its unit (``72 bpm``)."""
    if x is None or not math.isfinite(x):
        return DASH
    text = f"{x:,.{digits}f}"
    return f"{text} {unit}" if unit else text


def percent(share: float | None, digits: int = 1) -> str:
    """A share (0-1) as a percentage (``12.3 %``)."""
    if share is None or not math.isfinite(share):
        return DASH
    return f"{100.0 * share:.{digits}f} %"


def duration(seconds: float | None) -> str:
    """A duration as people say it: ``3 h 12 min``, ``12 min 5 s``, ``8.4 s``."""
    if seconds is None or not math.isfinite(seconds):
        return DASH
    if seconds < 60.0:
        # Short episodes and pauses: tenths matter below ten seconds.
        return f"{seconds:.1f} s" if seconds < 10.0 else f"{seconds:.0f} s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours:,} h {minutes} min"
    return f"{minutes} min {secs} s" if secs else f"{minutes} min"


def _elapsed(seconds: float, with_seconds: bool) -> str:
    whole = max(0, math.floor(seconds + 1e-6))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return (
        f"+{hours:02d}:{minutes:02d}:{secs:02d}" if with_seconds else f"+{hours:02d}:{minutes:02d}"
    )


@dataclass(frozen=True)
class Clock:
    """Turns seconds from the recording's start into the times the report prints.

    Parameters
    ----------
    start : datetime or None
        Clock time of the first sample; None when the file has no date (elapsed times then).
    """

    start: datetime | None

    @classmethod
    def parse(cls, iso: str | None) -> Clock:
        """The clock of ``record.start`` (ISO 8601); an unreadable date counts as none."""
        if not iso:
            return cls(None)
        try:
            return cls(datetime.fromisoformat(iso))
        except ValueError:
            return cls(None)

    @property
    def known(self) -> bool:
        """Whether times are clock times (else elapsed)."""
        return self.start is not None

    def when(self, t_s: float) -> datetime | None:
        """The clock time ``t_s`` seconds into the recording, or None without a start."""
        return None if self.start is None else self.start + timedelta(seconds=t_s)

    def day(self, t_s: float) -> int:
        """The day ``t_s`` falls on: 1 until the first midnight, then 2, ..."""
        when = self.when(t_s)
        if when is None or self.start is None:
            return 1 + int(t_s // 86400)
        return 1 + (when.date() - self.start.date()).days

    def at(self, t_s: float | None, seconds: bool = True) -> str:
        """``HH:MM:SS`` (``day N HH:MM:SS`` past the first midnight), or ``+HH:MM:SS``."""
        if t_s is None or not math.isfinite(t_s):
            return DASH
        when = self.when(t_s)
        if when is None:
            return _elapsed(t_s, seconds)
        # Rounded down to the second, so that a time never prints later than it happened.
        when = when.replace(microsecond=0)
        text = when.strftime("%H:%M:%S" if seconds else "%H:%M")
        day = self.day(t_s)
        return f"day {day} {text}" if day > 1 else text

    def date_time(self) -> str:
        """The start as ``2026-03-02 08:15:00`` (with its UTC offset when it has one)."""
        if self.start is None:
            return DASH
        text = self.start.strftime("%Y-%m-%d %H:%M:%S")
        offset = self.start.strftime("%z")
        return f"{text} (UTC{offset[:3]}:{offset[3:]})" if offset else text
