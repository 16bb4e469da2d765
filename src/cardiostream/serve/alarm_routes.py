"""``/v1/alarms``: the alarm log, acknowledgement, silence and pause; a bed's HR limits.

(No ``from __future__ import annotations`` here: FastAPI reads the token dependency from the
annotations of the route functions defined inside :func:`add_alarm_routes`, where it is a
local name.)

See ``docs/alarms.md`` for the rules and :mod:`cardiostream.serve.alarms` for the log.
"""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from cardiostream.errors import InputError
from cardiostream.serve.alarms import MAX_MINUTES, check_by
from cardiostream.serve.responses import errors
from cardiostream.serve.watch import Watch


class AckBody(BaseModel):
    """Who acknowledges (optional: the token's owner is recorded either way)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    by: str | None = Field(
        None, max_length=64, description="A name to record beside the token's owner."
    )


class UntilBody(BaseModel):
    """A silence or pause: one bed (``stream_id``) or the whole ward, for ``minutes``."""

    model_config = ConfigDict(extra="forbid", strict=True)
    stream_id: str | None = Field(None, description="The bed; omitted: every bed of the token.")
    minutes: float = Field(ge=0, le=MAX_MINUTES, description="How long; 0 lifts it.")
    by: str | None = Field(None, min_length=1, max_length=64)


class LimitsBody(BaseModel):
    """A bed's heart-rate limits in bpm (null: none)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    hr_low: float | None = Field(None, gt=0, lt=400)
    hr_high: float | None = Field(None, gt=0, lt=400)
    by: str | None = Field(None, min_length=1, max_length=64)


def add_alarm_routes(app: FastAPI, owner: Any, get_watch: Callable[[], Watch]) -> None:
    """Add the alarm routes to ``app``; ``owner`` is the token dependency, ``get_watch`` gives
    the live streams' :class:`~cardiostream.serve.watch.Watch` (and its alarm desk)."""

    @app.get("/v1/alarms", responses=errors(401, 422))
    def alarms(
        who: owner,
        stream_id: Annotated[str | None, Query(max_length=100)] = None,
        active: Annotated[
            bool | None, Query(description="Only shown (true) or ended (false).")
        ] = None,
        since: Annotated[float | None, Query(description="Changed since (epoch s).")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> dict[str, Any]:
        """The alarm log, newest first, with the ward's silence and pause: every alarm of the
        token's streams with its priority, words, state, clock times and acknowledgement."""
        desk = get_watch().desk
        return {
            "alarms": desk.log(who, stream_id=stream_id, active=active, since=since, limit=limit),
            "ward": desk.ward(who),
        }

    @app.post("/v1/alarms/{alarm_id}/ack", responses=errors(400, 401, 404, 422))
    def acknowledge(alarm_id: int, who: owner, body: AckBody | None = None) -> dict[str, Any]:
        """Acknowledge an alarm: it stops sounding; a latched one ends. Recorded with who and
        when."""
        watch = get_watch()
        try:
            by = check_by(body.by if body else None, who)
            alarm = watch.desk.acknowledge(who, alarm_id, by)
        except KeyError:
            raise HTTPException(404, f"no alarm {alarm_id} for this token") from None
        except InputError as exc:
            raise HTTPException(422, str(exc)) from None
        watch.alarm_changed(who, alarm["stream_id"], alarm)
        return alarm

    def until(action: str, body: UntilBody, who: str) -> dict[str, Any]:
        watch = get_watch()
        desk = watch.desk
        try:
            by = check_by(body.by, who)
            settings = getattr(desk, action)(who, body.stream_id, body.minutes, by)
        except KeyError:
            raise HTTPException(404, f"no live stream {body.stream_id!r} for this token") from None
        except InputError as exc:
            raise HTTPException(422, str(exc)) from None
        if body.stream_id is None:
            watch.broadcast(who, {"type": "ward", **desk.ward(who)})
        else:
            watch.alarm_changed(who, body.stream_id)
        return {"stream_id": body.stream_id, **settings}

    @app.post("/v1/alarms/silence", responses=errors(400, 401, 404, 422))
    def silence(body: UntilBody, who: owner) -> dict[str, Any]:
        """Silence the alarms' sound of one bed or the ward for ``minutes`` (0 lifts it): they
        stay shown."""
        return until("silence", body, who)

    @app.post("/v1/alarms/pause", responses=errors(400, 401, 404, 422))
    def pause(body: UntilBody, who: owner) -> dict[str, Any]:
        """Pause the alarms of one bed or the ward for ``minutes`` (0 lifts it): no alarm is
        raised meanwhile; a condition still there when the pause ends raises its alarm."""
        return until("pause", body, who)

    @app.put("/v1/streams/{stream_id}/limits", responses=errors(400, 401, 404, 422))
    def limits(stream_id: str, body: LimitsBody, who: owner) -> dict[str, Any]:
        """Set a live bed's heart-rate limits (``hr_low``, ``hr_high`` in bpm; null: none)."""
        watch = get_watch()
        try:
            by = check_by(body.by, who)
            settings = watch.desk.set_limits(who, stream_id, body.hr_low, body.hr_high, by)
        except KeyError:
            raise HTTPException(404, f"no live stream {stream_id!r} for this token") from None
        except InputError as exc:
            raise HTTPException(422, str(exc)) from None
        watch.alarm_changed(who, stream_id)
        return {"stream_id": stream_id, **settings}
