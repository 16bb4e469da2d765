"""The compiled selection gives a sort's order statistics and leaves a partition."""

from __future__ import annotations

import numpy as np
import pytest

from cardiostream.beats._select_kernel import select


@pytest.mark.parametrize("n", [1, 2, 3, 7, 16, 64, 176])
def test_select_gives_the_sorted_value_and_partitions_around_it(n: int) -> None:
    rng = np.random.default_rng(n)
    for trial in range(20):
        # Repeated values too: quantised samples and equal intervals are common.
        values = rng.integers(0, 5, n).astype(np.float64) if trial % 2 else rng.normal(size=n)
        for k in {0, n // 2, n - 1}:
            a = values.copy()
            got = select(a, 0, n, k)
            assert got == np.sort(values)[k]
            assert a[k] == got
            assert (a[:k] <= got).all() and (a[k + 1 :] >= got).all()
            assert np.array_equal(np.sort(a), np.sort(values))


def test_select_within_a_range_leaves_the_rest_alone() -> None:
    values = np.array([9.0, 8.0, 3.0, 1.0, 2.0, -5.0, -6.0])
    a = values.copy()
    assert select(a, 2, 5, 3) == 2.0  # the middle of [3, 1, 2]
    assert np.array_equal(a[:2], values[:2]) and np.array_equal(a[5:], values[5:])
