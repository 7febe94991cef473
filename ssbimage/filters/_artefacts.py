"""Tomography artefacts that depend on the radius about the rotation axis (z): cupping, rings.

Both are estimated from one radius × grey-value histogram of the whole volume,
summed chunk by chunk, and corrected as functions of radius only: no chunking
can change them. The profile followed is one histogram peak (a phase's grey
value) per radius bin, not the mean grey value, which also moves with the
local mix of phases, as much as the artefacts do in a small field of view.
"""

from __future__ import annotations

import math

import dask
import dask.array as da
import numpy as np
from scipy import ndimage

from ._denoise import _volume
from ._normalise import block_sums

__all__ = ["correct_cupping", "reduce_rings"]

_GREY_BINS = 1024


def _radius(shape_yx, origin_yx, centre):
    y = np.arange(origin_yx[0], origin_yx[0] + shape_yx[0])[:, None] - centre[0]
    x = np.arange(origin_yx[1], origin_yx[1] + shape_yx[1])[None, :] - centre[1]
    return np.sqrt(y * y + x * x)


def _block_histogram(block, origin, centre, width, n_radii, lo, hi):
    """Voxels per (radius bin, grey bin) of one block."""
    ri = _radius(block.shape[1:], origin[1:], centre) / width
    ri = np.minimum(ri, n_radii - 1).astype(np.intp)
    scale = _GREY_BINS / (hi - lo) if hi > lo else 0.0
    finite = np.isfinite(block)
    gi = np.clip(((np.where(finite, block, lo) - lo) * scale).astype(np.intp), 0, _GREY_BINS - 1)
    index = (ri[None] * _GREY_BINS + gi)[finite]
    counts = np.bincount(index, minlength=n_radii * _GREY_BINS)
    return counts.reshape(n_radii, _GREY_BINS).astype(np.float64)


def _peaks(hist, lo, hi, reference_grey, iterations=20):
    """One histogram peak per radius bin: (peak, weight, voxels per bin, peak of the whole volume).

    Gaussian mean-shift, σ from the half width of the volume's main peak,
    each bin started at its highest smoothed count within 4σ of the whole
    volume's peak. A bin whose peak ends farther than 4σ away (the phase is
    missing there) gets weight 0.
    """
    width = (hi - lo) / _GREY_BINS if hi > lo else 1.0
    centres = lo + (np.arange(_GREY_BINS) + 0.5) * width
    total = hist.sum(axis=0)
    smooth = ndimage.gaussian_filter1d(total, 1.0)
    top = int(np.argmax(smooth))
    low = np.flatnonzero(smooth < smooth[top] / 2)
    half = np.abs(low - top).min() if low.size else _GREY_BINS
    sigma = max(half * width / 1.1774, 2 * width)

    def shift(rows, peak):
        for _ in range(iterations):
            kernel = rows * np.exp(-0.5 * ((centres[None] - peak[:, None]) / sigma) ** 2)
            weight = kernel.sum(axis=1)
            peak = np.where(weight > 0, kernel @ centres / np.maximum(weight, 1e-300), peak)
        return peak, weight
    start = centres[top] if reference_grey is None else float(reference_grey)
    overall = shift(total[None], np.array([start]))[0]
    near = np.abs(centres - overall) < 4 * sigma
    smoothed = ndimage.gaussian_filter1d(hist, sigma / width, axis=1)
    peak, weight = shift(hist, centres[np.argmax(np.where(near, smoothed, -1.0), axis=1)])
    weight = np.where(np.abs(peak - overall) < 4 * sigma, weight, 0.0)
    return peak, weight, hist.sum(axis=1), overall[0]


def _profile(data, centre, bin_width, reference_grey):
    """Peak grey value per radius bin over the whole volume, computed now.

    Left in the graph, this whole-volume pass ran again in every batch of
    blocks a checkpoint computes (:func:`ssbimage._arrays.compute_in_batches`):
    eight times over for a 512³ phase map of 128³ blocks.
    """
    corner = math.hypot(max(centre[0], data.shape[1] - 1 - centre[0]),
                        max(centre[1], data.shape[2] - 1 - centre[1]))
    n_radii = int(corner // bin_width) + 1
    # NumPy float64, not Python floats: these bin float32 blocks, and a Python float
    # would leave that arithmetic in float32 (NEP 50), moving voxels between grey bins
    lo, hi = (np.float64(v) for v in dask.compute(da.nanmin(data), da.nanmax(data)))
    hist = block_sums(data, _block_histogram, (n_radii, _GREY_BINS), centre=centre,
                      width=bin_width, n_radii=n_radii, lo=lo, hi=hi)
    return _peaks(hist.compute(), lo, hi, reference_grey)


def _prepare(image, axis_center, bin_width):
    data = _volume(image)
    if axis_center is None:
        centre = ((data.shape[1] - 1) / 2, (data.shape[2] - 1) / 2)
    else:
        centre = tuple(float(c) for c in axis_center)
        if len(centre) != 2 or not all(map(math.isfinite, centre)):
            raise ValueError(f"axis_center must be (y, x) in voxels, got {axis_center!r}")
    if not bin_width > 0:
        raise ValueError(f"bin_width must be positive (voxels), got {bin_width!r}")
    return data, centre


def _apply(block, table, centre, width, divide, block_info=None):
    (_, _), (y0, _), (x0, _) = block_info[0]["array-location"]
    r = _radius(block.shape[1:], (y0, x0), centre)
    if divide:
        return (block / np.polyval(table, r * r)[None]).astype(np.float32)
    ring = np.interp(r, (np.arange(table.size) + 0.5) * width, table)
    return (block - ring[None]).astype(np.float32)


def _fit_shading(profile, degree):
    """Polynomial in r² through peak(r) / overall peak, Tukey-reweighted, scaled to mean 1."""
    peak, weight, voxels, overall = profile
    rho, ratio, coef = (np.arange(peak.size) + 0.5) ** 2, peak / overall, np.zeros(degree + 1)
    coef[-1] = 1.0  # no correction unless the peak is found in enough radius bins
    for _ in range(5):  # bins where the phase is mixed or thin drop out
        good = weight > 0
        if good.sum() <= degree:
            break
        coef = np.polyfit(rho[good], ratio[good], degree, w=np.sqrt(weight[good]))
        residual = ratio - np.polyval(coef, rho)
        u = residual / (4.685 * 1.4826 * np.median(np.abs(residual[good])) + 1e-12)
        weight = np.where(np.abs(u) < 1, weight * (1 - u * u) ** 2, 0.0)
    return coef * voxels.sum() / np.sum(np.polyval(coef, rho) * voxels)


def _ring_profile(profile, size):
    """peak(r) minus its running median over ``size`` bins; bins without the peak interpolated."""
    peak, weight = profile[:2]
    good = np.flatnonzero(weight > 0)
    if good.size == 0:
        return np.zeros(peak.size)
    filled = np.interp(np.arange(peak.size), good, peak[good])
    return filled - ndimage.median_filter(filled, size, mode="nearest")


def correct_cupping(image, *, axis_center=None, degree: int = 1, reference_grey=None) -> da.Array:
    """Divide out beam-hardening cupping, a radial shading about the rotation axis (z).

    Parameters
    ----------
    image : (Z, Y, X) array or Volume
        Grey values; NumPy or Dask, any chunking.
    axis_center : (float, float), optional
        (y, x) of the rotation axis in voxels; default the centre of the slice.
    degree : int
        Degree of the shading polynomial in r² (1: ``a + b r²``, the classic cup).
    reference_grey : float, optional
        Grey value near the histogram peak to follow (e.g. the electrolyte's);
        default the highest peak of the whole volume.

    Returns
    -------
    (Z, Y, X) dask array of float32

    Notes
    -----
    Per 1-voxel radius bin the peak position ``p(r)`` is found by Gaussian
    mean-shift (σ from the main peak's half width) on the bin's histogram
    (1024 grey bins over [min, max]). ``p(r) / p_all`` is fitted with a
    polynomial ``s`` in ``r²`` (weighted by the voxels under the kernel,
    Tukey-reweighted), and the image divided by ``s / s̄``, ``s̄`` the volume
    average of ``s``: the mean grey value is kept. Elementwise: no halo.
    The profile is computed when this is called (two reads of the volume);
    the corrected image stays lazy.

    Examples
    --------
    >>> import numpy as np
    >>> noise = np.random.default_rng(0).normal(0, 2, (8, 32, 32))
    >>> yy, xx = np.mgrid[:32, :32] - 15.5
    >>> cupped = 100 * (1 - 0.1 * (1 - (yy**2 + xx**2) / 480)) + noise
    >>> bool(cupped[:, 12:20, 12:20].mean() < 92)
    True
    >>> flat = correct_cupping(cupped).compute()
    >>> bool(abs(flat[:, 12:20, 12:20].mean() - flat[:, :4, :4].mean()) < 1)
    True
    """
    data, centre = _prepare(image, axis_center, 1.0)
    if int(degree) != degree or degree < 1:
        raise ValueError(f"degree must be a positive integer, got {degree!r}")

    table = _fit_shading(_profile(data, centre, 1.0, reference_grey), int(degree))
    return data.map_blocks(_apply, table=table, centre=centre, width=1.0, divide=True,
                           dtype=np.float32)


def reduce_rings(image, *, axis_center=None, bin_width: float = 0.5, smooth: float = 12.0,
                 reference_grey=None) -> da.Array:
    """Subtract ring artefacts: narrow concentric grey-value offsets about the rotation axis (z).

    Parameters
    ----------
    image : (Z, Y, X) array or Volume
        Grey values; NumPy or Dask, any chunking.
    axis_center : (float, float), optional
        (y, x) of the rotation axis in voxels; default the centre of the slice.
    bin_width : float
        Radial resolution of the ring profile, voxels (rings are 1–3 voxels wide).
    smooth : float
        Width (voxels of radius) of the running median giving the trend;
        narrower features of the radial profile count as rings.
    reference_grey : float, optional
        Grey value near the histogram peak to follow; default the highest peak.

    Returns
    -------
    (Z, Y, X) dask array of float32

    Notes
    -----
    Ring profile = ``p(r) − median_smooth(p)(r)``, ``p(r)`` the peak position
    per radius bin over the whole volume (as in :func:`correct_cupping`),
    interpolated linearly in ``r`` and subtracted from every slice. Rings
    closer together than about ``smooth / 2`` partly pass into the trend.
    Elementwise: no halo. The profile is computed when this is called (two
    reads of the volume); the corrected image stays lazy.

    Examples
    --------
    >>> import numpy as np
    >>> noise = np.random.default_rng(0).normal(0, 2, (16, 32, 32))
    >>> yy, xx = np.mgrid[:32, :32] - 15.5
    >>> ring = 5 * np.exp(-0.5 * (np.hypot(yy, xx) - 9) ** 2)
    >>> out = reduce_rings(100 + ring + noise).compute()
    >>> bool(abs((out - noise)[:, 15, 24:26].mean() - 100) < 1)
    True
    """
    data, centre = _prepare(image, axis_center, bin_width)
    if not smooth > 2 * bin_width:
        raise ValueError(f"smooth must exceed two bin widths, got {smooth!r} "
                         f"(bin_width {bin_width!r})")

    size = 2 * int(round(smooth / bin_width / 2)) + 1  # median window in bins
    table = _ring_profile(_profile(data, centre, bin_width, reference_grey), size)
    return data.map_blocks(_apply, table=table, centre=centre, width=bin_width, divide=False,
                           dtype=np.float32)
