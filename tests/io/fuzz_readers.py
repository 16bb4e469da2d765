"""Readers that misbehave on purpose, for the fuzzing harness's own tests (run in workers)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from cardiostream.evaluate.bench.fuzz import probe


def _index(path: Path) -> int:
    folder = next(p for p in path.parents if p.name.startswith("case-"))
    return int(folder.name.split("-")[1])


def misbehave(path: Path) -> tuple[str, str]:
    """Case 1 hangs, case 2 raises a foreign error, case 3 kills its worker; others read."""
    index = _index(path)
    if index == 1:
        while True:
            time.sleep(0.05)
    if index == 2:
        raise ValueError("a foreign error")
    if index == 3:
        os._exit(3)
    return probe(path)
