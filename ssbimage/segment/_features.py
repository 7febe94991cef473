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

__all__ = ["multiscale_features", "shape_ratios", "symmetric_eigenvalues"]


def symmetric_eigenvalues(a, b, c, d, e, f):
    """Eigenvalues (ascending) of symmetric 3×3 matrices [[a, d, e], [d, b, f], [e, f, c]],
    element-wise, in closed form (trigonometric solution of the characteristic cubic);
    3–4× faster than ``numpy.linalg.eigvalsh`` on stacks of 3×3 matrices, same to 1e-12."""
    q = (a + b + c) / 3
    p1 = d**2 + e**2 + f**2
    p = np.sqrt(((a - q) ** 2 + (b - q) ** 2 + (c - q) ** 2 + 2 * p1) / 6)
    safe = np.where(p > 0, p, 1)
    ba, bb, bc = (a - q) / safe, (b - q) / safe, (c - q) / safe
    bd, be, bf = d / safe, e / safe, f / safe
    r = 0.5 * (ba * (bb * bc - bf**2) - bd * (bd * bc - bf * be) + be * (bd * bf - bb * be))
    phi = np.arccos(np.clip(r, -1, 1)) / 3
    largest = q + 2 * p * np.cos(phi)
    smallest = q + 2 * p * np.cos(phi + 2 * np.pi / 3)
    return smallest, 3 * q - largest - smallest, largest


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


def _features(block: np.ndarray, sigmas, with_shape_ratios=False) -> np.ndarray:
    """(Z, Y, X, F) float32 features of one (padded) block."""
    block = block.astype(np.float32)
    out = [block]
    previous = None
    for s in sigmas:
        smooth = ndimage.gaussian_filter(block, s, mode="nearest")
        first = np.gradient(smooth)
        gradient = np.sqrt(sum(g**2 for g in first))
        hxx, hxy, hxz = np.gradient(first[0])
        hyy, hyz = np.gradient(first[1], axis=(1, 2))
        hzz = np.gradient(first[2], axis=2)
        eigenvalues = symmetric_eigenvalues(hxx, hyy, hzz, hxy, hxz, hyz)
        out += [smooth, gradient, *eigenvalues]
        if with_shape_ratios:
            out += shape_ratios(*eigenvalues)
        if previous is not None:
            out.append(previous - smooth)  # difference of Gaussians
        previous = smooth
    return np.stack(out, axis=-1).astype(np.float32)


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
    halo = math.ceil(4 * max(sigmas)) + 2
    per_scale = 8 if with_shape_ratios else 6
    return _padded_map(as_dask(image), lambda block: _features(block, sigmas, with_shape_ratios), halo,
                       1 + per_scale * len(sigmas) - 1)


def _context_block(prob: np.ndarray, sigmas) -> np.ndarray:
    """Auto-context features of one (padded) block of class probabilities (Z, Y, X, K):
    the probabilities, and per class and σ the smoothed probability, its
    gradient magnitude and its smallest and largest Hessian eigenvalues."""
    out = [prob]
    for s in sigmas:
        for k in range(prob.shape[-1]):
            smooth = ndimage.gaussian_filter(prob[..., k], s, mode="nearest")
            first = np.gradient(smooth)
            hxx, hxy, hxz = np.gradient(first[0])
            hyy, hyz = np.gradient(first[1], axis=(1, 2))
            hzz = np.gradient(first[2], axis=2)
            low, _, high = symmetric_eigenvalues(hxx, hyy, hzz, hxy, hxz, hyz)
            out += [smooth[..., None], np.sqrt(sum(g**2 for g in first))[..., None],
                    low[..., None], high[..., None]]
    return np.concatenate(out, axis=-1).astype(np.float32)


def _padded_map(data: da.Array, function, halo: int, n_out: int) -> da.Array:
    """Apply ``function`` to (Z, Y, X) or (Z, Y, X, F) blocks padded by ``halo`` voxels in
    space (faces continued); crop back. Returns (Z, Y, X, n_out) float32."""
    spatial, extra = data.chunks[:3], data.ndim - 3
    if min(data.shape[:3]) <= halo:  # smaller than the halo: one block, edges continued
        block = np.pad(np.asarray(data), [(halo, halo)] * 3 + [(0, 0)] * extra, mode="edge")
        inner = tuple(slice(halo, halo + n) for n in data.shape[:3])
        return da.from_array(function(block)[inner], chunks=spatial + ((n_out,),))
    # every chunk at least as deep as the halo, so neighbours can supply it
    data = data.rechunk(tuple(da.overlap.ensure_minimum_chunksize(halo, c) for c in spatial)
                        + tuple((n,) for n in data.shape[3:]))
    padded = da.overlap.overlap(data, depth={a: halo if a < 3 else 0 for a in range(data.ndim)},
                                boundary={a: "nearest" if a < 3 else "none" for a in range(data.ndim)})

    def run(block):
        inner = tuple(slice(halo, n - halo) for n in block.shape[:3])
        return function(block)[inner]

    return padded.map_blocks(run, dtype=np.float32, chunks=data.chunks[:3] + ((n_out,),),
                             **({} if extra else {"new_axis": 3}))
