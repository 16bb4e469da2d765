"""Loading the compiled kernels before the work that is timed or waited on.

numba compiles the signal kernels the first time they run after an install (about a minute
on two cores) and caches them beside the package; later processes load them in well under a
second. Running them once on a real record first keeps that out of a stream's first windows
and out of the speeds that ``cardiostream analyze`` reports.
"""

from __future__ import annotations

from pathlib import Path

#: Seconds of the warm-up record: beats, windows and an AF episode.
WARM_SECONDS = 15.0


def warm_up(model: str | Path | None = None, *, records: bool = False) -> None:
    """Run every kernel of the engine once: 15 s of a bundled AF record at a rate that needs
    resampling, through a :class:`~cardiostream.stream.StreamProcessor` (and, with
    ``records``, through :class:`~cardiostream.rhythm.RhythmModel`'s record verdict)."""
    from cardiostream.io import read
    from cardiostream.samples import sample_path
    from cardiostream.stream.processor import StreamProcessor

    rec = read(sample_path("mitdb-201-af"))
    x = rec.lead(0)[: int(WARM_SECONDS * rec.fs)]
    proc = StreamProcessor(rec.fs, model=model)
    proc.push(x)
    proc.flush()
    if records:
        from cardiostream.rhythm.infer import RhythmModel

        RhythmModel(model).predict(x, rec.fs)
