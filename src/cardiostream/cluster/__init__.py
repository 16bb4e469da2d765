"""Scale-out: the engine's work spread over machines (archives over Dask).

Nothing here is imported by the runtime stages; the command line and the benchmarks use it.
"""
