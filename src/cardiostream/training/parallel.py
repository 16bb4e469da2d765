"""An ordered map over worker processes, for the heads' evidence and fits during training."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any


@contextmanager
def process_map(
    workers: int,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
    chunksize: int = 1,
) -> Iterator[Callable[..., Iterator[Any]]]:
    """A ``map(fn, *iterables)`` whose calls run in ``workers`` processes, results in order.

    Each process first runs ``initializer(*initargs)``. With one worker it is the builtin
    ``map`` in this process, after the initializer has run here. Processes are spawned, not
    forked: the parent may hold threads (torch, numba) that a fork would copy mid-lock.
    """
    if workers <= 1:
        if initializer is not None:
            initializer(*initargs)
        yield map
        return
    with ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=initializer,
        initargs=initargs,
    ) as pool:

        def ordered(fn: Callable[..., Any], *iterables: Any) -> Iterator[Any]:
            return pool.map(fn, *iterables, chunksize=chunksize)

        yield ordered


def map_shared(
    fn: Callable[[Any], Any],
    jobs: list[Any],
    workers: int,
    share: Callable[..., None],
    shared: tuple[Any, ...],
    forget: Callable[[], None],
    step: Callable[[int, int], None] | None = None,
) -> list[Any]:
    """``[fn(job) for job in jobs]`` in ``workers`` processes that first ran
    ``share(*shared)`` (the data every job reads, sent once a process); ``forget()`` drops it
    again in this process (where one worker runs); ``step(done, total)`` follows the jobs."""
    out: list[Any] = []
    try:
        with process_map(min(workers, len(jobs)), share, shared) as pool_map:
            for result in pool_map(fn, jobs):
                out.append(result)
                if step is not None:
                    step(len(out), len(jobs))
    finally:
        forget()
    return out


def default_workers() -> int:
    """Processes for the heads' evidence and fits: one a core this process may use (each
    runs single-threaded)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)
