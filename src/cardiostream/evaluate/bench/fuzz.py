"""Corrupted files through every reader: each must read cleanly or be refused, in bounded time.

Valid files of every format the readers accept (WFDB header, signal and annotation files,
EDF+, CSV and TSV with their annotation side file, Parquet tables, store partitions with
their user annotations) are written from a bundled sample, then corrupted deterministically:
truncated, bytes flipped, inserted or deleted, or a header field swapped for an odd value
(``nan``, ``-0``, ``1e308``, ``+5``, empty, a huge integer, bytes that are not UTF-8). Each
corrupted file goes through the public reader in a worker process under a time limit. A file
passes when it reads into a sane record (finite positive rate, a non-empty 2-D float32
signal, annotations inside it) or is refused with an :class:`~cardiostream.errors.InputError`;
any other exception, a crashed worker or a read that outlasts the limit fails it, and is
named by its format, file, mutation and seed.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import multiprocessing
import re
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import numpy as np

from cardiostream.errors import InputError
from cardiostream.record import Record

#: The formats fuzzed, each a folder of valid files written by :func:`write_seeds`, the file
#: that the reader is given, and the files that may be corrupted.
FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    "wfdb-212": ("rec.hea", ("rec.hea", "rec.dat", "rec.atr")),
    "wfdb-mat": ("A00004.hea", ("A00004.hea", "A00004.mat")),
    "wfdb-multi": ("multi.hea", ("multi.hea", "seg1.hea", "seg1.dat", "seg2.hea")),
    "edf": ("rec.edf", ("rec.edf",)),
    "csv": ("rec.csv", ("rec.csv", "rec.annotations.csv")),
    "tsv": ("rec.tsv", ("rec.tsv",)),
    "csv-gz": ("rec.csv.gz", ("rec.csv.gz",)),
    "parquet": ("rec.parquet", ("rec.parquet",)),
    "store": (
        "store/record=rec",
        (
            "store/record=rec/meta.json",
            "store/record=rec/part-0.parquet",
            "store/record=rec/annotations.parquet",
            "store/record=rec/user_annotations.json",
            "store/record=rec/user_annotations.journal",
        ),
    ),
}

#: Values swapped into header fields: signs, exponents, overflow, empty, text, non-UTF-8.
ODD_VALUES: tuple[bytes, ...] = (
    b"nan", b"-nan", b"inf", b"-inf", b"-0", b"0", b"-1", b"+5", b"1e308", b"1e-308", b"1e3",
    b"", b" ", b"99999999999999999999", b"-99999999999999999999", b"4294967296", b"0x10",
    b"abc", b"1,5", b"\xff\xfe", b"\xc3\x28", b"\x00", b"[/]", b"1/0", b"()", b"360(",
)  # fmt: skip

#: Seconds a worker may take to import the readers.
_STARTUP_S = 120

MUTATIONS = ("truncate", "flip", "insert", "delete", "field", "stack")

#: Seconds of the bundled sample that the seed files hold.
_SEED_SECONDS = 10.0


@dataclass(frozen=True)
class Case:
    """One corrupted file: which seed folder, which of its files, how it was corrupted."""

    index: int
    fmt: str
    target: str
    mutation: str
    seed: int

    def describe(self) -> str:
        """A line that names the case well enough to build it again."""
        return f"#{self.index} {self.fmt}/{self.target} {self.mutation} seed={self.seed}"


@dataclass
class Outcome:
    """What a reader did with one case: ``read``, ``refused``, ``traceback`` or ``hang``."""

    case: Case
    result: str
    detail: str = ""
    seconds: float = 0.0


@dataclass
class FuzzResult:
    """The outcomes of a fuzzing run, with the run's settings."""

    seed: int
    timeout_s: float
    workers: int
    seconds: float
    outcomes: list[Outcome] = field(default_factory=list)

    def failures(self) -> list[Outcome]:
        """The hangs and tracebacks."""
        return [o for o in self.outcomes if o.result in ("hang", "traceback")]

    def counts(self) -> dict[str, dict[str, int]]:
        """Per format (and ``all``): files, reads, refusals, hangs, tracebacks."""
        table: dict[str, dict[str, int]] = {}
        for o in self.outcomes:
            for key in (o.case.fmt, "all"):
                row = table.setdefault(
                    key, {"files": 0, "read": 0, "refused": 0, "hang": 0, "traceback": 0}
                )
                row["files"] += 1
                row[o.result] += 1
        if "all" in table:
            table["all"] = table.pop("all")
        return table

    def to_dict(self) -> dict[str, Any]:
        """The run as JSON-ready data."""
        return {
            "seed": self.seed,
            "timeout_s": self.timeout_s,
            "workers": self.workers,
            "seconds": round(self.seconds, 2),
            "counts": self.counts(),
            "failures": [
                {**asdict(o.case), "result": o.result, "detail": o.detail} for o in self.failures()
            ],
        }


def write_seeds(folder: Path) -> None:
    """Write one valid file set of each format in :data:`FORMATS` under ``folder/<format>``.

    Parameters
    ----------
    folder : Path
        Where the seed folders go (created).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq
    import wfdb

    from cardiostream.io import read, write_csv, write_edf, write_store
    from cardiostream.io.store import ParquetStore
    from cardiostream.io.user_annotations import add, load, save
    from cardiostream.samples import sample_path

    full = read(sample_path("mitdb-201-af"))
    n = int(_SEED_SECONDS * full.fs)
    record = _excerpt(full, n)

    target = folder / "wfdb-212"
    target.mkdir(parents=True)
    wfdb.wrsamp(
        "rec",
        fs=record.fs,
        units=["mV"] * len(record.leads),
        sig_name=record.leads,
        p_signal=record.signal.astype(np.float64),
        fmt=["212"] * len(record.leads),
        adc_gain=[200.0] * len(record.leads),
        baseline=[1024] * len(record.leads),
        write_dir=str(target),
    )
    beats = record.annotations.beats
    rhythms = record.annotations.rhythms
    samples = np.concatenate([beats.sample, rhythms.start]).astype(np.int64)
    symbols = [*beats.symbol.tolist(), *["+"] * len(rhythms.start)]
    notes = [*[""] * len(beats.sample), *[f"({label}" for label in rhythms.label.tolist()]]
    order = np.argsort(samples, kind="stable")
    wfdb.wrann(
        "rec",
        "atr",
        sample=samples[order],
        symbol=[symbols[k] for k in order],
        aux_note=[notes[k] for k in order],
        write_dir=str(target),
    )

    target = folder / "wfdb-multi"
    target.mkdir()
    half = n // 2
    for k, part in enumerate((record.signal[:half], record.signal[half:]), start=1):
        wfdb.wrsamp(
            f"seg{k}",
            fs=record.fs,
            units=["mV"] * len(record.leads),
            sig_name=record.leads,
            p_signal=part.astype(np.float64),
            fmt=["16"] * len(record.leads),
            adc_gain=[200.0] * len(record.leads),
            baseline=[0] * len(record.leads),
            write_dir=str(target),
        )
    (target / "multi.hea").write_text(
        f"multi/2 {len(record.leads)} {record.fs:g} {n}\nseg1 {half}\nseg2 {n - half}\n"
    )

    target = folder / "wfdb-mat"
    target.mkdir()
    for suffix in (".hea", ".mat"):
        shutil.copy(sample_path("cinc2017-A00004").with_suffix(suffix), target / f"A00004{suffix}")

    (folder / "edf").mkdir()
    write_edf(record, folder / "edf" / "rec.edf")
    (folder / "csv").mkdir()
    write_csv(record, folder / "csv" / "rec.csv")
    (folder / "tsv").mkdir()
    times = np.arange(record.n_samples) / record.fs
    lines = ["time_s\t" + "\t".join(f"{lead} (mV)" for lead in record.leads)]
    lines += [
        f"{t:.6f}\t" + "\t".join(f"{v:.4f}" for v in row)
        for t, row in zip(times, record.signal, strict=True)
    ]
    (folder / "tsv" / "rec.tsv").write_text("\n".join(lines) + "\n")
    (folder / "csv-gz").mkdir()
    with gzip.GzipFile(folder / "csv-gz" / "rec.csv.gz", "wb", mtime=0) as f:
        f.write((folder / "csv" / "rec.csv").read_bytes())
    (folder / "parquet").mkdir()
    columns: dict[str, Any] = {"time_s": times}
    columns.update(
        {f"{lead}_uV": record.signal[:, j] * 1000 for j, lead in enumerate(record.leads)}
    )
    pq.write_table(pa.table(columns), folder / "parquet" / "rec.parquet")
    write_store([record], folder / "store" / "store")
    store = ParquetStore(folder / "store" / "store")
    # Reviewers' annotations as a snapshot and a journal line after it: both get corrupted.
    add(
        store,
        "rec",
        {
            "kind": "af",
            "start_s": 1.0,
            "end_s": 4.5,
            "note": "reviewed",
            "event": {"start_s": 1.0, "end_s": 4.0, "confidence": 0.9},
        },
        "reviewer",
    )
    save(store, "rec", load(store, "rec"))
    add(store, "rec", {"kind": "af", "start_s": 5.0, "end_s": 8.0}, "reviewer")


def _excerpt(full: Record, n: int) -> Record:
    """The first ``n`` samples of ``full`` as record ``rec``, with the annotations inside."""
    from cardiostream.record import Annotations, BeatTable, RhythmTable

    beats = full.annotations.beats
    keep = beats.sample < n
    rhythms = full.annotations.rhythms
    inside = rhythms.start < n
    return Record(
        signal=np.ascontiguousarray(full.signal[:n]),
        fs=full.fs,
        leads=full.leads,
        name="rec",
        annotations=Annotations(
            beats=BeatTable(beats.sample[keep], beats.symbol[keep]),
            rhythms=RhythmTable(
                rhythms.start[inside], np.minimum(rhythms.end[inside], n), rhythms.label[inside]
            ),
        ),
    )


def plan(n_files: int, seed: int) -> list[Case]:
    """The cases of a run: formats, files and mutations in turn, each with its own seed.

    Parameters
    ----------
    n_files : int
        How many corrupted files.
    seed : int
        The run's seed; the same seed gives the same cases.
    """
    targets = [(fmt, name) for fmt, (_, names) in FORMATS.items() for name in names]
    cases = []
    for k in range(n_files):
        fmt, name = targets[k % len(targets)]
        mutation = MUTATIONS[(k // len(targets)) % len(MUTATIONS)]
        cases.append(Case(k, fmt, name, mutation, seed * 1_000_003 + k))
    return cases


def mutate(data: bytes, mutation: str, rng: np.random.Generator, *, name: str = "") -> bytes:
    """Corrupt ``data`` one way, deterministically for a given generator state.

    Parameters
    ----------
    data : bytes
        The valid file's content.
    mutation : str
        One of :data:`MUTATIONS`.
    rng : numpy.random.Generator
        The source of every choice.
    name : str
        The file's name: ``field`` swaps an EDF header field for an EDF file and a token of
        the first lines for a text file.

    Returns
    -------
    bytes
        The corrupted content.
    """
    n = len(data)
    # Corruption near the start hits the headers, where parsers branch most.
    at = (
        int(rng.integers(0, max(n, 1)))
        if rng.random() < 0.5
        else int(rng.integers(0, min(n, 512) or 1))
    )
    if mutation == "truncate":
        return data[:at]
    if mutation == "flip":
        out = bytearray(data)
        for _ in range(int(rng.integers(1, 9))):
            if out:
                k = (
                    int(rng.integers(0, len(out)))
                    if rng.random() < 0.5
                    else int(rng.integers(0, min(len(out), 512)))
                )
                out[k] ^= 1 << int(rng.integers(0, 8))
        return bytes(out)
    if mutation == "insert":
        extra = rng.integers(0, 256, int(rng.integers(1, 17)), dtype=np.uint8).tobytes()
        return data[:at] + extra + data[at:]
    if mutation == "delete":
        return data[:at] + data[at + int(rng.integers(1, 17)) :]
    if mutation == "stack":  # Two to four of the others, one after another.
        for _ in range(int(rng.integers(2, 5))):
            data = mutate(data, MUTATIONS[int(rng.integers(0, len(MUTATIONS) - 1))], rng, name=name)
        return data
    if mutation == "field":
        value = ODD_VALUES[int(rng.integers(0, len(ODD_VALUES)))]
        if name.endswith(".edf"):
            return _swap_edf_field(data, value, rng)
        return _swap_token(data, value, rng)
    raise ValueError(f"unknown mutation {mutation!r}")


def _edf_fields(data: bytes) -> list[tuple[int, int]]:
    """The (offset, width) of every field of an EDF header, fixed and per signal."""
    fields = [(0, 8), (8, 80), (88, 80), (168, 8), (176, 8), (184, 8), (192, 44), (236, 8)]
    fields += [(244, 8), (252, 4)]
    try:
        ns = int(data[252:256].decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        return fields
    offset = 256
    for width in (16, 80, 8, 8, 8, 8, 8, 80, 8, 32):
        fields += [(offset + j * width, width) for j in range(max(0, min(ns, 64)))]
        offset += width * max(ns, 0)
    return fields


def _swap_edf_field(data: bytes, value: bytes, rng: np.random.Generator) -> bytes:
    fields = _edf_fields(data)
    offset, width = fields[int(rng.integers(0, len(fields)))]
    text = value[:width].ljust(width, b" ")
    return data[:offset] + text + data[offset + width :]


_TOKEN = re.compile(rb"[^\s,;\t/()\"{}:\[\]]+")


def _swap_token(data: bytes, value: bytes, rng: np.random.Generator) -> bytes:
    """Replace one token of the file's first 2 kB (or of a binary file's bytes) with ``value``."""
    head = data[:2048]
    tokens = list(_TOKEN.finditer(head))
    if not tokens:
        at = int(rng.integers(0, max(len(data), 1)))
        return data[:at] + value + data[at:]
    token = tokens[int(rng.integers(0, len(tokens)))]
    return data[: token.start()] + value + data[token.end() :]


def build_case(case: Case, seeds: Path, work: Path) -> Path:
    """Copy a seed folder into ``work`` with one file corrupted; return the path to read."""
    entry, _ = FORMATS[case.fmt]
    folder = work / f"case-{case.index:05d}"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(seeds / case.fmt, folder)
    target = folder / case.target
    rng = np.random.default_rng(case.seed)
    original = target.read_bytes()
    corrupted = mutate(original, case.mutation, rng, name=case.target)
    if corrupted == original:  # A swap that changed nothing: cut the file instead.
        corrupted = original[: len(original) // 2]
    target.write_bytes(corrupted)
    return folder / entry


def probe(path: Path) -> tuple[str, str]:
    """Read one file through the public reader and judge the result.

    Returns
    -------
    tuple of str
        ``("read", shape)`` or ``("refused", message)``; raises anything else.
    """
    from cardiostream.io import read

    try:
        record = read(path)
        if path.name.startswith("record="):
            from cardiostream.io.store import ParquetStore
            from cardiostream.io.user_annotations import load

            load(ParquetStore(path.parent), path.name.split("=", 1)[1])
    except InputError as exc:
        message = str(exc)
        if not message or "\n" in message.strip():
            raise AssertionError(f"InputError message is not one line: {message!r}") from exc
        return "refused", message
    check_record(record)
    return "read", f"{record.signal.shape} at {record.fs:g} Hz"


def check_record(record: Record) -> None:
    """Raise AssertionError unless a record read from a file is sane.

    A sane record has a finite positive rate, a non-empty 2-D float32 signal with at least
    one finite sample and one name per lead, and annotations inside it.
    """
    n = record.signal.shape[0] if record.signal.ndim == 2 else 0
    beats, rhythms = record.annotations.beats, record.annotations.rhythms
    checks = {
        f"fs {record.fs!r}": np.isfinite(float(record.fs)) and float(record.fs) > 0,
        "signal not float32": record.signal.dtype == np.float32,
        f"signal shape {record.signal.shape}": n > 0 and record.signal.shape[1] > 0,
        "leads do not match the signal": n > 0 and len(record.leads) == record.signal.shape[1],
        "no finite sample": bool(np.isfinite(record.signal).any()),
        "a beat outside the record": bool(((beats.sample >= 0) & (beats.sample < n)).all()),
        "a rhythm interval outside the record": bool(
            ((rhythms.start >= 0) & (rhythms.start < rhythms.end) & (rhythms.end <= n)).all()
        ),
    }
    failed = [what for what, ok in checks.items() if not ok]
    if failed:
        raise AssertionError("; ".join(failed))


def _worker(conn: Connection, seeds: str, work: str, memory_bytes: int, reader: str) -> None:
    """Build and read the cases the parent sends, one at a time, until it sends None."""
    import importlib
    import logging
    import resource
    import warnings

    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)
    if memory_bytes > 0:
        # A runaway allocation is a MemoryError (a traceback), not a machine out of memory.
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    # Load every reader before saying ready, so that the time limit measures reads only.
    import cardiostream.io.csv_format
    import cardiostream.io.edf_format
    import cardiostream.io.parquet_format
    import cardiostream.io.user_annotations
    import cardiostream.io.wfdb_format  # noqa: F401

    module, _, name = reader.partition(":")
    read_one: Callable[[Path], tuple[str, str]] = getattr(importlib.import_module(module), name)
    conn.send("ready")
    while True:
        case = conn.recv()
        if case is None:
            return
        start = time.perf_counter()
        folder = Path(work) / f"case-{case.index:05d}"
        try:
            path = build_case(case, Path(seeds), Path(work))
            result, detail = read_one(path)
            shutil.rmtree(folder)  # Only failing cases are kept.
        except BaseException as exc:
            result = "traceback"
            frames = traceback.extract_tb(exc.__traceback__)
            where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
            detail = f"{type(exc).__name__}: {str(exc).strip()[:300]}{where}"
        conn.send((result, detail, time.perf_counter() - start))


@dataclass
class _Slot:
    process: Any
    conn: Connection
    case: Case | None = None
    started: float = 0.0


def run_fuzz(
    n_files: int = 2000,
    *,
    seed: int = 0,
    workers: int = 2,
    timeout_s: float = 10.0,
    memory_gb: float = 4.0,
    keep: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    reader: str = f"{__name__}:probe",
) -> FuzzResult:
    """Corrupt ``n_files`` files and read each in a worker under a time limit.

    Parameters
    ----------
    n_files : int
        How many corrupted files to read.
    seed : int
        The run's seed; the same seed corrupts the same files the same way.
    workers : int
        Worker processes.
    timeout_s : float
        Seconds a read may take before it counts as a hang (its worker is then killed and
        replaced).
    memory_gb : float
        Address-space limit of each worker, in GB (0: none).
    keep : Path, optional
        A folder to keep the seed files and every failing case in.
    progress : callable, optional
        Called with (done, total) after each file.
    reader : str
        ``module:function`` that reads one path in a worker and returns ``("read", what)`` or
        ``("refused", message)``: :func:`probe` unless another reader is under test.

    Returns
    -------
    FuzzResult
    """
    if n_files < 1 or workers < 1 or not timeout_s > 0:
        raise InputError("--files, --workers and --timeout must be positive")
    if seed < 0:
        raise InputError(f"--seed: 0 or more, got {seed}")
    cases = plan(n_files, seed)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cardiostream-fuzz-") as tmp:
        seeds, work = Path(tmp) / "seeds", Path(tmp) / "work"
        write_seeds(seeds)
        for fmt, (entry, _) in FORMATS.items():
            # A seed that does not read would make every case built from it a refusal.
            if probe(seeds / fmt / entry)[0] != "read":
                raise RuntimeError(f"the valid {fmt} file written to corrupt does not read")
        work.mkdir()
        outcomes = list(
            _run_cases(cases, seeds, work, workers, timeout_s, memory_gb, reader, progress=progress)
        )
        if keep is not None:
            _keep(keep, seeds, work, [o for o in outcomes if o.result in ("hang", "traceback")])
    outcomes.sort(key=lambda o: o.case.index)
    return FuzzResult(seed, timeout_s, workers, time.perf_counter() - started, outcomes)


def _run_cases(
    cases: list[Case],
    seeds: Path,
    work: Path,
    workers: int,
    timeout_s: float,
    memory_gb: float,
    reader: str,
    *,
    progress: Callable[[int, int], None] | None,
) -> Iterator[Outcome]:
    """Hand the cases to workers one at a time; a worker past the limit is killed."""
    context = multiprocessing.get_context("spawn")
    memory = int(memory_gb * 1e9)

    def start() -> _Slot:
        parent, child = context.Pipe()
        process = context.Process(
            target=_worker, args=(child, str(seeds), str(work), memory, reader), daemon=True
        )
        process.start()
        child.close()
        if not parent.poll(_STARTUP_S) or parent.recv() != "ready":
            process.kill()
            raise RuntimeError(f"a fuzzing worker did not start within {_STARTUP_S} s")
        return _Slot(process, parent)

    pending = list(reversed(cases))
    slots = [start() for _ in range(min(workers, len(cases)))]
    done = 0
    try:
        while pending or any(s.case is not None for s in slots):
            for slot in slots:
                if slot.case is None and pending:
                    slot.case = pending.pop()
                    slot.started = time.perf_counter()
                    slot.conn.send(slot.case)
            busy = [s for s in slots if s.case is not None]
            ready = wait([s.conn for s in busy], timeout=0.2)
            now = time.perf_counter()
            for k, slot in enumerate(slots):
                case = slot.case
                if case is None:
                    continue
                outcome: Outcome | None = None
                if slot.conn in ready:
                    try:
                        result, detail, seconds = slot.conn.recv()
                        outcome = Outcome(case, result, detail, seconds)
                    except (EOFError, OSError):
                        code = slot.process.exitcode
                        outcome = Outcome(
                            case, "traceback", f"worker died (exit {code})", now - slot.started
                        )
                        slots[k] = _restart(slot, start)
                elif now - slot.started > timeout_s:
                    outcome = Outcome(case, "hang", f"no result after {timeout_s:g} s", timeout_s)
                    slots[k] = _restart(slot, start)
                if outcome is not None:
                    slots[k].case = None
                    done += 1
                    if progress is not None:
                        progress(done, len(cases))
                    yield outcome
    finally:
        for slot in slots:
            with contextlib.suppress(OSError):
                slot.conn.send(None)
            slot.process.join(timeout=5)
            if slot.process.is_alive():
                slot.process.kill()


def _restart(slot: _Slot, start: Callable[[], _Slot]) -> _Slot:
    slot.process.kill()
    slot.process.join()
    slot.conn.close()
    return start()


def _keep(keep: Path, seeds: Path, work: Path, failures: list[Outcome]) -> None:
    keep.mkdir(parents=True, exist_ok=True)
    shutil.copytree(seeds, keep / "seeds", dirs_exist_ok=True)
    for o in failures:
        folder = work / f"case-{o.case.index:05d}"
        if folder.exists():
            shutil.copytree(folder, keep / folder.name, dirs_exist_ok=True)
    (keep / "failures.json").write_text(
        json.dumps([{**asdict(o.case), "detail": o.detail} for o in failures], indent=1) + "\n"
    )


def to_markdown(result: FuzzResult) -> str:
    """The run as a Markdown table per format, then the failures, one line each."""
    header = (
        "| format | files | read | refused | hangs | tracebacks |\n|---|---:|---:|---:|---:|---:|"
    )
    rows = [
        f"| {fmt} | {c['files']} | {c['read']} | {c['refused']} | {c['hang']} | {c['traceback']} |"
        for fmt, c in result.counts().items()
    ]
    text = (
        f"### Corrupted files through the readers (seed {result.seed}, "
        f"{result.timeout_s:g} s limit, {result.workers} workers, {result.seconds:.1f} s)\n\n"
        + "\n".join([header, *rows])
        + "\n"
    )
    failures = result.failures()
    if failures:
        text += "\n### Failures\n\n" + "\n".join(
            f"- {o.case.describe()}: {o.result}: {o.detail}" for o in failures
        )
        text += "\n"
    return text
