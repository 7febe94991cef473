"""Small compiled helpers shared by the numba scans."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def grown(values, capacity):  # pragma: no cover - compiled
    """``values`` copied into a new array of ``capacity`` rows (for scans that
    do not know how many rows they will emit)."""
    out = np.empty((capacity,) + values.shape[1:], values.dtype)
    out[:values.shape[0]] = values
    return out


@numba.njit(cache=True, nogil=True)
def value_range(values):  # pragma: no cover - compiled
    """Lowest and highest of a non-empty 1-D integer array, in one pass."""
    lowest = highest = values[0]
    for v in values:
        if v < lowest:
            lowest = v
        elif v > highest:
            highest = v
    return np.int64(lowest), np.int64(highest)


@numba.njit(cache=True, nogil=True)
def counts_in_range(values, mask, lowest, highest):  # pragma: no cover - compiled
    """How often each integer from ``lowest`` to ``highest`` occurs in ``values`` (1-D), or only
    where ``mask`` (1-D bool, same size; an empty mask counts everywhere) is true.

    ``np.bincount`` holds the GIL and counts from 0: a block of a large label
    image holds labels near 10⁶ in a narrow range (docs/performance.md, item 43).
    """
    counts = np.zeros(max(highest - lowest + 1, 0), np.int64)
    masked = mask.size == values.size
    for i in range(values.size):
        v = np.int64(values[i])
        if lowest <= v <= highest and (not masked or mask[i]):
            counts[v - lowest] += 1
    return counts
