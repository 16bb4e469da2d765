"""``/v1/records/{id}/user-annotations`` over HTTP, on the real server and store."""

from __future__ import annotations

import csv
import io
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import wfdb

from cardiostream.io import ParquetStore
from cardiostream.io import user_annotations as ua
from tests.io.conftest import make_record

from .conftest import OTHER, TOKEN, Live

FS = 250.0


@pytest.fixture(scope="module")
def rec(live: Live) -> Iterator[str]:
    """A fresh 10 s record of our own in the server's store, so that no other test's
    annotations get in the way; removed afterwards."""
    assert live.config.store is not None
    store = ParquetStore(live.config.store)
    record_id = store.write(make_record(n_samples=2500, fs=FS, name=f"ua-{uuid.uuid4().hex[:8]}"))
    yield record_id
    shutil.rmtree(store.partition_dir(record_id))


def _call(
    live: Live, method: str, path: str, token: str | None = TOKEN, **kwargs: Any
) -> httpx.Response:
    headers = dict(kwargs.pop("headers", {}))
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.request(method, live.url + path, headers=headers, timeout=30, **kwargs)


def _base(record_id: str) -> str:
    return f"/v1/records/{record_id}/user-annotations"


def _body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": "af", "status": "confirmed", "start_s": 2.0, "end_s": 4.5}
    body.update(changes)
    return body


def _add(live: Live, rec: str, token: str = TOKEN, **changes: Any) -> dict[str, Any]:
    response = _call(live, "POST", _base(rec), token, json=_body(**changes))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _ids(live: Live, rec: str, token: str = TOKEN) -> list[str]:
    response = _call(live, "GET", _base(rec), token)
    assert response.status_code == 200 and response.json()["record"] == rec
    return [a["id"] for a in response.json()["annotations"]]


def test_create_list_update_delete(live: Live, rec: str) -> None:
    event = {"start_s": 1.9, "end_s": 4.6, "confidence": 0.87}
    created = _add(live, rec, note="clear AF", event=event)
    assert len(created["id"]) == 32 and created["author"] == live.config.owner(TOKEN)
    assert created["event"] == event and created["note"] == "clear AF"
    assert created["created"] == created["updated"] and created["created"].endswith("Z")
    # The store is shared: the other token sees it too.
    assert created["id"] in _ids(live, rec) and created["id"] in _ids(live, rec, OTHER)

    path = f"{_base(rec)}/{created['id']}"
    body = _body(kind="noise", status="rejected", start_s=2.5, end_s=3.0)
    changed = _call(live, "PUT", path, OTHER, json=body)
    assert changed.status_code == 200, changed.text
    got = changed.json()
    assert (got["id"], got["created"]) == (created["id"], created["created"])
    assert got["author"] == live.config.owner(OTHER) != created["author"]
    assert (got["kind"], got["status"], got["note"], got["event"]) == (
        "noise",
        "rejected",
        "",
        None,
    )
    assert got["updated"] >= created["updated"]
    listed = _call(live, "GET", _base(rec)).json()["annotations"]
    assert [a for a in listed if a["id"] == created["id"]] == [got]

    assert _call(live, "DELETE", path, OTHER).status_code == 204
    assert created["id"] not in _ids(live, rec)
    assert _call(live, "DELETE", path).status_code == 404
    assert _call(live, "PUT", path, json=_body()).status_code == 404


def test_marked_is_the_default_status(live: Live, rec: str) -> None:
    response = _call(live, "POST", _base(rec), json={"kind": "normal", "start_s": 0, "end_s": 1})
    created = response.json()
    assert response.status_code == 201 and created["status"] == "marked"
    assert created["event"] is None and created["note"] == ""
    _call(live, "DELETE", f"{_base(rec)}/{created['id']}")


def test_listed_by_start(live: Live, rec: str) -> None:
    late, early = _add(live, rec, start_s=8.0, end_s=9.0), _add(live, rec, start_s=0, end_s=1)
    ids = _ids(live, rec)
    assert ids.index(early["id"]) < ids.index(late["id"])
    for a in (late, early):
        _call(live, "DELETE", f"{_base(rec)}/{a['id']}")


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"end_s": 1.0}, "end_s"),
        ({"end_s": 2.0}, "end_s"),
        ({"end_s": 10.01}, "past the end"),
        ({"start_s": -1}, "start_s"),
        ({"kind": "vt"}, "kind"),
        ({"status": "perhaps"}, "status"),
        ({"note": "x" * 2001}, "note"),
        ({"colour": "red"}, "colour"),
        ({"event": {"start_s": 3, "end_s": 1}}, "event.end_s"),
        ({"event": {"start_s": 1, "end_s": 3, "confidence": 2}}, "confidence"),
        ({"event": {"start_s": 1, "end_s": 3, "confidence": False}}, "confidence"),
        ({"start_s": True}, "start_s"),
        ({"end_s": "4"}, "end_s"),
    ],
)
def test_bad_bodies_are_422_with_words(
    live: Live, rec: str, changes: dict[str, Any], words: str
) -> None:
    before = _ids(live, rec)
    for method, path in [("POST", _base(rec)), ("PUT", f"{_base(rec)}/{uuid.uuid4().hex}")]:
        response = _call(live, method, path, json=_body(**changes))
        assert response.status_code == 422, response.text
        assert words in response.text
    assert _ids(live, rec) == before


def test_non_finite_times_and_bad_json_are_422(live: Live, rec: str) -> None:
    raw = '{"kind": "af", "start_s": NaN, "end_s": Infinity}'
    headers = {"Content-Type": "application/json"}
    assert _call(live, "POST", _base(rec), content=raw, headers=headers).status_code == 422
    assert _call(live, "POST", _base(rec), content="{", headers=headers).status_code == 422
    # A lone surrogate: no UTF-8 response or file could hold it.
    raw = '{"kind": "af", "start_s": 1, "end_s": 2, "note": "\\ud800"}'
    response = _call(live, "POST", _base(rec), content=raw, headers=headers)
    assert response.status_code == 422 and "JSON" in response.text
    # Without a token, nothing of the body is looked at.
    assert _call(live, "POST", _base(rec), None, content="{", headers=headers).status_code == 401


def test_the_longest_note_and_the_whole_record_are_accepted(live: Live, rec: str) -> None:
    created = _add(live, rec, start_s=0, end_s=10.0, note="é" * 2000)
    assert created["end_s"] == 10.0 and len(created["note"]) == 2000
    _call(live, "DELETE", f"{_base(rec)}/{created['id']}")


def test_kept_beside_the_record(live: Live, rec: str) -> None:
    created = _add(live, rec, note="on disk")
    assert live.config.store is not None
    store = ParquetStore(live.config.store)  # another reader of the same folder
    assert (store.partition_dir(rec) / "user_annotations.journal").is_file()
    assert created in [a.to_dict() for a in ua.load(store, rec)]
    _call(live, "DELETE", f"{_base(rec)}/{created['id']}")
    assert created["id"] not in [a.id for a in ua.load(store, rec)]


def test_export_csv_and_wfdb(live: Live, rec: str, tmp_path: Path) -> None:
    af = _add(live, rec, start_s=1.0, end_s=3.0, note='a "quoted", note')
    rejected = _add(live, rec, kind="other", status="rejected", start_s=5.0, end_s=6.0)

    response = _call(live, "GET", f"{_base(rec)}/export", params={"format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == f'attachment; filename="{rec}.csv"'
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(response.text))}
    assert rows[af["id"]]["note"] == 'a "quoted", note' and rejected["id"] in rows
    assert rows[af["id"]]["author"] == live.config.owner(TOKEN)
    assert _call(live, "GET", f"{_base(rec)}/export").text == response.text  # csv by default

    response = _call(live, "GET", f"{_base(rec)}/export", OTHER, params={"format": "wfdb"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == f'attachment; filename="{rec}.usr"'
    (tmp_path / "x.usr").write_bytes(response.content)
    ann = wfdb.rdann(str(tmp_path / "x"), "usr")
    assert ann.fs == FS
    assert list(zip(ann.sample.tolist(), ann.symbol, ann.aux_note, strict=True)) == [
        (250, "+", "(AFIB"),
        (250, '"', ua.comment_text(ua.from_dict(af))),
        (750, "+", "(N"),
        (1250, '"', ua.comment_text(ua.from_dict(rejected))),
    ]  # the rejected verdict is no episode, but its comment is kept
    assert ua.read_comments(ann.sample.tolist(), ann.aux_note)[0]["note"] == 'a "quoted", note'

    assert _call(live, "GET", f"{_base(rec)}/export", params={"format": "xml"}).status_code == 422
    for a in (af, rejected):
        _call(live, "DELETE", f"{_base(rec)}/{a['id']}")


def test_wfdb_export_keeps_a_confirmed_episode_around_a_mark(
    live: Live, rec: str, tmp_path: Path
) -> None:
    # A confirmed AF episode with an "other" mark inside it, reaching the record's end (10 s):
    # AF comes back after the mark, and no normal rhythm is made up anywhere.
    episode = _add(live, rec, start_s=0.0, end_s=10.0, note="AF all through\nsee the strip")
    mark = _add(live, rec, kind="other", status="marked", start_s=1.25, end_s=2.1,
                note="Flattern? – fraglich")  # fmt: skip
    response = _call(live, "GET", f"{_base(rec)}/export", params={"format": "wfdb"})
    assert response.status_code == 200
    (tmp_path / "n.usr").write_bytes(response.content)
    ann = wfdb.rdann(str(tmp_path / "n"), "usr")
    changes = [(s, a) for s, y, a in zip(ann.sample.tolist(), ann.symbol, ann.aux_note,
                                         strict=True) if y == "+"]  # fmt: skip
    assert changes == [(0, "(AFIB"), (312, "(OTHER"), (525, "(AFIB")]
    notes = ua.read_comments(ann.sample.tolist(), ann.aux_note)
    owner = live.config.owner(TOKEN)
    assert [(n["sample"], n["status"], n["author"], n["note"]) for n in notes] == [
        (1, "confirmed", owner, "AF all through\nsee the strip"),
        (312, "marked", owner, "Flattern? – fraglich"),
    ]
    for a in (episode, mark):
        _call(live, "DELETE", f"{_base(rec)}/{a['id']}")


def test_unknown_records_and_odd_ids(live: Live, rec: str) -> None:
    some = uuid.uuid4().hex
    for record_id in ("nope", "..", "...", "a%2F..%2F..", "%2e%2e"):
        base = _base(record_id)
        for method, path, kwargs in [
            ("GET", base, {}),
            ("POST", base, {"json": _body()}),
            ("PUT", f"{base}/{some}", {"json": _body()}),
            ("DELETE", f"{base}/{some}", {}),
            ("GET", f"{base}/export", {}),
        ]:
            response = _call(live, method, path, **kwargs)
            assert response.status_code == 404, (method, path, response.text)
    for annotation_id in ("..", "..%2Fmeta.json", "%2e%2e", some.upper(), some[:-1], "export"):
        path = f"{_base(rec)}/{annotation_id}"
        assert _call(live, "DELETE", path).status_code in (404, 405, 422), path
        assert _call(live, "PUT", path, json=_body()).status_code in (404, 405, 422), path
    assert (Path(str(live.config.store)) / f"record={rec}" / "meta.json").is_file()


def test_a_token_is_needed(live: Live, rec: str) -> None:
    some = uuid.uuid4().hex
    for token in (None, "wrong"):
        for method, path, kwargs in [
            ("GET", _base(rec), {}),
            ("POST", _base(rec), {"json": _body()}),
            ("PUT", f"{_base(rec)}/{some}", {"json": _body()}),
            ("DELETE", f"{_base(rec)}/{some}", {}),
            ("GET", f"{_base(rec)}/export", {}),
        ]:
            assert _call(live, method, path, token, **kwargs).status_code == 401


def test_a_corrupt_file_is_a_500_with_words_and_is_kept(live: Live, rec: str) -> None:
    assert live.config.store is not None
    file = ParquetStore(live.config.store).partition_dir(rec) / "user_annotations.json"
    saved = file.read_bytes() if file.exists() else None
    file.write_text("{broken", encoding="utf-8")
    try:
        for method, kwargs in [("GET", {}), ("POST", {"json": _body()})]:
            response = _call(live, method, _base(rec), **kwargs)
            assert response.status_code == 500
            assert "unreadable" in response.json()["detail"]
        assert file.read_text(encoding="utf-8") == "{broken"
    finally:
        if saved is None:
            file.unlink()
        else:
            file.write_bytes(saved)
    assert _call(live, "GET", _base(rec)).status_code == 200
