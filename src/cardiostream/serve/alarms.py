"""The server's alarms: one :class:`~cardiostream.stream.alarms.AlarmModel` per live stream,
clock time, acknowledgement, silence and pause, and the alarm log.

The desk lives in the web process, beside :class:`~cardiostream.serve.watch.Watch`, which
feeds it every frame's lines, so every dashboard, a reload and a second screen see one state.
The log (every alarm with its changes, every acknowledgement, silence, pause and limit, with
who and when), the bed settings and the episodes in progress are kept in SQLite
(``alarms.sqlite`` in the store when the server has one, in memory otherwise), so they
survive a restart. A stream that resumes (the engine still has it) keeps its clock and its
alarms. A stream that starts afresh (the engine lost it: a server restart) is a new timeline:
it takes its new ``start_time`` (the server's receipt time without one), and the alarms of
the stream before it end at the last stream time known of it (``"end_reason": "restarted"``
in their detail; a high-priority one not acknowledged stays latched, with its own clock
times). A stream forgotten while disconnected (its resume window passed) ends its alarms
with ``"end_reason": "expired"``, its disconnection at that moment; an unacknowledged
disconnection stays ``latched`` in the log until acknowledged. See ``docs/alarms.md`` for the
contract.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cardiostream.errors import InputError
from cardiostream.stream.alarms import PRIORITY, Alarm, AlarmModel

Key = tuple[str, str]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alarms (
    id INTEGER PRIMARY KEY, owner TEXT NOT NULL, stream_id TEXT NOT NULL, kind TEXT NOT NULL,
    priority TEXT NOT NULL, technical INTEGER NOT NULL, text TEXT NOT NULL,
    state TEXT NOT NULL, acknowledged INTEGER NOT NULL, start_s REAL NOT NULL, end_s REAL,
    started_at REAL NOT NULL, ended_at REAL, ack_by TEXT, ack_at REAL, detail TEXT NOT NULL,
    updated_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS alarms_stream ON alarms (owner, stream_id, id);
CREATE TABLE IF NOT EXISTS actions (
    id INTEGER PRIMARY KEY, owner TEXT NOT NULL, stream_id TEXT, action TEXT NOT NULL,
    value TEXT NOT NULL, by TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS beds (
    owner TEXT NOT NULL, stream_id TEXT NOT NULL, start_time REAL, hr_low REAL, hr_high REAL,
    silenced_until REAL, paused_until REAL, open_events TEXT NOT NULL DEFAULT '{}',
    last_s REAL, PRIMARY KEY (owner, stream_id));
CREATE TABLE IF NOT EXISTS ward (
    owner TEXT PRIMARY KEY, silenced_until REAL, paused_until REAL);
"""

#: Longest silence or pause, in minutes.
MAX_MINUTES = 24 * 60
#: While a bed has an active alarm, its latest stream time is saved at least this often (s of
#: stream time): after a crash, that alarm ends there, at most this late.
LAST_SAVE_S = 10.0
#: SQLite's INTEGER range: an id outside it cannot be in the log (and cannot even be bound).
_SQL_INT_MIN, _SQL_INT_MAX = -(2**63), 2**63 - 1


def clock(epoch: float | None) -> str | None:
    """Epoch seconds as ISO 8601 in the server's time zone (with its offset)."""
    if epoch is None or not math.isfinite(epoch):
        return None
    return datetime.fromtimestamp(epoch).astimezone().isoformat(timespec="milliseconds")


def parse_clock(text: str) -> float:
    """An ISO 8601 time with a time zone as epoch seconds.

    Raises
    ------
    InputError
        Not ISO 8601, or no time zone (a clock time without one is ambiguous).
    """
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        raise InputError(f"start_time: expected ISO 8601 such as 2026-12-06T09:12:03+01:00, "
                         f"got {str(text)[:40]!r}") from None  # fmt: skip
    if when.tzinfo is None:
        raise InputError("start_time: give the time zone (+01:00, Z)")
    return when.timestamp()


@dataclass
class Bed:
    """One stream's alarm state."""

    model: AlarmModel
    start_time: float
    silenced_until: float | None = None
    paused_until: float | None = None
    #: Episodes in progress: their ``event_open`` objects by kind.
    open_events: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: What the log knows of each shown alarm: when acknowledged and by whom.
    acks: dict[int, tuple[str, float]] = field(default_factory=dict)
    #: Alarms already counted as raised.
    counted: set[int] = field(default_factory=set)
    #: The clock origin (epoch s at stream time 0) of alarms raised on an earlier timeline
    #: of the stream (before it started afresh), by id; the others use ``start_time``.
    origins: dict[int, float] = field(default_factory=dict)
    #: The stream time last saved to the log (``beds.last_s``).
    saved_t: float = 0.0


class AlarmDesk:
    """Alarms of every live stream, their log and settings (see the module notes).

    Parameters
    ----------
    path : Path or None
        The SQLite file of the log; None keeps it in memory (lost on restart).
    on_alarm : callable, optional
        Called with ``(owner, kind, priority)`` for each alarm raised (metrics).
    on_ack : callable, optional
        Called (no arguments) for each acknowledgement.
    """

    def __init__(self, path: Path | None = None, on_alarm: Any = None, on_ack: Any = None) -> None:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(":memory:" if path is None else str(path),
                                   check_same_thread=False, isolation_level=None)  # fmt: skip
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(beds)")}
        if "last_s" not in columns:  # a log written before the column was added
            self._db.execute("ALTER TABLE beds ADD COLUMN last_s REAL")
        self._lock = threading.Lock()
        row = self._db.execute("SELECT MAX(id) FROM alarms").fetchone()
        self._next = int(row[0] or 0) + 1
        self.beds: dict[Key, Bed] = {}
        #: Each owner's ward-wide (silenced_until, paused_until), as the log holds them.
        self._wards: dict[str, tuple[float | None, float | None]] = {}
        self.on_alarm = on_alarm
        self.on_ack = on_ack

    def _new_id(self) -> int:
        n, self._next = self._next, self._next + 1
        return n

    # ---------------------------------------------------------------- streams
    def opened(
        self,
        owner: str,
        stream_id: str,
        start_time: float | None = None,
        *,
        resumed: bool = True,
    ) -> list[str]:
        """A stream started or resumed; its alarm lines (the disconnection ending, and with
        ``resumed`` False the previous timeline's alarms ending).

        Parameters
        ----------
        start_time : float or None
            When the stream's first sample was taken (epoch s), if the source said.
        resumed : bool
            Whether the engine resumed the stream (its clock goes on). False: it starts at
            its sample 0, so a bed known from before takes ``start_time`` (or now) as its
            clock, and the alarms of its previous timeline end (see the module notes).
        """
        key = (owner, stream_id)
        bed = self.beds.get(key)
        if bed is None:
            bed = self._load(owner, stream_id, start_time)
            self.beds[key] = bed
        if resumed:
            return self._lines(key, bed.model.connection(True))
        return self._afresh(key, bed, start_time)

    def left(self, owner: str, stream_id: str, ended: bool, expired: bool = False) -> list[str]:
        """A stream disconnected (a technical alarm) or ended (its alarms end).

        ``expired``: it ended by being forgotten while disconnected (its resume window
        passed, or the engine had to drop it), not by ``stop``. Its alarms then end with
        ``"end_reason": "expired"``: the disconnection now, the others at the last stream
        time known. What nobody acknowledged of a disconnection, or of a latched alarm,
        stays ``latched`` in the log until acknowledged: a monitor that went away is not
        forgotten with its bed.
        """
        key = (owner, stream_id)
        bed = self.beds.get(key)
        if bed is None:
            return []
        if not ended:
            self._save_last(key, bed)
            return self._lines(key, bed.model.connection(False))
        out = []
        now = time.time()
        for alarm in list(bed.model.alarms.values()):
            if not expired:
                alarm.state = "ended"
                alarm.end_s = alarm.end_s if alarm.end_s is not None else bed.model.t
            elif alarm.state == "active":
                if alarm.kind == "disconnected":  # it lasted until now, not 0 s
                    alarm.end_s = round(max(now - self._origin(bed, alarm), alarm.start_s), 3)
                else:
                    alarm.end_s = max(bed.model.t, alarm.start_s)
                alarm.detail = {**alarm.detail, "end_reason": "expired"}
                latch = alarm.kind == "disconnected" or alarm.priority == "high"
                alarm.state = "latched" if latch and not alarm.acknowledged else "ended"
            out.append(alarm)
        bed.model.alarms.clear()
        lines = self._lines(key, out)
        bed.open_events.clear()
        self._save_bed(key, bed)
        del self.beds[key]
        return lines

    def frame(
        self, owner: str, stream_id: str, items: list[tuple[str, dict[str, Any]]]
    ) -> list[str]:
        """A frame's parsed ``window``, ``event_open`` and ``event`` objects: the alarm lines
        to send to the dashboards (JSON text)."""
        key = (owner, stream_id)
        bed = self.beds.get(key)
        if bed is None:
            return []
        now = time.time()
        out: list[Alarm] = []
        paused = self._paused(owner, bed, now)
        if paused != bed.model.paused:
            out += bed.model.set_paused(paused)
        opened = False
        for kind, obj in items:
            if kind == "event_open":
                bed.open_events[str(obj.get("kind"))] = obj
                opened = True
            elif kind == "event" and str(obj.get("kind")) in bed.open_events:
                del bed.open_events[str(obj.get("kind"))]
                opened = True
            out += bed.model.update(obj)
        if opened:
            self._save_bed(key, bed)
        elif bed.model.t >= bed.saved_t + LAST_SAVE_S and any(
            a.state == "active" for a in bed.model.alarms.values()
        ):  # only beds in alarm: their alarms are what a crash would leave open
            self._save_last(key, bed)
        return self._lines(key, out)

    # ---------------------------------------------------------------- actions
    def acknowledge(self, owner: str, alarm_id: int, by: str) -> dict[str, Any]:
        """Acknowledge one alarm (see :meth:`AlarmModel.acknowledge`); its log entry.

        Raises
        ------
        KeyError
            No such alarm for this owner.
        """
        if not _SQL_INT_MIN <= alarm_id <= _SQL_INT_MAX:
            raise KeyError(alarm_id)
        row = self._db.execute(
            "SELECT stream_id, kind, state FROM alarms WHERE id = ? AND owner = ?",
            (alarm_id, owner),
        ).fetchone()
        if row is None:
            raise KeyError(alarm_id)
        stream_id, kind, _ = row
        now = time.time()
        bed = self.beds.get((owner, stream_id))
        alarm = bed.model.alarms.get(kind) if bed is not None else None
        if bed is not None and alarm is not None and alarm.id == alarm_id:
            bed.model.acknowledge(kind)
            bed.acks[alarm_id] = (by, now)
            self._lines((owner, stream_id), [alarm])
        else:  # not shown any more (or from before a restart): the log records it
            with self._lock:
                self._db.execute(
                    "UPDATE alarms SET acknowledged = 1, ack_by = COALESCE(ack_by, ?), "
                    "ack_at = COALESCE(ack_at, ?), state = CASE state WHEN 'latched' THEN "
                    "'ended' ELSE state END, updated_at = ? WHERE id = ?",
                    (by, now, now, alarm_id),
                )
        self._act(owner, stream_id, "ack", {"id": alarm_id}, by)
        if self.on_ack is not None:
            self.on_ack()
        return self.get(owner, alarm_id)

    def silence(self, owner: str, stream_id: str | None, minutes: float, by: str) -> dict[str, Any]:
        """Silence (audio only) a bed or, without ``stream_id``, the ward, for ``minutes``
        (0 lifts it); the settings now."""
        return self._until(owner, stream_id, "silenced_until", minutes, by, "silence")

    def pause(self, owner: str, stream_id: str | None, minutes: float, by: str) -> dict[str, Any]:
        """Pause raising alarms for a bed or the ward, for ``minutes`` (0 lifts it)."""
        return self._until(owner, stream_id, "paused_until", minutes, by, "pause")

    def set_limits(self, owner: str, stream_id: str, hr_low: float | None,
                   hr_high: float | None, by: str) -> dict[str, Any]:  # fmt: skip
        """Set a live bed's heart-rate limits; its settings now.

        Raises
        ------
        KeyError
            No such live stream. InputError: limits out of range.
        """
        bed = self.beds.get((owner, stream_id))
        if bed is None:
            raise KeyError(stream_id)
        bed.model.set_limits(hr_low, hr_high)
        self._save_bed((owner, stream_id), bed)
        self._act(owner, stream_id, "limits", {"hr_low": hr_low, "hr_high": hr_high}, by)
        return self.settings(owner, stream_id)

    # ---------------------------------------------------------------- reading
    def settings(self, owner: str, stream_id: str) -> dict[str, Any]:
        bed = self.beds.get((owner, stream_id))
        ward = self._ward(owner)
        now = time.time()

        def later(*ts: float | None) -> str | None:
            live = [t for t in ts if t is not None and t > now]
            return clock(max(live)) if live else None

        if bed is None:
            return {"hr_low": None, "hr_high": None, "silenced_until": later(ward[0]),
                    "paused_until": later(ward[1])}  # fmt: skip
        return {"hr_low": bed.model.hr_low, "hr_high": bed.model.hr_high,
                "silenced_until": later(bed.silenced_until, ward[0]),
                "paused_until": later(bed.paused_until, ward[1])}  # fmt: skip

    def ward(self, owner: str) -> dict[str, Any]:
        """The ward-wide silence and pause (clock times, or null)."""
        now = time.time()
        s, p = self._ward(owner)
        return {"silenced_until": clock(s) if s and s > now else None,
                "paused_until": clock(p) if p and p > now else None}  # fmt: skip

    def describe(self, owner: str, stream_id: str) -> dict[str, Any]:
        """What a dashboard's snapshot gives of a stream's alarms."""
        bed = self.beds.get((owner, stream_id))
        if bed is None:
            settings = self.settings(owner, stream_id)
            return {"alarms": [], "open_events": [], "alarm_settings": settings,
                    "start_time": None, "inop": None}  # fmt: skip
        return {
            "alarms": [self._public((owner, stream_id), a) for a in bed.model.shown()],
            "open_events": list(bed.open_events.values()),
            "alarm_settings": self.settings(owner, stream_id),
            "start_time": clock(bed.start_time),
            "inop": bed.model.inop,
        }

    def get(self, owner: str, alarm_id: int) -> dict[str, Any]:
        rows = self.log(owner, alarm_id=alarm_id)
        if not rows:
            raise KeyError(alarm_id)
        return rows[0]

    def log(self, owner: str, *, stream_id: str | None = None, active: bool | None = None,
            since: float | None = None, limit: int = 200,
            alarm_id: int | None = None) -> list[dict[str, Any]]:  # fmt: skip
        """The alarm log, newest first."""
        where: list[str] = ["owner = ?"]
        args: list[Any] = [owner]
        if stream_id is not None:
            where.append("stream_id = ?")
            args.append(stream_id)
        if active is not None:
            where.append("state != 'ended'" if active else "state = 'ended'")
        if since is not None:
            where.append("updated_at >= ?")
            args.append(since)
        if alarm_id is not None:
            if not _SQL_INT_MIN <= alarm_id <= _SQL_INT_MAX:
                return []
            where.append("id = ?")
            args.append(alarm_id)
        rows = self._db.execute(
            f"SELECT id, stream_id, kind, priority, technical, text, state, acknowledged, "
            f"start_s, end_s, started_at, ended_at, ack_by, ack_at, detail FROM alarms "
            f"WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
            (*args, limit),
        ).fetchall()
        return [
            {"id": r[0], "stream_id": r[1], "kind": r[2], "priority": r[3],
             "technical": bool(r[4]), "text": r[5], "state": r[6], "acknowledged": bool(r[7]),
             "start_s": r[8], "end_s": r[9], "started_at": clock(r[10]), "ended_at": clock(r[11]),
             "ack_by": r[12], "ack_at": clock(r[13]), "detail": json.loads(r[14])}
            for r in rows
        ]  # fmt: skip

    def audible(self, owner: str, stream_id: str) -> bool:
        bed = self.beds.get((owner, stream_id))
        now = time.time()
        s = max((t for t in (bed.silenced_until if bed else None, self._ward(owner)[0]) if t),
                default=None)  # fmt: skip
        return not (s and s > now)

    # -------------------------------------------------------------- internals
    def _paused(self, owner: str, bed: Bed, now: float) -> bool:
        ward = self._ward(owner)[1]
        return any(t is not None and t > now for t in (bed.paused_until, ward))

    def _ward(self, owner: str) -> tuple[float | None, float | None]:
        """The ward's (silenced_until, paused_until): read from the log once per owner and
        kept, since every frame of every stream asks."""
        ward = self._wards.get(owner)
        if ward is None:
            row = self._db.execute(
                "SELECT silenced_until, paused_until FROM ward WHERE owner = ?", (owner,)
            ).fetchone()
            ward = self._wards[owner] = (row[0], row[1]) if row else (None, None)
        return ward

    def _until(self, owner: str, stream_id: str | None, column: str, minutes: float, by: str,
               action: str) -> dict[str, Any]:  # fmt: skip
        if (
            isinstance(minutes, bool)
            or not isinstance(minutes, int | float)
            or not (math.isfinite(minutes) and 0 <= minutes <= MAX_MINUTES)
        ):
            raise InputError(f"minutes: expected 0 to {MAX_MINUTES}, got {minutes!r}")
        until = time.time() + 60.0 * minutes if minutes > 0 else None
        if stream_id is None:
            with self._lock:
                self._db.execute("INSERT OR IGNORE INTO ward (owner) VALUES (?)", (owner,))
                self._db.execute(f"UPDATE ward SET {column} = ? WHERE owner = ?", (until, owner))
            self._wards.pop(owner, None)  # read back at the next ask
        else:
            bed = self.beds.get((owner, stream_id))
            if bed is None:
                raise KeyError(stream_id)
            setattr(bed, column, until)
            self._save_bed((owner, stream_id), bed)
        self._act(owner, stream_id, action, {"minutes": minutes}, by)
        return self.ward(owner) if stream_id is None else self.settings(owner, stream_id)

    def _load(self, owner: str, stream_id: str, start_time: float | None) -> Bed:
        row = self._db.execute(
            "SELECT start_time, hr_low, hr_high, silenced_until, paused_until, open_events, "
            "last_s FROM beds WHERE owner = ? AND stream_id = ?",
            (owner, stream_id),
        ).fetchone()
        model = AlarmModel(new_id=self._new_id)
        if row is None:
            bed = Bed(model, start_time if start_time is not None else time.time())
        else:
            model.set_limits(row[1], row[2])
            bed = Bed(model, row[0] if row[0] is not None else (start_time or time.time()),
                      row[3], row[4], json.loads(row[5]))  # fmt: skip
            shown = self._db.execute(
                "SELECT id, kind, priority, text, state, acknowledged, start_s, end_s, detail, "
                "started_at FROM alarms WHERE owner = ? AND stream_id = ? AND state != 'ended'",
                (owner, stream_id),
            ).fetchall()
            # Each alarm keeps the clock it was raised on (a latched one may be from a
            # timeline before the bed's last start afresh).
            bed.origins = {r[0]: r[9] - r[6] for r in shown}
            model.t = max([row[6] or 0.0, *(r[7] or r[6] for r in shown)])
            bed.saved_t = model.t
            model.restore(
                Alarm(
                    r[0],
                    r[1],
                    r[2],
                    r[2] == "technical",
                    r[3],
                    r[4],
                    bool(r[5]),
                    r[6],
                    r[7],
                    json.loads(r[8]),
                )
                for r in shown
                if r[1] in PRIORITY
            )
        self._save_bed((owner, stream_id), bed)
        return bed

    def _afresh(self, key: Key, bed: Bed, start_time: float | None) -> list[str]:
        """The stream starts afresh: end its previous timeline's alarms at the last stream
        time known (a disconnection when it came back: now), keep its latched ones with
        their clock, and give it a new model and ``start_time`` (see the module notes)."""
        old, now = bed.model, time.time()
        ended: list[Alarm] = []
        kept: list[Alarm] = []
        for alarm in list(old.alarms.values()):
            if alarm.state == "active":
                # A disconnection lasted until now; any other condition is known only up to
                # the last stream time seen.
                end = now - self._origin(bed, alarm) if alarm.kind == "disconnected" else old.t
                alarm.end_s = round(max(end, alarm.start_s), 3)
                alarm.detail = {**alarm.detail, "end_reason": "restarted"}
                latch = alarm.priority == "high" and not alarm.acknowledged
                alarm.state = "latched" if latch else "ended"
                ended.append(alarm)
            if alarm.state == "latched":
                kept.append(alarm)
        lines = self._lines(key, ended)  # on the old clock: start_time is not changed yet
        bed.origins = {a.id: self._origin(bed, a) for a in kept}
        model = AlarmModel(new_id=self._new_id)
        model.set_limits(old.hr_low, old.hr_high)
        model.restore(kept)
        bed.model, bed.saved_t = model, 0.0
        bed.start_time = start_time if start_time is not None else now
        bed.open_events.clear()  # the engine's episodes began again with the stream
        self._save_bed(key, bed)
        return lines

    def _origin(self, bed: Bed, alarm: Alarm) -> float:
        """Epoch seconds at stream time 0 of the timeline ``alarm`` was raised on."""
        return bed.origins.get(alarm.id, bed.start_time)

    def _save_last(self, key: Key, bed: Bed) -> None:
        """Save the bed's latest stream time (where its active alarms end after a crash)."""
        bed.saved_t = bed.model.t
        with self._lock:
            self._db.execute(
                "UPDATE beds SET last_s = ? WHERE owner = ? AND stream_id = ?",
                (bed.model.t, *key),
            )

    def _save_bed(self, key: Key, bed: Bed) -> None:
        bed.saved_t = bed.model.t
        with self._lock:
            self._db.execute(
                "INSERT INTO beds (owner, stream_id, start_time, hr_low, hr_high, silenced_until,"
                " paused_until, open_events, last_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON"
                " CONFLICT (owner, stream_id) DO UPDATE SET start_time = excluded.start_time,"
                " hr_low = excluded.hr_low, hr_high = excluded.hr_high, silenced_until ="
                " excluded.silenced_until, paused_until = excluded.paused_until, open_events ="
                " excluded.open_events, last_s = excluded.last_s",
                (*key, bed.start_time, bed.model.hr_low, bed.model.hr_high, bed.silenced_until,
                 bed.paused_until, json.dumps(bed.open_events), bed.model.t),
            )  # fmt: skip

    def _act(self, owner: str, stream_id: str | None, action: str, value: Any, by: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO actions (owner, stream_id, action, value, by, at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (owner, stream_id, action, json.dumps(value), by, time.time()),
            )

    def _public(self, key: Key, alarm: Alarm) -> dict[str, Any]:
        bed = self.beds[key]
        t0 = self._origin(bed, alarm)
        ack = bed.acks.get(alarm.id)
        d = alarm.as_dict()
        d["stream_id"] = key[1]
        d["started_at"] = clock(t0 + alarm.start_s)
        d["ended_at"] = clock(t0 + alarm.end_s) if alarm.end_s is not None else None
        d["ack_by"], d["ack_at"] = (ack[0], clock(ack[1])) if ack else (None, None)
        return d

    def _lines(self, key: Key, alarms: list[Alarm]) -> list[str]:
        """Log the changed alarms and give their ``alarm`` lines."""
        if not alarms:
            return []
        bed = self.beds[key]
        now = time.time()
        lines = []
        with self._lock:
            for a in alarms:
                ack = bed.acks.get(a.id)
                t0 = self._origin(bed, a)
                end = t0 + a.end_s if a.end_s is not None else None
                self._db.execute(
                    "INSERT INTO alarms (id, owner, stream_id, kind, priority, technical, text,"
                    " state, acknowledged, start_s, end_s, started_at, ended_at, ack_by, ack_at,"
                    " detail, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                    " ?) ON CONFLICT (id) DO UPDATE SET text = excluded.text, state ="
                    " excluded.state, acknowledged = excluded.acknowledged, end_s ="
                    " excluded.end_s, ended_at = excluded.ended_at, ack_by = excluded.ack_by,"
                    " ack_at = excluded.ack_at, detail = excluded.detail, updated_at ="
                    " excluded.updated_at",
                    (a.id, *key, a.kind, a.priority, int(a.technical), a.text, a.state,
                     int(a.acknowledged), a.start_s, a.end_s, t0 + a.start_s, end,
                     ack[0] if ack else None, ack[1] if ack else None, json.dumps(a.detail), now),
                )  # fmt: skip
                if a.id not in bed.counted:
                    bed.counted.add(a.id)
                    if self.on_alarm is not None:
                        self.on_alarm(key[0], a.kind, a.priority)
                lines.append(json.dumps({"type": "alarm", "alarm": self._public(key, a)}))
        return lines


def check_by(by: Any, owner: str) -> str:
    """Who acted: the name given (a short label, characters that do not print shown as
    ``?``) beside the token's owner, or the owner alone."""
    if by is None:
        return owner
    if not isinstance(by, str) or not 0 < len(by) <= 64:
        raise InputError("by: expected a short name (1 to 64 characters)")
    shown = "".join(c if c.isprintable() else "?" for c in by)
    return f"{shown} ({owner})"
