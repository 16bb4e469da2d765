"""Scale-out of live streams: ``worker`` (Redis Streams)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cardiostream.cli._common import AfMinOption, _af_min, _guard, app, err_console
from cardiostream.errors import InputError


@app.command()
def worker(
    redis: Annotated[str, typer.Option("--redis", help="The Redis URL, redis://HOST:PORT.")],
    shards: Annotated[str, typer.Option(help="The shards to own, e.g. 0,1,2.")],
    name: Annotated[
        str | None, typer.Option(help="Consumer name in the group (host-pid by default).")
    ] = None,
    model: Annotated[
        Path | None, typer.Option(help="The model folder (shipped by default).")
    ] = None,
    checkpoint_s: Annotated[
        float, typer.Option("--checkpoint-s", help="Seconds of signal between checkpoints.")
    ] = 5.0,
    lease_s: Annotated[
        float, typer.Option("--lease-s", help="Seconds before a silent worker's shards move.")
    ] = 5.0,
    af_min_s: AfMinOption = 30.0,
) -> None:
    """Run the live streams of some shards from Redis until stopped (Ctrl-C or SIGTERM)."""

    def body() -> None:
        import signal

        import redis as redis_py

        from cardiostream.serve.redis_bus import parse_shards
        from cardiostream.serve.worker import Worker
        from cardiostream.stream.warm import warm_up

        try:
            owned = parse_shards(shards)
        except ValueError as exc:
            raise InputError(f"--{exc}") from None
        af_min = _af_min(af_min_s)
        for option, value in (("--checkpoint-s", checkpoint_s), ("--lease-s", lease_s)):
            if not 0 < value <= 3600:
                raise InputError(
                    f"{option}: expected more than 0 and at most 3600 s, got {value:g}"
                )
        try:
            client = redis_py.Redis.from_url(redis)
            client.ping()
        except (ValueError, redis_py.RedisError) as exc:
            raise InputError(f"--redis: {redis}: {exc}") from None
        warm_up(model)
        stopping: list[int] = []
        signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
        work = Worker(client, owned, name=name, model=model, checkpoint_s=checkpoint_s,
                      lease_s=lease_s, af_min_s=af_min)  # fmt: skip
        err_console.print(f"worker {work.name}: shards {','.join(map(str, owned))}")
        work.run(lambda: bool(stopping))  # Ctrl-C stops it too, after a clean release

    _guard(body)
