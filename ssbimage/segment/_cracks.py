"""Crack instances inside active-material particles, each assigned to its host particle."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._arrays import as_dask, overlap_counts
from .._spacing import check_spacing
from ._label import label_and_count

__all__ = ["segment_cracks"]

CRACK = 4


def segment_cracks(phases, particles, *, spacing=None, connectivity: int = 26):
    """Label the crack phase and give each crack the particle it lies in.

    Parameters
    ----------
    phases : (Z, Y, X) uint8 array or Volume
        Phase map with the DESIGN.md codes (4 = crack).
    particles : (Z, Y, X) integer array or Volume
        Particle instance labels whose envelopes cover their cracks (as the
        phantoms' ``particles`` labels and a closed particle segmentation do).
    spacing : float or (3,) floats, optional
        Voxel size in µm for volumes (else voxels).
    connectivity : {6, 18, 26}

    Returns
    -------
    labels : (Z, Y, X) dask array of uint32
        Cracks 1..n in raster order of their first voxel (chunk-invariant).
    table : pandas.DataFrame
        ``label, voxels, volume, host`` — the host is the particle holding
        most of the crack's voxels (0 if none).
    """
    phases = as_dask(phases)
    particles = as_dask(particles).rechunk(phases.chunks)
    voxel = float(np.prod(check_spacing(spacing, 3))) if spacing is not None else 1.0
    labels, n, counts = label_and_count(phases == CRACK, connectivity=connectivity)
    if n == 0:  # no crack phase (grey thresholds give none): nothing to read twice more
        return labels, pd.DataFrame({"label": np.zeros(0, np.int64), "voxels": np.zeros(0, np.int64),
                                     "volume": np.zeros(0), "host": np.zeros(0, np.int64)})
    frame = overlap_counts(labels, particles).rename(columns={"first": "crack", "second": "particle"})
    host = np.zeros(n + 1, np.int64)
    best = frame.sort_values(["crack", "count", "particle"], ascending=[True, False, True])
    best = best.drop_duplicates("crack")
    host[best.crack.to_numpy()] = best.particle.to_numpy()
    voxels = counts[0]
    result = pd.DataFrame({"label": np.arange(1, n + 1), "voxels": voxels[1:],
                           "volume": voxels[1:] * voxel, "host": host[1:]})
    return labels, result
