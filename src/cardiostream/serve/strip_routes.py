"""Printed strips: ``/v1/records/{id}/strip.{fmt}`` and ``/v1/streams/{id}/strip.{fmt}``.

(No ``from __future__ import annotations`` here: FastAPI reads the token dependency from the
annotations of the route functions defined inside :func:`add_strip_routes`, where it is a
local name, so the annotations must be live objects, as in :mod:`cardiostream.serve.app`.)

A strip is one lead on ECG paper at 25 mm/s and 10 mm/mV, true to scale when printed at
100 % (see :mod:`cardiostream.report.strip`), as a PNG, PDF or SVG: a span of a stored
record, or the last seconds of a live bed from the server's full-disclosure ring (its last
``disclosure_s``, kept whether or not a dashboard is open). The header names the bed or
record, the clock time of the strip's start and end with the time zone (stream or record
seconds when there is no clock), the heart rate and the rhythm.
"""

import math
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import Response
from fastapi.routing import APIRoute

from cardiostream.errors import InputError
from cardiostream.extras import missing_extra_message
from cardiostream.record import lead_selector
from cardiostream.serve.responses import ErrorBody, errors

#: Longest strip, in seconds (five PDF pages of 60 s).
MAX_STRIP_S = 300.0
#: A strip's length when none is asked for.
DEFAULT_STRIP_S = 10.0

Format = Literal["png", "pdf", "svg"]
_END_HELP = f"End, s (default start + {DEFAULT_STRIP_S:g}; at most {MAX_STRIP_S:g} s after start)."

#: How the rhythm labels of the engine's windows are printed.
_RHYTHM_NAMES = {
    "af": "AF",
    "normal": "normal",
    "other": "other (not AF)",
    "noise": "noise",
    "uncertain": "uncertain",
}

_OK: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The strip: one lead at 25 mm/s and 10 mm/mV, true to scale at 100 %.",
        "content": {
            "image/png": {"schema": {"type": "string", "format": "binary"}},
            "application/pdf": {"schema": {"type": "string", "format": "binary"}},
            "image/svg+xml": {"schema": {"type": "string"}},
        },
    },
    501: {"model": ErrorBody, "description": "matplotlib (the plot extra) is not installed."},
}


def _endpoint(app: FastAPI, path: str) -> Callable[..., dict[str, Any]]:
    """The function behind ``GET path`` (registered earlier), to reuse its work and cache."""
    for route in app.routes:
        if isinstance(route, APIRoute) and route.path == path and "GET" in (route.methods or ()):
            found: Callable[..., dict[str, Any]] = route.endpoint
            return found
    raise LookupError(f"GET {path}: not a route of this application")


def _render(data: Any, fs: float, t0_s: float, **kwargs: Any) -> bytes:
    from cardiostream.report.strip import render_strip

    try:
        return render_strip(data, fs, t0_s, **kwargs)
    except ModuleNotFoundError as exc:
        message = missing_extra_message(exc)
        if message is None:
            raise
        raise HTTPException(501, message) from None


def _stamp(when: datetime | None) -> str:
    return when.strftime("%Y%m%d-%H%M%S") if when is not None else ""


def _safe(name: str) -> str:
    # Ids are letters, digits and . _ + -; anything else would need quoting in the header.
    return re.sub(r"[^A-Za-z0-9._+-]", "_", name)[:80] or "strip"


def _strip_response(data: bytes, fmt: str, filename: str, download: bool) -> Response:
    from cardiostream.report.strip import MEDIA_TYPES

    kind = "attachment" if download else "inline"
    headers = {"Content-Disposition": f'{kind}; filename="{filename}.{fmt}"'}
    return Response(data, media_type=MEDIA_TYPES[fmt], headers=headers)


def clock_of(value: Any) -> datetime | None:
    """A stream's start as an aware datetime: a datetime, an ISO 8601 string, or epoch
    seconds (shown in the server's time zone); None when it is none of these.

    Parameters
    ----------
    value : datetime, str, float or None
        What the stream knows of its start.

    Returns
    -------
    datetime or None
        A naive datetime or ISO string without an offset stays naive (printed as having no
        time zone).
    """
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        try:
            return datetime.fromtimestamp(value, tz=UTC).astimezone()
        except (OverflowError, OSError, ValueError):
            return None
    return None


def rhythm_in_span(events: Sequence[dict[str, Any]], start: float, end: float) -> str:
    """The rhythm label of a span from the AF episodes found in a record.

    Parameters
    ----------
    events : sequence of dict
        Closed episodes (``kind``, ``start_s``, ``end_s``), as ``/v1/records/{id}/events``
        gives them.
    start, end : float
        The span, in seconds from the record's start.

    Returns
    -------
    str
        ``AF`` when episodes cover the span, ``AF in part (x s of y s)`` when they cover some
        of it, else ``no AF episode``.
    """
    covered = 0.0
    for event in events:
        if event.get("kind") != "af":
            continue
        lo = max(start, float(event.get("start_s", math.inf)))
        hi = min(end, float(event.get("end_s", -math.inf)))
        covered += max(0.0, hi - lo)
    span = end - start
    if covered <= 0.0:
        return "no AF episode"
    if covered >= span - 0.5:
        return "AF"
    return f"AF in part ({covered:.0f} s of {span:.0f} s)"


def add_strip_routes(
    app: FastAPI,
    owner: Any,
    get_store: Callable[[], Any],
    known: Callable[[str], str],
    watch_getter: Callable[[], Any],
) -> None:
    """Add the strip routes to ``app``.

    Parameters
    ----------
    app : FastAPI
        The application; the record strips use its ``/v1/records/{record_id}/beats`` and
        ``/events`` routes (their results and caches), looked up when a strip is asked for.
    owner : type
        The dependency type that gives the token owner's name.
    get_store : callable
        Returns the :class:`~cardiostream.io.ParquetStore` (404 without one).
    known : callable
        Returns a record id that is in the store, or raises 404.
    watch_getter : callable
        Returns the server's :class:`~cardiostream.serve.watch.Watch`.
    """

    @app.get("/v1/records/{record_id}/strip.{fmt}", response_class=Response,
             responses={**_OK, **errors(401, 404, 422)})  # fmt: skip
    def record_strip(
        record_id: str,
        fmt: Format,
        user: owner,
        start: Annotated[float, Query(ge=0, description="Start, s from the record's start.")] = 0.0,
        end: Annotated[
            float | None,
            Query(gt=0, description=_END_HELP),
        ] = None,
        lead: Annotated[
            str, Query(min_length=1, max_length=200, description="Lead index or name.")
        ] = "0",
        download: Annotated[bool, Query(description="As an attachment, not inline.")] = False,
    ) -> Response:
        """A span of a stored record as a strip (PNG, PDF or SVG) at 25 mm/s and 10 mm/mV.

        The header gives the record and lead, the span in record seconds (or clock time when
        the record's metadata has a ``start_time``), the heart rate (median R-R interval of
        the span's beats), the rhythm (the AF episodes of ``/events`` over the span) and the
        scale; the beat classifier's V, S, F and Q beats (``/beats``) are lettered above
        their R peaks. Rows of 10 s, 60 s a PDF page. The span stops at the record's end.
        """
        record_id = known(record_id)
        stop = start + DEFAULT_STRIP_S if end is None else end
        if not (math.isfinite(start) and math.isfinite(stop)):
            raise InputError("start, end: must be finite")
        if stop <= start:
            raise InputError(f"end: must be after start ({start:g} s), got {stop:g}")
        if stop - start > MAX_STRIP_S:
            raise InputError(f"end: a strip is at most {MAX_STRIP_S:g} s, asked "
                             f"{stop - start:g} s")  # fmt: skip
        store = get_store()
        x, fs = store.read_slice(record_id, lead_selector(lead), start, stop - start)
        stop = start + x.size / fs
        beats_of = _endpoint(app, "/v1/records/{record_id}/beats")
        events_of = _endpoint(app, "/v1/records/{record_id}/events")
        found = beats_of(record_id, user, lead)
        beats = [
            (t, str(c))
            for t, c in zip(found["t_s"], found["label"], strict=True)
            if start <= t < stop
        ]
        rhythm = rhythm_in_span(events_of(record_id, user, lead)["events"], start, stop)
        meta = store.meta(record_id)
        begun = clock_of(meta.get("start_time") or (meta.get("meta") or {}).get("start_time"))
        clock = begun + timedelta(seconds=start) if begun is not None else None
        leads = list(meta.get("leads") or [])
        index = lead_selector(lead)
        name = leads[index] if isinstance(index, int) and 0 <= index < len(leads) else lead
        data = _render(
            x,
            fs,
            start,
            title=str(meta.get("name") or record_id),
            subtitle=f"lead {name}",
            timebase="record time",
            clock_start=clock,
            heart_rate_bpm=None,
            rhythm=rhythm,
            beats=beats,
            peaks=[t for t, _ in beats],
            fmt=fmt,
        )
        when = _stamp(clock) or f"{start:.0f}-{stop:.0f}s"
        return _strip_response(data, fmt, f"{_safe(record_id)}_{when}", download)

    @app.get("/v1/streams/{stream_id}/strip.{fmt}", response_class=Response,
             responses={**_OK, **errors(401, 404, 422)})  # fmt: skip
    def stream_strip(
        stream_id: str,
        fmt: Format,
        user: owner,
        seconds: Annotated[
            float,
            Query(gt=0, le=MAX_STRIP_S, description="The last seconds of the trace (default 10)."),
        ] = DEFAULT_STRIP_S,
        download: Annotated[bool, Query(description="As an attachment, not inline.")] = False,
    ) -> Response:
        """The last ``seconds`` of a live bed as a strip (PNG, PDF or SVG), 25 mm/s, 10 mm/mV.

        Drawn from what the server keeps of the stream's drawn trace (its last 2 minutes by
        default, ``disclosure_s``; 404 before any, or with none kept), so it is what the
        dashboard shows: the analysed lead, cleaned, at 125 Hz. The header gives the bed,
        the clock time of the strip's start and end with the time zone (from the stream's
        start time, or when the server saw the stream start), the heart rate and rhythm of
        the stream's last window, and the scale; V, S, F and Q beats are lettered above
        their R peaks.
        """
        if not math.isfinite(seconds):
            raise InputError("seconds: must be finite")
        watch = watch_getter()
        try:
            trace = watch.trace(user, stream_id, seconds)
        except KeyError:
            raise HTTPException(404, f"no live stream {stream_id!r} for this token") from None
        if getattr(watch.streams.get((user, stream_id)), "source", "ecg") == "beats":
            raise HTTPException(
                404,
                f"{stream_id!r} is a beat-time stream: it has no ECG to print (its RR "
                "tachogram is in the dashboard)",
            )
        if trace.samples.size == 0 or trace.fs <= 0:
            why = ("the server keeps no trace (its disclosure is 0 s)"
                   if watch.disclosure_s <= 0
                   else "it has sent no samples yet")  # fmt: skip
            raise HTTPException(404, f"no trace kept for {stream_id!r}: {why}")
        info = watch.streams.get((user, stream_id))
        window = _last_window(getattr(info, "window", None))
        started = _stream_start(watch, info, (user, stream_id))
        clock = started + timedelta(seconds=trace.t0) if started is not None else None
        lead = ""
        if info is not None and 0 <= info.lead < len(info.leads):
            lead = f"lead {info.leads[info.lead]}"
        hr = window.get("heart_rate_bpm") if window else None
        label = window.get("label") if window else None
        data = _render(
            trace.samples,
            trace.fs,
            trace.t0,
            title=stream_id,
            subtitle=lead,
            clock_start=clock,
            heart_rate_bpm=float(hr) if isinstance(hr, (int, float)) else None,
            rhythm=_RHYTHM_NAMES.get(str(label), str(label)) if label else None,
            beats=trace.beats,
            # No rate from the peaks when the last window gave none (lead off, noise).
            peaks=trace.peaks if window is None else (),
            fmt=fmt,
        )
        when = _stamp(clock) or f"{trace.t0:.0f}s"
        return _strip_response(data, fmt, f"{_safe(stream_id)}_{when}", download)


def _stream_start(watch: Any, info: Any, key: tuple[str, str]) -> datetime | None:
    """When a live stream's first sample was taken: its own ``start_time`` when it has one,
    else the one its alarm bed keeps (the source's, or when the server saw it start), else
    ``since`` (when the server saw it start); None when none of these is a time."""
    beds = getattr(getattr(watch, "desk", None), "beds", None)
    bed = beds.get(key) if isinstance(beds, dict) else None
    for value in (
        getattr(info, "start_time", None),
        getattr(bed, "start_time", None),
        getattr(info, "since", None),
    ):
        found = clock_of(value)
        if found is not None:
            return found
    return None


def _last_window(text: str | None) -> dict[str, Any] | None:
    import json

    if not text:
        return None
    try:
        window = json.loads(text)
    except ValueError:
        return None
    return window if isinstance(window, dict) else None
