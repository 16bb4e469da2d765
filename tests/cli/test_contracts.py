"""The commands that publish what the package promises: ``schema``, ``evaluate-af``, and the
one-line message when an optional part is not installed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from cardiostream.cli import app
from cardiostream.samples import sample_path
from cardiostream.stream.schema import FILE_NAME, json_schema

runner = CliRunner()
SAMPLES = sample_path("mitdb-201-af").parent


def test_schema_prints_and_writes_the_published_schema(tmp_path: Path) -> None:
    printed = runner.invoke(app, ["schema"])
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.stdout) == json_schema()
    written = runner.invoke(app, ["schema", "--out", str(tmp_path / "schema")])
    assert written.exit_code == 0, written.output
    assert json.loads((tmp_path / "schema" / FILE_NAME).read_text()) == json_schema()


def test_evaluate_af_scores_the_engine_on_annotated_records(tmp_path: Path) -> None:
    out = tmp_path / "af.json"
    result = runner.invoke(
        app,
        ["evaluate-af", "--data", str(SAMPLES), "--records", "mitdb-201-af,mitdb-100-nsr",
         "--json", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "AF-window sensitivity" in result.stdout
    doc = json.loads(out.read_text())
    assert doc["settings"]["verdicts"] == "engine" and doc["n_records"] == 2
    af = {r["record"]: r for r in doc["records"]}["mitdb-201-af"]
    assert af["committed_windows"]["tp"] > 0


def test_evaluate_af_bad_input_is_one_line() -> None:
    for args in (["--verdicts", "record"], ["--data", "/nonexistent/folder"]):
        result = runner.invoke(app, ["evaluate-af", *args])
        assert result.exit_code == 2, result.output
        assert len(result.output.strip().splitlines()) == 1


def test_a_missing_extra_is_named_with_its_install_command() -> None:
    # A fresh interpreter: the server's modules must not be loaded already.
    code = (
        "import sys; sys.modules['fastapi'] = None\n"
        "from cardiostream.cli import main\n"
        "sys.argv = ['cardiostream', 'serve', '--port', '1']\n"
        "main()\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "serve extra" in lines[0] and "pip install 'cardiostream[serve]'" in lines[0]
