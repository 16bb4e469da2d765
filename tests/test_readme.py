"""The README's code blocks: Python runs, shell commands are valid, JSON parses.

Python blocks run as they are (in a temporary folder); a block that talks to a server runs
against a real one started here, with ``127.0.0.1:8000`` pointed at it and its token in
``CARDIOSTREAM_TOKEN``. Every ``cardiostream`` command of a shell block must name a real
subcommand and only options that subcommand has, and runs, in a folder holding the files it
names (made from the bundled samples); the ones that stream to a server run against the
real one, bounded in time. ``serve`` runs until stopped and is left to the server tests, as
is ``control`` (it needs a live steerable stream). ``download`` runs against a PhysioNet
look-alike served on 127.0.0.1 (``--mirror`` pointed at it), there being no network in the
tests. ``make`` targets must exist.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cardiostream.cli import app, bare_cluster

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
BLOCKS = [(lang, body) for lang, body in FENCE.findall(README.read_text())]
SERVER_MARK = "127.0.0.1:8000"


def _commands(body: str) -> Iterator[list[str]]:
    joined = body.replace("\\\n", " ")
    for line in joined.splitlines():
        line = line.split(" #")[0].strip()
        if line.startswith("cardiostream "):
            yield shlex.split(line)[1:]


def test_the_readme_has_the_blocks_it_should() -> None:
    langs = [lang for lang, _ in BLOCKS]
    assert langs.count("python") >= 4 and "bash" in langs
    assert any("make demo" in body for _, body in BLOCKS)
    assert "```mermaid" in README.read_text()


@pytest.mark.parametrize(
    "argv", [argv for lang, body in BLOCKS if lang == "bash" for argv in _commands(body)],
    ids=lambda argv: " ".join(argv)[:60],
)  # fmt: skip
def test_every_cardiostream_command_in_the_readme_is_valid(argv: list[str]) -> None:
    runner = CliRunner()
    words = [a for a in argv if not a.startswith("-")]
    sub = [w for w in words[:2] if w in _subcommands()][:2]
    assert sub, f"not a cardiostream command: {argv}"
    if sub[0] == "bench" and len(words) > 1:
        sub = words[:2]
    helped = runner.invoke(app, [*sub, "--help"], terminal_width=400, env={"COLUMNS": "400"})
    assert helped.exit_code == 0, helped.output
    for option in (a.split("=")[0] for a in argv if a.startswith("--")):
        assert option in helped.output, f"{' '.join(sub)}: no option {option}"


def _subcommands() -> set[str]:
    runner = CliRunner()
    out = runner.invoke(app, ["--help"], terminal_width=400, env={"COLUMNS": "400"}).output
    return set(re.findall(r"│ ([\w-]+)\s", out)) | {"bench"}


def test_make_targets_in_the_readme_exist() -> None:
    makefile = (README.parent / "Makefile").read_text()
    for _, body in BLOCKS:
        for target in re.findall(r"^make (\w+)", body, re.M):
            assert re.search(rf"^{target}:", makefile, re.M), target


def test_json_blocks_parse() -> None:
    for lang, body in BLOCKS:
        if lang == "json":
            text = re.sub(r"\n(?=[^{])", " ", body.strip())  # objects wrapped over lines
            for line in text.splitlines():
                json.loads(line)


def _json_objects(body: str) -> list[dict[str, object]]:
    text = re.sub(r"\n(?=[^{])", " ", body.strip())  # objects wrapped over lines
    return [json.loads(line) for line in text.splitlines()]


def test_the_analyze_example_is_what_analyze_prints_today() -> None:
    from cardiostream import analyze
    from cardiostream.samples import sample_path

    text = README.read_text()
    intro = text.index("from `cardiostream analyze` on the bundled `mitdb-201-af` excerpt:")
    block = FENCE.search(text, intro)
    assert block is not None and block.group(1) == "json"
    shown = _json_objects(block.group(2))
    lines = json.loads(json.dumps(analyze(sample_path("mitdb-201-af")).lines))
    assert shown
    for item in shown:
        if item["type"] == "window":
            same = [x for x in lines if x["type"] == "window" and x["t_end"] == item["t_end"]]
        else:
            same = [x for x in lines if x["type"] == item["type"] and x["kind"] == item["kind"]]
        assert same == [item], (item, same)


@pytest.mark.parametrize(
    "body",
    [body for lang, body in BLOCKS if lang == "python"],
    ids=lambda body: body.strip().splitlines()[-1][:50],
)
def test_python_blocks_run(
    body: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    monkeypatch.chdir(tmp_path)
    if SERVER_MARK in body:
        live = request.getfixturevalue("readme_server")
        body = body.replace(SERVER_MARK, live.url.split("//")[1])
        monkeypatch.setenv("CARDIOSTREAM_TOKEN", live.config.tokens[0])
    exec(compile(body, str(README), "exec"), {"__name__": "readme"})


#: Commands that run until stopped, or need a live stream of their own.
NOT_RUN = {"serve", "control", "worker"}
#: Bounds for the commands that stream to the server.
BOUNDED = {
    "simulate": ["--duration", "12", "--speed", "20"],
    "play": ["--no-loop", "--speed", "50"],
}


def _workspace(folder: Path) -> None:
    """The files the README's commands name, made from the bundled samples."""
    from cardiostream.io import read
    from cardiostream.io.csv_format import write_csv
    from cardiostream.io.edf_format import write_edf
    from cardiostream.samples import sample_path

    def wfdb_copy(name: str, target: Path) -> None:
        src = sample_path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        header = src.read_text().replace(name, target.stem)
        target.write_text(header)
        for ext in (".dat", ".atr"):
            if src.with_suffix(ext).exists():
                target.with_suffix(ext).write_bytes(src.with_suffix(ext).read_bytes())

    for target in ("recording.hea", "rec.hea", "archive/a.hea", "holter/h1.hea"):
        wfdb_copy("mitdb-201-af", folder / target)
    wfdb_copy("mitdb-100-nsr", folder / "archive/b.hea")
    record = read(sample_path("mitdb-201-af"))
    write_edf(record, folder / "recording.edf")
    # The Holter section's day, shortened to 20 minutes.
    from cardiostream.record import Record
    from cardiostream.sim.holter_day import holter_day

    day = holter_day(1200.0)
    meta = {"start": day.start.isoformat()}
    write_edf(Record(day.signal[:, None], day.fs, ["ECG"], "day", meta=meta), folder / "day.edf")
    write_csv(record, folder / "recording.csv")
    # A chest strap's beats: RR intervals (ms), regular then irregular.
    rng = np.random.default_rng(0)
    rr = np.r_[800 + 20 * rng.standard_normal(60), rng.uniform(350, 1100, 60)]
    (folder / "strap.csv").write_text("rr_ms\n" + "\n".join(f"{v:.1f}" for v in rr) + "\n")
    # A watch's beats: times (s) from a pulse wave, up to 20 ms of timing noise, sinus rhythm.
    t = np.cumsum(np.r_[0.0, 0.8 + 0.02 * rng.standard_normal(150)]) + 0.02 * rng.random(151)
    (folder / "watch.csv").write_text("time_s\n" + "\n".join(f"{v:.3f}" for v in np.sort(t)))
    (folder / "recordings").mkdir()
    for name in ("cinc2017-A00004", "cinc2017-A00012"):
        src = sample_path(name)
        for ext in (".hea", ".mat"):
            (folder / "recordings" / (src.stem + ext)).write_bytes(
                src.with_suffix(ext).read_bytes()
            )


@pytest.mark.parametrize(
    "argv",
    [argv for lang, body in BLOCKS if lang == "bash" for argv in _commands(body)
     if argv[0] not in NOT_RUN],
    ids=lambda argv: " ".join(argv)[:60],
)  # fmt: skip
def test_every_cardiostream_command_in_the_readme_runs(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    _workspace(tmp_path)
    monkeypatch.chdir(tmp_path)
    argv = list(argv)
    if any(SERVER_MARK in a for a in argv):
        live = request.getfixturevalue("readme_server")
        argv = [a.replace(SERVER_MARK, live.url.split("//")[1]) for a in argv]
        argv += ["--token", live.config.tokens[0], *BOUNDED.get(argv[0], [])]
    if argv[0] == "download":
        argv += ["--mirror", request.getfixturevalue("readme_mirror").url]
    # As the script does: a bare --cluster means local.
    result = CliRunner().invoke(app, bare_cluster(argv))
    assert result.exit_code == 0, (argv, result.output[-2000:], result.exception)


@pytest.fixture(scope="module")
def readme_mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from tests.io.mirror import fake_physionet, serve

    with serve(fake_physionet(tmp_path_factory.mktemp("physionet"))) as mirror:
        yield mirror


@pytest.fixture(scope="module")
def readme_server() -> Iterator[object]:
    from cardiostream.io import ParquetStore, read
    from cardiostream.samples import sample_path
    from cardiostream.serve import ServeConfig
    from tests.serve.conftest import start_server

    store = Path(os.environ.get("TMPDIR", "/tmp")) / f"readme-store-{os.getpid()}"
    ParquetStore(store).write(read(sample_path("mitdb-201-af")), "mitdb-201-af")
    server, thread, live = start_server(ServeConfig(tokens=["readme-token"], store=store))
    yield live
    server.should_exit = True
    thread.join(10)
