"""The records API with a damaged store: one broken record hides no other, and no response
names a folder of the server."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cardiostream.io import ParquetStore
from cardiostream.serve import ServeConfig, create_app
from tests.io.conftest import make_record

from .conftest import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def store(tmp_path: Path) -> ParquetStore:
    store = ParquetStore(tmp_path / "deep" / "server-only-folder" / "store")
    for name in ("good-1", "good-2", "broken"):
        record = make_record(n_samples=2500, fs=250.0, name=name)
        record.meta["source"] = str(tmp_path / "secret-folder" / f"{name}.hea")
        record.meta["comments"] = [f"converted from {tmp_path}/secret-folder/{name}.hea"]
        store.write(record)
    return store


@pytest.fixture
def client(store: ParquetStore) -> Iterator[TestClient]:
    # The records routes need no engine: the app runs without its lifespan.
    yield TestClient(create_app(ServeConfig(tokens=[TOKEN], store=store.path)))


def _no_paths(text: str, store: ParquetStore) -> None:
    root = str(store.path.parents[2])
    assert root not in text and "server-only-folder" not in text and "secret-folder/" not in text


def test_a_corrupt_meta_json_hides_only_its_own_record(
    client: TestClient, store: ParquetStore, caplog: pytest.LogCaptureFixture
) -> None:
    (store.partition_dir("broken") / "meta.json").write_text('{"id": "broken", "fs": ')
    with caplog.at_level(logging.WARNING, logger="cardiostream.io.store"):
        response = client.get("/v1/records", headers=AUTH)
    assert response.status_code == 200, response.text
    assert [r["id"] for r in response.json()] == ["good-1", "good-2"]
    assert any("'broken'" in r.getMessage() for r in caplog.records)
    one = client.get("/v1/records/broken", headers=AUTH)
    assert one.status_code == 422 and "meta.json" in one.json()["detail"]
    _no_paths(one.text, store)


def test_metadata_names_files_not_server_folders(client: TestClient, store: ParquetStore) -> None:
    meta = client.get("/v1/records/good-1", headers=AUTH).json()
    assert meta["source"] == "good-1.hea" and meta["meta"]["source"] == "good-1.hea"
    assert meta["meta"]["comments"] == ["converted from good-1.hea"]
    _no_paths(json.dumps(meta), store)
    # On disk the store keeps the whole path: only responses are cut.
    assert "secret-folder" in (store.partition_dir("good-1") / "meta.json").read_text()


def test_errors_about_store_files_name_no_server_folder(
    client: TestClient, store: ParquetStore
) -> None:
    (store.partition_dir("good-2") / "part-0.parquet").write_bytes(b"PAR1 torn")
    (store.partition_dir("good-1") / "annotations.parquet").write_bytes(b"not parquet")
    for path in (
        "/v1/records/good-2/signal",
        "/v1/records/good-2/rpeaks",
        "/v1/records/good-1/annotations",
    ):
        response = client.get(path, headers=AUTH)
        assert response.status_code == 422, (path, response.text)
        assert "parquet" in response.json()["detail"], response.text
        _no_paths(response.text, store)


def test_a_server_start_cleans_what_killed_writes_left(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    store.write(make_record(n_samples=500, name="r"))
    half = tmp_path / ".tmp-r-0123"
    half.mkdir()
    (half / "part-0.parquet").write_bytes(b"PAR1 torn")
    for p in (half, half / "part-0.parquet"):
        os.utime(p, (1e9, 1e9))  # 2001: long stale
    create_app(ServeConfig(tokens=[TOKEN], store=tmp_path))
    assert not half.exists() and store.ids() == ["r"]
