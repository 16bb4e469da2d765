"""The wheel carries what the demo and the dashboard need, and works outside the source tree."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NEEDED = [
    "cardiostream/serve/static/index.html",
    "cardiostream/serve/static/live.js",
    "cardiostream/serve/static/records.js",
    "cardiostream/samples/data/mitdb-201-af.dat",
    "cardiostream/samples/data/A00004.mat",
    "cardiostream/rhythm/weights/rhythm.npz",
    "cardiostream/rhythm/weights/model.json",
    "cardiostream/beats/model/beats.json",
    "cardiostream/beats/model/rr_af.json",
    "cardiostream/beats/model/rr_af_pulse.json",
    "cardiostream/serve/static/ward.css",
    "cardiostream/serve/static/trace.css",
    "cardiostream/report/holter/templates/report.html.j2",
    "cardiostream/report/holter/templates/report.css",
]
CHECK = """
import sys
from pathlib import Path
import cardiostream
from cardiostream.samples import SAMPLES, sample_path
from cardiostream.serve.app import create_app
from cardiostream.serve import ServeConfig
from cardiostream.sim import af_playlist
from starlette.testclient import TestClient

assert Path(cardiostream.__file__).is_relative_to(Path(sys.argv[1])), cardiostream.__file__
assert all(sample_path(name).exists() for name in SAMPLES)
assert all(Path(p).exists() for p in af_playlist())
with TestClient(create_app(ServeConfig(tokens=["t"]))) as client:
    assert "cardiostream" in client.get("/").text
    assert client.get("/static/live.js").status_code == 200
print("ok")
"""


@pytest.mark.slow
def test_the_wheel_has_the_dashboard_samples_and_weights_and_runs_from_elsewhere(
    tmp_path: Path,
) -> None:
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    if not Path(uv).exists():
        pytest.skip("uv is not installed (make installs it into .venv)")
    built = subprocess.run(
        [uv, "build", "--wheel", "-q", "-o", str(tmp_path / "dist"), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if built.returncode != 0 and "network" in built.stderr.lower():
        pytest.skip(f"uv build needs its build backend from the package index: {built.stderr}")
    assert built.returncode == 0, built.stderr
    [wheel] = (tmp_path / "dist").glob("cardiostream-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert not [n for n in NEEDED if n not in names]
    target = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(target)  # a wheel is a zip of the installed files
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = subprocess.run(
        [sys.executable, "-c", CHECK, str(target)], cwd=elsewhere, capture_output=True,
        text=True, timeout=300, env={"PYTHONPATH": str(target), "HOME": str(tmp_path),
                                     "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]
