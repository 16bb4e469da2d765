"""Arrhythmia findings and episodes from classified beats and per-window verdicts.

:class:`ArrhythmiaTracker` is called once per engine window, in order, with the beats newly
decided since the previous call (times on the stream clock, AAMI letters N/S/V/F/Q, the
probability of the chosen class) and the window's quality, heart rate and rhythm label. It
returns the window's findings (what is present in the ``window_s`` seconds ending at
``t_end``) and the ``event_open`` / ``event`` messages the window causes, with the contract
of :mod:`cardiostream.stream.events`: every ``event_open`` is followed by exactly one
``event`` with the same ``kind`` and ``start_s``, and no ``event`` comes without one.
:func:`arrhythmia_events` runs the same tracker over whole arrays, so streamed and offline
results are identical by construction.

Kinds
-----
Beat runs (decided beat by beat)
    ``"vt"``: at least ``min_run`` (3) consecutive V beats whose first ``min_run`` beats run
    at ``vt_rate_bpm`` (100) or faster; ``"idioventricular_rhythm"``: the same run slower.
    ``"svt"``: at least ``min_run`` consecutive S beats at ``svt_rate_bpm`` (100) or faster;
    slower S runs are only counted. In a window whose rhythm label is ``"af"``, S beats
    are neither SVEB nor SVT (they are the fibrillating rhythm, not premature against a
    sinus one; AF has its own episodes): they count as S and run as N. The kind is decided
    when the run reaches ``min_run`` beats (the ``event_open`` is emitted then, and its kind
    cannot change); the run ends at the first other beat, and the event spans its first to
    its last beat. Its ``detail`` is ``{"n_beats", "rate_bpm", "sustained"}``, the rate
    over the whole run, ``sustained`` true once the run lasts ``sustained_s`` (30 s).
Patterns
    ``"ventricular_bigeminy"``: at least ``min_cycles`` (3) consecutive cycles of one non-V
    beat then one V; ``"ventricular_trigeminy"``: of two non-V beats then one V. The episode
    spans the first beat of its first cycle to the V of its last; ``detail`` is
    ``{"n_beats", "n_cycles"}``. A cycle that does not fit ends it.
Pause and asystole
    ``"pause"``: an RR interval of ``pause_s`` (2.0 s) or more, shorter than ``asystole_s``;
    ``detail`` is ``{"rr_s", "high"}``, ``high`` when the interval reaches ``high_pause_s``
    (3.0 s). It is emitted (``event_open`` then ``event``) when the beat ending it arrives.
    ``"asystole"``: no beat for ``asystole_s`` (4.0 s). It opens as soon as the tracker knows
    that no beat came for that long (see *Decision delay*) and closes at the next beat; a gap
    that is asystole is not also a pause.
Window rates (hysteresis over windows)
    ``"bradycardia"``: window heart rate below ``brady_bpm`` (50); ``"tachycardia"``: at or
    above ``tachy_bpm`` (100) unless the window is sinus; ``"sinus_tachycardia"``: at or
    above ``tachy_bpm`` in a window labelled ``"normal"`` or ``"other"`` whose beats are at
    least ``sinus_n_share`` (90 %) N (the rhythm network calls a regular sinus tachycardia
    "other", as CinC 2017's labels do). ``"paced_rhythm"``: at least ``paced_q_share`` (80 %) of the
    window's beats (and ``paced_min_beats`` of them) are Q. The beats of a window, for these
    shares, are the usable ones of the ``window_s`` seconds ending at ``t_end -
    beat_delay_s`` (see *Decision delay*): all of them are known by then, so the shares do
    not depend on when each beat was delivered. Each kind opens after
    ``rate_open_windows`` (10) consecutive windows that meet it and closes after
    ``rate_close_windows`` (10) consecutive windows that do not, like the AF tracker; it
    starts at the start of its first such window (``t_end - window_s``) and ends at the
    ``t_end`` of its last. ``detail`` is ``{"rate_bpm"}``, the mean window rate. An
    ``"af"`` window meets none of the rate kinds (AF has its own episodes). Windows that are
    not usable, have no heart rate, or are labelled ``"noise"`` (the engine passes its raw
    label when that is noise, also where the label shown is ``"uncertain"``: such a
    window's rate counts noise as beats) are neutral: they neither open nor close, and
    reset no run, so an episode is held across them. An open
    bradycardia or tachycardia is held while the rate stays within ``rate_hysteresis_bpm``
    (5) of its threshold, as a monitor's rate limits are: a rate that hovers at the limit
    makes one episode, not one every few windows.

Counts
    :meth:`ArrhythmiaTracker.counts`: beats by class, isolated VEB and SVEB (runs of one),
    couplets (runs of exactly two), runs of three or more, pauses; cumulative until
    :meth:`ArrhythmiaTracker.flush`. Beats in bigeminy or trigeminy are isolated VEBs too,
    as a Holter report counts them. F (fusion) beats end V and S runs and are non-V beats
    for the patterns.

Signal quality
--------------
Unusable windows
    A beat delivered with a window whose ``usable`` is false counts as Q, and so does a
    beat within the span of an unusable window already seen when it is delivered (at or
    before that window's ``t_end``). Q beats end every
    run and pattern and start none, so nothing is raised from an unusable window. An
    unusable window also ends the open runs and patterns at once (reason
    ``"signal_unusable"``): their last beat is the last one known to be theirs.
Untrusted windows
    A window whose reasons include one of ``untrusted_reasons`` (``lead_off``,
    ``missing_samples``, ``clipping``, ``high_frequency_noise``, ``baseline_wander``,
    ``too_short``), or that is unusable without saying ``flat`` or ``no_beats``, makes its
    whole span ``(t_end - window_s, t_end]`` untrusted for pauses and asystole: no pause is
    measured across it, an open asystole closes (reason ``"signal_unusable"``, at the last
    instant it was confirmed), and quiet time is counted again only from its ``t_end``.
    ``flat`` and ``no_beats`` are what asystole looks like, so they do not block it. A
    lead-off is therefore never asystole. This is conservative: a 1 s lead-off hides the pauses
    of the 10 to 15 s around it.
Decision delay
    A beat is decided up to ``beat_delay_s`` (3.0 s: the beat classifier's 1.0 s detector
    delay plus its 2.0 s cap on the next RR) after its R peak, so when a window ending at
    ``t_end`` is passed, every beat up to ``t_end - beat_delay_s`` is known. Asystole opens,
    and runs end for lack of a next beat, only against that horizon; both are thus the same
    whether the beats arrive early or late, and an asystole alarm comes at most
    ``asystole_s + beat_delay_s`` (7 s) after the last beat. A gap of ``pause_s`` or more
    between beats also ends runs and patterns.
Gaps and end of stream
    A ``t_end`` more than 1.5 ``hop_s`` after the previous one, or :meth:`interrupt`, closes
    every open episode (reason ``"gap"``) and forgets the last beat, the runs and the window
    hysteresis (counts are kept). :meth:`flush` closes them (reason ``"end_of_stream"``) and
    resets everything, counts included. An episode closed by its own rule has no
    ``"reason"``.

Confidence
    Runs and patterns: the mean chosen-class probability of their beats (NaN ones ignored;
    None when none is finite). Pauses, asystole and the window-rate kinds have no model
    probability behind them, and their confidence is None.

Findings
    One per kind present in the window: an open episode, one that ended within the last
    ``window_s``, or counted ectopy (``"veb"``, ``"veb_couplet"``, ``"sveb"``,
    ``"sveb_couplet"``, with their ``"count"`` in the last ``window_s`` and the mean
    probability of their beats). An open run carries its ``detail`` so far.

Times are rounded to 3 decimals, rates to 1, confidences to 4. The state is a few dozen
numbers plus the beats and findings of the last ``window_s``, capped at
:data:`MAX_RECENT` entries, whatever the stream's length.

References
----------
- Kusumoto FM et al. 2018 ACC/AHA/HRS guideline on bradycardia and cardiac conduction
  delay. Circulation 2019;140:e382-e482 (sinus bradycardia below 50 bpm; pauses).
- Page RL et al. 2015 ACC/AHA/HRS guideline for adult supraventricular tachycardia.
  Circulation 2016;133:e506-e574 (tachycardia above 100 bpm; SVT).
- Al-Khatib SM et al. 2017 AHA/ACC/HRS guideline for ventricular arrhythmias. Circulation
  2018;138:e272-e391 (VT: 3 or more beats above 100 bpm; sustained: 30 s or more).
- Steinberg JS et al. 2017 ISHNE-HRS expert consensus on ambulatory ECG monitoring. Heart
  Rhythm 2017;14:e55-e96 (couplets, runs, bigeminy, trigeminy; pauses of 2 and 3 s).
- ANSI/AAMI EC13 (cardiac monitors: asystole as an alarm condition, with a bounded time to
  alarm); 4 s lies within the 3-10 s asystole delay that bedside monitors let users choose.
  ANSI/AAMI EC57 (AAMI beat classes N, S, V, F, Q; evaluation of arrhythmia detectors).
"""

from __future__ import annotations

import math
import operator
from bisect import bisect_right
from collections.abc import Collection, Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from itertools import pairwise
from typing import Any, NamedTuple, cast, get_args

from cardiostream.beats.classes import CLASSES as BEAT_CLASSES
from cardiostream.errors import InputError
from cardiostream.rhythm.verdict import LABELS
from cardiostream.stream.events import check_time
from cardiostream.stream.messages import (
    ArrhythmiaCloseReason,
    ArrhythmiaEvent,
    ArrhythmiaEventOpen,
    ArrhythmiaMessage,
    Detail,
    Finding,
    Kind,
)

#: The episode kinds, in the order findings list them.
KINDS: tuple[str, ...] = get_args(Kind)
COUNT_KINDS: tuple[str, ...] = ("veb", "veb_couplet", "sveb", "sveb_couplet")
#: Cap on the recent beats and findings kept for the findings of a window (bounded state).
MAX_RECENT = 256
GAP_HOPS = 1.5  # as the AF tracker: a t_end later than this many hops is an interruption
RATE_KINDS = ("bradycardia", "tachycardia", "sinus_tachycardia", "paced_rhythm")
_BEAT_SET = frozenset(BEAT_CLASSES)
_IS_STR = str.__instancecheck__


class BeatBatch(NamedTuple):
    """Beats newly decided, sorted by time.

    Attributes
    ----------
    t : sequence of float
        R-peak times in seconds on the stream clock.
    label : sequence of str
        AAMI letters, each one of ``N``, ``S``, ``V``, ``F``, ``Q``.
    p : sequence of float
        Probability of the chosen class, in [0, 1] (NaN when unknown).
    broken : sequence of bool, optional
        Whether the signal was interrupted between the beat and the one before it (missing
        samples, or a beat whose class was withheld for the signal's quality): no pause or
        asystole is measured across it, and runs and patterns end before it. Empty: none.
    """

    t: Sequence[float]
    label: Sequence[str]
    p: Sequence[float]
    broken: Sequence[bool] = ()


NO_BEATS = BeatBatch((), (), ())


@dataclass(frozen=True)
class ArrhythmiaConfig:
    """Thresholds of the arrhythmia tracker; times in seconds, rates in beats per minute.

    The defaults are the clinical ones of the module's references: VT and SVT are three or
    more beats at 100 bpm or faster (AHA/ACC/HRS 2017, ACC/AHA/HRS 2015), sustained after
    30 s; bigeminy and trigeminy after three cycles and pauses of 2 s (3 s "high") as in
    ISHNE-HRS Holter practice; asystole after 4 s without a QRS (an AAMI EC13 monitor
    alarm); sinus bradycardia below 50 bpm (ACC/AHA/HRS 2018) and tachycardia from 100 bpm.

    Attributes
    ----------
    min_run : int
        Consecutive V or S beats that make a run (VT, idioventricular rhythm, SVT).
    vt_rate_bpm, svt_rate_bpm : float
        Rate of a run's first ``min_run`` beats from which it is VT, resp. SVT.
    min_v_run_confidence, min_s_run_confidence : float
        A V (resp. S) run is raised only once the mean probability of its beats' class
        reaches this; until then it is counted, not raised. The beat classifier labels a
        beat V or S even at a low calibrated probability (its decision weights favour
        sensitivity), and runs of such beats are mostly artefact: on MITDB DS1 and NSTDB
        118, a floor of 0.4 kept 24 of the 31 VT episodes that matched a reference VT and
        dropped 92 of the 122 that did not (and 3 of 5 in noise). No floor for S runs,
        whose probabilities are lower throughout (a floor cost most true SVT there).
    sustained_s : float
        Duration from which a run is ``sustained``.
    min_cycles : int
        Cycles of bigeminy or trigeminy that open an episode.
    pause_s, high_pause_s, asystole_s : float
        RR interval of a pause, of a high-grade pause, and time without beats of asystole.
    brady_bpm, tachy_bpm : float
        Window heart rate below which it is bradycardia, from which it is tachycardia.
    sinus_n_share : float
        Share of N beats (last ``window_s``) for a fast ``normal`` window to be sinus.
    paced_q_share : float
        Share of Q beats (last ``window_s``) for a window to be paced.
    paced_min_beats : int
        Beats a window needs (last ``window_s``) to be judged paced.
    rate_open_windows, rate_close_windows : int
        Consecutive windows that open, resp. close, a window-rate episode.
    rate_hysteresis_bpm : float
        Dead band of an open bradycardia or tachycardia: it goes on meeting its kind until
        the rate is this far past the threshold (below ``tachy_bpm - rate_hysteresis_bpm``,
        at or above ``brady_bpm + rate_hysteresis_bpm``).
    beat_delay_s : float
        Longest time from an R peak to its class: every beat up to ``t_end - beat_delay_s``
        has been passed when the window ending at ``t_end`` is.
    untrusted_reasons : tuple of str
        Quality reasons under which no pause or asystole is measured.
    hop_s, window_s : float
        The engine's hop and window length.

    Raises
    ------
    InputError
        If a field is out of range; the message names the field.
    """

    min_run: int = 3
    vt_rate_bpm: float = 100.0
    svt_rate_bpm: float = 100.0
    min_v_run_confidence: float = 0.4
    min_s_run_confidence: float = 0.0
    sustained_s: float = 30.0
    min_cycles: int = 3
    pause_s: float = 2.0
    high_pause_s: float = 3.0
    asystole_s: float = 4.0
    brady_bpm: float = 50.0
    tachy_bpm: float = 100.0
    sinus_n_share: float = 0.9
    paced_q_share: float = 0.8
    paced_min_beats: int = 3
    rate_open_windows: int = 10
    rate_close_windows: int = 10
    rate_hysteresis_bpm: float = 5.0
    beat_delay_s: float = 3.0
    untrusted_reasons: tuple[str, ...] = (
        "too_short",
        "missing_samples",
        "lead_off",
        "clipping",
        "high_frequency_noise",
        "baseline_wander",
    )
    hop_s: float = 1.0
    window_s: float = 10.0

    def __post_init__(self) -> None:
        ints = {"min_run": 2, "min_cycles": 1, "paced_min_beats": 1}
        ints |= {"rate_open_windows": 1, "rate_close_windows": 1}
        for name, low in ints.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InputError(f"{name}: must be an integer of at least {low}, got {value!r}")
        positive = ("vt_rate_bpm", "svt_rate_bpm", "sustained_s", "pause_s", "brady_bpm")
        for name in (*positive, "tachy_bpm", "hop_s", "window_s"):
            value = getattr(self, name)
            if not _finite(value) or value <= 0:
                raise InputError(f"{name}: must be a positive number, got {value!r}")
        if not _finite(self.rate_hysteresis_bpm) or self.rate_hysteresis_bpm < 0:
            raise InputError(
                f"rate_hysteresis_bpm: must be at least 0, got {self.rate_hysteresis_bpm!r}"
            )
        if not _finite(self.beat_delay_s) or self.beat_delay_s < 0:
            raise InputError(f"beat_delay_s: must be at least 0, got {self.beat_delay_s!r}")
        for name in ("high_pause_s", "asystole_s"):
            value = getattr(self, name)
            if not _finite(value) or value < self.pause_s:
                raise InputError(f"{name}: must be at least pause_s, got {value!r}")
        for name in ("min_v_run_confidence", "min_s_run_confidence"):
            value = getattr(self, name)
            if not _finite(value) or not 0.0 <= value <= 1.0:
                raise InputError(f"{name}: must be in [0, 1], got {value!r}")
        for name in ("sinus_n_share", "paced_q_share"):
            value = getattr(self, name)
            if not _finite(value) or not 0.0 < value <= 1.0:
                raise InputError(f"{name}: must be in (0, 1], got {value!r}")
        if not isinstance(self.untrusted_reasons, tuple) or not all(
            isinstance(r, str) for r in self.untrusted_reasons
        ):
            raise InputError("untrusted_reasons: must be a tuple of strings")


def _finding(kind: str, confidence: float | None) -> Finding:
    """A finding of a kind known to be one of :data:`KINDS` or :data:`COUNT_KINDS`."""
    return cast(Finding, {"kind": kind, "confidence": confidence})


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _conf(total: float, n: int) -> float | None:
    return None if n == 0 else round(total / n, 4)


# Episode state. Plain dataclasses of numbers, so that the state is asdict() and back.


@dataclass
class _Run:
    """Consecutive beats of one class (V or S)."""

    n: int = 0
    start: float = 0.0
    last: float = 0.0
    sum_p: float = 0.0
    n_p: int = 0
    kind: str | None = None  # set when the run reaches min_run and raises an episode
    held: str | None = None  # the kind it would have, held back while its confidence is low


@dataclass
class _Pattern:
    """Cycles of (period - 1) non-V beats then one V."""

    pend: list[list[float]] = field(default_factory=list)  # [t, p] non-V of this cycle
    cycles: int = 0
    start: float = 0.0
    last: float = 0.0
    sum_p: float = 0.0
    n_p: int = 0
    open: bool = False


@dataclass
class _Sustained:
    """Window hysteresis of one window-rate kind."""

    run: int = 0
    miss: int = 0
    open: bool = False
    start: float = 0.0
    last: float = 0.0
    sum_hr: float = 0.0
    n: int = 0


@dataclass
class _Quiet:
    """Last beat, last untrusted window and the open asystole."""

    last_beat: float | None = None
    last_bad: float | None = None  # t_end of the latest untrusted window
    last_unusable: float | None = None  # t_end of the latest unusable window
    open: bool = False
    start: float = 0.0
    end: float = 0.0


_RUN_DEFAULTS = dict(_Run().__dict__)
_PATTERN_DEFAULTS = {k: v for k, v in _Pattern().__dict__.items() if k != "pend"}


def _new_counts() -> dict[str, Any]:
    return {
        "beats": dict.fromkeys(BEAT_CLASSES, 0),
        "veb_isolated": 0,
        "veb_couplets": 0,
        "veb_runs": 0,
        "sveb_isolated": 0,
        "sveb_couplets": 0,
        "sveb_runs": 0,
        "pauses": 0,
    }


class ArrhythmiaTracker:
    """Streaming arrhythmia tracker over classified beats and window verdicts.

    Parameters
    ----------
    config : ArrhythmiaConfig, optional
        The thresholds; the defaults suit 10 s windows every second.

    Examples
    --------
    >>> tracker = ArrhythmiaTracker()
    >>> findings, events = tracker.update(
    ...     10.0, BeatBatch([7.0, 7.4, 7.8], ["V", "V", "V"], [0.9, 0.8, 0.7]),
    ...     usable=True, reasons=[], heart_rate_bpm=150.0, label="other")
    >>> [(e["type"], e["kind"]) for e in events]
    [('event_open', 'vt')]
    """

    def __init__(self, config: ArrhythmiaConfig | None = None) -> None:
        self.config = config or ArrhythmiaConfig()
        self._counts = _new_counts()
        self._last_t: float | None = None
        self._clear()

    def _clear(self) -> None:
        """Forget the runs, patterns, last beat and hysteresis (not the counts or time)."""
        self._v = _Run()
        self._s = _Run()
        self._bi = _Pattern()
        self._tri = _Pattern()
        self._quiet = _Quiet()
        self._rates = {k: _Sustained() for k in RATE_KINDS}
        # Time, rhythm letter, probability and usability of the beats of the last window_s
        # (plus beat_delay_s), in time order: parallel lists, so that a window's beats are
        # found by bisection and counted by list.count rather than in a Python loop.
        self._bt: list[float] = []
        self._bl: list[str] = []
        self._bp: list[float] = []
        self._bok: list[bool] = []
        # [t, kind, conf, count, detail] of the last window_s's closed episodes and counted
        # ectopy (not in time order: a run is entered at its start when it ends).
        self._recent: list[list[Any]] = []
        # Findings of the recent entries, by kind, in the order of the findings; None when the
        # entries changed since (they change a few times a minute, windows come every hop).
        self._recent_found: dict[str, Finding] | None = None

    # Public API

    def update(
        self,
        t_end: float,
        beats: BeatBatch,
        *,
        usable: bool,
        reasons: Sequence[str],
        heart_rate_bpm: float | None,
        label: str,
        check: bool = True,
    ) -> tuple[list[Finding], list[ArrhythmiaMessage]]:
        """Take one window and the beats decided since the previous one.

        Parameters
        ----------
        t_end : float
            End of the window in seconds: finite, non-negative, increasing.
        beats : BeatBatch
            The beats newly decided, sorted, each later than every earlier one and not later
            than ``t_end``.
        usable : bool
            The window's ``quality.usable``.
        reasons : sequence of str
            The window's ``quality.reasons``.
        heart_rate_bpm : float or None
            The window's heart rate.
        label : str
            The window's rhythm label, one of ``normal``, ``af``, ``other``, ``noise``,
            ``uncertain``.
        check : bool
            Check the input (the default). False is for a caller that builds it right (the
            engine): the beats must then be lists of float, str, float and bool, and bad
            input is not detected; ``t_end`` is checked either way.

        Returns
        -------
        findings : list of Finding
            What is present in the window, one per kind, in the order of :data:`KINDS`
            then :data:`COUNT_KINDS`.
        events : list of ArrhythmiaEventOpen and ArrhythmiaEvent
            The messages the window causes, in the order they happened.

        Raises
        ------
        InputError
            On bad input, before any state changes; the message names the field.
        """
        # The usual window is checked inline; _check_time raises with the reason otherwise.
        try:
            t = float(t_end)
        except (TypeError, ValueError):
            t = math.nan
        last_t = self._last_t
        if not 0.0 <= t < math.inf or (last_t is not None and t <= last_t):
            t = self._check_time(t_end, strict=True)
        # Only indexed for truth below: a list or tuple is used as it is, and dropped when no
        # beat is broken (the usual batch).
        flags: Sequence[Any] = beats.broken
        if check:
            bt, bl, bp = self._check_beats(beats, t)
            if not isinstance(flags, list | tuple):
                flags = list(map(bool, flags))
            if len(flags) and len(flags) != len(bt):
                raise InputError(f"beats: {len(bt)} times, {len(flags)} broken flags")
            self._check_window(reasons, heart_rate_bpm, label)
        else:
            bt, bl, bp = beats[0], beats[1], beats[2]  # type: ignore[assignment]
        broken = flags if any(flags) else None
        cfg, out = self.config, []
        if last_t is not None and t - last_t > GAP_HOPS * cfg.hop_s:
            out += self._interrupt("gap")
        self._last_t = t
        usable = bool(usable)
        untrusted = (len(reasons) > 0 and any(r in cfg.untrusted_reasons for r in reasons)) or (
            not usable and "flat" not in reasons and "no_beats" not in reasons
        )
        if untrusted:
            out += self._close_asystole("signal_unusable")
            self._quiet.last_bad = t
        if not usable:
            out += self._end_sequences("signal_unusable")
            self._quiet.last_unusable = t
        last_unusable = self._quiet.last_unusable
        af = label == "af"
        for i, (b_t, b_l, b_p) in enumerate(zip(bt, bl, bp, strict=True)):
            if broken is not None and broken[i]:
                # Bad signal up to this beat: it is the last bad moment for pauses and
                # asystole, and nothing runs across it.
                out += self._end_sequences("signal_unusable")
                bad = self._quiet.last_bad
                self._quiet.last_bad = b_t if bad is None else max(bad, b_t)
            # A beat inside an unusable window's span is not trusted, even when a later,
            # usable window delivers it (beats are decided up to beat_delay_s late).
            ok = last_unusable is None or b_t > last_unusable
            letter = b_l if ok else "Q"
            # In atrial fibrillation there is no sinus rhythm for a beat to be premature
            # against: S beats are the rhythm itself, neither SVEB nor SVT (AF has its own
            # episodes).
            self._beat(out, b_t, letter, b_p, ok, "N" if af and letter == "S" else letter)
        h = t - cfg.beat_delay_s
        last = self._quiet.last_beat
        # Before pause_s without a beat (and no asystole open) the horizon changes nothing:
        # asystole_s is at least pause_s.
        if last is not None and (self._quiet.open or h - last >= cfg.pause_s):
            out += self._horizon(h)
        # Nothing to prune (the usual window) unless the oldest beat left the span, the cap is
        # passed, or there are recent entries (the test is _prune's own).
        bt_kept = self._bt
        if (
            self._recent
            or len(bt_kept) > MAX_RECENT
            or (bt_kept and bt_kept[0] <= t - cfg.window_s - cfg.beat_delay_s)
        ):
            self._prune(t)
        out += self._window(t, usable, heart_rate_bpm, label)
        return self._findings(t), out

    def counts(self) -> dict[str, Any]:
        """Cumulative counts since the last :meth:`flush`.

        Returns
        -------
        dict
            ``{"beats": {"N", "S", "V", "F", "Q"}, "veb_isolated", "veb_couplets",
            "veb_runs", "sveb_isolated", "sveb_couplets", "sveb_runs", "pauses"}``: beats by
            class as counted (beats of unusable windows as Q), runs of one, of two and of
            ``min_run`` or more, and pauses. A run still going is counted when it ends.
        """
        out = dict(self._counts)
        out["beats"] = dict(self._counts["beats"])
        return out

    def beat_totals(self) -> dict[str, int]:
        """Beats counted since the last :meth:`flush`, by class (beats of unusable windows as
        Q): a copy of ``counts()["beats"]`` without the rest."""
        return dict(self._counts["beats"])

    def flush(self, t_end: float | None = None) -> list[ArrhythmiaMessage]:
        """End the stream: close every open episode (reason ``"end_of_stream"``) and reset,
        counts included.

        Parameters
        ----------
        t_end : float, optional
            End of the stream, checked only for order: episodes end at their last beat or
            window.
        """
        if t_end is not None:
            self._check_time(t_end, strict=False)
        out = self._interrupt("end_of_stream")
        self._counts = _new_counts()
        self._last_t = None
        return out

    def interrupt(self) -> list[ArrhythmiaMessage]:
        """The stream was interrupted: close every open episode (reason ``"gap"``) and
        forget the runs and the last beat, keeping the counts and the time of the last
        window (the next must still come later)."""
        return self._interrupt("gap")

    # Beats

    def _beat(
        self,
        out: list[ArrhythmiaMessage],
        t: float,
        letter: str,
        p: float,
        usable: bool,
        rhythm: str | None = None,
    ) -> None:
        """One beat, its messages appended to ``out`` (no list per beat): ``letter`` is
        counted, ``rhythm`` (the letter by default) drives the runs and patterns."""
        cfg, q = self.config, self._quiet
        # An RR under pause_s with no asystole open is neither pause nor asystole (asystole_s
        # is at least pause_s, and the quiet time is at most the RR): skip the block.
        if q.last_beat is not None and (q.open or t - q.last_beat >= cfg.pause_s):
            gap = t - q.last_beat
            if gap >= cfg.pause_s:
                # Nothing runs across a pause: the same rule as _horizon, so the result does
                # not depend on whether the horizon or this beat saw the gap first.
                out += self._end_sequences(None)
            quiet_from = q.last_beat if q.last_bad is None else max(q.last_beat, q.last_bad)
            if q.open:
                q.end = t
                out += self._close_asystole(None)
            elif t - quiet_from >= cfg.asystole_s:
                q.open, q.start, q.end = True, quiet_from, t
                out.append(self._opened("asystole", quiet_from, None))
                out += self._close_asystole(None)
            elif gap >= cfg.pause_s and (q.last_bad is None or q.last_bad <= q.last_beat):
                detail: Detail = {"rr_s": round(gap, 3), "high": gap >= cfg.high_pause_s}
                self._counts["pauses"] += 1
                out.append(self._opened("pause", q.last_beat, None, detail))
                out.append(self._closed("pause", q.last_beat, t, None, detail, None))
        q.last_beat = t
        self._counts["beats"][letter] += 1
        letter = letter if rhythm is None else rhythm
        self._bt.append(t)
        self._bl.append(letter)
        self._bp.append(p)
        self._bok.append(usable)
        # An empty run that the letter does not extend has nothing to end (most beats).
        if letter == "V" or self._v.n:
            out += self._run_beat(self._v, "V", letter, t, p)
        if letter == "S" or self._s.n:
            out += self._run_beat(self._s, "S", letter, t, p)
        bi, tri = self._bi, self._tri
        # _pattern_beat's slide of a full, cycle-less pattern by a non-V beat, inline (most
        # beats); anything else goes through it.
        slide = letter != "V" and letter != "Q"
        if slide and bi.cycles == 0 and len(bi.pend) == 1:
            bi.pend[0] = [t, p]
        else:
            out += self._pattern_beat(bi, 2, "ventricular_bigeminy", letter, t, p)
        if slide and tri.cycles == 0 and len(tri.pend) == 2:
            del tri.pend[0]
            tri.pend.append([t, p])
        else:
            out += self._pattern_beat(tri, 3, "ventricular_trigeminy", letter, t, p)

    def _horizon(self, h: float) -> list[ArrhythmiaMessage]:
        """Every beat up to ``h`` is known: end runs and open asystole accordingly."""
        cfg, q = self.config, self._quiet
        out: list[ArrhythmiaMessage] = []
        if q.last_beat is None:
            # No asystole before the first beat: a stream may start unplugged.
            return out
        if h - q.last_beat >= cfg.pause_s:
            out += self._end_sequences(None)
        quiet_from = q.last_beat if q.last_bad is None else max(q.last_beat, q.last_bad)
        if q.open:
            q.end = max(q.end, h)
        elif h - quiet_from >= cfg.asystole_s:
            q.open, q.start, q.end = True, quiet_from, h
            out.append(self._opened("asystole", quiet_from, None))
        return out

    def _close_asystole(self, reason: ArrhythmiaCloseReason | None) -> list[ArrhythmiaMessage]:
        q = self._quiet
        out: list[ArrhythmiaMessage] = []
        if q.open:
            out.append(self._closed("asystole", q.start, q.end, None, None, reason))
        q.open = False
        return out

    def _run_beat(
        self, run: _Run, cls: str, letter: str, t: float, p: float
    ) -> list[ArrhythmiaMessage]:
        if letter != cls:
            return self._end_run(run, cls, None)
        cfg = self.config
        if run.n == 0:
            run.start = t
        run.n += 1
        run.last = t
        if not math.isnan(p):
            run.sum_p += p
            run.n_p += 1
        if run.n == cfg.min_run:
            rate = _rate(run)
            fast = rate is None or rate >= (cfg.vt_rate_bpm if cls == "V" else cfg.svt_rate_bpm)
            if cls == "V":
                run.held = "vt" if fast else "idioventricular_rhythm"
            elif fast:
                run.held = "svt"
        if run.held is not None:
            conf = _conf(run.sum_p, run.n_p)
            floor = cfg.min_v_run_confidence if cls == "V" else cfg.min_s_run_confidence
            if conf is None or conf >= floor:
                # Raised once its beats are, on average, likely enough of their class.
                run.kind, run.held = run.held, None
                return [self._opened(run.kind, run.start, conf, self._run_detail(run))]
        return []

    def _run_detail(self, run: _Run) -> Detail:
        rate = _rate(run)
        return {
            "n_beats": run.n,
            "rate_bpm": None if rate is None else round(rate, 1),
            "sustained": run.last - run.start >= self.config.sustained_s,
        }

    def _end_run(
        self, run: _Run, cls: str, reason: ArrhythmiaCloseReason | None
    ) -> list[ArrhythmiaMessage]:
        out: list[ArrhythmiaMessage] = []
        if run.n == 0:
            return out
        name = "veb" if cls == "V" else "sveb"
        conf = _conf(run.sum_p, run.n_p)
        if run.n == 1:
            self._counts[f"{name}_isolated"] += 1
            self._recent.append([run.start, name, conf, 1, None])
            self._recent_found = None
        elif run.n == 2:
            self._counts[f"{name}_couplets"] += 1
            self._recent.append([run.start, f"{name}_couplet", conf, 1, None])
            self._recent_found = None
        else:
            self._counts[f"{name}_runs"] += 1
        if run.kind is not None:
            detail = self._run_detail(run)
            out.append(self._closed(run.kind, run.start, run.last, conf, detail, reason))
        _reset(run)
        return out

    def _pattern_beat(
        self, pat: _Pattern, period: int, kind: str, letter: str, t: float, p: float
    ) -> list[ArrhythmiaMessage]:
        if letter == "Q":
            return self._end_pattern(pat, kind, None)
        if letter != "V":
            if len(pat.pend) < period - 1:
                pat.pend.append([t, p])
                return []
            if pat.cycles == 0:
                # No cycle yet, so nothing to close and every other field at its default:
                # slide the pending beats (what the general path below amounts to), as in
                # most sinus beats.
                del pat.pend[0]
                pat.pend.append([t, p])
                return []
            # One non-V too many: the pattern is broken, and the latest non-V beats may start
            # the next one.
            pend = [*pat.pend[1:], [t, p]]
            out = self._end_pattern(pat, kind, None)
            pat.pend = pend
            return out
        if len(pat.pend) != period - 1:
            return self._end_pattern(pat, kind, None)  # V too early: V-V, or N-V in trigeminy
        if pat.cycles == 0:
            pat.start = pat.pend[0][0]
        for _, q in [*pat.pend, [t, p]]:
            if not math.isnan(q):
                pat.sum_p += q
                pat.n_p += 1
        pat.cycles += 1
        pat.last = t
        pat.pend = []
        if pat.cycles == self.config.min_cycles:
            pat.open = True
            conf = _conf(pat.sum_p, pat.n_p)
            return [self._opened(kind, pat.start, conf, _pattern_detail(pat, period))]
        return []

    def _end_pattern(
        self, pat: _Pattern, kind: str, reason: ArrhythmiaCloseReason | None
    ) -> list[ArrhythmiaMessage]:
        out: list[ArrhythmiaMessage] = []
        if pat.open:
            detail = _pattern_detail(pat, 2 if kind == "ventricular_bigeminy" else 3)
            conf = _conf(pat.sum_p, pat.n_p)
            out.append(self._closed(kind, pat.start, pat.last, conf, detail, reason))
        _reset(pat)
        return out

    def _end_sequences(self, reason: ArrhythmiaCloseReason | None) -> list[ArrhythmiaMessage]:
        """End every run and pattern (closing their episodes)."""
        out = self._end_run(self._v, "V", reason)
        out += self._end_run(self._s, "S", reason)
        out += self._end_pattern(self._bi, "ventricular_bigeminy", reason)
        out += self._end_pattern(self._tri, "ventricular_trigeminy", reason)
        return out

    # Windows

    def _window(
        self, t: float, usable: bool, hr: float | None, label: str
    ) -> list[ArrhythmiaMessage]:
        cfg = self.config
        out: list[ArrhythmiaMessage] = []
        if not (usable and hr is not None and label != "noise"):
            return out  # a neutral window: every kind's hysteresis stays as it is
        # Shares over the window_s of beats ending at the horizon, all of which are known
        # whenever they were delivered, so the shares do not depend on the batching. The
        # beats are in time order: the window is a slice. Unusable beats are all Q, so the
        # usable Q beats are the Q beats less the unusable ones.
        # The dict is in the order of RATE_KINDS (built from it; kinds are only reassigned).
        r0, r1, r2, r3 = self._rates.values()
        # An open rate episode holds within the dead band.
        band = cfg.rate_hysteresis_bpm
        fast_open = r1.open or r2.open
        fast = hr >= (cfg.tachy_bpm - band if fast_open else cfg.tachy_bpm)
        af = label == "af"
        # Sinus matters only to a fast window, and a window without Q beats is not paced
        # (its beats are among the kept ones): the window's beats are looked at only then.
        sinus = paced = False
        if fast or "Q" in self._bl:
            h = t - cfg.beat_delay_s
            i, j = bisect_right(self._bt, h - cfg.window_s), bisect_right(self._bt, h)
            letters = self._bl[i:j]
            n = self._bok[i:j].count(True)
            # "other" too: the rhythm network (trained on CinC, whose "other" class holds
            # sinus tachycardia) calls a regular fast sinus rhythm "other"; its beats say sinus.
            sinus = (
                fast
                and (label == "normal" or label == "other")
                and n > 0
                and letters.count("N") / n >= cfg.sinus_n_share
            )
            paced = (
                n >= cfg.paced_min_beats
                and "Q" in letters
                and (letters.count("Q") - (j - i - n)) / n >= cfg.paced_q_share
            )
        brady = hr < (cfg.brady_bpm + band if r0.open else cfg.brady_bpm) and not af
        met = (brady, fast and not sinus and not af, fast and sinus, paced)
        if not (brady or fast or paced or r0.open or r1.open or r2.open or r3.open):
            # No kind met or open (the usual window): each only restarts its count.
            r0.run = r1.run = r2.run = r3.run = 0
            return out
        for kind, rate, m in zip(RATE_KINDS, self._rates.values(), met, strict=True):
            if not m and not rate.open:
                rate.run = 0  # what _sustained does then, without the call
            else:
                out += self._sustained(kind, m, t, hr)
        return out

    def _sustained(
        self, kind: str, met: bool | None, t: float, hr: float | None
    ) -> list[ArrhythmiaMessage]:
        cfg, s = self.config, self._rates[kind]
        if met is None:
            return []
        if not met:
            if not s.open:
                s.run = 0
                return []
            s.miss += 1
            return self._end_sustained(kind, None) if s.miss >= cfg.rate_close_windows else []
        assert hr is not None  # met is only decided with a heart rate
        if not s.open and s.run == 0:
            s.start, s.sum_hr, s.n = max(0.0, t - cfg.window_s), 0.0, 0
        s.miss, s.last = 0, t
        s.sum_hr += hr
        s.n += 1
        if not s.open:
            s.run += 1
            if s.run >= cfg.rate_open_windows:
                s.open = True
                return [self._opened(kind, s.start, None, {"rate_bpm": round(s.sum_hr / s.n, 1)})]
        return []

    def _end_sustained(
        self, kind: str, reason: ArrhythmiaCloseReason | None
    ) -> list[ArrhythmiaMessage]:
        s = self._rates[kind]
        out: list[ArrhythmiaMessage] = []
        if s.open:
            detail: Detail = {"rate_bpm": round(s.sum_hr / s.n, 1)}
            out.append(self._closed(kind, s.start, s.last, None, detail, reason))
        self._rates[kind] = _Sustained()
        return out

    def _interrupt(self, reason: ArrhythmiaCloseReason) -> list[ArrhythmiaMessage]:
        out = self._end_sequences(reason)
        out += self._close_asystole(reason)
        for kind in RATE_KINDS:
            out += self._end_sustained(kind, reason)
        self._clear()
        return out

    # Messages and findings

    def _opened(
        self, kind: str, start: float, conf: float | None, detail: Detail | None = None
    ) -> ArrhythmiaEventOpen:
        msg: ArrhythmiaEventOpen = {
            "type": "event_open",
            "kind": kind,  # type: ignore[typeddict-item]  # one of KINDS by construction
            "start_s": round(start, 3),
            "confidence": conf,
        }
        if detail is not None:
            msg["detail"] = detail
        return msg

    def _closed(
        self,
        kind: str,
        start: float,
        end: float,
        conf: float | None,
        detail: Detail | None,
        reason: ArrhythmiaCloseReason | None,
    ) -> ArrhythmiaEvent:
        msg: ArrhythmiaEvent = {
            "type": "event",
            "kind": kind,  # type: ignore[typeddict-item]
            "start_s": round(start, 3),
            "end_s": round(end, 3),
            "confidence": conf,
        }
        if detail is not None:
            msg["detail"] = detail
        if reason is not None:
            msg["reason"] = reason
        self._recent.append([end, kind, conf, 1, detail])
        self._recent_found = None
        return msg

    def _prune(self, t: float) -> None:
        lo = t - self.config.window_s
        lo_beats = lo - self.config.beat_delay_s
        # The beats are in time order, so the old ones are a prefix: cut it in place.
        bt = self._bt
        k = max(bisect_right(bt, lo_beats), len(bt) - MAX_RECENT)
        if k > 0:
            del bt[:k], self._bl[:k], self._bp[:k], self._bok[:k]
        if self._recent:
            kept = [r for r in self._recent if r[0] > lo][-MAX_RECENT:]
            if len(kept) != len(self._recent):
                self._recent, self._recent_found = kept, None

    def _findings(self, t: float) -> list[Finding]:
        recent = self._recent_found
        if recent is None:
            recent = self._recent_found = self._recent_findings()
        # Most windows have nothing open: the findings are those of the recent entries.
        # Each window gets its own dicts (the details are shared, as they always were).
        r0, r1, r2, r3 = self._rates.values()
        if (
            self._v.kind is None
            and self._s.kind is None
            and not (self._bi.open or self._tri.open or self._quiet.open)
            and not (r0.open or r1.open or r2.open or r3.open)
        ):
            return [f.copy() for f in recent.values()] if recent else []
        found: dict[str, Finding] = {}
        for run in (self._v, self._s):
            if run.kind is not None:
                conf = _conf(run.sum_p, run.n_p)
                found[run.kind] = _finding(run.kind, conf)
                found[run.kind]["detail"] = self._run_detail(run)
        for pat, kind, period in (
            (self._bi, "ventricular_bigeminy", 2),
            (self._tri, "ventricular_trigeminy", 3),
        ):
            if pat.open:
                found[kind] = _finding(kind, _conf(pat.sum_p, pat.n_p))
                found[kind]["detail"] = _pattern_detail(pat, period)
        if self._quiet.open:
            found["asystole"] = _finding("asystole", None)
        for kind, s in self._rates.items():
            if s.open:
                found[kind] = _finding(kind, None)
                found[kind]["detail"] = {"rate_bpm": round(s.sum_hr / s.n, 1)}
        for kind, f in recent.items():
            if kind not in found:  # an open episode is reported over a closed one
                found[kind] = f.copy()
        return [found[k] for k in (*KINDS, *COUNT_KINDS) if k in found]

    def _recent_findings(self) -> dict[str, Finding]:
        """Findings of the closed episodes and counted ectopy of the last ``window_s``."""
        found: dict[str, Finding] = {}
        for _, kind, conf, _count, detail in reversed(self._recent):  # latest first
            if kind not in COUNT_KINDS and kind not in found:
                found[kind] = _finding(kind, conf)
                if detail is not None:
                    found[kind]["detail"] = detail
        counted: dict[str, list[float | None]] = {}
        for r in self._recent:
            if r[1] in COUNT_KINDS:
                counted.setdefault(r[1], []).append(r[2])
        for kind in COUNT_KINDS:
            if kind in counted:
                items = counted[kind]
                confs = [c for c in items if c is not None]
                conf = round(sum(confs) / len(confs), 4) if confs else None
                found[kind] = _finding(kind, conf)
                found[kind]["count"] = len(items)
        return {k: found[k] for k in (*KINDS, *COUNT_KINDS) if k in found}

    # Input checks and state

    def _check_time(self, t_end: float, *, strict: bool) -> float:
        return check_time(t_end, self._last_t, strict=strict)

    def _check_window(
        self, reasons: Sequence[str], heart_rate_bpm: float | None, label: str
    ) -> None:
        if not isinstance(label, str) or label not in LABELS:
            raise InputError(f"label: unknown label {label!r}, expected one of {', '.join(LABELS)}")
        if (
            heart_rate_bpm is not None
            and not (heart_rate_bpm.__class__ is float and 0.0 < heart_rate_bpm < math.inf)
            and (not _finite(heart_rate_bpm) or heart_rate_bpm <= 0)
        ):
            raise InputError(f"heart_rate_bpm: must be positive or None, got {heart_rate_bpm!r}")
        # An empty list (the usual reasons) needs no look.
        if (reasons.__class__ is not list or reasons) and (
            isinstance(reasons, str) or not all(map(_IS_STR, reasons))
        ):
            raise InputError(f"reasons: must be a sequence of strings, got {reasons!r}")

    def _check_beats(
        self, beats: BeatBatch, t_end: float
    ) -> tuple[list[float], list[str], list[float]]:
        try:
            bt = list(map(float, beats[0]))
            bl = list(map(str, beats[1]))
            bp = list(map(float, beats[2]))
        except (TypeError, ValueError, IndexError) as exc:
            raise InputError(f"beats: malformed ({exc})") from None
        if not len(bt) == len(bl) == len(bp):
            raise InputError(f"beats: {len(bt)} times, {len(bl)} labels, {len(bp)} probabilities")
        if not bt:
            return bt, bl, bp
        # The checks run once per window, so they are done in bulk (in C); a batch that fails
        # one is checked again beat by beat below, which raises with the offending value (or
        # accepts what the bulk check cannot tell). Increasing times whose first is finite and
        # last at most t_end are all finite; NaN fails every comparison. min() and max() skip
        # NaN probabilities (allowed) after a number, and return NaN when it comes first.
        prev = self._quiet.last_beat
        if (
            math.isfinite(bt[0])
            and bt[-1] <= t_end
            and (prev is None or bt[0] > prev)
            and (len(bt) == 1 or all(map(operator.lt, bt, bt[1:])))
            and _BEAT_SET.issuperset(bl)
            and min(bp) >= 0.0
            and max(bp) <= 1.0
        ):
            return bt, bl, bp
        for t in bt:
            if not math.isfinite(t) or t > t_end or (prev is not None and t <= prev):
                raise InputError(
                    f"beats: times must be finite, increasing and not after t_end, got {t:g}"
                )
            prev = t
        for lab in bl:
            if lab not in BEAT_CLASSES:
                raise InputError(f"beats: unknown class {lab!r}, expected one of N, S, V, F, Q")
        for p in bp:
            if not (math.isnan(p) or 0.0 <= p <= 1.0):
                raise InputError(f"beats: probability must be in [0, 1] or NaN, got {p!r}")
        return bt, bl, bp

    def state_dict(self) -> dict[str, Any]:
        """The full state as plain JSON-serialisable data, of bounded size."""
        return {
            "config": _config_dict(self.config),
            "last_t": self._last_t,
            "counts": self.counts(),
            "v": asdict(self._v),
            "s": asdict(self._s),
            "bi": _pattern_state(self._bi),
            "tri": _pattern_state(self._tri),
            "quiet": asdict(self._quiet),
            "rates": {k: asdict(v) for k, v in self._rates.items()},
            "beats": [
                [t, lab, _none(p), ok]
                for t, lab, p, ok in zip(self._bt, self._bl, self._bp, self._bok, strict=True)
            ],
            "recent": [
                [t, k, c, n, None if d is None else dict(d)] for t, k, c, n, d in self._recent
            ],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state produced by :meth:`state_dict` of a tracker with the same config.

        Raises
        ------
        InputError
            If the state is malformed or was made with another config; the tracker is then
            left as it was.
        """
        if state.get("config") != _config_dict(self.config):
            raise InputError("state: config differs from this tracker's")
        try:
            # Build everything before assigning anything: a bad state changes nothing.
            last_t = None if state["last_t"] is None else float(state["last_t"])
            counts = _new_counts()
            for key in counts:
                if key == "beats":
                    counts[key] = {c: int(state["counts"]["beats"][c]) for c in BEAT_CLASSES}
                else:
                    counts[key] = int(state["counts"][key])
            runs = [_load(_Run, state[k]) for k in ("v", "s")]
            pats = [_load(_Pattern, state[k]) for k in ("bi", "tri")]
            for pat in pats:
                pat.pend = [[float(t), _nan(p)] for t, p in pat.pend]
            quiet = _load(_Quiet, state["quiet"])
            rates = {k: _load(_Sustained, state["rates"][k]) for k in RATE_KINDS}
            beats = [(float(t), str(lab), _nan(p), bool(ok)) for t, lab, p, ok in state["beats"]]
            b_t = [b[0] for b in beats]
            if any(a >= b for a, b in pairwise(b_t)):  # the pruning bisects them
                raise ValueError("beats: times must increase")
            recent = [
                [float(t), str(k), None if c is None else float(c), int(n), d]
                for t, k, c, n, d in state["recent"]
            ]
        except KeyError as exc:
            raise InputError(f"state: field {exc.args[0]!r} is missing") from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"state: malformed field ({exc})") from None
        self._last_t, self._counts = last_t, counts
        self._v, self._s = runs
        self._bi, self._tri = pats
        self._quiet, self._rates = quiet, rates
        self._bt, self._bl = b_t, [b[1] for b in beats]
        self._bp, self._bok = [b[2] for b in beats], [b[3] for b in beats]
        self._recent, self._recent_found = recent, None


def _reset(state: _Run | _Pattern) -> None:
    """Empty a run or pattern in place (the tracker holds it by reference).

    It runs for most beats, so it copies saved defaults instead of building a new dataclass;
    the pattern's pending list is the only mutable field and gets a fresh one.
    """
    if isinstance(state, _Run):
        state.__dict__.update(_RUN_DEFAULTS)
    else:
        state.__dict__.update(_PATTERN_DEFAULTS)
        state.pend = []


def _rate(run: _Run) -> float | None:
    """Mean rate of a run in bpm; None when its beats share one instant."""
    span = run.last - run.start
    return 60.0 * (run.n - 1) / span if span > 0 else None


def _pattern_detail(pat: _Pattern, period: int) -> Detail:
    return {"n_beats": pat.cycles * period, "n_cycles": pat.cycles}


def _pattern_state(pat: _Pattern) -> dict[str, Any]:
    d = asdict(pat)
    d["pend"] = [[t, _none(p)] for t, p in pat.pend]  # NaN is not JSON
    return d


def _config_dict(config: ArrhythmiaConfig) -> dict[str, Any]:
    d = asdict(config)
    d["untrusted_reasons"] = list(config.untrusted_reasons)  # as JSON gives it back
    return d


def _none(p: float) -> float | None:
    return None if math.isnan(p) else p


def _nan(p: float | None) -> float:
    return math.nan if p is None else float(p)


def _load(cls: type[Any], data: dict[str, Any]) -> Any:
    """A state dataclass from its asdict(), with its fields' types checked."""
    names = {f.name for f in fields(cls)}
    if set(data) != names:
        raise ValueError(f"{cls.__name__[1:].lower()}: fields {sorted(data)}")
    obj = cls(**data)
    for f in fields(cls):
        v = getattr(obj, f.name)
        number = isinstance(v, int | float)
        ok = {
            "int": isinstance(v, int),
            "bool": isinstance(v, bool),
            "float": number,
            "float | None": v is None or number,
            "str | None": v is None or v in KINDS,
            "list[list[float]]": isinstance(v, list),
        }[str(f.type)]
        if not ok:
            raise ValueError(f"{f.name}: {v!r}")
    return obj


def arrhythmia_events(
    t_end: Collection[float],
    beats: BeatBatch,
    *,
    usable: Collection[bool],
    reasons: Collection[Sequence[str]],
    heart_rate_bpm: Collection[float | None],
    labels: Collection[str],
    config: ArrhythmiaConfig | None = None,
) -> tuple[list[ArrhythmiaEvent], dict[str, Any]]:
    """The closed arrhythmia episodes and counts of a whole stream: the offline form of
    :class:`ArrhythmiaTracker`.

    Each beat goes to the first window whose ``t_end`` is at least its time plus
    ``beat_delay_s`` (the latest a live stream would deliver it), the beats after the last
    window's horizon to the last window; the tracker is then fed window by window and
    flushed.

    Parameters
    ----------
    t_end, usable, reasons, heart_rate_bpm, labels : collections of equal length
        Per-window end times and verdicts, as for :meth:`ArrhythmiaTracker.update`.
    beats : BeatBatch
        Every beat of the stream, sorted by time.
    config : ArrhythmiaConfig, optional
        The thresholds.

    Returns
    -------
    events : list of ArrhythmiaEvent
        The ``event`` dicts (not the ``event_open`` ones), the stream flushed at its end.
    counts : dict
        :meth:`ArrhythmiaTracker.counts` before the flush, the runs still going counted.
    """
    n = len(t_end)
    for name, seq in (
        ("usable", usable),
        ("reasons", reasons),
        ("heart_rate_bpm", heart_rate_bpm),
        ("labels", labels),
    ):
        if len(seq) != n:
            raise InputError(f"{name}: length {len(seq)} differs from t_end's {n}")
    tracker = ArrhythmiaTracker(config)
    delay = tracker.config.beat_delay_s
    times = list(t_end)
    bt, bl, bp = list(beats[0]), list(beats[1]), list(beats[2])
    bb = list(beats.broken) if len(beats.broken) else [False] * len(bt)
    events: list[ArrhythmiaMessage] = []
    i = 0
    rows: Iterable[tuple[float, bool, Sequence[str], float | None, str]] = zip(
        times, usable, reasons, heart_rate_bpm, labels, strict=True
    )
    for w, (t, ok, why, hr, lab) in enumerate(rows):
        j = i
        last = w == n - 1
        while j < len(bt) and (last or bt[j] + delay <= t) and bt[j] <= t:
            j += 1
        batch = BeatBatch(bt[i:j], bl[i:j], bp[i:j], bb[i:j])
        i = j
        events += tracker.update(t, batch, usable=ok, reasons=why, heart_rate_bpm=hr, label=lab)[1]
    if i < len(bt):
        raise InputError(f"beats: {len(bt) - i} beats after the last window, or no window")
    # The runs still going are closed first, as flush would, so that the counts include them.
    events += tracker._end_sequences("end_of_stream")
    counts = tracker.counts()
    events += tracker.flush()
    return [e for e in events if e["type"] == "event"], counts
