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
