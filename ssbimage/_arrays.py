"""The one place that turns what a user passes (Volume, NumPy, Dask) into a Dask array."""

from __future__ import annotations

import dask.array as da
import numpy as np


def as_dask(image) -> da.Array:
    """The voxels of a Volume, or a NumPy/Dask array, as a Dask array (no copy for Dask)."""
    data = getattr(image, "data", image)
    return data if isinstance(data, da.Array) else da.from_array(np.asarray(data))
