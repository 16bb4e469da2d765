"""What the OpenAPI document promises about errors, and the handler that keeps the promise.

Every error the server answers is ``{"detail": "<one line>"}``: FastAPI's own answer to a
bad query or path parameter (a list of objects, which repeats the input) is replaced by one
line naming the parameter, like the errors of the routes themselves. Each route declares the
statuses it can answer (:func:`errors`), so that a client, or a tool checking responses
against the document, knows them all.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

from cardiostream.serve.redact import redact_text


class ErrorBody(BaseModel):
    """Every error response."""

    detail: str = Field(description="What was wrong, in one line; it names the field at fault.")


_MEANINGS: dict[int, str] = {
    400: "The body could not be parsed (not JSON, or not UTF-8).",
    401: "No valid bearer token (``Authorization: Bearer <token>``).",
    403: "The token is valid but may not read this (``/metrics``: see its description).",
    404: "No such record, annotation or stream, or this server has no record store.",
    413: "The body is over the server's size limit.",
    422: "Bad input: the detail names the field or parameter at fault.",
    500: "A file beside the record cannot be read or written (the detail says which).",
    503: "The engine process is down; try again once ``/healthz`` says ok.",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route for the error statuses ``codes``."""
    return {code: {"model": ErrorBody, "description": _MEANINGS[code]} for code in codes}


def validation_detail(exc: RequestValidationError) -> str:
    """One line naming the first parameter or body field at fault, as the routes' own 422s do
    (``start: input should be greater than or equal to 0``); the input is not repeated."""
    problems = exc.errors()
    if not problems:
        return "request: not valid"
    first = problems[0]
    if first.get("type") == "json_invalid":
        return "body: not valid JSON"
    loc = [str(part) for part in first.get("loc", ()) if part not in ("query", "path", "body")]
    where = ".".join(loc) or "body"
    msg = str(first.get("msg", "not valid"))
    if msg[1:2].islower():  # "Input should be ..." but not "JSON ..."
        msg = msg[0].lower() + msg[1:]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{where}: {msg}{more}"


async def http_error(request: Request, exc: Exception) -> Response:
    """FastAPI's answer to an HTTP error, except that a 405 lists in ``Allow`` every method
    of the path (Starlette names those of the first route matching it only)."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code != 405:
        return await http_exception_handler(request, exc)
    allowed: set[str] = set()
    for route in request.app.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match != Match.NONE and isinstance(route, Route | APIRoute) and route.methods:
            allowed |= route.methods
    allowed.discard("HEAD")
    headers = {"Allow": ", ".join(sorted(allowed))}
    return JSONResponse({"detail": "method not allowed"}, status_code=405, headers=headers)


async def validation_error(_: Request, exc: Exception) -> JSONResponse:
    """The 422 answer to a request FastAPI finds invalid before the route runs."""
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": redact_text(validation_detail(exc))}, status_code=422)
