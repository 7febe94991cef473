"""Chunked denoising filters: lazy arrays in, lazy arrays out, halos explicit."""

from __future__ import annotations

import math

import dask.array as da
import numpy as np
from dask.array.overlap import ensure_minimum_chunksize
from scipy import ndimage

from .._arrays import as_dask
from .._smoothing import gaussian_weights, smoothed
from .._spacing import check_spacing

__all__ = ["gaussian", "median"]



def _sigma_voxels(sigma, spacing):
    """σ per axis in voxels from σ in µm (with spacing) or in voxels (without)."""
    if spacing is None:
        return tuple(float(s) for s in np.broadcast_to(sigma, 3))
    spacing = check_spacing(spacing, 3)
    return tuple(float(s) / d for s, d in zip(np.broadcast_to(sigma, 3), spacing))


def gaussian(image, sigma, *, spacing=None, truncate: float = 4.0) -> da.Array:
    """Gaussian smoothing, chunk by chunk, identical to :func:`scipy.ndimage.gaussian_filter`.

    Parameters
    ----------
    image : (Z, Y, X) array or Volume
        NumPy or Dask array, any chunking.
    sigma : float or (3,) floats
        Standard deviation: in µm when ``spacing`` is given (so anisotropic
        voxels are smoothed isotropically in space), in voxels otherwise.
    spacing : float or (3,) floats, optional
        Voxel size in µm.
    truncate : float
        Kernel radius in σ.

    Returns
    -------
    (Z, Y, X) dask array of float32

    Notes
    -----
    Halo: ``ceil(truncate * σ)`` voxels per axis, taken from the neighbouring
    chunks; at the volume's faces values are continued as in scipy's
    ``mode="nearest"``.

    Examples
    --------
    >>> import numpy as np
    >>> out = gaussian(np.ones((8, 8, 8), np.uint16), 1.0)
    >>> out.dtype, float(out.mean().compute())
    (dtype('float32'), 1.0)
    """
    data = as_dask(image)
    sigmas = _sigma_voxels(sigma, spacing)
    depth = {a: math.ceil(truncate * s) for a, s in enumerate(sigmas)}
    # chunks thinner than the halo join a neighbour, as map_overlap would do itself
    data = data.rechunk(tuple(ensure_minimum_chunksize(max(depth[a], 1), c) for a, c in enumerate(data.chunks)))
    # the core only, by compiled cropped passes: scipy's values bit for bit
    # from float32, without smoothing the halo (0.019-0.03 s against scipy's
    # 0.038-0.054 s for a 128³ block with its halo of 4). The volume's edge
    # voxels are repeated in the block's own task: map_overlap's "nearest"
    # boundary adds a layer of padding chunks cut into pieces (4³ chunks:
    # 5 201 tasks against 1 129, item 35)
    return data.map_overlap(
        _gaussian_core, depth=depth, boundary="none", trim=False, dtype=np.float32, chunks=data.chunks,
        halo=tuple(depth.values()), weights=[gaussian_weights(s, truncate) for s in sigmas],
    )


# grey types that float32 holds exactly: smoothed straight from the block, which
# gives the values of smoothing its float32 copy
EXACT_IN_FLOAT32 = tuple(np.dtype(t) for t in (np.uint8, np.int8, np.uint16, np.int16, np.float32))


def _gaussian_core(block, halo, weights, block_info=None):
    """The block's core smoothed. At the volume's faces the block has no halo and the
    passes repeat the edge voxels themselves (scipy's ``nearest``): no padded copy,
    and no float32 copy of a uint16 block (a 512³ phase stage spent 5 % of its
    thread time in ``np.pad``: docs/performance.md, item 44)."""
    where = block_info[0]
    start = tuple(0 if i == 0 else h for h, i in zip(halo, where["chunk-location"]))
    count = tuple(n - s - (0 if i == last - 1 else h)
                  for n, s, h, i, last in zip(block.shape, start, halo, where["chunk-location"], where["num-chunks"]))
    if block.dtype not in EXACT_IN_FLOAT32:
        block = block.astype(np.float32)
    return smoothed(block, start, count, *weights)


def median(image, size: int = 3) -> da.Array:
    """Median filter over a cube of ``size`` voxels, chunk by chunk.

    Halo: ``size // 2`` voxels; faces continued as in scipy's ``mode="nearest"``.
    Same dtype as the input.
    """
    data = as_dask(image)
    return data.map_overlap(ndimage.median_filter, depth=size // 2, boundary="nearest",
                            dtype=data.dtype, size=size, mode="nearest")
