"""Scale-out: the engine's work spread over machines (archives over Dask).

Nothing here is imported by the runtime stages; the command line and the benchmarks use it.
Dask itself loads only when a cluster is used (the ``scale`` extra).
"""

from cardiostream.cluster.archive import Outcome, analyze_many

__all__ = ["Outcome", "analyze_many"]
