"""What ``cardiostream serve`` prints at start: a token only when it made one."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

import cardiostream.serve as serve_package
from cardiostream.cli import app
from cardiostream.serve import ServeConfig

SECRET = "operator-secret-token-123"


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[ServeConfig]:
    """The configs ``serve`` would run, without running a server."""
    configs: list[ServeConfig] = []

    def run(config: ServeConfig, port: int = 8000, **_: Any) -> None:
        configs.append(config)

    monkeypatch.setattr(serve_package, "run", run)
    monkeypatch.delenv("CARDIOSTREAM_TOKEN", raising=False)
    return configs


def _serve(*args: str, env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(app, ["serve", "--port", "0", *args], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_token_from_the_environment_is_not_printed(started: list[ServeConfig]) -> None:
    out = _serve(env={"CARDIOSTREAM_TOKEN": SECRET})
    assert started[0].tokens == [SECRET]
    assert SECRET not in out
    assert "$CARDIOSTREAM_TOKEN" in out and "dashboard: http://127.0.0.1:0/ " in out


def test_a_token_from_the_command_line_is_not_printed(started: list[ServeConfig]) -> None:
    out = _serve("--token", SECRET)
    assert started[0].tokens == [SECRET] and SECRET not in out and "--token" in out


def test_a_new_token_is_printed_once_made(started: list[ServeConfig]) -> None:
    out = _serve()
    (made,) = started[0].tokens
    assert f"access token (new): {made}" in out and f"/?token={made}" in out


def test_without_auth_there_is_no_token(started: list[ServeConfig]) -> None:
    out = _serve("--no-auth")
    assert started[0].auth is False and "token" not in out.replace("--token", "")


def test_a_metrics_token_from_the_option_or_the_environment(started: list[ServeConfig]) -> None:
    _serve("--token", SECRET, "--metrics-token", "scrape-1,scrape-2")
    _serve("--token", SECRET, env={"CARDIOSTREAM_METRICS_TOKEN": "scrape-3"})
    _serve("--token", SECRET)
    assert [c.metrics_tokens for c in started] == [["scrape-1", "scrape-2"], ["scrape-3"], []]
