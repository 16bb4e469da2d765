"""Archives over Dask: the same lines, in the same order, as one process; bad records
reported as one process reports them; a scheduler that cannot be reached is bad input."""

from __future__ import annotations

import csv
import io
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

distributed = pytest.importorskip(
    "distributed", reason="the scale extra (dask, distributed) is not installed"
)

from cardiostream.cli import app, bare_cluster  # noqa: E402
from cardiostream.cluster.archive import analyze_many, connect  # noqa: E402
from cardiostream.errors import InputError  # noqa: E402
from cardiostream.samples import sample_path  # noqa: E402

runner = CliRunner()

#: Long and short records mixed, so that the workers finish out of order.
SAMPLES = ["mitdb-201-af", "cinc2017-A00004", "mitdb-119-pvc", "cinc2017-A00034", "mitdb-100-nsr"]

#: Summary columns that are timings, different in every run (one process or many).
TIMINGS = ("processing_s", "real_time_factor")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """Two worker processes of one thread each on loopback, for the whole module."""
    local = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
    )
    try:
        yield local
    finally:
        local.close()


def _run(*args: str, code: int = 0) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result


def _summary(path: Path) -> list[dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert rows
    return [{k: v for k, v in row.items() if k not in TIMINGS} for row in rows]


def test_lines_equal_one_process_in_order(cluster: Any) -> None:
    with distributed.Client(cluster) as client:
        here = analyze_many(SAMPLES, cluster=None)
        there = analyze_many(SAMPLES, cluster=client)
    assert [o.name for o in there] == [o.name for o in here]
    assert all(o.analysis is not None for o in there)
    assert [o.analysis.lines for o in there] == [o.analysis.lines for o in here]  # type: ignore[union-attr]
    assert [o.analysis.counts for o in there] == [o.analysis.counts for o in here]  # type: ignore[union-attr]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_the_command_over_a_scheduler_address_equals_one_process(
    cluster: Any, fmt: str, tmp_path: Path
) -> None:
    one = _run("analyze", *SAMPLES, "--format", fmt, "--summary", str(tmp_path / "one.csv"))
    many = _run(
        "analyze",
        *SAMPLES,
        "--format",
        fmt,
        "--summary",
        str(tmp_path / "many.csv"),
        "--cluster",
        cluster.scheduler_address,
    )
    assert many.stdout == one.stdout
    assert many.stdout.count('"type": "record"') == (len(SAMPLES) if fmt == "jsonl" else 0)
    assert _summary(tmp_path / "many.csv") == _summary(tmp_path / "one.csv")


def test_a_local_cluster_gives_the_same_table(tmp_path: Path) -> None:
    args = ("analyze", "mitdb-201-af", "cinc2017-A00004", "--format", "csv")
    one = _run(*args, "--out", str(tmp_path / "one"))
    many = _run(*args, "--out", str(tmp_path / "many"), "--cluster", "local", "--workers", "2")
    assert many.stdout == one.stdout
    for name in ("mitdb-201-af.jsonl", "A00004.csv"):
        assert (tmp_path / "many" / name).read_text() == (tmp_path / "one" / name).read_text()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["analyze", "a.edf", "--cluster"], ["analyze", "a.edf", "--cluster=local"]),
        (["analyze", "--cluster", "--workers", "2", "x"], ["analyze", "--cluster=local",
                                                          "--workers", "2", "x"]),
        (["analyze", "--cluster", "mitdb-201-af"], ["analyze", "--cluster=local", "mitdb-201-af"]),
        (["analyze", "--cluster", "local", "x"], ["analyze", "--cluster", "local", "x"]),
        (["analyze", "--cluster", "tcp://h:8786"], ["analyze", "--cluster", "tcp://h:8786"]),
        (["analyze", "--cluster", "h:8786"], ["analyze", "--cluster", "h:8786"]),
    ],
)  # fmt: skip
def test_a_bare_cluster_option_means_local(args: list[str], expected: list[str]) -> None:
    assert bare_cluster(args) == expected


def test_the_script_takes_a_bare_cluster_option(tmp_path: Path) -> None:
    records = ["mitdb-201-af", "cinc2017-A00004"]
    one = _run("analyze", *records, "--format", "jsonl")
    script = [sys.executable, "-m", "cardiostream", "analyze", "--cluster", *records]
    many = subprocess.run([*script, "--workers", "1", "--format", "jsonl"], capture_output=True,
                          text=True, timeout=300, check=False)  # fmt: skip
    assert many.returncode == 0, many.stderr
    assert many.stdout == one.stdout
    assert many.stdout.count('"type": "record"') == 2


def test_a_refused_record_is_named_and_the_others_go_on(cluster: Any) -> None:
    # Lead 1 exists in the two-lead MITDB excerpts, not in the one-lead CinC records.
    args = ("analyze", *SAMPLES, "--lead", "1", "--format", "jsonl")
    # Exit 1: some inputs were not analysed, the others' results are all there.
    one = _run(*args, code=1)
    many = _run(*args, "--cluster", cluster.scheduler_address, code=1)
    assert many.stdout == one.stdout
    assert many.stdout.count('"type": "record"') == 3
    for name in ("A00004", "A00034"):
        assert f"{name}: not analysed:" in many.stderr
        assert f"{name}: not analysed:" in one.stderr


def test_a_bad_file_in_a_folder_is_passed_over(cluster: Any, tmp_path: Path) -> None:
    for name in ("mitdb-201-af", "cinc2017-A00004"):
        header = sample_path(name)
        for part in header.parent.glob(header.stem + ".*"):
            shutil.copy(part, tmp_path)
    (tmp_path / "broken.hea").write_text("this is not a header\n")
    one = _run("analyze", str(tmp_path), "--format", "jsonl", code=1)
    many = _run(
        "analyze",
        str(tmp_path),
        "--format",
        "jsonl",
        "--cluster",
        cluster.scheduler_address,
        code=1,
    )
    assert many.stdout == one.stdout
    assert many.stdout.count('"type": "record"') == 2
    for result in (one, many):  # passed over, and said so
        assert result.stderr.count("passed over (not read): ") == 1
        assert "broken.hea" in result.stderr


def test_a_named_bad_file_is_passed_over_by_both_alike(cluster: Any, tmp_path: Path) -> None:
    bad = tmp_path / "broken.hea"
    bad.write_text("this is not a header\n")
    args = ("analyze", "mitdb-201-af", str(bad), "cinc2017-A00004", "--format", "jsonl")
    one = _run(*args, code=1)
    many = _run(*args, "--cluster", cluster.scheduler_address, code=1)
    assert many.stdout == one.stdout
    assert many.stdout.count('"type": "record"') == 2
    assert many.stderr == one.stderr
    assert "broken.hea" in many.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_scheduler_is_bad_input() -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    with (
        pytest.raises(InputError, match="cannot reach the scheduler"),
        connect(address, timeout_s=1),
    ):
        pass


def test_the_command_says_so_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("cardiostream.cluster.archive.CONNECT_TIMEOUT_S", 1.0)
    address = f"tcp://127.0.0.1:{_free_port()}"
    result = _run("analyze", "mitdb-201-af", "--cluster", address, code=2)
    assert f"cannot reach the scheduler at {address}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [["--cluster", "udp://x"], ["--workers", "2"]])
def test_bad_cluster_options_are_bad_input(args: list[str]) -> None:
    result = _run("analyze", "mitdb-201-af", *args, code=2)
    assert "--cluster" in result.stderr or "--workers" in result.stderr


def _crash_on_a_file_named_crash() -> None:
    """In a worker: make reading ``crash.*`` fail as a bug would (not bad input)."""
    import cardiostream.io as io

    real = io.read

    def read(path: Any, *args: Any, **kwargs: Any) -> Any:
        if Path(path).stem == "crash":
            raise RuntimeError("the worker fell over")
        return real(path, *args, **kwargs)

    read.real = real  # type: ignore[attr-defined]
    io.read = read


def _mend_reading() -> None:
    import cardiostream.io as io

    io.read = getattr(io.read, "real", io.read)


def test_a_failed_task_is_reported_for_its_record_only(cluster: Any, tmp_path: Path) -> None:
    crash = tmp_path / "crash.hea"
    shutil.copy(sample_path("cinc2017-A00004"), crash)
    with distributed.Client(cluster) as client:
        client.run(_crash_on_a_file_named_crash)
        try:
            args = ("analyze", "mitdb-201-af", str(crash), "mitdb-119-pvc", "--format", "jsonl")
            result = _run(*args, "--cluster", cluster.scheduler_address, code=1)
        finally:
            client.run(_mend_reading)
    assert "crash: not analysed: worker error: RuntimeError: the worker fell over" in result.stderr
    expected = _run("analyze", "mitdb-201-af", "mitdb-119-pvc", "--format", "jsonl").stdout
    assert result.stdout == expected


def test_the_local_cluster_is_closed_on_ctrl_c() -> None:
    with pytest.raises(KeyboardInterrupt), connect("local", n_workers=1, warm=False) as client:
        cluster = client.cluster
        assert cluster.status.name == "running"
        raise KeyboardInterrupt
    assert client.status == "closed"
    assert cluster.status.name == "closed"


def test_store_partitions_are_records_too(cluster: Any, tmp_path: Path) -> None:
    from cardiostream.io import read
    from cardiostream.io.store import ParquetStore

    store = ParquetStore(tmp_path / "store")
    for name in ("mitdb-201-af", "cinc2017-A00020"):
        store.write(read(sample_path(name)))
    one = _run("analyze", str(tmp_path / "store"), "--format", "jsonl")
    many = _run(
        "analyze",
        str(tmp_path / "store"),
        "--format",
        "jsonl",
        "--cluster",
        cluster.scheduler_address,
    )
    assert many.stdout == one.stdout
    assert many.stdout.count('"type": "record"') == 2


def test_the_shortest_af_event_reaches_the_workers(cluster: Any) -> None:
    # mitdb-201-af is one minute of AF: one AF event, unless events must last longer.
    def af_events(outcomes: list[Any]) -> list[int]:
        return [
            sum(e["kind"] == "af" for e in o.analysis.events)  # type: ignore[union-attr]
            for o in outcomes
        ]

    with distributed.Client(cluster) as client:
        there = analyze_many(["mitdb-201-af"], cluster=client, af_min_s=400.0)
    assert af_events(there) == [0]
    assert af_events(analyze_many(["mitdb-201-af"], cluster=None)) == [1]
    with pytest.raises(InputError, match="min_duration_s"):
        analyze_many(["mitdb-201-af"], cluster=None, af_min_s=-1.0)
