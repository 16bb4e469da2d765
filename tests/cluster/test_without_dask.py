"""Without the scale extra, ``--cluster`` says which extra to install, in one line."""

from __future__ import annotations

import sys

import pytest
from typer.testing import CliRunner

from cardiostream.cli import app


def test_cluster_without_dask_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes the import fail as a missing package does.
    monkeypatch.setitem(sys.modules, "distributed", None)
    result = CliRunner().invoke(app, ["analyze", "mitdb-201-af", "--cluster", "local"])
    assert result.exit_code == 2, result.output
    assert "cardiostream[scale]" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
