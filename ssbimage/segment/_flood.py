"""Seeded watershed by priority flood on integer levels (a bucket queue, compiled with numba).

scikit-image's watershed keeps a binary heap of float priorities and runs at
about 2.6 Mvox/s on this project's distance maps (docs/performance.md). The
distance to the background, quantised to a fraction of a voxel, has a few
hundred levels, so a queue with one FIFO list per level (Meyer's
hierarchical queue) pops in constant time and visits each voxel once:
about 11 Mvox/s on the same blocks. Voxels are labelled when first reached,
and each level is processed first in, first out; processing a level in
memory order instead was 30 % faster but lets raster order decide contested
voxels, which lost 3 % of the particles of the test phantom.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["flood_descending"]


OUTSIDE = np.uint32(0xFFFFFFFF)  # marks voxels outside the mask while flooding


@numba.njit(cache=True, nogil=True)
def _flood(height, out, queue):  # pragma: no cover - compiled
    """Flood ``out`` (0 = to label, OUTSIDE = never) in place; ``height`` of
    the padded block, ``queue`` scratch of one entry per voxel."""
    nz, ny, nx = height.shape
    height = height.ravel()
    out = out.ravel()
    top = 0
    for i in range(out.size):
        if out[i] != OUTSIDE and height[i] > top:
            top = height[i]
    # one bucket per level, sized by how many voxels have that height: a
    # voxel downhill of the flood is queued at its own height; one uphill of
    # it (a voxel higher than the level being flooded) joins the level's
    # ``uphill`` list instead, which grows as needed (it is short)
    start = np.zeros(top + 2, np.int64)
    for i in range(out.size):
        if out[i] != OUTSIDE:
            start[height[i] + 1] += 1
    for k in range(top + 1):
        start[k + 1] += start[k]
    write = start[:-1].copy()
    for i in range(out.size):
        if out[i] != 0 and out[i] != OUTSIDE:
            queue[write[height[i]]] = i
            write[height[i]] += 1
    uphill = np.empty(4096, queue.dtype)
    steps = np.array([-ny * nx, ny * nx, -nx, nx, -1, 1])
    for current in range(top, -1, -1):
        read = start[current]
        uphill_read = 0
        uphill_write = 0
        while True:
            if read < write[current]:
                i = queue[read]
                read += 1
            elif uphill_read < uphill_write:
                i = uphill[uphill_read]
                uphill_read += 1
            else:
                break
            seed = out[i]
            for step in steps:
                j = i + step
                if out[j] != 0:
                    continue
                out[j] = seed
                k = height[j]
                if k <= current:
                    queue[write[k]] = j
                    write[k] += 1
                else:
                    if uphill_write == uphill.size:
                        longer = np.empty(2 * uphill.size, queue.dtype)
                        longer[:uphill_write] = uphill
                        uphill = longer
                    uphill[uphill_write] = j
                    uphill_write += 1


def flood_descending(level, markers, mask) -> np.ndarray:
    """Grow ``markers`` over ``mask``, highest ``level`` first (a watershed of ``-level``).

    Parameters
    ----------
    level : (Z, Y, X) array of unsigned int
        Flooding priority: voxels of higher level are reached first (for
        particles, the quantised distance to the background).
    markers : (Z, Y, X) array of uint32
        Seeds, 0 elsewhere.
    mask : (Z, Y, X) array of bool
        Voxels that may be labelled.

    Returns
    -------
    labels : (Z, Y, X) ndarray of uint32
        Each mask voxel carries the seed whose flood reached it first
        (6-connected; ties in first-in-first-out order); voxels no seed
        reaches are 0.

    Examples
    --------
    >>> import numpy as np
    >>> level = np.array([[[3, 2, 1, 2, 3]]], np.uint16)
    >>> seeds = np.array([[[1, 0, 0, 0, 2]]], np.uint32)
    >>> flood_descending(level, seeds, level > 0)[0, 0].tolist()
    [1, 1, 1, 2, 2]
    """
    level = np.asarray(level)
    if level.dtype.kind != "u":
        raise TypeError(f"level must be unsigned integers, got {level.dtype}")
    # a ring outside the mask around the block: neighbours need no bounds checks
    level = np.pad(level, 1)
    padded = np.full(level.shape, OUTSIDE, np.uint32)
    labels = padded[1:-1, 1:-1, 1:-1]
    np.copyto(labels, markers, where=np.asarray(mask, dtype=bool), casting="unsafe")
    _flood(level, padded, np.empty(level.size, np.int32 if level.size < 2**31 else np.int64))
    labels[labels == OUTSIDE] = 0
    return labels
