"""Archives over Dask against one process: the same records, single-process and on local
clusters of 1 and 2 workers, then what N machines would carry at the per-worker rate.

Every run reads the files itself (the workers read theirs) and analyses every record with
the same options; the times are from the first record handed out to the last result back,
with the workers already started and their kernels loaded (the start-up is shown apart).
Every cluster run is also checked against the single-process lines, record by record.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cardiostream.cluster.archive import Options, Outcome, analyze_one, connect, map_records

#: Machines in the table drawn from the per-worker rate.
MACHINES = (1, 4, 16, 64)


@dataclass
class Run:
    """One way of running the records.

    Attributes
    ----------
    name : str
        ``single process`` or ``Dask, N workers``.
    workers : int
        Processes doing the work (1 for the single process).
    wall_s : float
        Seconds from the first record out to the last result in.
    startup_s : float
        Seconds to start the cluster and load the kernels on its workers (0 for one process).
    records : int
        Records analysed.
    seconds_of_ecg : float
        Their seconds of signal.
    engine_s : float
        Seconds the engine itself took, summed over the records (where they ran): the rest of
        ``wall_s`` times the workers is reading, handing out and sending back.
    same_lines : bool
        Whether every record's lines equal the single-process ones.
    """

    name: str
    workers: int
    wall_s: float
    startup_s: float
    records: int
    seconds_of_ecg: float
    engine_s: float
    same_lines: bool = True

    @property
    def records_per_s(self) -> float:
        """Records a second."""
        return self.records / self.wall_s if self.wall_s > 0 else math.nan

    @property
    def ecg_per_s(self) -> float:
        """Seconds of ECG analysed a second (the real-time factor of the whole run)."""
        return self.seconds_of_ecg / self.wall_s if self.wall_s > 0 else math.nan

    @property
    def ecg_per_worker_s(self) -> float:
        """Seconds of ECG a second, per worker."""
        return self.ecg_per_s / self.workers


@dataclass
class ClusterBench:
    """The runs, the records they ran on and where those came from."""

    source: str
    records: list[str]
    runs: list[Run] = field(default_factory=list)
    workers_per_machine: int = 2
    machines: tuple[int, ...] = MACHINES

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON, with the derived rates."""
        runs = [
            {
                **asdict(r),
                "records_per_s": r.records_per_s,
                "ecg_per_s": r.ecg_per_s,
                "ecg_per_worker_s": r.ecg_per_worker_s,
            }
            for r in self.runs
        ]
        return {
            "source": self.source,
            "records": self.records,
            "runs": runs,
            "workers_per_machine": self.workers_per_machine,
            "projection": [{"machines": n, "ecg_per_s": self.projected(n)} for n in self.machines],
        }

    def projected(self, machines: int) -> float:
        """Seconds of ECG a second that ``machines`` machines would analyse at the per-worker
        rate of the largest cluster run (no loss to the network or the scheduler assumed)."""
        largest = max((r for r in self.runs if r.name != "single process"), key=lambda r: r.workers)
        return machines * self.workers_per_machine * largest.ecg_per_worker_s


def bench_records(data: Path | None, tile: int, *, samples: bool = False) -> tuple[str, list[Path]]:
    """The records to run: the MITDB headers under ``data`` (by default
    ``$CARDIOSTREAM_DATA``, else ``../shared/data``) when there, else the bundled samples
    repeated ``tile`` times (always with ``samples``); with a sentence saying which."""
    if samples:
        data = None
    elif data is None:
        # As the tests find the PhysioNet data: $CARDIOSTREAM_DATA, else ../shared/data.
        found = [Path(p) for p in (os.environ.get("CARDIOSTREAM_DATA"), "../shared/data") if p]
        data = next((p for p in found if (p / "mitdb").is_dir()), None)
    if data is not None and (data / "mitdb").is_dir():
        from cardiostream.io.listing import list_records

        folder = data / "mitdb"
        paths = [folder / f"{name}.hea" for name in list_records(folder)]
        return f"MITDB, {len(paths)} records", paths
    from cardiostream.samples import SAMPLES, sample_path

    paths = [sample_path(name) for name in SAMPLES] * tile
    return f"the {len(SAMPLES)} bundled samples, {tile} times over", paths


def _engine(outcomes: Sequence[Outcome]) -> float:
    return sum(o.analysis.processing_s for o in outcomes if o.analysis is not None)


def _check(outcomes: Sequence[Outcome], reference: Sequence[Outcome]) -> bool:
    return len(outcomes) == len(reference) and all(
        o.analysis is not None and r.analysis is not None and o.analysis.lines == r.analysis.lines
        for o, r in zip(outcomes, reference, strict=True)
    )


def run_cluster_benchmark(
    paths: Sequence[Path],
    source: str,
    *,
    workers: Sequence[int] = (1, 2),
    workers_per_machine: int = 2,
    machines: tuple[int, ...] = MACHINES,
    options: Options | None = None,
    progress: Callable[[str], None] | None = None,
) -> ClusterBench:
    """Run the records in one process, then on a local cluster of each size in ``workers``.

    Parameters
    ----------
    paths : sequence of Path
        The records (:func:`bench_records`).
    source : str
        Where they came from, for the table's title.
    workers : sequence of int
        Sizes of the local clusters (worker processes of one thread each).
    workers_per_machine : int
        Workers a machine of the projection runs (its cores).
    machines : tuple of int
        Cluster sizes of the projection.
    options : Options, optional
        Analysis options; the defaults of ``cardiostream analyze``.
    progress : callable, optional
        Called with a line saying what runs now.

    Returns
    -------
    ClusterBench
    """
    from cardiostream.stream.warm import warm_up

    say = progress or (lambda _: None)
    opts = options or Options()
    files = [(Path(p), True) for p in paths]
    bench = ClusterBench(source, [p.stem for p in paths], [], workers_per_machine, machines)

    say("single process")
    warm_up(opts.model)
    tic = time.perf_counter()
    reference = [analyze_one(path, named, opts) for path, named in files]
    wall = time.perf_counter() - tic
    seconds = sum(o.analysis.duration_s for o in reference if o.analysis is not None)
    done = sum(o.analysis is not None for o in reference)
    bench.runs.append(Run("single process", 1, wall, 0.0, done, seconds, _engine(reference)))

    for n in workers:
        say(f"Dask, {n} worker{'s' * (n > 1)}: starting")
        tic = time.perf_counter()
        with connect("local", n_workers=n, model=opts.model) as client:
            started = time.perf_counter() - tic
            say(f"Dask, {n} worker{'s' * (n > 1)}: {len(files)} records")
            tic = time.perf_counter()
            outcomes = list(map_records(client, files, opts))
            wall = time.perf_counter() - tic
        same = _check(outcomes, reference)
        ok = sum(o.analysis is not None for o in outcomes)
        name = f"Dask, {n} worker{'s' * (n > 1)}"
        bench.runs.append(Run(name, n, wall, started, ok, seconds, _engine(outcomes), same))
    return bench


def to_markdown(bench: ClusterBench) -> str:
    """The table of runs with their ratios to one process, and the projection beneath."""
    base = bench.runs[0].ecg_per_s
    hours = bench.runs[0].seconds_of_ecg / 3600
    lines = [
        f"Archives over Dask: {bench.source}, {hours:.2f} h of ECG; local workers of one "
        "thread each, started before the clock runs (start-up apart); engine = the seconds "
        "inside the engine, summed over the records wherever they ran.",
        "",
        "| run | workers | time (s) | records/s | ECG s/s (x real time) | vs one process "
        "| per worker (ECG s/s) | engine (s) | start-up (s) | same lines |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in bench.runs:
        lines.append(
            f"| {r.name} | {r.workers} | {r.wall_s:.2f} | {r.records_per_s:.1f} | "
            f"{r.ecg_per_s:,.0f} | {r.ecg_per_s / base:.2f} | {r.ecg_per_worker_s:,.0f} | "
            f"{r.engine_s:.2f} | {r.startup_s:.1f} | {'yes' if r.same_lines else 'NO'} |"
        )
    if len(bench.runs) > 1:
        per_day = 24 * 3600
        lines += [
            "",
            f"On paper: N machines of {bench.workers_per_machine} workers each at the per-worker "
            "rate of the largest run above (scheduler and network assumed free; the files "
            "on storage that every worker reads).",
            "",
            "| machines | workers | ECG s/s (x real time) | 24 h records an hour |",
            "| --- | --- | --- | --- |",
        ]
        for n in bench.machines:
            rate = bench.projected(n)
            lines.append(
                f"| {n} | {n * bench.workers_per_machine} | {rate:,.0f} | "
                f"{rate * 3600 / per_day:,.0f} |"
            )
    return "\n".join(lines) + "\n"
