"""Archives over a Dask cluster: one task per record, results back in the order given.

Each task gets a record's path (a file or a store partition) and the analysis options; the
worker reads the record itself, so no signal crosses the network, only the emitted lines.
Every task runs :func:`cardiostream.stream.analyze.analyze`, the function that one process
runs, so each record's lines are the same; :func:`map_records` yields the outcomes in the
order of the records, whatever order the workers finish in.

Bad input is a value, not a task failure: a record that cannot be read or analysed comes
back as an :class:`Outcome` holding the error, and the caller decides what to report, as it
does in one process. Only an unexpected exception (a bug, a worker killed) fails a task; it
is reported for that record and the others go on.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cardiostream.errors import InputError
from cardiostream.stream.events import EventConfig

if TYPE_CHECKING:
    from distributed import Client

    from cardiostream.stream.analyze import Analysis

#: Seconds to wait for a scheduler named by address before saying it cannot be reached.
CONNECT_TIMEOUT_S = 10.0


@dataclass
class Options:
    """What every record is analysed with (the options of ``cardiostream analyze``;
    ``af_min_s`` is the shortest AF event, :attr:`EventConfig.min_duration_s`)."""

    lead: int | str = 0
    hop_s: int = 1
    window_s: int = 10
    model: str | None = None
    fs: float | None = None
    af_min_s: float = EventConfig.min_duration_s


@dataclass
class Outcome:
    """What came of one record.

    Attributes
    ----------
    path : Path
        The record's path.
    named : bool
        Whether the path was named rather than found in a folder.
    name : str
        The record's name (its file stem until it was read).
    analysis : Analysis or None
        The result, when the record was read and analysed.
    read_error : Exception or None
        Why it could not be read (InputError or OSError, as :func:`cardiostream.read`
        raised it).
    error : str or None
        Why the engine refused it (an InputError's message), or, for a task that failed,
        the exception's type and message.
    failed : bool
        True when the task itself failed (not bad input).
    """

    path: Path
    named: bool
    name: str
    analysis: Analysis | None = None
    read_error: Exception | None = field(default=None, repr=False)
    error: str | None = None
    failed: bool = False


def analyze_one(path: Path, named: bool, options: Options) -> Outcome:
    """Read and analyse one record; bad input comes back in the outcome, not raised.

    This is what each task runs, on a worker or in this process.
    """
    from cardiostream.io import read
    from cardiostream.record import lead_selector
    from cardiostream.stream.analyze import analyze

    out = Outcome(path, named, path.stem)
    try:
        rec = read(path, fs=options.fs)
    except (InputError, OSError) as exc:
        out.read_error = exc
        return out
    out.name = rec.name
    try:
        out.analysis = analyze(
            rec,
            lead=lead_selector(str(options.lead)),
            hop_s=options.hop_s,
            window_s=options.window_s,
            model=options.model,
            events=EventConfig(min_duration_s=options.af_min_s),
        )
    except InputError as exc:
        out.error = str(exc)
    return out


def _warm(model: str | None) -> None:
    """Load the compiled kernels in a worker before its first record."""
    from cardiostream.stream.warm import warm_up

    warm_up(model)


def map_records(
    client: Client,
    files: Sequence[tuple[Path, bool]],
    options: Options,
    *,
    on_done: Callable[[Outcome], None] | None = None,
) -> Generator[Outcome, None, None]:
    """Analyse records on a cluster; yield their outcomes in the order of ``files``.

    Parameters
    ----------
    client : distributed.Client
        A client of the cluster.
    files : sequence of (Path, bool)
        The records and whether each was named (:func:`cardiostream.io.listing.walk_records`).
    options : Options
        The analysis options.
    on_done : callable, optional
        Called with each outcome as soon as its task ends, in the order they end (a
        progress bar).

    Yields
    ------
    Outcome
        One per record, in order, as soon as it and all before it are done.
    """
    from distributed import as_completed

    # Paths travel resolved: a worker may run in another working folder. Keys are unique to
    # this call, since a scheduler shared by several users would hand back another's result
    # for a key it already holds.
    run = uuid.uuid4().hex[:12]
    futures = [
        client.submit(
            analyze_one,
            Path(path).resolve(),
            named,
            options,
            key=f"analyze-{run}-{i}",
            pure=False,
        )
        for i, (path, named) in enumerate(files)
    ]
    index = {f.key: i for i, f in enumerate(futures)}
    ready: dict[int, Outcome] = {}
    nxt = 0
    try:
        for future in as_completed(futures):  # type: ignore[no-untyped-call]
            i = index[future.key]
            path, named = files[i]
            try:
                outcome: Outcome = future.result()
            except Exception as exc:  # a failed task: reported for its record only
                outcome = Outcome(Path(path), named, Path(path).stem, failed=True)
                outcome.error = f"worker error: {type(exc).__name__}: {exc}"
            outcome.path = Path(path)  # as given, not as resolved for the worker
            future.release()
            ready[i] = outcome
            if on_done is not None:
                on_done(outcome)
            while nxt in ready:
                yield ready.pop(nxt)
                nxt += 1
    finally:
        # Stopped early (an error raised for one record, Ctrl-C): drop what is still queued.
        client.cancel([f for f in futures if not f.done()])  # type: ignore[no-untyped-call]


@contextmanager
def connect(
    cluster: str,
    *,
    n_workers: int | None = None,
    timeout_s: float | None = None,
    warm: bool = True,
    model: str | None = None,
) -> Iterator[Client]:
    """A client of ``cluster``, closed (with the cluster it started) on exit or Ctrl-C.

    Parameters
    ----------
    cluster : str
        ``local`` starts a :class:`distributed.LocalCluster` on this machine (worker
        processes of one thread each, on 127.0.0.1, no dashboard); ``tcp://HOST:PORT``
        connects to a running scheduler.
    n_workers : int, optional
        Workers of a local cluster; one per core by default.
    timeout_s : float, optional
        Seconds to wait for a scheduler named by address; :data:`CONNECT_TIMEOUT_S` by
        default.
    warm : bool
        Load the compiled kernels on every worker first.
    model : str, optional
        The model folder the warm-up loads.

    Raises
    ------
    InputError
        If ``cluster`` is neither, or its scheduler cannot be reached.
    """
    from distributed import Client, LocalCluster

    if cluster == "local":
        # One thread a worker: the engine holds the GIL, so parallelism comes from processes.
        local = LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            # No dashboard; the scheduler's small HTTP server (health, metrics) still starts,
            # on a free loopback port rather than on 8787, which another cluster may hold.
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        )
        try:
            with Client(local) as client:  # type: ignore[no-untyped-call]
                if warm:
                    client.run(_warm, model)
                yield client
        finally:
            local.close()
        return
    if not cluster.startswith("tcp://"):
        raise InputError(f"--cluster: expected local or tcp://HOST:PORT, got {cluster!r}")
    try:
        wait = CONNECT_TIMEOUT_S if timeout_s is None else timeout_s
        client = Client(cluster, timeout=wait)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise InputError(f"--cluster: cannot reach the scheduler at {cluster}: {exc}") from None
    with client:
        if warm:
            client.run(_warm, model)
        yield client


def analyze_many(
    paths: Iterable[str | Path],
    cluster: str | Client | None = "local",
    *,
    lead: int | str = 0,
    hop_s: int = 1,
    window_s: int = 10,
    model: str | Path | None = None,
    fs: float | None = None,
    af_min_s: float = EventConfig.min_duration_s,
    n_workers: int | None = None,
    on_done: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Analyse records (files, folders walked, store partitions), on a cluster or here.

    Parameters
    ----------
    paths : iterable of str or Path
        Record files and folders, or bundled samples' names, in order.
    cluster : str, Client or None
        ``local``, ``tcp://HOST:PORT`` (see :func:`connect`), a client of a running
        cluster, or None for this process.
    lead, hop_s, window_s, model, fs, af_min_s
        As for ``cardiostream analyze``.
    n_workers : int, optional
        Workers of a local cluster.
    on_done : callable, optional
        Called with each outcome as its record ends.

    Returns
    -------
    list of Outcome
        One per record, in the order of ``paths``; the analyses equal those of one process.

    Notes
    -----
    A local cluster starts its workers as fresh processes (not forks), which import the
    calling script again: a script that calls this with ``cluster="local"`` does so under
    ``if __name__ == "__main__":``.

    Examples
    --------
    >>> from cardiostream.cluster import analyze_many
    >>> if __name__ == "__main__":  # doctest: +SKIP
    ...     for o in analyze_many(["archive/"], cluster="local", n_workers=4):
    ...         print(o.name, o.analysis.summary()["af_burden"] if o.analysis else o.error)
    """
    from cardiostream.io.listing import walk_records
    from cardiostream.samples import resolve

    EventConfig(min_duration_s=af_min_s)  # raises InputError, naming the field, before any work
    files = walk_records(resolve(Path(p)) for p in paths)
    options = Options(lead, hop_s, window_s, None if model is None else str(model), fs, af_min_s)
    if cluster is None:
        done = []
        for path, named in files:
            done.append(analyze_one(Path(path), named, options))
            if on_done is not None:
                on_done(done[-1])
        return done
    if not isinstance(cluster, str):
        return list(map_records(cluster, files, options, on_done=on_done))
    with connect(cluster, n_workers=n_workers, model=options.model) as client:
        return list(map_records(client, files, options, on_done=on_done))
