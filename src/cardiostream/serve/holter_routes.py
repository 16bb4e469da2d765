"""The Holter report of a stored record: ``/v1/records/{id}/report.{fmt}``.

(No ``from __future__ import annotations`` here: FastAPI reads the token dependency from the
annotations of the route function defined inside :func:`add_holter_routes`, where it is a
local name, so the annotations must be live objects, as in :mod:`cardiostream.serve.app`.)

One pass of the engine over a day takes about a minute, so each (record, lead) is analysed
once and the result kept (:class:`ReportCache`); the reviewers' annotations change while
the record is reviewed, so they are added to the kept report on every request, and the
HTML or PDF is drawn from that.
"""

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from typing import Annotated, Any, Literal

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import Response

from cardiostream.errors import InputError
from cardiostream.extras import missing_extra_message
from cardiostream.io import user_annotations as ua
from cardiostream.record import lead_selector
from cardiostream.report.holter import HolterResult, holter_report
from cardiostream.report.holter.contract import HolterReport, json_safe
from cardiostream.report.holter.notes import from_user_annotations, with_annotations
from cardiostream.serve.redact import redact
from cardiostream.serve.responses import ErrorBody, errors

#: Reports kept (the latest used); a day's report and strips are well under a megabyte.
CACHE_SIZE = 8

Format = Literal["pdf", "html", "json"]

MEDIA_TYPES = {"pdf": "application/pdf", "html": "text/html; charset=utf-8",
               "json": "application/json"}  # fmt: skip

_OK: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The Holter report: PDF (A4, strips true to scale), a self-contained "
        "HTML page, or its numbers as JSON (schema cardiostream-holter-v1), every format drawn "
        "from the same numbers.",
        "content": {
            "application/pdf": {"schema": {"type": "string", "format": "binary"}},
            "text/html": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
        },
    },
    422: {
        "model": ErrorBody,
        "description": "A lead the record does not have, a format other than pdf, html or "
        "json, or a recording too short for a report.",
    },
    501: {
        "model": ErrorBody,
        "description": "The report extra (WeasyPrint, Jinja2) is not installed, for PDF or HTML.",
    },
}

Key = tuple[str, str]


class ReportCache:
    """The latest reports, each made once even when asked for by several requests at once.

    Parameters
    ----------
    size : int
        How many results are kept; the least recently used goes first.
    """

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._done: OrderedDict[Key, HolterResult] = OrderedDict()
        self._making: dict[Key, threading.Lock] = {}
        self._guard = threading.Lock()

    def _kept(self, key: Key) -> HolterResult | None:
        with self._guard:
            found = self._done.get(key)
            if found is not None:
                self._done.move_to_end(key)
            return found

    def get(self, key: Key, make: Callable[[], HolterResult]) -> HolterResult:
        """The result for ``key``, from ``make()`` the first time.

        A request that finds another making the same key waits for it rather than making
        it again; an error is not kept (the next request tries again).
        """
        found = self._kept(key)
        if found is not None:
            return found
        with self._guard:
            lock = self._making.setdefault(key, threading.Lock())
        with lock:
            found = self._kept(key)
            if found is not None:
                return found
            try:
                result = make()
            finally:
                with self._guard:
                    self._making.pop(key, None)
            with self._guard:
                self._done[key] = result
                while len(self._done) > self.size:
                    self._done.popitem(last=False)
        return result


def _render(report: HolterReport, result: HolterResult, fmt: str) -> bytes:
    """The report in ``fmt``; 501 when the extra that draws it is missing."""
    if fmt == "json":
        doc = json_safe(redact(report))
        return json.dumps(doc, ensure_ascii=False).encode("utf-8")
    from cardiostream.report.holter.render import render_html, render_pdf

    try:
        if fmt == "html":
            return render_html(report, result.strips).encode("utf-8")
        return render_pdf(report, result.strips)
    except ModuleNotFoundError as exc:
        message = missing_extra_message(exc)
        if message is None:
            raise
        raise HTTPException(501, message) from None
    except InputError as exc:
        # The numbers are the engine's own: drawing them fails only for want of the report
        # extra or of the system libraries WeasyPrint draws with, the server's lack.
        raise HTTPException(501, str(exc)) from None


def _safe(name: str) -> str:
    # Ids are letters, digits and . _ + -; anything else would need quoting in the header.
    return re.sub(r"[^A-Za-z0-9._+-]", "_", name)[:80] or "record"


def add_holter_routes(
    app: FastAPI,
    owner: Any,
    get_store: Callable[[], Any],
    known: Callable[[str], str],
    cache: ReportCache | None = None,
) -> None:
    """Add ``GET /v1/records/{record_id}/report.{fmt}`` to ``app``.

    Parameters
    ----------
    app : FastAPI
        The application.
    owner : type
        The dependency type that gives the token owner's name.
    get_store : callable
        Returns the :class:`~cardiostream.io.ParquetStore` (404 without one).
    known : callable
        Returns a record id that is in the store, or raises 404.
    cache : ReportCache, optional
        Where the reports are kept (a new one of :data:`CACHE_SIZE` by default).
    """
    reports = cache if cache is not None else ReportCache()

    def make(record_id: str, lead: str) -> HolterResult:
        record = get_store().read(record_id)
        # The report names its source: the record id, not the file the server keeps.
        record = replace(record, meta={**record.meta, "source": record_id})
        return holter_report(record, lead=lead_selector(lead))

    @app.get("/v1/records/{record_id}/report.{fmt}", response_class=Response,
             responses={**_OK, **errors(401, 404)})  # fmt: skip
    def record_report(
        record_id: str,
        fmt: Format,
        _: owner,
        lead: Annotated[
            str, Query(min_length=1, max_length=200, description="Lead index or name.")
        ] = "0",
        download: Annotated[bool, Query(description="As an attachment, not inline.")] = False,
    ) -> Response:
        """The Holter report of a stored record: PDF, HTML or JSON.

        The record's lead goes once through the streaming engine (about a minute for 24 h;
        the result is kept, so later requests for the record and lead are quick): heart
        rate, hourly table, ventricular and supraventricular ectopy, pauses, rate episodes,
        AF burden and episodes, HRV and the strips chosen for the findings. The reviewers'
        annotations (``/user-annotations``) as they are at the request are listed in the
        report and on the AF episodes they overlap. A recording shorter than 60 s is refused
        with 422.
        """
        record_id = known(record_id)
        result = reports.get((record_id, lead), lambda: make(record_id, lead))
        notes = from_user_annotations(ua.load(get_store(), record_id))
        data = _render(with_annotations(result.report, notes), result, fmt)
        kind = "attachment" if download else "inline"
        headers = {"Content-Disposition": f'{kind}; filename="{_safe(record_id)}_holter.{fmt}"'}
        return Response(data, media_type=MEDIA_TYPES[fmt], headers=headers)
