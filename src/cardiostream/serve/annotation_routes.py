"""``/v1/records/{id}/user-annotations``: reviewers' annotations, kept beside each record.

(No ``from __future__ import annotations`` here: FastAPI reads the token dependency from the
annotations of the route functions defined inside :func:`add_annotation_routes`, where it is
a local name, so the annotations must be live objects, as in :mod:`cardiostream.serve.app`.)

The store is shared: every token sees and may change every annotation, and ``author`` says
which token owner wrote an annotation last. See :mod:`cardiostream.io.user_annotations` for
how they are kept.
"""

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor

from cardiostream.io import user_annotations as ua
from cardiostream.serve.redact import redact_text
from cardiostream.serve.responses import errors

#: What every route here may answer besides success: no token, no such record or annotation,
#: bad input, and a file beside the record that cannot be read or written.
_CODES = (401, 404, 422, 500)


class _AnnotationIdConvertor(Convertor[str]):
    """Path segments that are annotation ids: 32 lower-case hex digits. Anything else (such
    as ``export``) matches no annotation route, so ``PUT .../export`` is a 405, not a 422."""

    regex = "[0-9a-f]{32}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("annotation_id", _AnnotationIdConvertor())

_ID = Path(pattern=r"^[0-9a-f]{32}$", description="The annotation's id (32 hex digits).")


class ReviewedEventBody(BaseModel):
    """The detected event a verdict is about, as the client got it from ``/events``."""

    # Strict: true is no time and "1" no number (JSON numbers only; integers count).
    model_config = ConfigDict(extra="forbid", strict=True)

    start_s: float = Field(ge=0, allow_inf_nan=False, description="Event start, s.")
    end_s: float = Field(ge=0, allow_inf_nan=False, description="Event end, s.")
    confidence: float | None = Field(
        None, ge=0, le=1, allow_inf_nan=False, description="The event's confidence."
    )


class UserAnnotationBody(BaseModel):
    """What a client sets on a user annotation; the server adds id, author and times."""

    # Strict: true is no time and "1" no number (JSON numbers only; integers count).
    model_config = ConfigDict(extra="forbid", strict=True)

    kind: Literal["af", "other", "noise", "normal"] = Field(description="The rhythm.")
    status: Literal["confirmed", "rejected", "marked"] = Field(
        "marked",
        description="confirmed or rejected: a verdict on a detected event; marked: an episode "
        "marked by hand.",
    )
    start_s: float = Field(
        ge=0, allow_inf_nan=False, description="Start, s from the record's start."
    )
    end_s: float = Field(
        gt=0, allow_inf_nan=False, description="End, s; after start_s, within the record."
    )
    note: str = Field("", max_length=ua.MAX_NOTE, description="Free text.")
    event: ReviewedEventBody | None = Field(None, description="The event reviewed, if any.")


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON schema with its ``$defs`` written in place: ``#/$defs/...`` means
    nothing inside an OpenAPI document."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return walk(defs[ref[len("#/$defs/") :]])
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value) for value in node]
        return node

    inlined: dict[str, Any] = walk(schema)
    return inlined


_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _inline(UserAnnotationBody.model_json_schema())}
        },
    }
}


async def _parse(request: Request) -> dict[str, Any]:
    """The checked body of a POST or PUT.

    Parsed here rather than by FastAPI, whose 422 answer repeats the input and fails on
    a NaN in it (a 500), and which would read the body before checking the token.
    """
    try:
        body = UserAnnotationBody.model_validate_json(await request.body())
    except ValidationError as exc:
        where = [f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()[:5]]
        raise HTTPException(422, "; ".join(where)) from None
    return body.model_dump()


def _attachment(data: bytes, media_type: str, filename: str) -> Response:
    # Record ids are letters, digits and . _ + -: nothing in them needs quoting.
    disposition = f'attachment; filename="{filename}"'
    return Response(data, media_type=media_type, headers={"Content-Disposition": disposition})


async def _store_error(_: Request, exc: Exception) -> JSONResponse:
    # The file beside the record is broken or could not be written: the server's fault,
    # not the request's. Logged where the error is raised.
    return JSONResponse({"detail": redact_text(str(exc))}, status_code=500)


def add_annotation_routes(
    app: FastAPI, owner: Any, get_store: Callable[[], Any], known: Callable[[str], str]
) -> None:
    """Add the user-annotation routes to ``app``.

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
    """
    app.add_exception_handler(ua.AnnotationStoreError, _store_error)
    base = "/v1/records/{record_id}/user-annotations"
    one = base + "/{annotation_id:annotation_id}"

    @app.get(base, responses=errors(*_CODES))
    def list_user_annotations(record_id: str, _: owner) -> dict[str, Any]:
        """Every reviewer's annotations of the record, sorted by start.

        The store is shared: every token sees every annotation; ``author`` tells who wrote it
        last. Each has ``id``, ``kind`` (af, other, noise, normal), ``status`` (confirmed,
        rejected, marked), ``start_s``, ``end_s``, ``note``, ``event``, ``author``,
        ``created`` and ``updated`` (ISO 8601, UTC).
        """
        found = ua.load(get_store(), known(record_id))
        return {"record": record_id, "annotations": [a.to_dict() for a in found]}

    def add(record_id: str, fields: dict[str, Any], author: str) -> dict[str, Any]:
        return ua.add(get_store(), known(record_id), fields, author).to_dict()

    def update(
        record_id: str, annotation_id: str, fields: dict[str, Any], author: str
    ) -> dict[str, Any]:
        try:
            new = ua.update(get_store(), known(record_id), annotation_id, fields, author)
        except ua.NoSuchAnnotation:
            raise HTTPException(404, "no such annotation") from None
        return new.to_dict()

    @app.post(base, status_code=201, openapi_extra=_BODY, responses=errors(*_CODES))
    async def add_user_annotation(
        record_id: str, request: Request, author: owner
    ) -> dict[str, Any]:
        """Add an annotation: a verdict (confirmed, rejected) on a detected event, or an
        episode marked by hand. The token's owner becomes its ``author``.

        Every token sees it (the store is shared). ``end_s`` past the record's end, or not
        after ``start_s``, is refused with 422.
        """
        fields = await _parse(request)  # file work goes to a thread: the loop serves streams
        return await run_in_threadpool(add, record_id, fields, author)

    @app.put(one, openapi_extra=_BODY, responses=errors(*_CODES))
    async def update_user_annotation(
        record_id: str, annotation_id: Annotated[str, _ID], request: Request, author: owner
    ) -> dict[str, Any]:
        """Replace an annotation's fields; it keeps its id and ``created``.

        Any token may change any annotation (the store is shared); ``author`` becomes the
        token's owner and ``updated`` the time. 404 for an unknown id.
        """
        fields = await _parse(request)
        return await run_in_threadpool(update, record_id, annotation_id, fields, author)

    @app.delete(
        one,
        status_code=204,
        response_class=Response,
        responses={204: {"description": "Deleted."}, **errors(*_CODES)},
    )
    def delete_user_annotation(
        record_id: str, annotation_id: Annotated[str, _ID], _: owner
    ) -> Response:
        """Delete an annotation (any token may: the store is shared). 404 for an unknown id."""
        try:
            ua.remove(get_store(), known(record_id), annotation_id)
        except ua.NoSuchAnnotation:
            raise HTTPException(404, "no such annotation") from None
        return Response(status_code=204)

    @app.get(
        base + "/export",
        response_class=Response,
        responses={
            200: {
                "description": "The file, as an attachment.",
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                },
            },
            **errors(*_CODES),
        },
    )
    def export_user_annotations(
        record_id: str,
        _: owner,
        format: Annotated[
            Literal["csv", "wfdb"], Query(description="csv, or wfdb (a .usr annotation file).")
        ] = "csv",
    ) -> Response:
        """Every token's annotations of the record as a file: ``<id>.csv`` or ``<id>.usr``.

        CSV: one row per annotation, rejected verdicts included, columns ``id, kind, status,
        start_s, end_s, note, author, created, updated, event_start_s, event_end_s,
        event_confidence``. WFDB: rhythm changes (``+`` with aux notes ``(AFIB``, ``(N``,
        ``(NOISE``, ``(OTHER``) for the confirmed and marked annotations, where a span nested
        in another gives the enclosing rhythm back at its end and ``(N`` comes only where no
        span goes on; and a comment (``"``) per annotation, rejected ones included, with its
        status, kind, times, author and note (``status=confirmed kind=af start_s=0.0
        end_s=60.0 author=dr-x note=...``, percent-encoded where not plain ASCII).
        """
        store = get_store()
        found = ua.load(store, known(record_id))
        if format == "csv":
            return _attachment(ua.to_csv(found).encode("utf-8"), "text/csv", f"{record_id}.csv")
        meta = store.meta(record_id)
        data = ua.to_wfdb(found, record_id, float(meta["fs"]), int(meta["n_samples"]))
        return _attachment(data, "application/octet-stream", f"{record_id}.usr")
