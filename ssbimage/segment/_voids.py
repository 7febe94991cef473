"""Void and pore instances: connected components of the void phase, sized and classified."""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd

from .._arrays import as_dask, counts_within
from .._spacing import check_spacing
from ._label import keep_labels, label

__all__ = ["segment_voids"]

VOID, ACTIVE = 3, 2


def segment_voids(phases, *, spacing=None, min_volume: float = 0.0, connectivity: int = 26):
    """Label voids and tell interfacial gaps (touching active material) from pores.

    Parameters
    ----------
    phases : (Z, Y, X) uint8 array or Volume
        Phase map with the DESIGN.md codes (3 = void, 2 = active material).
    spacing : float or (3,) floats, optional
        Voxel size in µm; volumes are then in µm³ (else in voxels).
    min_volume : float
        Voids smaller than this (µm³, or voxels without spacing) are dropped.
    connectivity : {6, 18, 26}
        Neighbourhood joining void voxels into one void.

    Returns
    -------
    labels : (Z, Y, X) dask array of uint32
        Voids numbered 1..n in raster order of their first voxel, whatever the chunking.
    table : pandas.DataFrame
        One row per void: ``label``, ``voxels``, ``volume`` (µm³ or voxels),
        ``interfacial`` (a void voxel is face-, edge- or corner-adjacent to
        active material: a contact-loss gap rather than a pore).

    Notes
    -----
    Labels come from :func:`ssbimage.segment.label`; the adjacency test needs
    a halo of 1 voxel. Sizes and contacts are counted per chunk and summed.
    """
    phases = as_dask(phases)
    voxel = float(np.prod(check_spacing(spacing, 3))) if spacing is not None else 1.0
    labels, n = label(phases == VOID, connectivity=connectivity)
    # no boundary: the test reads nothing beyond the block's edge
    near_active = phases.map_overlap(_near_phase, depth=1, boundary="none", dtype=bool, code=ACTIVE)
    n = int(n.compute())
    voxels, touching = counts_within(labels, n, [near_active])[:, 1:]
    keep = voxels * voxel >= min_volume
    table = pd.DataFrame({
        "label": np.arange(1, int(keep.sum()) + 1),
        "voxels": voxels[keep],
        "volume": voxels[keep] * voxel,
        "interfacial": touching[keep] > 0,
    })
    return keep_labels(labels, np.concatenate([[False], keep])), table


@numba.njit(cache=True, nogil=True)
def _near_phase(phases, code):  # pragma: no cover - compiled
    """Voxels with ``code`` in their 3×3×3 neighbourhood (the binary dilation of
    ``phases == code`` by a cube; nothing beyond the block's edge), as three
    passes of three: 0.002-0.006 s per 130³ block against 0.03 s for scipy's
    ``binary_dilation`` with a 3×3×3 structure (4096 blocks at 2048³)."""
    nz, ny, nx = phases.shape
    along_x = np.empty(phases.shape, np.bool_)
    for z in range(nz):
        for y in range(ny):
            for x in range(nx):
                along_x[z, y, x] = (phases[z, y, x] == code or (x > 0 and phases[z, y, x - 1] == code)
                                    or (x + 1 < nx and phases[z, y, x + 1] == code))
    along_y = np.empty(phases.shape, np.bool_)
    for z in range(nz):
        for y in range(ny):
            for x in range(nx):
                along_y[z, y, x] = (along_x[z, y, x] or (y > 0 and along_x[z, y - 1, x])
                                    or (y + 1 < ny and along_x[z, y + 1, x]))
    out = np.empty(phases.shape, np.bool_)
    for z in range(nz):
        for y in range(ny):
            for x in range(nx):
                out[z, y, x] = (along_y[z, y, x] or (z > 0 and along_y[z - 1, y, x])
                                or (z + 1 < nz and along_y[z + 1, y, x]))
    return out
