"""Void and pore instances: connected components of the void phase, sized and classified."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import ndimage

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
    near_active = (phases == ACTIVE).map_overlap(
        ndimage.binary_dilation, depth=1, boundary=False, structure=np.ones((3, 3, 3), bool),
        dtype=bool)
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
