"""Grey-level normalisation from exact global histograms: percentile scaling and histogram matching.

Scan-to-scan gain and offset drift in a cycling series is removed by mapping
every scan onto one reference scan. The histograms are summed over all
chunks (a tree reduction), so the mapping is the same for every chunking.
"""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np

from .._arrays import as_dask, delayed_blocks

__all__ = ["global_histogram", "match_histogram", "match_peaks", "normalise_intensity"]


def block_sums(data, func, shape, **kwargs) -> da.Array:
    """Sum over blocks of ``func(block, origin, **kwargs)``, each a ``shape`` float64 array (lazy).

    ``origin`` is the block's first global index per axis; ``kwargs`` may hold
    Delayed values. Combined by a tree (``split_every=8``): memory stays bounded.
    """
    starts = [np.cumsum((0,) + c)[:-1] for c in data.chunks]
    parts = []
    for idx, block in zip(np.ndindex(*data.numblocks), delayed_blocks(data).ravel()):
        origin = tuple(int(s[i]) for s, i in zip(starts, idx))
        part = dask.delayed(func)(block, origin, **kwargs)
        parts.append(da.from_delayed(part, shape, np.float64))
    return da.stack(parts).sum(axis=0, split_every=8)


def _edges(lo, hi, bins, integer):
    """Bin edges: whole grey levels per bin (centred on the levels) for integer data."""
    if integer:
        width = max(1, -(-(int(hi) - int(lo) + 1) // bins))
        return int(lo) - 0.5 + width * np.arange(bins + 1)
    return np.linspace(lo, hi if hi > lo else lo + 1, bins + 1)


def _block_histogram(block, origin, edges):
    values = block[np.isfinite(block)] if block.dtype.kind == "f" else block.ravel()
    index = np.floor((values - edges[0]) / (edges[1] - edges[0])).astype(np.intp)
    index = np.clip(index, 0, len(edges) - 2)
    return np.bincount(index, minlength=len(edges) - 1).astype(np.float64)


def global_histogram(image, *, bins: int = 65536):
    """Histogram of every finite voxel of an image, summed chunk by chunk (lazy).

    Returns ``(counts, edges)``: a ``(bins,)`` dask array and a Delayed
    ``(bins + 1,)`` array spanning [min, max]. Integer images get bins of
    whole grey levels, centred on them: with at most ``bins`` levels in use
    (any uint16 image at the default) every level has its own bin and the
    histogram is exact.
    """
    data = as_dask(image)
    if int(bins) != bins or bins < 2:
        raise ValueError(f"bins must be an integer ≥ 2, got {bins!r}")
    integer = not np.issubdtype(data.dtype, np.floating)
    edges = dask.delayed(_edges)(da.nanmin(data), da.nanmax(data), int(bins), integer)
    return block_sums(data, _block_histogram, (int(bins),), edges=edges), edges


def _curve(counts, edges):
    """(mid-rank cumulative fraction, grey at bin centre) of the non-empty bins, increasing.

    The histogram's quantile curve: interpolating it gives percentiles, its
    inverse the cumulative distribution (a grey level at the middle of its rank).
    """
    full = counts > 0
    if not full.any():
        return np.zeros(1), np.full(1, np.nan)
    cdf = (np.cumsum(counts) - 0.5 * counts) / counts.sum()
    return cdf[full], (0.5 * (edges[:-1] + edges[1:]))[full]


def _lut(source, source_edges, reference, reference_edges):
    cdf, grey = _curve(source, source_edges)
    return grey, np.interp(cdf, *_curve(reference, reference_edges))


def _look_up(block, lut):
    return np.interp(block, *lut).astype(np.float32)


def _percentiles(counts, edges, fractions):
    return np.interp(fractions, *_curve(counts, edges))


def _rescale(block, points, clip):
    out = (block - points[0]) / max(points[1] - points[0], np.finfo(np.float32).tiny)
    return (np.clip(out, 0, 1) if clip else out).astype(np.float32)


def match_histogram(image, reference, *, bins: int = 65536) -> da.Array:
    """Map grey values so the image's global histogram matches a reference volume's.

    Parameters
    ----------
    image : array or Volume
        Scan to correct (any shape); NumPy or Dask, any chunking.
    reference : array or Volume
        Scan whose grey levels are the target (e.g. the first of a series).
    bins : int
        Histogram bins of each (one per grey level for uint16 at the default).

    Returns
    -------
    dask array of float32, the shape and chunks of ``image``

    Notes
    -----
    Quantile mapping: a grey value ``g`` goes to ``F_ref⁻¹(F(g))``, ``F`` the
    image's cumulative histogram (mid-rank: a grey level sits at the middle of
    its share) and ``F_ref⁻¹`` the reference's inverse, linear between the
    reference's occupied bins. Tabulated at the centres of the image's
    occupied bins and applied as a piecewise-linear, non-decreasing look-up
    table: elementwise, no halo. Removes any monotone grey-level drift
    (gain, offset, gamma) between scans of the same sample.

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.arange(1000, dtype=np.uint16).reshape(10, 10, 10)
    >>> out = match_histogram(2 * ref + 500, ref)
    >>> bool(np.abs(out.compute() - ref).max() < 1)
    True
    """
    data = as_dask(image)
    counts, edges = global_histogram(data, bins=bins)
    ref_counts, ref_edges = global_histogram(reference, bins=bins)
    lut = dask.delayed(_lut)(counts, edges, ref_counts, ref_edges)
    return data.map_blocks(_look_up, lut, dtype=np.float32)


def normalise_intensity(image, *, low: float = 1.0, high: float = 99.0, bins: int = 65536,
                        clip: bool = False) -> da.Array:
    """Rescale grey values so the global ``low`` and ``high`` percentiles become 0 and 1.

    Parameters
    ----------
    image : array or Volume
        Grey values (any shape); NumPy or Dask, any chunking.
    low, high : float
        Percentiles (0–100) of the whole volume mapped to 0 and 1.
    bins : int
        Histogram bins: percentiles are exact (mid-rank, linear between grey
        levels) for integer images with at most ``bins`` levels, otherwise
        exact to a bin width, ``(max − min) / bins``.
    clip : bool
        Clip the result to [0, 1].

    Returns
    -------
    dask array of float32

    Examples
    --------
    >>> import numpy as np
    >>> out = normalise_intensity(np.arange(101, dtype=np.uint8), low=0, high=100)
    >>> [round(float(v), 6) for v in out[[0, 50, 100]].compute()]
    [0.0, 0.5, 1.0]
    """
    if not 0 <= low < high <= 100:
        raise ValueError(f"need 0 ≤ low < high ≤ 100 (percentiles), got low={low!r}, "
                         f"high={high!r}")
    data = as_dask(image)
    counts, edges = global_histogram(data, bins=bins)
    points = dask.delayed(_percentiles)(counts, edges, (low / 100, high / 100))
    return data.map_blocks(_rescale, points, clip=clip, dtype=np.float32)


def histogram_peaks(counts, edges, n_peaks: int, smooth: float = 0.003) -> np.ndarray:
    """Grey values of the ``n_peaks`` most prominent histogram peaks, ascending.

    The histogram is smoothed with a Gaussian of ``smooth`` × (grey range),
    so that noise does not make peaks of its own; each peak is then placed at
    the centroid of its top half (above half its height).
    """
    from scipy import ndimage, signal

    counts = np.asarray(counts, float)
    centres = 0.5 * (edges[:-1] + edges[1:])
    curve = ndimage.gaussian_filter1d(counts, max(1.0, smooth * len(counts)))
    found, props = signal.find_peaks(np.r_[0, curve, 0], prominence=0)
    if len(found) < n_peaks:
        raise ValueError(f"the histogram has {len(found)} peaks, {n_peaks} needed")
    best = found[np.argsort(props["prominences"])[::-1][:n_peaks]] - 1
    greys = []
    for peak in best:  # centroid of the peak's top half: finer than the highest bin
        half = curve[peak] / 2
        lo, hi = peak, peak
        while lo > 0 and curve[lo - 1] >= half:
            lo -= 1
        while hi < len(curve) - 1 and curve[hi + 1] >= half:
            hi += 1
        weights = counts[lo:hi + 1]
        greys.append(np.average(centres[lo:hi + 1], weights=weights) if weights.sum() else centres[peak])
    return np.sort(greys)


def _peak_map(counts, edges, ref_counts, ref_edges, n_peaks):
    own = histogram_peaks(counts, edges, n_peaks)
    target = histogram_peaks(ref_counts, ref_edges, n_peaks)
    gain, offset = np.polyfit(own, target, 1)
    return np.array([gain, offset])


def _linear(block, map_):
    return (map_[0] * block + map_[1]).astype(np.float32)


def match_peaks(image, reference, *, n_peaks: int = 2, bins: int = 65536) -> da.Array:
    """Remove a gain and offset drift by mapping the image's main histogram peaks onto a reference's.

    Unlike :func:`match_histogram`, which matches every quantile and so
    assumes both scans hold the same phase fractions, this only moves the
    phases' grey levels: a cell whose void fraction grows over cycling keeps
    its grey values. Use it to put the scans of a series on the first scan's
    grey scale.

    Parameters
    ----------
    image, reference : array or Volume
        The scan to correct and the scan whose grey scale is the target.
    n_peaks : int
        Peaks used (≥ 2): the phases that fill most of the volume, e.g.
        electrolyte and active material. With more than two, the gain and
        offset are a least-squares fit.
    bins : int
        Histogram bins.

    Returns
    -------
    dask array of float32: ``gain × image + offset``

    Notes
    -----
    Peaks from the exact global histograms (:func:`global_histogram`),
    smoothed by 0.3 % of the grey range; elementwise, no halo.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ref = np.concatenate([rng.normal(1000, 30, 6000), rng.normal(3000, 30, 4000)])
    >>> scan = 1.1 * np.concatenate([rng.normal(1000, 30, 3000), rng.normal(3000, 30, 7000)]) + 200
    >>> out = match_peaks(scan.astype(np.uint16), ref.astype(np.uint16)).compute()
    >>> [round(float(np.median(v)) / 100) for v in (out[:3000], out[3000:])]
    [10, 30]
    """
    if n_peaks < 2:
        raise ValueError(f"n_peaks must be at least 2, got {n_peaks!r}")
    data = as_dask(image)
    counts, edges = global_histogram(data, bins=bins)
    ref_counts, ref_edges = global_histogram(reference, bins=bins)
    map_ = dask.delayed(_peak_map)(counts, edges, ref_counts, ref_edges, n_peaks)
    return data.map_blocks(_linear, map_, dtype=np.float32, meta=np.empty((0,) * data.ndim, np.float32))
