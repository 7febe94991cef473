"""Per-voxel features for the voxel classifier, chunk by chunk with explicit halos.

Stage-1 features describe the grey values around a voxel at several scales;
context features describe a first classifier's class probabilities around
it. Both are neighbourhood filters, computed on blocks padded by a halo
from the neighbouring chunks, so they do not depend on the chunking.
"""

from __future__ import annotations

import math

import dask.array as da
import numpy as np
from scipy import ndimage

from .._arrays import as_dask
from ._hessian import first_derivatives, hessian_columns

__all__ = ["multiscale_features", "shape_ratios"]


def shape_ratios(smallest, middle, largest):
    """Contrast-free shape of the local grey landscape from sorted Hessian eigenvalues.

    Returns the middle eigenvalue and the sum of the extreme ones, each over
    the largest eigenvalue magnitude. Across a thin dark sheet (a crack) only
    one eigenvalue is large, so the first ratio is near 0; around a dark
    filament (a dendrite) two are, so it is near 1. The second ratio's sign
    tells dark structures from bright ones. Being ratios, they do not change
    with the structure's contrast, which varies with its width under blur.

    Examples
    --------
    >>> [float(r) for r in shape_ratios(0.0, 0.0, 40.0)]  # across a dark sheet
    [0.0, 1.0]
    >>> [float(r) for r in shape_ratios(0.0, 3.0, 3.0)]  # around a dark filament
    [1.0, 1.0]
    """
    scale = np.maximum(np.abs(smallest), np.abs(largest))
    safe = np.where(scale > 0, scale, 1)
    return middle / safe, (smallest + largest) / safe


def _features(block: np.ndarray, sigmas, with_shape_ratios=False, halo=0) -> np.ndarray:
    """(Z, Y, X, F) float32 features of the voxels of ``block`` inside its ``halo``,
    in :func:`multiscale_features`' order."""
    block = np.asarray(block, np.float32)
    inner = tuple(slice(halo, n - halo) for n in block.shape)
    per_scale = 8 if with_shape_ratios else 6
    out = np.empty(block[inner].shape + (per_scale * len(sigmas),), np.float32)
    out[..., 0] = block[inner]
    derivatives = [np.empty_like(block) for _ in range(3)]
    column, previous = 1, None
    for s in sigmas:
        smooth = ndimage.gaussian_filter(block, s, mode="nearest")
        out[..., column] = smooth[inner]
        first_derivatives(smooth, *derivatives)
        hessian_columns(*derivatives, (halo,) * 3, out, column + 1, (column + 2, column + 3, column + 4))
        if with_shape_ratios:
            eigenvalues = (out[..., column + e] for e in (2, 3, 4))
            out[..., column + 5], out[..., column + 6] = shape_ratios(*eigenvalues)
        column += per_scale - 1
        if previous is not None:
            np.subtract(previous, smooth[inner], out=out[..., column])  # difference of Gaussians
            column += 1
        previous = smooth[inner]
    return out


def filter_halo(sigmas) -> int:
    """Voxels a block needs around it for Gaussians of ``sigmas`` and their second differences."""
    return math.ceil(4 * max(sigmas)) + 2


def multiscale_features(image, sigmas=(0.7, 1.5, 3.0), *, with_shape_ratios: bool = False) -> da.Array:
    """Per-voxel feature stack, chunk by chunk.

    Parameters
    ----------
    image : (Z, Y, X) array or Volume
    sigmas : sequence of float
        Scales in voxels.
    with_shape_ratios : bool
        Add the two :func:`shape_ratios` of the Hessian eigenvalues per scale.

    Returns
    -------
    (Z, Y, X, F) dask array of float32
        F = 1 + 6 per scale - 1 (grey value; per scale Gaussian, gradient
        magnitude, three Hessian eigenvalues, then with ``with_shape_ratios``
        their two ratios; differences of successive Gaussians); 2 more per
        scale with the ratios.

    Notes
    -----
    Halo ``ceil(4 max(sigmas)) + 2`` voxels (the +2 for the finite differences).
    """
    halo = filter_halo(sigmas)
    per_scale = 8 if with_shape_ratios else 6
    return _padded_map(as_dask(image), lambda block: _features(block, sigmas, with_shape_ratios, halo), halo,
                       1 + per_scale * len(sigmas) - 1)


def _context_block(prob: np.ndarray, sigmas, halo=0, out=None) -> np.ndarray:
    """Auto-context features of the voxels inside the ``halo`` of a block of class
    probabilities (Z, Y, X, K): the probabilities, and per class and σ the
    smoothed probability, its gradient magnitude and its smallest and largest
    Hessian eigenvalues; written into ``out`` if given."""
    classes = prob.shape[-1]
    inner = tuple(slice(halo, n - halo) for n in prob.shape[:3])
    if out is None:
        out = np.empty(prob[inner].shape[:3] + (classes * (1 + 4 * len(sigmas)),), np.float32)
    out[..., :classes] = prob[inner]
    derivatives = [np.empty(prob.shape[:3], np.float32) for _ in range(3)]
    column = classes
    for s in sigmas:
        for k in range(classes):
            smooth = ndimage.gaussian_filter(np.ascontiguousarray(prob[..., k], np.float32), s, mode="nearest")
            out[..., column] = smooth[inner]
            first_derivatives(smooth, *derivatives)
            hessian_columns(*derivatives, (halo,) * 3, out, column + 1, (column + 2, -1, column + 3))
            column += 4
    return out


def _padded_map(data: da.Array, function, halo: int, n_out: int) -> da.Array:
    """Apply ``function`` to (Z, Y, X) or (Z, Y, X, F) blocks padded by ``halo`` voxels in
    space (faces continued); it returns the voxels inside the halo. Returns (Z, Y, X, n_out) float32."""
    spatial, extra = data.chunks[:3], data.ndim - 3
    if min(data.shape[:3]) <= halo:  # smaller than the halo: one block, edges continued
        block = np.pad(np.asarray(data), [(halo, halo)] * 3 + [(0, 0)] * extra, mode="edge")
        return da.from_array(function(block), chunks=spatial + ((n_out,),))
    # every chunk at least as deep as the halo, so neighbours can supply it
    data = data.rechunk(tuple(da.overlap.ensure_minimum_chunksize(halo, c) for c in spatial)
                        + tuple((n,) for n in data.shape[3:]))
    padded = da.overlap.overlap(data, depth={a: halo if a < 3 else 0 for a in range(data.ndim)},
                                boundary={a: "nearest" if a < 3 else "none" for a in range(data.ndim)})

    return padded.map_blocks(function, dtype=np.float32, chunks=data.chunks[:3] + ((n_out,),),
                             **({} if extra else {"new_axis": 3}))
