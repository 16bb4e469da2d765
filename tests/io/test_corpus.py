"""The reported bad inputs (``tests/io/corpus``): each is refused with one line naming the file
and field, or reads where it is legal, through the reader and through ``info`` and ``analyze``.
"""

from __future__ import annotations

import filecmp
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cardiostream.cli import app
from cardiostream.errors import InputError
from cardiostream.evaluate.bench.fuzz import check_record
from cardiostream.io import read
from tests.io.make_corpus import CASES, CORPUS, Case, write_corpus

runner = CliRunner()
_CASES = [case for case, _ in CASES]


def _path(case: Case) -> Path:
    return CORPUS / case.name / case.entry


def _one_line(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert "Traceback" not in output
    return lines[0]


def test_corpus_is_what_the_script_writes(tmp_path: Path) -> None:
    write_corpus(tmp_path / "corpus")

    def same(a: Path, b: Path) -> None:
        cmp = filecmp.dircmp(a, b)
        assert not cmp.left_only and not cmp.right_only, (cmp.left_only, cmp.right_only)
        _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
        assert not mismatch and not errors, (a, mismatch, errors)
        for sub in cmp.common_dirs:
            same(a / sub, b / sub)

    same(CORPUS, tmp_path / "corpus")
    size = sum(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file())
    assert size < 1_000_000


@pytest.mark.parametrize("case", _CASES, ids=lambda c: c.name)
def test_reader(case: Case) -> None:
    if case.refused is None:
        check_record(read(_path(case)))
        return
    with pytest.raises(InputError) as caught:
        read(_path(case))
    message = str(caught.value)
    assert "\n" not in message
    assert re.search(case.refused, message), message
    assert str(_path(case).parent) in message  # the file is named, folder and all


@pytest.mark.parametrize("case", _CASES, ids=lambda c: c.name)
def test_info(case: Case) -> None:
    result = runner.invoke(app, ["info", str(_path(case))])
    if case.refused is None:
        assert result.exit_code == 0, result.output
        assert "sampling rate" in result.output
        return
    assert result.exit_code == 2, result.output
    assert re.search(case.refused, _one_line(result.output))


@pytest.mark.parametrize("case", _CASES, ids=lambda c: c.name)
def test_analyze(case: Case) -> None:
    result = runner.invoke(app, ["analyze", str(_path(case)), "--format", "jsonl"])
    assert result.exit_code == case.analyze_exit, result.output
    if case.analyze_exit == 0:
        assert '"type": "window"' in result.stdout
        return
    line = _one_line(result.output)
    assert re.search(case.refused or case.analyze_message, line), line


def test_a_refusal_in_a_fresh_process_is_one_line() -> None:
    case = next(c for c in _CASES if c.name == "wfdb-atr-truncated")
    run = subprocess.run(
        [sys.executable, "-m", "cardiostream", "info", str(_path(case))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2, run.stderr
    assert re.search(case.refused or "", _one_line(run.stdout + run.stderr))
