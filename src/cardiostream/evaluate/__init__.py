"""Scoring of the pipeline's outputs against references, and the benchmarks.

Scoring: R peaks beat by beat (:mod:`~cardiostream.evaluate.rpeaks`, re-exported here),
reference rhythm labels (:mod:`~cardiostream.evaluate.reference`), AF episodes
(:mod:`~cardiostream.evaluate.af_episodes`), classification
(:mod:`~cardiostream.evaluate.classification`) and the MITDB AF test
(:mod:`~cardiostream.evaluate.mitdb_af`). :mod:`cardiostream.evaluate.bench` holds the
benchmark harnesses, their tables and plots.
"""

from cardiostream.evaluate.rpeaks import *  # noqa: F403
from cardiostream.evaluate.rpeaks import __all__ as _scoring

__all__ = list(_scoring)
