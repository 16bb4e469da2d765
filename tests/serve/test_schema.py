"""Property-based requests generated from the OpenAPI schema: never a server error."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings

from .conftest import TOKEN, Live

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_no_server_errors_for_any_request_the_schema_allows(live: Live) -> None:
    schema = schemathesis.openapi.from_url(live.url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    paths = {op.path for op in operations}
    assert {"/v1/predict", "/v1/records/{record_id}/signal", "/healthz"} <= paths

    # Liveness and the description of the sockets need no token; everything else does.
    PUBLIC = ("/healthz", "/v1/asyncapi.json")
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            for headers in (AUTH, {}):
                response = case.call(headers=headers)
                where = (case.method, case.formatted_path, response.content[:200])
                assert response.status_code < 500, where
                if not headers and case.formatted_path not in PUBLIC:
                    assert response.status_code == 401, where

        check()
