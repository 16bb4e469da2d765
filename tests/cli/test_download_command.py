"""``cardiostream download`` against a PhysioNet look-alike on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cardiostream.cli import app
from tests.io.mirror import Mirror, fake_physionet, serve

runner = CliRunner()


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[Mirror]:
    with serve(fake_physionet(tmp_path / "mirror")) as server:
        yield server


def _run(mirror: Mirror, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["download", *args, "--mirror", mirror.url])
    return result.exit_code, result.stdout, result.stderr


def test_all_fetches_each_database_with_a_summary(mirror: Mirror, tmp_path: Path) -> None:
    code, out, _ = _run(mirror, "all", "--to", str(tmp_path / "data"))
    assert code == 0, out
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["mitdb", "nstdb", "cinc2017", "ltafdb"]
    assert "11 of 11 files fetched" in lines[0] and "SHA-256 verified" in lines[0]
    for name in ("mitdb/100.dat", "nstdb/bw.dat", "cinc2017/A00001.mat", "ltafdb/00.qrs"):
        assert (tmp_path / "data" / name).is_file()
    code, out, _ = _run(mirror, "mitdb", "--to", str(tmp_path / "data"))
    assert code == 0 and "0 of 11 files fetched" in out and "11 already present" in out


def test_records_take_some(mirror: Mirror, tmp_path: Path) -> None:
    code, out, _ = _run(mirror, "mitdb", "--records", "100,201", "--to", str(tmp_path))
    assert code == 0, out
    assert (tmp_path / "mitdb" / "RECORDS").read_text() == "100\n201\n"


def test_a_corrupt_file_is_one_line_and_exit_2(mirror: Mirror, tmp_path: Path) -> None:
    (mirror.root / "mitdb/1.0.0/101.dat").write_bytes(b"damaged")
    code, _, err = _run(mirror, "mitdb", "--to", str(tmp_path))
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "101.dat: SHA-256 mismatch" in err
    assert not (tmp_path / "mitdb" / "101.dat").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["afdb"], "unknown database 'afdb'"),
        (["mitdb", "nstdb", "--records", "100"], "--records: give one database"),
        (["mitdb", "--records", "999"], "no record 999"),
    ],
)
def test_bad_input_exits_2(mirror: Mirror, tmp_path: Path, args: list[str], message: str) -> None:
    code, _, err = _run(mirror, *args, "--to", str(tmp_path))
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
