"""Live sources and the server: ``simulate``, ``play``, ``serve``, ``demo``, ``control``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from cardiostream.cli._common import (
    AfMinOption,
    ModelOption,
    TokenOption,
    _af_min,
    _console_line,
    _guard,
    app,
    console,
    err_console,
)
from cardiostream.errors import InputError
from cardiostream.record import lead_selector


@app.command()
def simulate(
    to: Annotated[str, typer.Option("--to", help="The server's ws://HOST:PORT/v1/stream.")],
    mode: Annotated[str, typer.Option(help="nsr, af, noise, leadoff or rate.")] = "nsr",
    hr: Annotated[float, typer.Option(help="Sinus heart rate, bpm.")] = 70.0,
    fs: Annotated[float, typer.Option(help="Sampling rate, Hz.")] = 250.0,
    token: TokenOption = None,
    stream_id: Annotated[str, typer.Option("--id", help="Stream id; the same id resumes.")] = "sim",
    synthetic_af: Annotated[
        bool, typer.Option("--synthetic-af", help="Synthetic AF instead of real recordings.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the simulation.")] = 0,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds of signal.")
    ] = None,
    speed: Annotated[float, typer.Option(help="How many times faster than real time.")] = 1.0,
    noise_dir: Annotated[
        Path | None,
        typer.Option(
            help="NSTDB folder for noise (default: $CARDIOSTREAM_DATA/nstdb or "
            "../shared/data/nstdb, else synthetic noise)."
        ),
    ] = None,
) -> None:
    """Stream a simulated ECG to a server, a line per window; control lines switch its mode."""

    def body() -> None:
        from cardiostream.sim import MODES, Simulator

        sim = Simulator(fs, mode, hr, seed, noise_dir, real_af=not synthetic_af)
        err_console.print(
            f"simulating {mode} at {fs:g} Hz to {escape(to)} as {escape(stream_id)}",
            highlight=False,
        )
        if mode == "noise":
            err_console.print(f"noise: {escape(str(sim.noise_source))}", highlight=False)
        _send_live(sim, to, token, stream_id, speed, duration, list(MODES))

    _guard(body)


@app.command()
def play(
    files: Annotated[list[str], typer.Argument(help="Record files or bundled sample names.")],
    to: Annotated[str, typer.Option("--to", help="The server's ws://HOST:PORT/v1/stream.")],
    token: TokenOption = None,
    stream_id: Annotated[
        str, typer.Option("--id", help="Stream id; the same id resumes.")
    ] = "play",
    lead: Annotated[str, typer.Option(help="Lead index or name, or all.")] = "0",
    speed: Annotated[float, typer.Option(help="How many times faster than real time.")] = 1.0,
    loop: Annotated[
        bool, typer.Option("--loop/--no-loop", help="Start again after the last (until Ctrl-C).")
    ] = False,
    beats: Annotated[
        bool,
        typer.Option(
            "--beats",
            help="FILE is a CSV of beat times (time_s) or RR intervals (rr_ms), as rr-af reads: "
            "stream it as a beat-time stream (found without the flag when its only columns "
            "are those and af, p_af).",
        ),
    ] = False,
    timing: Annotated[
        str,
        typer.Option(
            help="With beats: how they were timed, ecg (R peaks) or pulse (a PPG watch, a pulse "
            "oximeter: the server judges them with its pulse model).",
        ),
    ] = "ecg",
) -> None:
    """Stream records to a server as a live source, in turn, a line per window; stop after
    the last unless --loop. A CSV of beat times (or RR intervals) goes as a beat-time
    stream, each beat sent when its time comes."""

    def body() -> None:
        from cardiostream.sim import Playback

        if beats or (len(files) == 1 and is_beats_csv(Path(files[0]))):
            if len(files) != 1:
                raise InputError("--beats: give one CSV file of beat times")
            _send_beats(Path(files[0]), to, token, stream_id, speed, loop, timing)
            return
        if timing != "ecg":
            missing = next((f for f in files if not Path(f).is_file()), None)
            if missing is not None:
                raise InputError(f"{missing}: no such file")
            raise InputError("--timing: only a CSV of beats (time_s or rr_ms) is sent with its "
                             "timing")  # fmt: skip

        source = Playback(files, loop=loop, lead=None if lead == "all" else lead_selector(lead))
        err_console.print(f"playing {escape(', '.join(source.names))} to {escape(to)} as "
                          f"{escape(stream_id)}",
                          highlight=False)  # fmt: skip
        _send_live(source, to, token, stream_id, speed, None, None)

    _guard(body)


#: The columns of a beat-time CSV (``cardiostream rr-af`` reads and writes them).
_BEAT_COLUMNS = {"time_s", "rr_ms", "af", "p_af"}


def is_beats_csv(path: Path) -> bool:
    """Whether ``path`` is a CSV of beats rather than an ECG record: its header names
    ``time_s`` or ``rr_ms`` and nothing else but ``af`` and ``p_af`` (an ECG CSV has lead
    columns beside its time)."""
    from cardiostream.io.csv_format import header_delimiter

    if path.suffix.lower() != ".csv" or not path.is_file():
        return False
    try:
        with path.open(encoding="utf-8-sig") as fh:
            line = fh.readline().strip()
    except (OSError, UnicodeDecodeError):
        return False
    header = {c.strip().lower() for c in line.split(header_delimiter(line))}
    return bool(header & {"time_s", "rr_ms"}) and header <= _BEAT_COLUMNS


def _send_beats(
    path: Path,
    to: str,
    token: str | None,
    stream_id: str,
    speed: float,
    loop: bool,
    timing: str = "ecg",
) -> None:
    """Stream a beat CSV as a beat-time stream; print windows and events as they come back."""
    import asyncio

    from cardiostream import wire
    from cardiostream.cli.rr_af import read_beats_csv
    from cardiostream.serve.config import TOKEN_ENV, token_from_env
    from cardiostream.sim import StreamRefused, TokenRefused
    from cardiostream.sim.beat_sender import send_beats

    if not to.startswith(("ws://", "wss://")):
        raise InputError(f"--to: expected ws://HOST:PORT/v1/stream, got {to!r}")
    if not speed > 0:
        raise InputError(f"--speed: must be positive, got {speed:g}")
    if timing not in wire.BEAT_TIMINGS:
        raise InputError(f"--timing: expected ecg or pulse, got {timing!r}")
    times, _ = read_beats_csv(path)
    if times[0] < 0:
        times = times - times[0]  # the stream's clock starts at 0 or later
    key = token_from_env(token)
    timed = " (pulse-timed)" if timing == "pulse" else ""
    err_console.print(f"playing the beats of {escape(path.name)} ({times.size} beats){timed} to "
                      f"{escape(to)} as {escape(stream_id)}", highlight=False)  # fmt: skip

    def show(item: dict[str, Any]) -> None:
        if item["type"] in ("window", "event_open", "event", "gap"):
            console.print(_console_line(item), highlight=False)

    def status(text: str) -> None:
        err_console.print(escape(text), highlight=False)

    try:
        result = asyncio.run(send_beats(times, to, token=key, stream_id=stream_id, speed=speed,
                                        loop=loop, on_item=show, on_status=status,
                                        timing=timing))  # fmt: skip
    except StreamRefused as exc:
        hint = f" (give --token or set {TOKEN_ENV})" if isinstance(exc, TokenRefused) else ""
        raise InputError(f"{exc}{hint}") from None
    err_console.print(f"sent {result.sent} beats, the server acknowledged {result.acknowledged}",
                      highlight=False)  # fmt: skip


def _send_live(
    source: Any,
    to: str,
    token: str | None,
    stream_id: str,
    speed: float,
    duration: float | None,
    controls: list[str] | None,
) -> None:
    """Run the sender; print windows and events as they come back (Ctrl-C sends stop)."""
    import asyncio

    from cardiostream.serve.config import TOKEN_ENV, token_from_env
    from cardiostream.sim import StreamRefused, TokenRefused, send

    if not to.startswith(("ws://", "wss://")):
        raise InputError(f"--to: expected ws://HOST:PORT/v1/stream, got {to!r}")
    if not speed > 0:
        raise InputError(f"--speed: must be positive, got {speed:g}")
    key = token_from_env(token)

    def show(item: dict[str, Any]) -> None:
        if item["type"] in ("window", "event_open", "event", "gap"):
            console.print(_console_line(item), highlight=False)

    def status(text: str) -> None:
        err_console.print(escape(text), highlight=False)

    try:
        result = asyncio.run(send(source, to, token=key, stream_id=stream_id, speed=speed,
                                  controls=controls, stop_after_s=duration, on_item=show,
                                  on_status=status))  # fmt: skip
    except StreamRefused as exc:
        hint = f" (give --token or set {TOKEN_ENV})" if isinstance(exc, TokenRefused) else ""
        raise InputError(f"{exc}{hint}") from None
    err_console.print(f"sent {result.sent / source.fs:.1f} s, the server acknowledged "
                      f"{result.acknowledged / source.fs:.1f} s", highlight=False)  # fmt: skip


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    token: Annotated[
        str | None,
        typer.Option(help="Bearer token(s), comma-separated (else $CARDIOSTREAM_TOKEN, else new)."),
    ] = None,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="No token (only on a loopback address).")
    ] = False,
    store: Annotated[
        Path | None, typer.Option(help="Parquet store for the records API (and --record).")
    ] = None,
    record: Annotated[bool, typer.Option(help="Record live streams into the store.")] = False,
    max_streams: Annotated[int, typer.Option(help="Live streams at once.")] = 2000,
    resume_ttl: Annotated[
        float,
        typer.Option("--resume-ttl", help="Seconds a dropped stream is kept for resuming."),
    ] = 300.0,
    model: ModelOption = None,
    disclosure: Annotated[
        float,
        typer.Option(
            "--disclosure",
            help="Seconds of each stream's trace kept for reloads and strips (0: none).",
        ),
    ] = 120.0,
    metrics_token: Annotated[
        str | None,
        typer.Option(
            help="Token(s) that may read /metrics, comma-separated (else "
            "$CARDIOSTREAM_METRICS_TOKEN, else the first of the tokens)."
        ),
    ] = None,
    redis: Annotated[
        str | None,
        typer.Option(
            "--redis",
            help="Gateway mode: ECG streams go to Redis, analysed by `cardiostream worker`s.",
        ),
    ] = None,
    redis_shards: Annotated[
        int, typer.Option("--redis-shards", help="Shards of the Redis deployment.")
    ] = 8,
    af_min_s: AfMinOption = 30.0,
) -> None:
    """Serve REST predictions, live WebSocket streams and stored recordings (OpenAPI at /docs).

    `--af-min-s` is also how long AF lasts before its alarm (in the gateway mode, give it to
    the workers)."""

    def body() -> None:
        from cardiostream.serve import TOKEN_ENV, ServeConfig, new_token, run
        from cardiostream.serve.config import METRICS_TOKEN_ENV, tokens_from_env
        from cardiostream.serve.ports import check_port

        if not 0 <= resume_ttl <= 86_400:
            raise InputError(f"--resume-ttl: expected 0 to 86400 s, got {resume_ttl:g}")
        if not 0 <= disclosure <= 3600:
            raise InputError(f"--disclosure: expected 0 to 3600 s, got {disclosure:g}")
        tokens = tokens_from_env(token)
        created = not tokens and not no_auth
        if created:
            tokens = [new_token()]
        config = ServeConfig(
            tokens=tokens,
            auth=not no_auth,
            host=host,
            store=store,
            record=record,
            max_streams=max_streams,
            resume_ttl_s=resume_ttl,
            model=model,
            disclosure_s=disclosure,
            metrics_tokens=tokens_from_env(metrics_token, METRICS_TOKEN_ENV),
            redis=redis,
            redis_shards=redis_shards,
            af_min_s=_af_min(af_min_s),
        )
        # Before any line about where it serves: a taken port is then the only thing said.
        check_port(host, port)
        where = f"http://{host}:{port}"
        if created:
            err_console.print(
                f"access token (new): {tokens[0]}\n"
                f"use it as:  curl -H 'Authorization: Bearer {tokens[0]}' {where}/healthz\n"
                f"set {TOKEN_ENV} or --token to keep one across restarts",
                highlight=False,
            )
        err_console.print(f"serving on {where} (API docs at {where}/docs)", highlight=False)
        if created:
            err_console.print(f"dashboard: {where}/?token={tokens[0]}", highlight=False)
        elif tokens:  # the operator's own token: never echoed to a terminal or a log
            given = "--token" if token else f"${TOKEN_ENV}"
            err_console.print(f"dashboard: {where}/ (give it the token of {given})",
                              highlight=False)  # fmt: skip
        else:
            err_console.print(f"dashboard: {where}/", highlight=False)
        run(config, port=port)

    _guard(body)


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port (0: any free one).")] = 8000,
    token: Annotated[
        str | None, typer.Option(help="Access token (else $CARDIOSTREAM_TOKEN, else new).")
    ] = None,
    store: Annotated[
        Path | None,
        typer.Option(help="Parquet store for the recordings browser (else a temporary one)."),
    ] = None,
) -> None:
    """Start the server, its dashboard and eight live patients (sinus rhythm, real AF, noise,
    lead-off every minute, one you steer, ectopic beats, a chest strap's and a watch's beat
    times); print the dashboard's URL and token.
    Ctrl-C or SIGTERM stops everything."""

    def body() -> None:
        import asyncio

        from cardiostream.serve import new_token
        from cardiostream.serve.config import token_from_env
        from cardiostream.serve.demo import run_demo
        from cardiostream.serve.ports import check_port

        check_port(host, port)
        key = token_from_env(token) or new_token()

        def say(line: str) -> None:
            print(line, flush=True)

        asyncio.run(run_demo(host, port, key, store, say))

    _guard(body)


@app.command()
def control(
    stream_id: Annotated[str, typer.Argument(help="The live stream to steer.")],
    mode: Annotated[str, typer.Option(help="The mode to switch to (one of its controls).")],
    hr: Annotated[float | None, typer.Option(help="Heart rate (bpm), where it applies.")] = None,
    server: Annotated[str, typer.Option(help="The server's base URL.")] = ("http://127.0.0.1:8000"),
    token: TokenOption = None,
) -> None:
    """Switch a steerable source (``cardiostream simulate``, the demo's patients) to another
    mode while it streams; its verdict follows within about 10 s, through ``uncertain``."""

    def body() -> None:
        from cardiostream.serve.client import send_control
        from cardiostream.serve.config import token_from_env

        command: dict[str, Any] = {"mode": mode}
        if hr is not None:
            command["hr_bpm"] = hr
        answer = send_control(server, stream_id, command, token_from_env(token))
        err_console.print(
            f"{stream_id}: switching to {answer['queued']['mode']}; the window needs up to "
            "10 s to fill with the new rhythm, and the verdict passes through uncertain",
            highlight=False,
        )

    _guard(body)
