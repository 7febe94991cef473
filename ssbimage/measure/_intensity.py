"""Grey-value histograms and summaries of whole volumes, computed chunk-wise."""

from __future__ import annotations

import warnings

import dask
import dask.array as da
import numpy as np
import pandas as pd

from .._arrays import as_dask

__all__ = ["intensity_histogram", "intensity_summary"]



def intensity_histogram(image, *, bins: int = 256, range: tuple[float, float] | None = None):
    """Histogram of every voxel, accumulated chunk by chunk (lazy).

    Parameters
    ----------
    image : array or Volume
        Grey values; NumPy or Dask, any chunking.
    bins : int
        Number of equal-width bins.
    range : (float, float), optional
        Lower and upper edge. Default: the full range of an integer dtype;
        required for float images (take it from :func:`intensity_summary`).

    Returns
    -------
    counts : (bins,) dask array of int64
        Voxels per bin; the whole volume's histogram, not a per-chunk one.
    edges : (bins + 1,) ndarray of float
        Bin edges in grey values.

    Examples
    --------
    >>> import numpy as np
    >>> counts, edges = intensity_histogram(np.arange(8, dtype=np.uint8).reshape(2, 2, 2),
    ...                                     bins=4, range=(0, 8))
    >>> counts.compute().tolist()
    [2, 2, 2, 2]
    """
    data = as_dask(image)
    if range is None:
        if not np.issubdtype(data.dtype, np.integer):
            raise ValueError("range=(low, high) is required for a float image")
        info = np.iinfo(data.dtype)
        range = (info.min, info.max + 1)
    low, high = float(range[0]), float(range[1])
    if not high > low:
        raise ValueError(f"range must be increasing, got {range!r}")
    counts, edges = da.histogram(data, bins=bins, range=(low, high))
    return counts, np.asarray(edges)


def intensity_summary(image, *, bins: int = 1024, percentiles=(1, 50, 99)) -> pd.Series:
    """Min, max, mean, standard deviation and percentiles of a volume's grey values.

    Two passes over the data, each chunk-wise: extremes and moments, then a
    histogram over ``[min, max]`` from which the percentiles are read. For
    integer images with fewer than ``bins`` distinct levels the bins are one
    grey level wide and the percentiles exact; otherwise they are exact to
    within one bin width, ``(max - min) / bins``.

    Parameters
    ----------
    image : array or Volume
        Grey values.
    bins : int
        Histogram bins for the percentiles.
    percentiles : sequence of float
        Percentiles (0–100) to report, as ``p1``, ``p50``, ...

    Returns
    -------
    pandas.Series
        ``min, max, mean, std, p..`` plus ``nan_count`` (non-finite voxels,
        which are left out of every statistic).

    Examples
    --------
    >>> import numpy as np
    >>> s = intensity_summary(np.arange(101, dtype=np.uint16).reshape(1, 1, 101))
    >>> float(s["p50"]), float(s["max"])
    (50.0, 100.0)
    """
    data = as_dask(image)
    floating = np.issubdtype(data.dtype, np.floating)
    finite = da.isfinite(data) if floating else None
    values = da.where(finite, data, np.nan) if floating else data.astype(np.float64)
    with warnings.catch_warnings():  # an all-NaN volume is reported, not warned about
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi, mean, std, n_bad = dask.compute(
            da.nanmin(values), da.nanmax(values), da.nanmean(values), da.nanstd(values),
            (~finite).sum() if floating else 0,
        )
    out = {"min": float(lo), "max": float(hi), "mean": float(mean), "std": float(std)}
    if not np.isfinite(lo):
        out.update({f"p{p:g}": np.nan for p in percentiles})
        return pd.Series({**out, "nan_count": int(n_bad)})
    integer = not floating
    if integer and hi - lo + 1 <= bins:
        nbins, range_ = int(hi - lo + 1), (lo, hi + 1)
    else:
        nbins, range_ = bins, (lo, hi if hi > lo else lo + 1)
    counts, edges = intensity_histogram(data, bins=nbins, range=range_)
    counts = np.asarray(counts.compute(), dtype=np.float64)
    cumulative = np.cumsum(counts)
    for p in percentiles:
        target = p / 100 * cumulative[-1]
        i = int(np.searchsorted(cumulative, target, side="left"))
        i = min(i, nbins - 1)
        if integer and nbins == hi - lo + 1:
            value = edges[i]
        else:  # linear interpolation inside the bin
            before = cumulative[i - 1] if i else 0.0
            frac = (target - before) / counts[i] if counts[i] else 0.0
            value = edges[i] + frac * (edges[i + 1] - edges[i])
        out[f"p{p:g}"] = float(value)
    out["nan_count"] = int(n_bad)
    return pd.Series(out)
