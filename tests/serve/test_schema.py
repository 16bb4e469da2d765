"""Requests generated from the OpenAPI document by schemathesis, every check on: no server
error, responses and statuses as documented, bad input refused, valid input accepted.

It runs the schemathesis command line against the test server, with the repository's
``schemathesis.toml`` (which says why a too-short ``/v1/predict`` body is a right 422), as an
operator would: ``schemathesis run URL/openapi.json --checks all -H "Authorization: ..."``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import schemathesis

from cardiostream.io import ParquetStore
from tests.io.conftest import make_record

from .conftest import TOKEN, Live

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).with_name("schemathesis")


def _run(live: Live, config: Path, workdir: Path, *extra: str) -> str:
    command = [
        str(CLI), "--no-color", "--config-file", str(config), "run",
        f"{live.url}/openapi.json", "--checks", "all",
        "-H", f"Authorization: Bearer {TOKEN}",
        "--seed", "20260101", "--max-examples", "15", "--workers", "2", *extra,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=workdir)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    return done.stdout


def _cases(out: str) -> int:
    found = re.search(r"(\d+) generated, \1 passed", out)
    assert found, out[-2000:]
    return int(found.group(1))


def test_every_check_passes_on_generated_requests(live: Live, tmp_path: Path) -> None:
    schema = schemathesis.openapi.from_url(live.url + "/openapi.json")
    paths = {result.ok().path for result in schema.get_all_operations()}
    assert {"/v1/predict", "/v1/records/{record_id}/signal", "/healthz", "/metrics"} <= paths

    out = _run(live, ROOT / "schemathesis.toml", tmp_path)  # its cache goes to tmp_path
    assert "Tested: 27" in out and _cases(out) > 500, out[-3000:]


def test_no_server_error_and_documented_answers_on_a_real_record(
    live: Live, tmp_path: Path
) -> None:
    """The same with every ``record_id`` a record in the store, so that requests reach the
    records' code rather than stopping at 404. Valid-looking requests may rightly be refused
    there (a lead the record lacks, a start past its end: things no schema of the API can
    know), so the check that valid data is accepted is left out of this pass."""
    assert live.config.store is not None
    store = ParquetStore(live.config.store)
    record_id = store.write(
        make_record(n_samples=5000, fs=250.0, name=f"st-{uuid.uuid4().hex[:8]}")
    )
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        (ROOT / "schemathesis.toml").read_text()
        + f'\n[parameters]\n"path.record_id" = "{record_id}"\n'
    )
    try:
        out = _run(live, config, tmp_path, "--exclude-checks", "positive_data_acceptance")
    finally:
        shutil.rmtree(store.partition_dir(record_id))
    assert _cases(out) > 300
