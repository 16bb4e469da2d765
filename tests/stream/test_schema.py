"""The generated JSON Schema: published as generated, valid, and true of the engine's output."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cardiostream import read
from cardiostream.samples import sample_path
from cardiostream.stream import StreamProcessor, analyze
from cardiostream.stream import schema as gen
from cardiostream.stream.beat_stream import beat_stream_messages
from cardiostream.stream.messages import SCHEMA_VERSION

PUBLISHED = Path(__file__).resolve().parents[2] / "docs" / "schema" / gen.FILE_NAME

Check = Callable[[Any], list[str]]


def _validator(schema: dict[str, Any]) -> Check:
    """A function giving the errors of an instance: jsonschema when installed, else the
    jsonschema_rs that schemathesis brings; the test is skipped without either."""
    try:
        import jsonschema

        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        py_validator = cls(schema)
        return lambda x: [e.message for e in py_validator.iter_errors(x)]
    except ImportError:
        pass
    try:
        import jsonschema_rs
    except ImportError:
        pytest.skip("neither jsonschema nor jsonschema_rs is installed (dev extra)")
    assert jsonschema_rs.meta.is_valid(schema)
    rs_validator = jsonschema_rs.validator_for(schema)
    return lambda x: [str(e) for e in rs_validator.iter_errors(x)]


@pytest.fixture(scope="module")
def check() -> Check:
    return _validator(gen.json_schema())


@pytest.fixture(scope="module")
def lines() -> list[dict[str, Any]]:
    """Real output, as JSON text read back: an AF record with its episode, a normal one,
    and a stream with missing samples, a filled and a restarting gap."""
    out: list[dict[str, Any]] = []
    for name in ("mitdb-201-af", "cinc2017-A00004", "mitdb-100-nsr"):
        out.append({"type": "record", "record": name})
        out += analyze(sample_path(name)).lines
    rec = read(sample_path("mitdb-201-af"))
    x, fs = rec.lead(0).astype(np.float64), rec.fs
    x[int(8 * fs) : int(21 * fs)] = np.nan  # missing samples: windows without beats
    proc = StreamProcessor(fs, max_fill_s=5.0)
    out += proc.push(x[: int(35 * fs)], t=100.0)
    out += proc.push(x[int(37 * fs) : int(50 * fs)], t=137.0)
    out += proc.push(x[int(50 * fs) :], t=300.0)
    out += proc.flush()
    # A beat-time stream: regular, irregular (an AF episode), a gap, a restart.
    rng = np.random.default_rng(5)
    rr = np.r_[0.8 + 0.02 * rng.standard_normal(80), rng.uniform(0.35, 1.1, 300), 6.0,
               0.8 + 0.02 * rng.standard_normal(60), 400.0, np.full(30, 0.9)]  # fmt: skip
    out += beat_stream_messages(np.cumsum(np.r_[0.0, rr]))
    return [json.loads(json.dumps(item, allow_nan=False)) for item in out]


def test_the_published_file_is_what_the_types_give() -> None:
    assert PUBLISHED.read_text(encoding="utf-8") == gen.schema_text(), (
        "docs/schema is stale: run python -m cardiostream.stream.schema docs/schema"
    )


def test_write_schema_writes_the_versioned_file(tmp_path: Path) -> None:
    path = gen.write_schema(tmp_path / "new")
    assert path == tmp_path / "new" / f"cardiostream-messages-v{SCHEMA_VERSION}.json"
    assert json.loads(path.read_text(encoding="utf-8")) == gen.json_schema()
    assert gen.main([str(tmp_path)]) == 0 and gen.main([]) == 2


def test_the_schema_names_its_version_and_every_message() -> None:
    doc = gen.json_schema()
    assert doc["$schema"].endswith("/draft/2020-12/schema")
    assert doc["$id"].endswith(f"v{SCHEMA_VERSION}")
    defs = doc["$defs"]
    assert {"Window", "Probabilities", "Hrv", "Quality", "EventOpen", "Event", "Gap"} <= set(defs)
    assert {"RecordLine", "Start", "Stop", "Ready", "Ack", "End", "Control"} <= set(defs)
    refs = {r["$ref"].rsplit("/", 1)[1] for r in doc["oneOf"]}
    assert "JsonSamples" not in refs and "Probabilities" not in refs
    assert refs == {n for n, d in defs.items() if "type" in d["properties"]}
    window = defs["Window"]
    assert window["additionalProperties"] is False
    assert window["properties"]["heart_rate_bpm"] == {"type": ["number", "null"]}
    assert "reason" not in defs["Event"]["required"]


def test_real_engine_output_is_valid(check: Check, lines: list[dict[str, Any]]) -> None:
    kinds = {item["type"] for item in lines}
    assert {"record", "window", "event_open", "event", "gap"} <= kinds
    assert {g["action"] for g in lines if g["type"] == "gap"} == {"filled", "restart"}
    windows = [w for w in lines if w["type"] == "window"]
    assert any(w["heart_rate_bpm"] is None and w["hrv"]["sdnn_ms"] is None for w in windows)
    assert any(w["label"] == "uncertain" for w in windows)
    beats = [w for w in windows if w.get("source") == "beats"]
    assert {r for w in beats for r in w["quality"]["reasons"]} == {"few_beats", "beat_gap"}
    assert {w["label"] for w in beats} == {"af", "normal", "uncertain"}
    for item in lines:
        assert check(item) == [], item


def _broken(lines: list[dict[str, Any]]) -> Iterator[tuple[str, Any]]:
    window = next(x for x in lines if x["type"] == "window")
    event = next(x for x in lines if x["type"] == "event")
    for key in ("label", "probabilities", "quality"):
        bad = copy.deepcopy(window)
        del bad[key]
        yield f"window without {key}", bad
    bad = copy.deepcopy(window)
    bad["label"] = "atrial_fibrillation"
    yield "unknown label", bad
    bad = copy.deepcopy(window)
    bad["raw_label"] = "uncertain"
    yield "uncertain is not a class", bad
    bad = copy.deepcopy(window)
    del bad["probabilities"]["noise"]
    yield "a class missing", bad
    bad = copy.deepcopy(window)
    bad["quality"]["reasons"] = ["bad_vibes"]
    yield "unknown reason", bad
    bad = copy.deepcopy(window)
    bad["stage_seconds"] = {"model": 0.1}
    yield "an undeclared key", bad
    bad = copy.deepcopy(window)
    bad["heart_rate_bpm"] = "NaN"
    yield "NaN as a string", bad
    bad = copy.deepcopy(window)
    bad["source"] = "ppg"
    yield "unknown source", bad
    bad = copy.deepcopy(event)
    bad["reason"] = "tired"
    yield "unknown close reason", bad
    yield "unknown type", {"type": "hello"}
    yield "gap without action", {"type": "gap", "t_start": 1.0, "t_end": 2.0}


def test_wrong_messages_are_refused(check: Check, lines: list[dict[str, Any]]) -> None:
    for what, bad in _broken(lines):
        assert check(bad), what


def test_protocol_messages_validate(check: Check) -> None:
    good = [
        {"type": "start", "stream_id": "bed-12", "fs": 250, "format": "float32", "lead": "II"},
        {"type": "stop"},
        {"type": "ready", "stream_id": "bed-12", "samples": 0, "resumed": False, "hop_s": 1,
         "window_s": 10},
        {"type": "ack", "samples": 2500},
        {"type": "end", "samples": 2500},
        {"type": "control", "mode": "af", "hr_bpm": 120},
        {"type": "dropped", "messages": 3},
        {"type": "start", "stream_id": "strap-3", "format": "beats"},
    ]  # fmt: skip
    for item in good:
        assert check(item) == [], item
    assert check({"type": "start", "stream_id": "x", "fs": 250, "format": "float64"})
    assert check({"type": "ack"})
    assert check({"type": "start", "stream_id": "x", "format": "rr"})


def test_types_without_a_json_form_are_refused() -> None:
    from typing import TypedDict

    class Odd(TypedDict):
        when: complex

    with pytest.raises(TypeError, match="no JSON Schema"):
        gen.definitions([Odd], "#/$defs/")

    def named_window() -> type:
        class Window(TypedDict):
            t: float

        return Window

    from cardiostream.stream.messages import Window

    with pytest.raises(TypeError, match="two messages named Window"):
        gen.definitions([Window, named_window()], "#/$defs/")
