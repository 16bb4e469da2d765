"""The ordered process map of the heads' training."""

from __future__ import annotations

import os

import pytest

from cardiostream.training.parallel import process_map

_OFFSET: dict[str, int] = {}


def _set_offset(value: int) -> None:
    _OFFSET["value"] = value


def _shifted(a: int, b: int) -> tuple[int, int]:
    return a + b + _OFFSET["value"], os.getpid()


@pytest.mark.parametrize("workers", [1, 2])
def test_results_come_in_order_after_each_process_is_initialised(workers: int) -> None:
    with process_map(workers, _set_offset, (100,), chunksize=3) as pool_map:
        out = list(pool_map(_shifted, range(10), range(10)))
    assert [value for value, _ in out] == [100 + 2 * i for i in range(10)]
    in_parent = {pid for _, pid in out} == {os.getpid()}
    assert in_parent == (workers == 1)
