"""Which routes answer without a token, and that the module notes say the same."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount
from starlette.websockets import WebSocketDisconnect

from cardiostream.serve import ServeConfig, create_app
from cardiostream.serve import app as app_module

from .conftest import TOKEN


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    # No lifespan: nothing here needs the engine, and a route that did would not be open.
    yield TestClient(create_app(ServeConfig(tokens=[TOKEN], store=tmp_path)))


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "0" * 32, path)


def _open_without_a_token(client: TestClient) -> set[str]:
    found = set()
    for route in client.app.routes:  # type: ignore[attr-defined]
        if isinstance(route, Mount):
            response = client.get(route.path + "/style.css")
            if response.status_code == 200:
                found.add(route.path)
        elif isinstance(route, APIWebSocketRoute):
            with client.websocket_connect(route.path) as ws:
                try:
                    ws.receive_text()
                    found.add(route.path)
                except WebSocketDisconnect as closed:
                    assert closed.code == 1008, (route.path, closed.code)
        elif isinstance(route, APIRoute) or hasattr(route, "methods"):
            for method in sorted(route.methods - {"HEAD"}):  # type: ignore[attr-defined]
                response = client.request(method, _concrete(route.path))
                if response.status_code != 401:
                    found.add(route.path)
    return found


def test_exactly_the_documented_routes_are_open(client: TestClient) -> None:
    assert _open_without_a_token(client) == set(app_module.OPEN_ROUTES)


def test_the_module_notes_name_each_open_route() -> None:
    notes = app_module.__doc__ or ""
    for path in app_module.OPEN_ROUTES:
        assert f"``{path}" in notes, path


def test_docs_load_nothing_from_elsewhere(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert client.get("/redoc").status_code == 404
    static = Path(app_module.__file__).with_name("static")
    for name in ("docs.html", "docs.js", "docs.css"):
        text = (static / name).read_text()
        assert not re.search(r"(src|href)=[\"']?(https?:)?//", text), name
        assert "cdn" not in text.lower(), name
    for referenced in re.findall(r"/static/([\w.-]+)", page.text):
        assert client.get(f"/static/{referenced}").status_code == 200, referenced


def _metrics(config: ServeConfig, token: str | None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return TestClient(create_app(config)).get("/metrics", headers=headers).status_code


def test_only_the_operator_reads_the_metrics(tmp_path: Path) -> None:
    # Without a metrics token, the first token is the operator's; the others are tenants.
    tenants = ServeConfig(tokens=["operator", "tenant"])
    assert [_metrics(tenants, t) for t in ("operator", "tenant", None, "x")] == [
        200, 403, 401, 401
    ]  # fmt: skip
    # A metrics token reads the metrics and nothing else; the tenants' tokens cannot.
    scraper = ServeConfig(tokens=["a", "b"], metrics_tokens=["scraper"])
    assert [_metrics(scraper, t) for t in ("scraper", "a", "b")] == [200, 403, 403]
    client = TestClient(create_app(scraper))
    records = client.get("/v1/records", headers={"Authorization": "Bearer scraper"})
    assert records.status_code == 401
