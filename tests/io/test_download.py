"""Downloading the PhysioNet databases, against a PhysioNet look-alike served on 127.0.0.1."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cardiostream.errors import InputError
from cardiostream.io.download import DATABASES, DownloadProgress, DownloadResult, download
from tests.io.mirror import BIG, Mirror, fake_physionet, serve

MITDB = "mitdb/1.0.0"


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[Mirror]:
    with serve(fake_physionet(tmp_path / "mirror")) as server:
        yield server


def _get(
    mirror: Mirror,
    to: Path,
    name: str = "mitdb",
    *,
    records: list[str] | None = None,
    progress: Callable[[DownloadProgress], None] | None = None,
) -> DownloadResult:
    return download(name, to, mirror=mirror.url, records=records, progress=progress, backoff=0.01)


def _served(mirror: Mirror) -> dict[str, bytes]:
    project = mirror.root / MITDB
    return {
        p.name: p.read_bytes()
        for p in project.iterdir()
        if p.is_file() and p.name != "SHA256SUMS.txt"
    }


def test_the_catalogue_names_each_database_and_its_licence() -> None:
    assert list(DATABASES) == ["mitdb", "nstdb", "cinc2017", "ltafdb"]
    assert DATABASES["cinc2017"].slug == "challenge-2017"
    assert DATABASES["cinc2017"].subfolder == "training"
    assert all("ODC-By 1.0" in db.description for db in DATABASES.values())


def test_a_full_download_reproduces_the_files(mirror: Mirror, tmp_path: Path) -> None:
    seen: list[DownloadProgress] = []
    result = _get(mirror, tmp_path / "data", progress=seen.append)
    folder = tmp_path / "data" / "mitdb"
    served = _served(mirror)
    assert result.verified and result.fetched == result.files == len(served)
    for name, body in served.items():
        assert (folder / name).read_bytes() == body, name
    assert not (folder / "mitdbdir").exists() and not list(folder.glob("*.part"))
    # The local list checks with sha256sum -c: the right sums under the local names.
    for line in (folder / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
    assert result.received == sum(s.nbytes for s in mirror.sent)
    assert seen[-1].files_done == seen[-1].files_total == len(served)
    big = [p for p in seen if p.path == "100.dat"]
    assert big[-1].file_bytes == big[-1].file_size == BIG


def test_a_second_run_fetches_nothing(mirror: Mirror, tmp_path: Path) -> None:
    first = _get(mirror, tmp_path)
    mirror.sent.clear()
    again = _get(mirror, tmp_path)
    assert again.fetched == 0 and again.skipped == first.files
    assert [s.path for s in mirror.sent] == [f"{MITDB}/SHA256SUMS.txt"]


def test_a_part_file_is_resumed_with_range(mirror: Mirror, tmp_path: Path) -> None:
    body = (mirror.root / MITDB / "100.dat").read_bytes()
    folder = tmp_path / "mitdb"
    folder.mkdir()
    (folder / "100.dat.part").write_bytes(body[:100_000])
    _get(mirror, tmp_path, records=["100"])
    assert (folder / "100.dat").read_bytes() == body
    assert not (folder / "100.dat.part").exists()
    [sent] = [s for s in mirror.sent if s.path.endswith("100.dat")]
    assert (sent.status, sent.start, sent.nbytes) == (206, 100_000, BIG - 100_000)


def test_a_server_without_range_sends_the_whole_file(mirror: Mirror, tmp_path: Path) -> None:
    body = (mirror.root / MITDB / "100.dat").read_bytes()
    (tmp_path / "mitdb").mkdir()
    (tmp_path / "mitdb" / "100.dat.part").write_bytes(body[:100_000])
    mirror.ranges = False
    _get(mirror, tmp_path, records=["100"])
    assert (tmp_path / "mitdb" / "100.dat").read_bytes() == body
    [sent] = [s for s in mirror.sent if s.path.endswith("100.dat")]
    assert (sent.status, sent.nbytes) == (200, BIG)


def test_a_stale_part_is_fetched_again_whole(mirror: Mirror, tmp_path: Path) -> None:
    body = (mirror.root / MITDB / "100.dat").read_bytes()
    (tmp_path / "mitdb").mkdir()
    (tmp_path / "mitdb" / "100.dat.part").write_bytes(bytes(1000))  # not the file's start
    _get(mirror, tmp_path, records=["100"])
    assert (tmp_path / "mitdb" / "100.dat").read_bytes() == body


def test_a_dropped_connection_resumes_where_it_stopped(mirror: Mirror, tmp_path: Path) -> None:
    body = (mirror.root / MITDB / "100.dat").read_bytes()
    mirror.drop[f"{MITDB}/100.dat"] = 70_000
    _get(mirror, tmp_path, records=["100"])
    assert (tmp_path / "mitdb" / "100.dat").read_bytes() == body
    sent = [(s.status, s.start, s.nbytes) for s in mirror.sent if s.path.endswith("100.dat")]
    assert sent == [(200, 0, 70_000), (206, 70_000, BIG - 70_000)]


def test_a_corrupt_file_is_deleted_and_named(mirror: Mirror, tmp_path: Path) -> None:
    (mirror.root / MITDB / "101.dat").write_bytes(b"not what the sums say")
    with pytest.raises(InputError, match=r"101\.dat: SHA-256 mismatch") as caught:
        _get(mirror, tmp_path)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "mitdb" / "101.dat").exists()
    assert not (tmp_path / "mitdb" / "101.dat.part").exists()


def test_records_limit_what_is_fetched(mirror: Mirror, tmp_path: Path) -> None:
    result = _get(mirror, tmp_path, records=["100", "201"])
    folder = tmp_path / "mitdb"
    assert sorted(p.name for p in folder.iterdir()) == [
        *(f"{r}.{e}" for r in ("100", "201") for e in ("atr", "dat", "hea")),
        "ANNOTATORS",
        "RECORDS",
        "SHA256SUMS",
    ]
    assert (folder / "RECORDS").read_text() == "100\n201\n"
    assert result.fetched == 7
    # The rest later: the full set, and the server's own RECORDS.
    _get(mirror, tmp_path)
    assert (folder / "RECORDS").read_bytes() == (mirror.root / MITDB / "RECORDS").read_bytes()
    with pytest.raises(InputError, match="no record 999"):
        _get(mirror, tmp_path, records=["999"])


def test_cinc2017_comes_flat_from_its_training_folder(mirror: Mirror, tmp_path: Path) -> None:
    result = _get(mirror, tmp_path, "cinc2017")
    folder = tmp_path / "cinc2017"
    training = mirror.root / "challenge-2017/1.0.0/training"
    assert sorted(p.name for p in folder.iterdir()) == [
        "A00001.hea",
        "A00001.mat",
        "A00002.hea",
        "A00002.mat",
        "RECORDS",
        "REFERENCE.csv",
        "SHA256SUMS",
    ]
    assert (folder / "A00002.mat").read_bytes() == (training / "A00/A00002.mat").read_bytes()
    assert (folder / "RECORDS").read_text() == "A00001\nA00002\n"
    assert result.verified
    assert _get(mirror, tmp_path, "cinc2017").fetched == 0


def test_without_a_checksum_list_the_headers_name_the_files(mirror: Mirror, tmp_path: Path) -> None:
    (mirror.root / MITDB / "SHA256SUMS.txt").unlink()
    result = _get(mirror, tmp_path)
    assert not result.verified
    folder = tmp_path / "mitdb"
    for name in (
        "RECORDS",
        *(f"{r}.{e}" for r in ("100", "101", "201") for e in ["hea", "dat", "atr"]),
    ):
        assert (folder / name).read_bytes() == (mirror.root / MITDB / name).read_bytes()
    assert not (folder / "SHA256SUMS").exists()
    (mirror.root / "ltafdb/1.0.0/SHA256SUMS.txt").unlink()
    _get(mirror, tmp_path, "ltafdb")
    assert sorted(p.name for p in (tmp_path / "ltafdb").iterdir()) == [
        "00.atr",
        "00.dat",
        "00.hea",
        "00.qrs",
        "RECORDS",
    ]


def test_a_missing_file_names_its_url(mirror: Mirror, tmp_path: Path) -> None:
    (mirror.root / MITDB / "201.atr").unlink()
    with pytest.raises(InputError, match=rf"{mirror.url}{MITDB}/201\.atr: HTTP 404"):
        _get(mirror, tmp_path)
    assert not (tmp_path / "mitdb" / "201.atr").exists()


def test_bad_names_and_mirrors(mirror: Mirror, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown database 'afdb'"):
        _get(mirror, tmp_path, "afdb")
    with pytest.raises(InputError, match="not an http"):
        download("mitdb", tmp_path, mirror="ftp://example.org/")


def test_a_server_that_is_gone_is_named_after_retries(tmp_path: Path) -> None:
    with serve(tmp_path) as gone:
        url = gone.url
    with pytest.raises(InputError, match=rf"{url}mitdb/1.0.0/SHA256SUMS.txt: .*3 tries"):
        download("mitdb", tmp_path, mirror=url, retries=2, backoff=0.01, timeout=2)
