"""``cardiostream simulate`` and ``cardiostream play`` against a real server."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from cardiostream.cli import app
from tests.serve.conftest import Live

from .conftest import TOKEN

runner = CliRunner()


def test_simulate_prints_a_line_per_window(server: Live) -> None:
    result = runner.invoke(
        app,
        [
            "simulate",
            "--mode",
            "nsr",
            "--hr",
            "75",
            "--to",
            server.ws + "/v1/stream",
            "--token",
            TOKEN,
            "--id",
            "cli-sim",
            "--duration",
            "14",
            "--speed",
            "20",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if "HR" in line]
    assert len(lines) >= 4
    assert "bpm" in lines[-1] and ("normal" in lines[-1] or "uncertain" in lines[-1])
    assert "sent 14.0 s" in result.stderr


def test_play_streams_a_record_to_its_end(server: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARDIOSTREAM_TOKEN", TOKEN)  # the token from the environment
    result = runner.invoke(
        app,
        [
            "play",
            "cinc2017-A00004",
            "--to",
            server.ws + "/v1/stream",
            "--id",
            "cli-play",
            "--speed",
            "inf",
            "--no-loop",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "af" in result.stdout
    assert "sent 30.0 s" in result.stderr


def test_play_stops_after_the_last_record_by_default(
    server: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cardiostream.sim import Playback

    def once(*args: Any, **kwargs: Any) -> Playback:
        # A looping source would stream for ever: fail instead of hanging.
        assert not kwargs["loop"], "play loops without --loop"
        return Playback(*args, **kwargs)

    monkeypatch.setattr("cardiostream.sim.Playback", once)
    result = runner.invoke(
        app,
        ["play", "cinc2017-A00004", "--to", server.ws + "/v1/stream", "--token", TOKEN,
         "--id", "cli-play-once", "--speed", "inf"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "sent 30.0 s" in result.stderr


def test_a_wrong_token_is_one_line_and_exit_2(server: Live) -> None:
    result = runner.invoke(
        app, ["simulate", "--to", server.ws + "/v1/stream", "--token", "no", "--duration", "2"]
    )
    assert result.exit_code == 2
    assert "refused the token" in result.stderr and "Traceback" not in result.output


def test_bad_options_are_one_line_and_exit_2() -> None:
    for args, message in (
        (["simulate", "--to", "http://x/v1/stream"], "--to: expected ws://"),
        (["simulate", "--to", "ws://127.0.0.1:9/v1/stream", "--mode", "vf"], "mode: expected"),
        (["simulate", "--to", "ws://127.0.0.1:9/v1/stream", "--fs", "10"], "fs: expected 50"),
        (["play", "nosuchfile.csv", "--to", "ws://127.0.0.1:9/v1/stream"], "nosuchfile"),
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr, (args, result.stderr)
